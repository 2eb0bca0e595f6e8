/*
 * libFuzzer target for the configuration validation: any text as a
 * configuration file must load or fail with "file:line: ..." (never
 * crash, leak or read out of bounds), and what loads must hold the
 * invariants the daemon relies on.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "detect.h"

#define FUZZ_NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The integer settings, to compare with what libconfig itself read. */
static const struct {
	const char *path;
	size_t off;
} fuzz_ints[] = {
	{ "policy_socket.max_line", offsetof(struct config, policy_socket_max_line) },
	{ "policy_socket.max_connections", offsetof(struct config, policy_socket_max_connections) },
	{ "user_socket.max_connections", offsetof(struct config, user_socket_max_connections) },
	{ "user_socket.max_per_uid", offsetof(struct config, user_socket_max_per_uid) },
	{ "policy.system_uid_max", offsetof(struct config, policy_system_uid_max) },
	{ "history.queue_max", offsetof(struct config, history_queue_max) },
	{ "detect.account_messages_per_hour", offsetof(struct config, detect_limit[0]) },
	{ "detect.account_rcpts_per_hour", offsetof(struct config, detect_limit[1]) },
	{ "detect.mailbox_messages_per_hour", offsetof(struct config, detect_limit[2]) },
	{ "detect.mailbox_rcpts_per_hour", offsetof(struct config, detect_limit[3]) },
	{ "detect.mailbox_new_hosts_per_hour", offsetof(struct config, detect_limit[4]) },
	{ "detect.script_rcpts_per_hour", offsetof(struct config, detect_limit[5]) },
	{ "detect.bounce_percent", offsetof(struct config, detect_limit[6]) },
	{ "detect.bounce_min", offsetof(struct config, detect_bounce_min) },
};

/*
 * config.c reads integers again from the source because libconfig 1.5
 * wraps them to 32 bits: what it took must be libconfig's number before
 * the wrap, never another setting's.
 */
static void
fuzz_ints_check(const char *text, const struct config *cfg)
{
	config_t lc;

	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE)
		abort();		/* config.c parsed it */
	for (size_t i = 0; i < sizeof fuzz_ints / sizeof fuzz_ints[0]; i++) {
		config_setting_t *s = config_lookup(&lc, fuzz_ints[i].path);
		long long ours = *(const long long *)(const void *)((const char *)cfg +
		    fuzz_ints[i].off);

		if (s != NULL && config_setting_type(s) == CONFIG_TYPE_INT64 &&
		    ours != config_setting_get_int64(s))
			abort();
		if (s != NULL && config_setting_type(s) == CONFIG_TYPE_INT &&
		    (uint32_t)ours != (uint32_t)config_setting_get_int64(s))
			abort();
	}
	config_destroy(&lc);
}

/* One input: a configuration file's text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg, copy;
	struct detect_limits lim;
	char *text, err[1024];

	if (size > 8192)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* @include reads another file: not what this target is about */
	if (strstr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	err[0] = '\0';
	if (config_load_string(text, FUZZ_NAME, &cfg, err, sizeof err) == -1) {
		/* every error names the file (and the line where there is one) */
		if (strncmp(err, FUZZ_NAME ":", sizeof FUZZ_NAME) != 0 &&
		    strcmp(err, "out of memory") != 0)
			abort();
		free(text);
		return 0;
	}
	/* what loaded is complete and as the daemon expects it */
	if (cfg.database_path == NULL || cfg.database_path[0] != '/' ||
	    cfg.policy_socket_path == NULL || cfg.policy_socket_path[0] != '/' ||
	    cfg.user_socket_path == NULL || cfg.user_socket_path[0] != '/' ||
	    strcmp(cfg.user_socket_path, cfg.policy_socket_path) == 0 ||
	    cfg.notify_sendmail == NULL || cfg.notify_sendmail[0] != '/' ||
	    cfg.policy_socket_mode == NULL || cfg.policy_socket_mode_bits > 0777 ||
	    (cfg.policy_socket_mode_bits & 0007) != 0 ||	/* the policy socket is Exim's */
	    cfg.user == NULL || cfg.user[0] == '\0' ||
	    cfg.log_level == NULL || cfg.policy_repeat_offence == NULL ||
	    cfg.retention_records < cfg.policy_unblock_cooldown)
		abort();
	for (int i = 0; i < DET_COUNT; i++)
		if (cfg.detect_action[i] == NULL || cfg.detect_limit[i] < 0)
			abort();
	config_detect_limits(&cfg, &lim);
	fuzz_ints_check(text, &cfg);
	/* a reload keeps the running values of the restart keys */
	if (config_load_string("", FUZZ_NAME, &copy, err, sizeof err) == -1)
		abort();
	config_keep_restart_keys(&copy, &cfg);
	if (strcmp(copy.database_path, cfg.database_path) != 0)
		abort();
	config_free(&copy);
	config_free(&cfg);
	free(text);
	return 0;
}

/*
 * libFuzzer target for the configuration validation: any text as a
 * configuration file must load or fail with "file:line: ..." (never
 * crash, leak or read out of bounds), and what loads must hold the
 * invariants the daemon relies on.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "detect.h"

#define FUZZ_NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	    cfg.log_level == NULL || cfg.policy_repeat_offence == NULL ||
	    cfg.retention_records < cfg.policy_unblock_cooldown)
		abort();
	for (int i = 0; i < DET_COUNT; i++)
		if (cfg.detect_action[i] == NULL || cfg.detect_limit[i] < 0)
			abort();
	config_detect_limits(&cfg, &lim);
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

/* config.c: the configuration file (libconfig), validated against a schema. */
#ifndef MAILABUSE_CONFIG_H
#define MAILABUSE_CONFIG_H

/* The Makefile sets these two; the fallbacks are for a build without it. */
#ifndef MAILABUSE_CONF
#define MAILABUSE_CONF "/etc/mailabuse/mailabused.conf"
#endif
#ifndef MAILABUSE_VERSION
#define MAILABUSE_VERSION "0"
#endif

#include <stddef.h>
#include <sys/types.h>

#include "detect.h"
#include "log.h"

#define CONFIG_WEB_UIDS_MAX 16

/*
 * Each choice key is parsed once, at load, into one of these (in the
 * order the choices are written in the manual); the string stays beside
 * it for printing and messages.
 */
enum config_repeat_offence { CONFIG_REPEAT_WAIT, CONFIG_REPEAT_PERMANENT };
enum config_loopback_unknown { CONFIG_LOOPBACK_PASS, CONFIG_LOOPBACK_DEFER,
    CONFIG_LOOPBACK_REFUSE };
enum config_web_action { CONFIG_WEB_REFUSE, CONFIG_WEB_HOLD };
enum config_redirect_action { CONFIG_REDIRECT_DEFER, CONFIG_REDIRECT_PASS,
    CONFIG_REDIRECT_FAIL };

struct config {
	char *file;

	char *database_path;
	char *database_history_path;		/* "": beside database_path (history_path()) */
	long long database_busy_timeout;	/* seconds */

	char *policy_socket_path;
	char *policy_socket_mode;		/* octal text, as written */
	mode_t policy_socket_mode_bits;
	char *policy_socket_group;
	long long policy_socket_max_line;
	long long policy_socket_read_timeout;	/* seconds */
	long long policy_socket_max_connections;

	char *pid_file;
	char *user;				/* the daemon runs as this user */
	char *log_level;
	enum log_level log_level_choice;

	char *cpanel_root;

	int policy_allow_local_delivery;
	long long policy_system_uid_max;
	long long policy_complaint_window;	/* seconds */
	long long policy_unblock_cooldown;	/* seconds */
	char *policy_repeat_offence;		/* "wait" or "permanent" */
	enum config_repeat_offence policy_repeat_offence_choice;
	int policy_suspend_on_complaint;
	char *policy_loopback_unknown;		/* "pass", "defer" or "refuse" */
	enum config_loopback_unknown policy_loopback_unknown_choice;
	char *policy_web_uids;			/* user names or uids, separated by spaces or commas */
	unsigned long policy_web_uid[CONFIG_WEB_UIDS_MAX];	/* the same as uids: */
	size_t policy_web_nuids;		/* config_web_uids_resolve() fills them */
	char *policy_web_action;		/* "refuse" or "hold" */
	enum config_web_action policy_web_action_choice;
	char *policy_redirect_action;		/* "defer", "pass" or "fail" */
	enum config_redirect_action policy_redirect_action_choice;

	char *user_socket_path;
	long long user_socket_max_connections;
	long long user_socket_max_per_uid;	/* connections of one uid (not root) */

	char *notify_sendmail;
	char *notify_from;
	char *notify_fallback;
	char *notify_templates;
	long long notify_timeout;		/* seconds */
	long long notify_give_up;		/* seconds: a failing notice is given up after */

	long long retention_messages;		/* seconds */
	long long retention_records;		/* seconds */

	long long history_queue_max;		/* records waiting for the writer */

	char *metrics_listen;			/* "" off, a socket path, or a loopback address:port */
	char *metrics_mode;			/* octal text, as written */
	mode_t metrics_mode_bits;
	char *metrics_group;
	/* detectors, indexed by enum detector (detect.h): limit (0 off) and action */
	long long detect_limit[DET_COUNT];
	char *detect_action[DET_COUNT];
	enum detect_action detect_action_choice[DET_COUNT];
	long long detect_bounce_min;
};

void config_web_uids_resolve(struct config *cfg);
void config_detect_limits(const struct config *cfg, struct detect_limits *lim);

int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen);
int config_load_string(const char *text, const char *name, struct config *cfg,
    char *err, size_t errlen);
void config_free(struct config *cfg);
int config_copy(struct config *dst, const struct config *src);
size_t config_restart_keys_changed(const struct config *next,
    const struct config *running, char *buf, size_t len);
void config_keep_restart_keys(struct config *next, const struct config *running);
void config_print(const struct config *cfg);
struct sockaddr_storage;
int config_metrics_inet(const char *addr, struct sockaddr_storage *ss, unsigned *sslen,
    char *why, size_t whylen);

#endif

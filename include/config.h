/* config.c: the configuration file (libconfig), validated against a schema. */
#ifndef MAILABUSE_CONFIG_H
#define MAILABUSE_CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define CONFIG_WEB_UIDS_MAX 16

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

	char *cpanel_root;

	int policy_allow_local_delivery;
	long long policy_system_uid_max;
	long long policy_complaint_window;	/* seconds */
	long long policy_unblock_cooldown;	/* seconds */
	char *policy_repeat_offence;		/* "wait" or "permanent" */
	int policy_suspend_on_complaint;
	char *policy_loopback_unknown;		/* "pass", "defer" or "refuse" */
	char *policy_web_uids;			/* user names or uids, separated by spaces or commas */
	unsigned long policy_web_uid[CONFIG_WEB_UIDS_MAX];	/* the same as uids: */
	size_t policy_web_nuids;		/* config_web_uids_resolve() fills them */
	char *policy_web_action;		/* "refuse" or "hold" */
	char *policy_redirect_action;		/* "defer", "pass" or "fail" */

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
	/* detectors, indexed by enum detector (detect.h): limit (0 off) and action */
	long long detect_limit[7];
	char *detect_action[7];
	long long detect_bounce_min;
};

struct detect_limits;
void config_web_uids_resolve(struct config *cfg);
void config_detect_limits(const struct config *cfg, struct detect_limits *lim);

int config_load_file(const char *path, struct config *cfg, char *err, size_t errlen);
int config_load_string(const char *text, const char *name, struct config *cfg,
    char *err, size_t errlen);
void config_free(struct config *cfg);
int config_copy(struct config *dst, const struct config *src);
void config_keep_restart_keys(struct config *next, const struct config *running);
void config_print(const struct config *cfg);

#endif

/* The admin CLI, mailabusectl: shared state and one entry point per command. */
#ifndef MAILABUSE_CTL_H
#define MAILABUSE_CTL_H

#include <getopt.h>
#include <jansson.h>

#include "config.h"
#include "store.h"

/* Exit status 1: the request was refused by policy (sysexits.h for the rest). */
#define CTL_REFUSED 1

struct ctl {
	struct config cfg;
	struct store *st;
	struct history *hist;		/* ctl_history() */
	int json;
	long long now;
	char actor[ACTOR_MAX];
	const char *conf_path;		/* the configuration file in use */
	const char *conf_error;		/* doctor only: why it did not load, or NULL */
};

/* ctl.c */
int ctl_store(struct ctl *c);
int ctl_history(struct ctl *c);
int ctl_getopt(int argc, char **argv, const struct option *opts);
int ctl_json_print(json_t *j);
const char *ctl_esc(const char *s);
int ctl_db_error(struct ctl *c, const char *what);
int ctl_history_error(struct ctl *c, const char *what);
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ctl_target_resolve(struct ctl *c, const char *target, char *norm, size_t normlen,
    char *account, size_t acclen, int *is_mailbox);

int ctl_source_valid(const char *source);
const char *ctl_account_arg(const char *name, char *buf, size_t len);
void ctl_notices_send(struct ctl *c, const char *account);
int ctl_user_request(struct ctl *c, const char *verb, const char *account,
    const char *limit, const char *since, json_t **out);
int ctl_is_root(void);
int ctl_since_arg(const char *cmd, const char *arg, long long *since);

/* cmd_sync.c */
int cmd_sync(struct ctl *c, int argc, char **argv);
/* cmd_suspend.c */
int cmd_suspend(struct ctl *c, int argc, char **argv);
int cmd_unsuspend(struct ctl *c, int argc, char **argv);
int ctl_suspend_apply(struct ctl *c, struct suspension *sp, struct suspension *cur);
/* cmd_complaint.c */
int cmd_complaint(struct ctl *c, int argc, char **argv);
/* cmd_unblock.c */
int cmd_unblock(struct ctl *c, int argc, char **argv);
/* cmd_expire.c */
int cmd_expire(struct ctl *c, int argc, char **argv);
/* cmd_show.c */
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_list(struct ctl *c, int argc, char **argv);
int cmd_history(struct ctl *c, int argc, char **argv);
/* cmd_frozen.c */
int cmd_frozen(struct ctl *c, int argc, char **argv);
/* cmd_limits.c */
int cmd_top(struct ctl *c, int argc, char **argv);
int cmd_limits(struct ctl *c, int argc, char **argv);
/* cmd_transfer.c */
int cmd_export(struct ctl *c, int argc, char **argv);
int cmd_import(struct ctl *c, int argc, char **argv);
/* cmd_doctor.c */
int cmd_doctor(struct ctl *c, int argc, char **argv);

#endif

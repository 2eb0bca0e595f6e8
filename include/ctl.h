/* The admin CLI, mailabusectl: shared state and one entry point per command. */
#ifndef MAILABUSE_CTL_H
#define MAILABUSE_CTL_H

#include <jansson.h>

#include "config.h"
#include "detect.h"
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

/*
 * A command's options, declared in its table entry (ctl.c) and parsed in
 * one place, ctl_args_parse (ctl_args.c): a flag, a text value, or a whole number in a
 * range (checked there, the error naming the command and the option).
 * Every command takes --json besides, which sets ctl.json.
 */
enum ctl_opt_kind {
	CTL_OPT_FLAG,
	CTL_OPT_TEXT,
	CTL_OPT_NUMBER
};

struct ctl_opt {
	const char *name;		/* the long option, without "--" */
	enum ctl_opt_kind kind;
	long long min, max;		/* CTL_OPT_NUMBER's range */
};

#define CTL_OPTS_MAX 6

struct ctl_args;

/* One command (or "command subcommand") of mailabusectl, as tmux's cmd_entry. */
struct cmd_entry {
	const char *name;		/* "sync", or "complaint add" */
	const char *usage;		/* after "mailabusectl [-c FILE] " in --help */
	struct ctl_opt opts[CTL_OPTS_MAX];	/* up to the first with a NULL name */
	int min_args, max_args;		/* positional arguments; max -1: no maximum */
	const char *args_error;		/* the usage error for another count, or
					 * NULL: "CMD: unexpected argument 'X'" */
	int owner;			/* account owners may run it (user socket) */
	int (*exec)(struct ctl *, const struct ctl_args *);
};

/* A command line parsed against its entry. */
struct ctl_args {
	const struct cmd_entry *entry;
	int argc;			/* the positional arguments */
	char **argv;
	const char *value[CTL_OPTS_MAX];	/* given: the value ("" for a flag) */
	long long number[CTL_OPTS_MAX];	/* a CTL_OPT_NUMBER's value */
};

/* ctl_args.c */
int ctl_args_parse(struct ctl *c, const struct cmd_entry *e, int argc, char **argv,
    struct ctl_args *a);
int ctl_args_has(const struct ctl_args *a, const char *name);
const char *ctl_args_get(const struct ctl_args *a, const char *name);
const char *ctl_args_text(const struct ctl_args *a, const char *name, const char *dflt);
long long ctl_args_number(const struct ctl_args *a, const char *name, long long dflt);
int ctl_number_parse(const char *text, const char *stops, long long min, long long max,
    long long *v);

/* ctl_util.c */
int ctl_store(struct ctl *c);
int ctl_history(struct ctl *c);
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
int ctl_is_root(void);
int ctl_since_arg(const char *cmd, const char *arg, long long *since);
int ctl_report_fetch(struct ctl *c, const char *verb, const char *name, long long limit,
    const char *since_text, long long since, json_t **j);
const char *ctl_json_text(json_t *o, const char *key);
long long ctl_json_int(json_t *o, const char *key);

/* ctl_user.c */
int ctl_user_request(struct ctl *c, const char *verb, const char *account,
    const char *limit, const char *since, json_t **out);

/* cmd_sync.c */
int cmd_sync(struct ctl *c, const struct ctl_args *a);
/* cmd_suspend.c */
int cmd_suspend(struct ctl *c, const struct ctl_args *a);
int cmd_unsuspend(struct ctl *c, const struct ctl_args *a);
int ctl_suspend_apply(struct ctl *c, struct suspension *sp, struct suspension *cur);
/* cmd_complaint.c */
int cmd_complaint_add(struct ctl *c, const struct ctl_args *a);
int cmd_complaint_list(struct ctl *c, const struct ctl_args *a);
int cmd_complaint_close(struct ctl *c, const struct ctl_args *a);
/* cmd_unblock.c */
int cmd_unblock(struct ctl *c, const struct ctl_args *a);
/* cmd_expire.c */
int cmd_expire(struct ctl *c, const struct ctl_args *a);
/* cmd_status.c */
int cmd_status(struct ctl *c, const struct ctl_args *a);
/* cmd_list.c */
int cmd_list(struct ctl *c, const struct ctl_args *a);
/* cmd_history.c */
int cmd_history(struct ctl *c, const struct ctl_args *a);
/* cmd_frozen.c */
int cmd_frozen(struct ctl *c, const struct ctl_args *a);
/* cmd_limits.c */
struct ctl_limits {
	struct detect_limits lim;
	int own[DET_COUNT];		/* set for the account, not the configuration's */
	char set_by[DET_COUNT][ACTOR_MAX];
	long long set_at[DET_COUNT];
};
struct ctl_hour_use {
	long long messages, n_external;
};
int cmd_limits(struct ctl *c, const struct ctl_args *a);
int ctl_limits_load(struct ctl *c, const char *account, struct ctl_limits *lv);
int ctl_hour_use_get(struct ctl *c, const char *account, struct ctl_hour_use *u);
/* cmd_top.c */
int cmd_top(struct ctl *c, const struct ctl_args *a);
/* cmd_transfer.c */
int cmd_export(struct ctl *c, const struct ctl_args *a);
int cmd_import(struct ctl *c, const struct ctl_args *a);
/* cmd_stats.c */
int cmd_stats(struct ctl *c, const struct ctl_args *a);
/* cmd_doctor.c */
int cmd_doctor(struct ctl *c, const struct ctl_args *a);

#endif

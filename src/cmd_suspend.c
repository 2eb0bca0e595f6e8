/*
 * mailabusectl suspend / unsuspend: stop or restore the outgoing mail
 * of a whole cPanel account or of one mailbox.  Each change and its
 * audit entry are one transaction, committed before the command returns.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

#define SOURCE_MAX 32

/* Parse "TARGET --reason TEXT [--source S]"; 0 or an exit status. */
static int
suspend_args(int argc, char **argv, int with_source, const char **target,
    const char **reason, const char **source)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "source", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*reason = NULL;
	*source = "admin";
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			*reason = optarg;
			break;
		case 's':
			if (!with_source)
				return ctl_usage_error("%s: --source is not an option here", argv[0]);
			*source = optarg;
			break;
		default:
			return EX_USAGE;
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error("usage: %s TARGET --reason TEXT", argv[0]);
	*target = argv[optind];
	if (*reason == NULL || **reason == '\0')
		return ctl_usage_error("%s: --reason is required", argv[0]);
	if (strlen(*reason) >= REASON_MAX)
		return ctl_usage_error("%s: --reason is longer than %d characters",
		    argv[0], REASON_MAX - 1);
	if (strlen(*source) >= SOURCE_MAX || **source == '\0')
		return ctl_usage_error("%s: --source must be 1 to %d characters",
		    argv[0], SOURCE_MAX - 1);
	return 0;
}

int
cmd_suspend(struct ctl *c, int argc, char **argv)
{
	struct suspension sp, cur;
	const char *target, *reason, *source;
	char ts[32];
	int r, is_mailbox;

	if ((r = suspend_args(argc, argv, 1, &target, &reason, &source)) != 0)
		return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "suspend");
	memset(&sp, 0, sizeof sp);
	if ((r = ctl_target_resolve(c, target, sp.target, sizeof sp.target,
	    sp.account, sizeof sp.account, &is_mailbox)) != 0) {
		store_rollback(c->st);
		return r;
	}
	if ((r = store_suspension_active(c->st, sp.target, &cur)) == -1)
		return ctl_db_error(c, "suspend");
	if (r == 1) {
		store_rollback(c->st);
		ctl_time_format(cur.created_at, ts, sizeof ts);
		fprintf(stderr, "mailabusectl: %s is already suspended since %s: %s\n",
		    sp.target, ts, cur.reason);
		return CTL_REFUSED;
	}
	snprintf(sp.kind, sizeof sp.kind, "%s", is_mailbox ? "mailbox" : "account");
	snprintf(sp.reason, sizeof sp.reason, "%s", reason);
	snprintf(sp.source, sizeof sp.source, "%s", source);
	snprintf(sp.created_by, sizeof sp.created_by, "%s", c->actor);
	sp.created_at = c->now;
	if (store_suspension_insert(c->st, &sp) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor, "suspend", sp.account, sp.target,
	    reason) == -1 ||
	    store_commit(c->st) == -1)
		return ctl_db_error(c, "suspend");
	printf("suspended %s %s: %s\n", sp.kind, sp.target, reason);
	return 0;
}

int
cmd_unsuspend(struct ctl *c, int argc, char **argv)
{
	struct suspension cur;
	const char *target, *reason, *source;
	char norm[ADDRESS_MAX], account[ACCOUNT_NAME_MAX];
	int r, is_mailbox;

	if ((r = suspend_args(argc, argv, 0, &target, &reason, &source)) != 0)
		return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "unsuspend");
	if ((r = ctl_target_resolve(c, target, norm, sizeof norm, account, sizeof account,
	    &is_mailbox)) != 0) {
		store_rollback(c->st);
		return r;
	}
	if ((r = store_suspension_active(c->st, norm, &cur)) == -1)
		return ctl_db_error(c, "unsuspend");
	if (r == 0) {
		store_rollback(c->st);
		fprintf(stderr, "mailabusectl: %s is not suspended\n", norm);
		return CTL_REFUSED;
	}
	if (store_suspension_lift(c->st, cur.id, c->now, c->actor, reason) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor, "unsuspend", account, norm,
	    reason) == -1 ||
	    store_commit(c->st) == -1)
		return ctl_db_error(c, "unsuspend");
	printf("unsuspended %s %s: %s\n", cur.kind, norm, reason);
	return 0;
}

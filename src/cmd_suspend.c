/*
 * mailabusectl suspend / unsuspend: stop or restore the outgoing mail
 * of a whole cPanel account or of one mailbox.  Each change and its
 * audit entry are one transaction, committed before the command returns;
 * a suspension also queues the owner's notice in that transaction, which
 * is then sent (or left queued for `expire`).
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "lifecycle.h"
#include "notify.h"

/* The target and the checked --reason and --source; 0 or an exit status. */
static int
suspend_args(const struct ctl_args *a, const char **target, const char **reason,
    const char **source)
{
	const char *cmd = a->entry->name;

	*target = a->argv[0];
	*reason = ctl_args_get(a, "reason");
	*source = strcmp(cmd, "suspend") == 0 ? ctl_args_text(a, "source", "admin") : "admin";
	if (*reason == NULL || **reason == '\0')
		return ctl_usage_error("%s: --reason is required", cmd);
	if (strlen(*reason) >= REASON_MAX)
		return ctl_usage_error("%s: --reason is longer than %d characters",
		    cmd, REASON_MAX - 1);
	if (!ctl_source_valid(*source))
		return ctl_usage_error("%s: --source must be a word of 1 to 31 letters, digits,"
		    " '-' or '_'", cmd);
	return 0;
}

/*
 * Suspend inside the caller's transaction: audit it and queue the
 * owner's notice.  Returns 0, CTL_REFUSED if already suspended (cur
 * filled), or an exit status after a message.
 */
int
ctl_suspend_apply(struct ctl *c, struct suspension *sp, struct suspension *cur)
{
	char err[512];
	int r;

	if ((r = store_suspension_active(c->st, sp->target, cur)) == -1)
		return ctl_db_error(c, "suspend");
	if (r == 1)
		return CTL_REFUSED;
	snprintf(sp->created_by, sizeof sp->created_by, "%s", c->actor);
	sp->created_at = c->now;
	if (store_suspension_insert(c->st, sp) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor, "suspend", sp->account, sp->target,
	    sp->reason) == -1)
		return ctl_db_error(c, "suspend");
	/* the suspension stands whatever happens to its notice: say so, audit it */
	if (lifecycle_notice_suspended(c->st, &c->cfg, sp, c->now, err, sizeof err) == -1) {
		fprintf(stderr, "mailabusectl: warning: the owner of %s is not told, the notice"
		    " cannot be queued: %s\n", sp->account, ctl_esc(err));
		if (store_audit_insert(c->st, c->now, c->actor, "notice-failed", sp->account,
		    sp->target, err) == -1)
			return ctl_db_error(c, "suspend");
	}
	return 0;
}

int
cmd_suspend(struct ctl *c, const struct ctl_args *a)
{
	struct suspension sp, cur;
	const char *target, *reason, *source;
	char ts[32];
	int r, is_mailbox;

	if ((r = suspend_args(a, &target, &reason, &source)) != 0)
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
	snprintf(sp.kind, sizeof sp.kind, "%s", is_mailbox ? "mailbox" : "account");
	snprintf(sp.reason, sizeof sp.reason, "%s", reason);
	snprintf(sp.source, sizeof sp.source, "%s", source);
	if ((r = ctl_suspend_apply(c, &sp, &cur)) == CTL_REFUSED) {
		store_rollback(c->st);
		lifecycle_time(cur.created_at, ts, sizeof ts);
		fprintf(stderr, "mailabusectl: %s is already suspended since %s: %s\n",
		    ctl_esc(sp.target), ts, ctl_esc(cur.reason));
		return CTL_REFUSED;
	}
	if (r != 0)
		return r;
	if (store_commit(c->st) == -1)
		return ctl_db_error(c, "suspend");
	if (c->json)
		r = ctl_json_print(json_pack("{s:b, s:I, s:s, s:s, s:s, s:s, s:s}",
		    "suspended", 1, "suspension", (json_int_t)sp.id, "kind", sp.kind,
		    "target", sp.target, "account", sp.account, "reason", sp.reason,
		    "source", sp.source));
	else
		printf("suspended %s %s: %s\n", sp.kind, ctl_esc(sp.target), ctl_esc(reason));
	ctl_notices_send(c, sp.account);
	return r;
}

int
cmd_unsuspend(struct ctl *c, const struct ctl_args *a)
{
	struct suspension cur;
	const char *target, *reason, *source, *kind;
	char norm[ADDRESS_MAX], account[ACCOUNT_NAME_MAX];
	int r, is_mailbox, no_count = ctl_args_has(a, "no-count");

	if ((r = suspend_args(a, &target, &reason, &source)) != 0)
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
		fprintf(stderr, "mailabusectl: %s is not suspended\n", ctl_esc(norm));
		return CTL_REFUSED;
	}
	/* An admin lift counts as the account's unblock, unless made in error. */
	kind = no_count ? "admin-nocount" : "admin";
	if (store_suspension_lift(c->st, cur.id, c->now, c->actor, reason, kind) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor,
	    no_count ? "unsuspend-nocount" : "unsuspend", account, norm, reason) == -1 ||
	    store_commit(c->st) == -1)
		return ctl_db_error(c, "unsuspend");
	if (c->json)
		return ctl_json_print(json_pack("{s:b, s:I, s:s, s:s, s:s, s:s, s:b}",
		    "unsuspended", 1, "suspension", (json_int_t)cur.id, "kind", cur.kind,
		    "target", norm, "account", account, "reason", reason,
		    "counts_as_unblock", !(no_count || is_mailbox)));
	printf("unsuspended %s %s: %s%s\n", cur.kind, ctl_esc(norm), ctl_esc(reason),
	    no_count || is_mailbox ? "" : " (counts as the account's unblock)");
	return 0;
}

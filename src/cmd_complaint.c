/*
 * mailabusectl complaint add | list | close: validated spam complaints.
 * Each has a window (policy.complaint_window by default) during which
 * the owner cannot have the account unblocked; --suspend (or
 * policy.suspend_on_complaint) suspends the account with the complaint
 * as its reason.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "duration.h"
#include "lifecycle.h"

/* complaint add's options, checked: the source, the window, whether to suspend. */
static int
complaint_add_args(struct ctl *c, const struct ctl_args *a, const char **source,
    long long *window, int *suspend)
{
	const char *ref = ctl_args_get(a, "ref");
	char derr[256];

	*source = ctl_args_text(a, "source", "report");
	*window = c->cfg.policy_complaint_window;
	*suspend = c->cfg.policy_suspend_on_complaint || ctl_args_has(a, "suspend");
	if (ctl_args_has(a, "window")) {
		if (duration_parse(ctl_args_get(a, "window"), window, derr, sizeof derr) == -1)
			return ctl_usage_error("complaint add: --window: %s", derr);
		if (*window > 3650 * 86400LL)
			return ctl_usage_error("complaint add: --window is at most 3650d");
	}
	if (ref == NULL || *ref == '\0' || strlen(ref) >= REASON_MAX - 64)
		return ctl_usage_error("complaint add: --ref is required (up to %d characters)",
		    REASON_MAX - 65);
	if (!ctl_source_valid(*source))
		return ctl_usage_error("complaint add: --source must be a word such as report,"
		    " fbl, detection or admin");
	return 0;
}

/* mailabusectl complaint add ACCOUNT --ref TEXT: a validated complaint. */
int
cmd_complaint_add(struct ctl *c, const struct ctl_args *a)
{
	const char *ref = ctl_args_get(a, "ref"), *source, *name = a->argv[0];
	long long window;
	int r, suspend, is_mailbox;
	struct complaint cp;
	struct suspension sp, cur;
	char account[ACCOUNT_NAME_MAX], norm[ADDRESS_MAX], end[32], detail[1400];

	if ((r = complaint_add_args(c, a, &source, &window, &suspend)) != 0)
		return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "complaint add");
	if ((r = ctl_target_resolve(c, name, norm, sizeof norm, account, sizeof account,
	    &is_mailbox)) != 0 || is_mailbox) {
		store_rollback(c->st);
		return r != 0 ? r : ctl_usage_error("complaint add: a complaint is about an"
		    " account, not a mailbox");
	}
	memset(&cp, 0, sizeof cp);
	snprintf(cp.account, sizeof cp.account, "%s", account);
	snprintf(cp.source, sizeof cp.source, "%s", source);
	snprintf(cp.ref, sizeof cp.ref, "%s", ref);
	snprintf(cp.created_by, sizeof cp.created_by, "%s", c->actor);
	cp.created_at = c->now;
	cp.window_end = c->now + window;
	lifecycle_time(cp.window_end, end, sizeof end);
	if (store_complaint_insert(c->st, &cp) == -1)
		return ctl_db_error(c, "complaint add");
	snprintf(detail, sizeof detail, "complaint #%lld (%s: %s), window until %s", cp.id,
	    source, ref, end);
	if (store_audit_insert(c->st, c->now, c->actor, "complaint", account, account,
	    detail) == -1)
		return ctl_db_error(c, "complaint add");
	if (suspend) {
		memset(&sp, 0, sizeof sp);
		snprintf(sp.target, sizeof sp.target, "%s", account);
		snprintf(sp.account, sizeof sp.account, "%s", account);
		snprintf(sp.kind, sizeof sp.kind, "account");
		snprintf(sp.reason, sizeof sp.reason, "complaint #%lld (%s): %s", cp.id, source, ref);
		snprintf(sp.source, sizeof sp.source, "%s", source);
		sp.complaint_id = cp.id;
		r = ctl_suspend_apply(c, &sp, &cur);
		if (r != 0 && r != CTL_REFUSED)
			return r;
		if (r == CTL_REFUSED)
			suspend = 0;	/* already suspended: the complaint adds its window */
	}
	if (store_commit(c->st) == -1)
		return ctl_db_error(c, "complaint add");
	if (c->json) {
		/* "suspension": the suspension this made, or the one in force, or null */
		json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:o}",
		    "complaint", (json_int_t)cp.id, "account", account, "source", source,
		    "ref", ref, "window_end", end, "suspended", suspend,
		    "already_suspended", r == CTL_REFUSED,
		    "suspension", suspend ? json_integer(sp.id) : r == CTL_REFUSED ?
		    json_integer(cur.id) : json_null());

		ctl_notices_send(c, account);
		return ctl_json_print(j);
	}
	printf("complaint #%lld recorded for %s (%s: %s); window until %s\n", cp.id, account,
	    source, ctl_esc(ref), end);
	if (suspend)
		printf("suspended account %s: %s\n", account, ctl_esc(sp.reason));
	else if (r == CTL_REFUSED)
		printf("account %s was already suspended\n", account);
	ctl_notices_send(c, account);
	return 0;
}

struct complaint_list_ctx {
	struct ctl *c;
	json_t *arr;
};

static int
complaint_list_cb(void *arg, const struct complaint *cp)
{
	struct complaint_list_ctx *lc = arg;
	long long end = cp->closed_at != 0 && cp->closed_at < cp->window_end ?
	    cp->closed_at : cp->window_end;
	char at[32], we[32];

	lifecycle_time(cp->created_at, at, sizeof at);
	lifecycle_time(end, we, sizeof we);
	if (lc->c->json)
		json_array_append_new(lc->arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b,"
		    " s:o, s:o}", "id", (json_int_t)cp->id, "source", cp->source, "ref", cp->ref,
		    "received", at, "by", cp->created_by, "window_end", we,
		    "window_open", end > lc->c->now,
		    "closed_by", cp->closed_at != 0 ? json_string(cp->closed_by) : json_null(),
		    "close_reason", cp->closed_at != 0 ? json_string(cp->close_reason) :
		    json_null()));
	else
		printf("#%-5lld %-10s %-20s %-20s %-6s %s\n", cp->id, ctl_esc(cp->source), at, we,
		    end > lc->c->now ? "open" : "ended", ctl_esc(cp->ref));
	return 0;
}

/* mailabusectl complaint list ACCOUNT: the account's complaints and their windows. */
int
cmd_complaint_list(struct ctl *c, const struct ctl_args *a)
{
	struct complaint_list_ctx lc = { c, NULL };
	struct account acc;
	char lower[ACCOUNT_NAME_MAX];
	int r;

	if ((r = ctl_store(c)) != 0)
		return r;
	if ((r = store_account_get(c->st, ctl_account_arg(a->argv[0], lower, sizeof lower),
	    &acc)) != 1) {
		if (r == -1)
			return ctl_db_error(c, "complaint list");
		fprintf(stderr, "mailabusectl: %s: no such account\n", ctl_esc(a->argv[0]));
		return EX_NOINPUT;
	}
	if (c->json)
		lc.arr = json_array();
	else
		printf("%-6s %-10s %-20s %-20s %-6s %s\n", "ID", "SOURCE", "RECEIVED",
		    "WINDOW END", "WINDOW", "REF");
	if (store_complaint_list(c->st, acc.name, complaint_list_cb, &lc) == -1) {
		json_decref(lc.arr);
		return ctl_db_error(c, "complaint list");
	}
	return c->json ? ctl_json_print(lc.arr) : 0;
}

/* An admin closes a complaint's window early, e.g. a complaint found unfounded. */
int
cmd_complaint_close(struct ctl *c, const struct ctl_args *a)
{
	const char *reason = ctl_args_get(a, "reason"), *arg = a->argv[0];
	struct complaint cp;
	char detail[1400];
	long long id;
	int r;

	if (reason == NULL || *reason == '\0' || strlen(reason) >= REASON_MAX)
		return ctl_usage_error("usage: complaint close ID --reason TEXT");
	if (ctl_number_parse(arg + (arg[0] == '#'), "", 1, LLONG_MAX, &id) == -1)
		return ctl_usage_error("complaint close: %s is not a complaint number", arg);
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "complaint close");
	if ((r = store_complaint_get(c->st, id, &cp)) != 1) {
		if (r == -1)
			return ctl_db_error(c, "complaint close");
		store_rollback(c->st);
		fprintf(stderr, "mailabusectl: complaint #%lld: no such complaint\n", id);
		return EX_NOINPUT;
	}
	if (cp.closed_at != 0 || cp.window_end <= c->now) {
		store_rollback(c->st);
		fprintf(stderr, "mailabusectl: complaint #%lld: its window has already ended\n", id);
		return CTL_REFUSED;
	}
	snprintf(detail, sizeof detail, "complaint #%lld window closed early: %s", id, reason);
	if ((r = store_complaint_close(c->st, id, c->now, c->actor, reason)) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor, "complaint-closed", cp.account,
	    cp.account, detail) == -1 || store_commit(c->st) == -1)
		return ctl_db_error(c, "complaint close");
	if (c->json)
		return ctl_json_print(json_pack("{s:I, s:s, s:b, s:s}", "complaint",
		    (json_int_t)id, "account", cp.account, "closed", 1, "reason", reason));
	printf("complaint #%lld of %s: window closed: %s\n", id, ctl_esc(cp.account),
	    ctl_esc(reason));
	return 0;
}

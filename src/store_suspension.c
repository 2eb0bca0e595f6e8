/*
 * The store's suspensions (of accounts and mailboxes) and the records
 * the unblock rule reads: the last counted unblock, when each
 * suspension began or ended, the eligibility notices queued.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

/* A suspension row's columns, named as struct suspension's fields. */
#define SUSP_COLS "id, target, account, kind, reason, source, created_by, created_at," \
	" coalesce(lifted_at, 0) AS lifted_at, coalesce(lifted_by, '') AS lifted_by," \
	" coalesce(lift_reason, '') AS lift_reason, coalesce(lift_kind, '') AS lift_kind," \
	" coalesce(complaint_id, 0) AS complaint_id"

static const struct store_col suspension_cols[] = {
	STORE_COL(struct suspension, id, STORE_INT64),
	STORE_COL(struct suspension, target, STORE_TEXT),
	STORE_COL(struct suspension, account, STORE_TEXT),
	STORE_COL(struct suspension, kind, STORE_TEXT),
	STORE_COL(struct suspension, reason, STORE_TEXT),
	STORE_COL(struct suspension, source, STORE_TEXT),
	STORE_COL(struct suspension, created_by, STORE_TEXT),
	STORE_COL(struct suspension, created_at, STORE_INT64),
	STORE_COL(struct suspension, lifted_at, STORE_INT64),
	STORE_COL(struct suspension, lifted_by, STORE_TEXT),
	STORE_COL(struct suspension, lift_reason, STORE_TEXT),
	STORE_COL(struct suspension, lift_kind, STORE_TEXT),
	STORE_COL(struct suspension, complaint_id, STORE_INT64),
};

struct suspension_walk {
	store_suspension_cb cb;
	void *arg;
};

/* One suspension row to the caller's callback. */
static int
store_suspension_row_cb(void *arg, struct store_stmt *s)
{
	struct suspension_walk *w = arg;
	struct suspension sp;

	store_row_read(s, suspension_cols, STORE_NCOLS(suspension_cols), &sp);
	return w->cb(w->arg, &sp);
}

static const struct store_sql q_susp_active = { "suspension lookup",
	"SELECT " SUSP_COLS " FROM suspensions WHERE target = :target AND lifted_at IS NULL" };

/* The active suspension of a target (account name or mailbox), if any; 1, 0 or -1. */
int
store_suspension_active(struct store *st, const char *target, struct suspension *sp)
{
	struct store_stmt *s = store_prepare(st, &q_susp_active);
	int r;

	store_bind_text(s, ":target", target);
	if ((r = store_one(st, s)) == 1) {
		if (sp != NULL)
			store_row_read(s, suspension_cols, STORE_NCOLS(suspension_cols), sp);
		store_reset(s);
	}
	return r;
}

static const struct store_sql q_susp_insert = { "suspension insert",
	"INSERT INTO suspensions (target, account, kind, reason, source, created_by,"
	" created_at, complaint_id) VALUES (:target, :account, :kind, :reason, :source,"
	" :created_by, :created_at, :complaint_id)" };

/* Record a new suspension; sp->id is set. */
int
store_suspension_insert(struct store *st, struct suspension *sp)
{
	struct store_stmt *s = store_prepare(st, &q_susp_insert);

	store_bind_text(s, ":target", sp->target);
	store_bind_text(s, ":account", sp->account);
	store_bind_text(s, ":kind", sp->kind);
	store_bind_text(s, ":reason", sp->reason);
	store_bind_text(s, ":source", sp->source);
	store_bind_text(s, ":created_by", sp->created_by);
	store_bind_int(s, ":created_at", sp->created_at);
	if (sp->complaint_id > 0)
		store_bind_int(s, ":complaint_id", sp->complaint_id);
	if (store_run(st, s) == -1)
		return -1;
	sp->id = store_last_id(st);
	return 0;
}

static const struct store_sql q_susp_lift = { "suspension lift",
	"UPDATE suspensions SET lifted_at = :at, lifted_by = :by, lift_reason = :reason,"
	" lift_kind = :lift_kind WHERE id = :id AND lifted_at IS NULL" };

/* Lift an active suspension. */
int
store_suspension_lift(struct store *st, long long id, long long at,
    const char *by, const char *reason, const char *lift_kind)
{
	struct store_stmt *s = store_prepare(st, &q_susp_lift);

	store_bind_int(s, ":id", id);
	store_bind_int(s, ":at", at);
	store_bind_text(s, ":by", by);
	store_bind_text(s, ":reason", reason);
	store_bind_text(s, ":lift_kind", lift_kind);
	if (store_run(st, s) == -1)
		return -1;
	if (store_changes(st) != 1)
		return store_errorf(st, "suspension %lld is not active", id);
	return 0;
}

static const struct store_sql q_susp_list = { "suspension list",
	"SELECT " SUSP_COLS " FROM suspensions WHERE account = :account"
	" ORDER BY created_at, id" };

/* Every suspension, past and present, of an account and its mailboxes. */
int
store_suspension_list(struct store *st, const char *account, store_suspension_cb cb, void *arg)
{
	struct suspension_walk w = { cb, arg };

	return store_walk_by(st, &q_susp_list, ":account", account,
	    store_suspension_row_cb, &w);
}

static const struct store_sql q_susp_pending_eligible = { "pending eligible",
	"SELECT " SUSP_COLS " FROM suspensions"
	" WHERE lifted_at IS NULL AND kind = 'account' AND eligible_notified_at IS NULL"
	" ORDER BY id" };

/* Active account suspensions whose owner has not been told of eligibility yet. */
int
store_suspension_pending_eligible(struct store *st, store_suspension_cb cb, void *arg)
{
	struct suspension_walk w = { cb, arg };

	return store_walk(st, store_prepare(st, &q_susp_pending_eligible),
	    store_suspension_row_cb, &w);
}

static const struct store_sql q_susp_set_notified = { "set notified",
	"UPDATE suspensions SET eligible_notified_at = :at"
	" WHERE id = :id AND eligible_notified_at IS NULL" };

/* Mark the eligibility notice of a suspension as queued; 1 if another run did. */
int
store_suspension_set_notified(struct store *st, long long id, long long at)
{
	struct store_stmt *s = store_prepare(st, &q_susp_set_notified);

	store_bind_int(s, ":id", id);
	store_bind_int(s, ":at", at);
	if (store_run(st, s) == -1)
		return -1;
	return store_changes(st) == 1 ? 0 : 1;
}

static const struct store_sql q_susp_flags = { "suspension lookup",
	"SELECT coalesce(max(target = :account), 0) AS account_suspended,"
	" coalesce(max(target = :mailbox), 0) AS mailbox_suspended,"
	" (SELECT coalesce(max(max(created_at, coalesce(lifted_at, 0))), 0) FROM suspensions"
	"  WHERE account = :account AND kind = 'account') AS last_change"
	" FROM suspensions WHERE target IN (:account, :mailbox) AND lifted_at IS NULL" };

/*
 * Which of an account and one of its mailboxes have an active suspension,
 * and when the account's suspension last began or ended (hot path).
 */
int
store_suspension_flags(struct store *st, const char *account, const char *mailbox,
    int *account_suspended, int *mailbox_suspended, long long *last_change)
{
	struct store_stmt *s = store_prepare(st, &q_susp_flags);
	int r;

	*account_suspended = *mailbox_suspended = 0;
	*last_change = 0;
	store_bind_text(s, ":account", account);
	store_bind_text(s, ":mailbox", mailbox != NULL && mailbox[0] != '\0' ? mailbox : NULL);
	if ((r = store_one(st, s)) == 1) {
		*account_suspended = (int)store_col_int(s, "account_suspended");
		*mailbox_suspended = (int)store_col_int(s, "mailbox_suspended");
		*last_change = store_col_int(s, "last_change");
		store_reset(s);
	}
	return r == -1 ? -1 : 0;
}

/* A lift counts as the account's unblock unless an admin said --no-count. */
#define COUNTED_LIFT "kind = 'account' AND lifted_at IS NOT NULL" \
	" AND coalesce(lift_kind, 'admin') <> 'admin-nocount'"

static const struct store_sql q_last_unblock = { "last unblock",
	"SELECT coalesce(max(lifted_at), 0) AS at FROM suspensions"
	" WHERE account = :account AND " COUNTED_LIFT };

/* When the account's last counted unblock was granted (0: never). */
int
store_last_unblock(struct store *st, const char *account, long long *at)
{
	struct store_stmt *s = store_prepare(st, &q_last_unblock);
	int r;

	store_bind_text(s, ":account", account);
	if ((r = store_one(st, s)) == 1) {
		*at = store_col_int(s, "at");
		store_reset(s);
	}
	return r == -1 ? -1 : 0;
}

/* Lifted suspensions, but never the last counted unblock of an account: the rule needs it. */
const struct store_sql store_suspension_purge_sql = { "purge",
	"DELETE FROM suspensions WHERE lifted_at IS NOT NULL"
	" AND lifted_at < :before AND id NOT IN (SELECT last FROM (SELECT (SELECT s2.id"
	"  FROM suspensions s2 WHERE s2.account = a.account AND s2.kind = 'account'"
	"  AND s2.lifted_at IS NOT NULL AND coalesce(s2.lift_kind, 'admin') <> 'admin-nocount'"
	"  ORDER BY s2.lifted_at DESC, s2.id DESC LIMIT 1) AS last"
	" FROM (SELECT DISTINCT account FROM suspensions) a) WHERE last IS NOT NULL)" };

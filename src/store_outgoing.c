/*
 * The store's copy of cPanel's own outgoing email state
 * (etc/outgoing_mail_suspended_users, etc/outgoing_mail_hold_users) as
 * sync last read it: staged, compared, stored; shown, never enforced.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

/* Create (or empty) the table sync stages cPanel's outgoing email state in. */
int
store_outgoing_stage_begin(struct store *st)
{
	return store_exec(st, "CREATE TEMP TABLE IF NOT EXISTS sync_outgoing"
	    " (account TEXT PRIMARY KEY, state TEXT NOT NULL); DELETE FROM temp.sync_outgoing;",
	    "sync staging");
}

/* suspended wins over held: cPanel refuses the mail before it could be queued */
static const struct store_sql q_out_stage = { "sync staging",
	"INSERT INTO temp.sync_outgoing (account, state) VALUES (:account, :state)"
	" ON CONFLICT (account) DO UPDATE SET state = 'suspended'"
	" WHERE excluded.state = 'suspended'" };

/* An account cPanel lists as "suspended" or "held"; suspended wins. */
int
store_outgoing_stage(struct store *st, const char *account, const char *state)
{
	return store_run_texts(st, &q_out_stage, ":account", account, ":state", state, NULL);
}

static const struct store_sql q_out_changes = { "sync compare",
	"SELECT n.account AS account, coalesce(o.state, '') AS old_state, n.state AS new_state"
	" FROM temp.sync_outgoing n LEFT JOIN cpanel_outgoing o ON o.account = n.account"
	" WHERE o.state IS NULL OR o.state <> n.state"
	" UNION ALL SELECT account, state, '' FROM cpanel_outgoing"
	" WHERE account NOT IN (SELECT account FROM temp.sync_outgoing) ORDER BY 1" };
static const struct store_sql q_out_delete = { "sync apply",
	"DELETE FROM cpanel_outgoing WHERE account NOT IN (SELECT account FROM temp.sync_outgoing)" };
static const struct store_sql q_out_upsert = { "sync apply",
	"INSERT INTO cpanel_outgoing (account, state, since)"
	" SELECT account, state, :now FROM temp.sync_outgoing WHERE true"
	" ON CONFLICT (account) DO UPDATE SET state = excluded.state, since = excluded.since"
	" WHERE state <> excluded.state" };

struct outgoing_walk {
	store_outgoing_cb cb;
	void *arg;
	int stopped;
};

/* One change to the caller's callback. */
static int
store_outgoing_row_cb(void *arg, struct store_stmt *s)
{
	struct outgoing_walk *w = arg;

	w->stopped = w->cb(w->arg, store_col_str(s, "account"), store_col_str(s, "old_state"),
	    store_col_str(s, "new_state"));
	return w->stopped;
}

/*
 * Report each account whose cPanel outgoing state changed through cb
 * (old and new: "suspended", "held" or ""), then store the staged
 * state, with since = now for the changed ones.  Inside a transaction.
 */
int
store_outgoing_apply(struct store *st, long long now, store_outgoing_cb cb, void *arg)
{
	struct outgoing_walk w = { cb, arg, 0 };
	struct store_stmt *s;

	if (store_walk(st, store_prepare(st, &q_out_changes), store_outgoing_row_cb, &w) == -1 ||
	    w.stopped != 0 || store_run(st, store_prepare(st, &q_out_delete)) == -1)
		return -1;
	s = store_prepare(st, &q_out_upsert);
	store_bind_int(s, ":now", now);
	return store_run(st, s);
}

static const struct store_sql q_out_get = { "cpanel outgoing",
	"SELECT state, since FROM cpanel_outgoing WHERE account = :account" };

/* cPanel's outgoing state of an account as sync last saw it; 1, 0 (none) or -1. */
int
store_outgoing_get(struct store *st, const char *account, char *state, size_t len,
    long long *since)
{
	struct store_stmt *s = store_prepare(st, &q_out_get);
	int r;

	store_bind_text(s, ":account", account);
	if ((r = store_one(st, s)) != 1)
		return r;
	store_col_copy(s, "state", state, len);
	*since = store_col_int(s, "since");
	store_reset(s);
	return 1;
}

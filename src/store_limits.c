/*
 * The store's per-account limits: a detector's threshold and action
 * set for one account, read on the hot path.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

static const struct store_sql q_limits_get = { "limits",
	"SELECT detector, value, action, set_at, set_by FROM limits"
	" WHERE account = :account ORDER BY detector" };

struct limits_walk {
	int (*cb)(void *arg, const char *detector, long long value, const char *action,
	    long long set_at, const char *set_by);
	void *arg;
};

/* One limit to the caller's callback. */
static int
store_limit_row_cb(void *arg, struct store_stmt *s)
{
	struct limits_walk *w = arg;

	return w->cb(w->arg, store_col_str(s, "detector"), store_col_int(s, "value"),
	    store_col_str(s, "action"), store_col_int(s, "set_at"), store_col_str(s, "set_by"));
}

/* An account's own limits, each as (detector, value, action, when set, by whom). */
int
store_limits_get(struct store *st, const char *account,
    int (*cb)(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by), void *arg)
{
	struct limits_walk w = { cb, arg };

	return store_walk_by(st, &q_limits_get, ":account", account, store_limit_row_cb, &w);
}

static const struct store_sql q_limit_set = { "limit set",
	"INSERT OR REPLACE INTO limits (account, detector, value, action, set_at, set_by)"
	" VALUES (:account, :detector, :value, :action, :set_at, :set_by)" };

/* Set (or replace) one of an account's limits. */
int
store_limit_set(struct store *st, const char *account, const char *detector, long long value,
    const char *action, long long at, const char *by)
{
	struct store_stmt *s = store_prepare(st, &q_limit_set);

	store_bind_text(s, ":account", account);
	store_bind_text(s, ":detector", detector);
	store_bind_int(s, ":value", value);
	store_bind_text(s, ":action", action);
	store_bind_int(s, ":set_at", at);
	store_bind_text(s, ":set_by", by);
	return store_run(st, s);
}

static const struct store_sql q_limit_delete = { "limit delete",
	"DELETE FROM limits WHERE account = :account AND detector = :detector" };

/* Remove one of an account's limits (the default applies again). */
int
store_limit_delete(struct store *st, const char *account, const char *detector)
{
	return store_run_texts(st, &q_limit_delete, ":account", account, ":detector", detector,
	    NULL);
}

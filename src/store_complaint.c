/*
 * The store's complaints: each opens a window during which the
 * account's unblocks are held back, closed early or when it ends.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

/* A complaint row's columns, named as struct complaint's fields. */
#define COMPLAINT_COLS "id, account, source, ref, created_at, created_by, window_end," \
	" coalesce(closed_at, 0) AS closed_at, coalesce(closed_by, '') AS closed_by," \
	" coalesce(close_reason, '') AS close_reason"

static const struct store_col complaint_cols[] = {
	STORE_COL(struct complaint, id, STORE_INT64),
	STORE_COL(struct complaint, account, STORE_TEXT),
	STORE_COL(struct complaint, source, STORE_TEXT),
	STORE_COL(struct complaint, ref, STORE_TEXT),
	STORE_COL(struct complaint, created_at, STORE_INT64),
	STORE_COL(struct complaint, created_by, STORE_TEXT),
	STORE_COL(struct complaint, window_end, STORE_INT64),
	STORE_COL(struct complaint, closed_at, STORE_INT64),
	STORE_COL(struct complaint, closed_by, STORE_TEXT),
	STORE_COL(struct complaint, close_reason, STORE_TEXT),
};

static const struct store_sql q_complaint_insert = { "complaint insert",
	"INSERT INTO complaints (account, source, ref, created_at, created_by, window_end)"
	" VALUES (:account, :source, :ref, :created_at, :created_by, :window_end)" };

/* Record a complaint; c->id is set. */
int
store_complaint_insert(struct store *st, struct complaint *c)
{
	struct store_stmt *s = store_prepare(st, &q_complaint_insert);

	store_bind_text(s, ":account", c->account);
	store_bind_text(s, ":source", c->source);
	store_bind_text(s, ":ref", c->ref);
	store_bind_int(s, ":created_at", c->created_at);
	store_bind_text(s, ":created_by", c->created_by);
	store_bind_int(s, ":window_end", c->window_end);
	if (store_run(st, s) == -1)
		return -1;
	c->id = store_last_id(st);
	return 0;
}

static const struct store_sql q_complaint_list = { "complaint list",
	"SELECT " COMPLAINT_COLS " FROM complaints WHERE account = :account"
	" ORDER BY created_at, id" };

struct complaint_walk {
	store_complaint_cb cb;
	void *arg;
};

/* One complaint row to the caller's callback. */
static int
store_complaint_row_cb(void *arg, struct store_stmt *s)
{
	struct complaint_walk *w = arg;
	struct complaint c;

	store_row_read(s, complaint_cols, STORE_NCOLS(complaint_cols), &c);
	return w->cb(w->arg, &c);
}

/* Every complaint of an account, oldest first. */
int
store_complaint_list(struct store *st, const char *account, store_complaint_cb cb, void *arg)
{
	struct complaint_walk w = { cb, arg };

	return store_walk_by(st, &q_complaint_list, ":account", account,
	    store_complaint_row_cb, &w);
}

static const struct store_sql q_complaint_get = { "complaint lookup",
	"SELECT " COMPLAINT_COLS " FROM complaints WHERE id = :id" };

/* One complaint; 1, 0 (no such complaint) or -1. */
int
store_complaint_get(struct store *st, long long id, struct complaint *c)
{
	struct store_stmt *s = store_prepare(st, &q_complaint_get);
	int r;

	store_bind_int(s, ":id", id);
	if ((r = store_one(st, s)) == 1) {
		store_row_read(s, complaint_cols, STORE_NCOLS(complaint_cols), c);
		store_reset(s);
	}
	return r;
}

static const struct store_sql q_complaint_close = { "complaint close",
	"UPDATE complaints SET closed_at = :at, closed_by = :by, close_reason = :reason"
	" WHERE id = :id AND closed_at IS NULL" };

/* Close a complaint's window early; 0, 1 (it was closed already) or -1. */
int
store_complaint_close(struct store *st, long long id, long long at, const char *by,
    const char *reason)
{
	struct store_stmt *s = store_prepare(st, &q_complaint_close);

	store_bind_int(s, ":id", id);
	store_bind_int(s, ":at", at);
	store_bind_text(s, ":by", by);
	store_bind_text(s, ":reason", reason);
	if (store_run(st, s) == -1)
		return -1;
	return store_changes(st) == 1 ? 0 : 1;
}

static const struct store_sql q_expire_audit = { "expire audit",
	"INSERT INTO audit (at, actor, action, account, target, detail)"
	" SELECT :now, :actor, 'complaint-ended', account, account, 'complaint #' || id"
	" || ' (' || source || ': ' || ref || '): window ended' FROM complaints"
	" WHERE closed_at IS NULL AND window_end <= :now" };
static const struct store_sql q_expire_close = { "expire close",
	"UPDATE complaints SET closed_at = window_end, closed_by = :actor,"
	" close_reason = 'window ended' WHERE closed_at IS NULL AND window_end <= :now" };

/* Close (and audit) every complaint window that has ended by now; *n counts them. */
int
store_complaints_expire(struct store *st, long long now, const char *actor, long long *n)
{
	const struct store_sql *const steps[] = { &q_expire_audit, &q_expire_close };

	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		struct store_stmt *s = store_prepare(st, steps[i]);

		store_bind_int(s, ":now", now);
		store_bind_text(s, ":actor", actor);
		if (store_run(st, s) == -1)
			return -1;
	}
	*n = store_changes(st);
	return 0;
}

/* Closed complaints whose window ended before the bound. */
const struct store_sql store_complaint_purge_sql = { "purge",
	"DELETE FROM complaints WHERE closed_at IS NOT NULL"
	" AND closed_at < :before AND window_end < :before" };

/*
 * The store's notice outbox: notices queued in the transaction of the
 * change they tell about, claimed for sending with a lease, then sent,
 * retried, or given up on.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

static const struct store_sql q_outbox_insert = { "outbox insert",
	"INSERT INTO outbox (account, kind, rcpt, message, created_at, due_at)"
	" VALUES (:account, :kind, :rcpt, :message, :now, :now)" };

/* Queue a notice (inside the transaction of the change it tells about). */
int
store_outbox_insert(struct store *st, const char *account, const char *kind,
    const char *rcpt, const char *message, long long now)
{
	struct store_stmt *s = store_prepare(st, &q_outbox_insert);

	store_bind_text(s, ":account", account);
	store_bind_text(s, ":kind", kind);
	store_bind_text(s, ":rcpt", rcpt);
	store_bind_text(s, ":message", message);
	store_bind_int(s, ":now", now);
	return store_run(st, s);
}

static const struct store_sql q_outbox_due = { "outbox due",
	"SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
	" AND due_at <= :now AND (:account IS NULL OR account = :account)"
	" ORDER BY due_at, id LIMIT 1000" };

struct outbox_due {
	long long *ids;
	size_t max, n;
};

/* Keep one due id; stop when the caller's array is full. */
static int
store_outbox_due_cb(void *arg, struct store_stmt *s)
{
	struct outbox_due *d = arg;

	if (d->n == d->max)
		return 1;
	d->ids[d->n++] = store_col_int(s, "id");
	return 0;
}

/* Ids of notices due now (of one account, or all when account is NULL). */
int
store_outbox_due(struct store *st, long long now, const char *account,
    long long *ids, size_t max, size_t *n)
{
	struct store_stmt *s = store_prepare(st, &q_outbox_due);
	struct outbox_due d = { ids, max, 0 };
	int r;

	store_bind_int(s, ":now", now);
	store_bind_text(s, ":account", account);
	r = store_walk(st, s, store_outbox_due_cb, &d);
	*n = d.n;
	return r;
}

static const struct store_sql q_outbox_claim = { "outbox claim",
	"UPDATE outbox SET due_at = :lease_until, attempts = attempts + 1"
	" WHERE id = :id AND sent_at IS NULL AND failed_at IS NULL AND due_at <= :now" };
static const struct store_sql q_outbox_get = { "outbox get",
	"SELECT id, account, kind, rcpt, message, attempts, created_at FROM outbox"
	" WHERE id = :id" };

static const struct store_col notice_cols[] = {
	STORE_COL(struct notice, id, STORE_INT64),
	STORE_COL(struct notice, account, STORE_TEXT),
	STORE_COL(struct notice, kind, STORE_TEXT),
	STORE_COL(struct notice, rcpt, STORE_TEXT),
	STORE_COL(struct notice, attempts, STORE_INT),
	STORE_COL(struct notice, created_at, STORE_INT64),
};

/*
 * Take a due notice for sending: it is not due again before lease_until,
 * so that a concurrent run leaves it alone.  1 taken, 0 taken by another.
 */
int
store_outbox_claim(struct store *st, long long id, long long now, long long lease_until,
    struct notice *nt)
{
	struct store_stmt *s = store_prepare(st, &q_outbox_claim);
	int r;

	store_bind_int(s, ":id", id);
	store_bind_int(s, ":now", now);
	store_bind_int(s, ":lease_until", lease_until);
	if (store_run(st, s) == -1)
		return -1;
	if (store_changes(st) != 1)
		return 0;
	s = store_prepare(st, &q_outbox_get);
	store_bind_int(s, ":id", id);
	if ((r = store_one(st, s)) != 1)
		return r;
	store_row_read(s, notice_cols, STORE_NCOLS(notice_cols), nt);
	nt->message = strdup(store_col_str(s, "message"));
	store_reset(s);
	if (nt->message == NULL)
		return store_errorf(st, "out of memory");
	return 1;
}

static const struct store_sql q_outbox_sent = { "outbox sent",
	"UPDATE outbox SET sent_at = :at, last_error = NULL WHERE id = :id" };

/* A notice was sent. */
int
store_outbox_sent(struct store *st, long long id, long long at)
{
	struct store_stmt *s = store_prepare(st, &q_outbox_sent);

	store_bind_int(s, ":id", id);
	store_bind_int(s, ":at", at);
	return store_run(st, s);
}

static const struct store_sql q_outbox_failed = { "outbox failed",
	"UPDATE outbox SET last_error = :error, due_at = :at WHERE id = :id AND sent_at IS NULL" };
static const struct store_sql q_outbox_give_up = { "outbox give up",
	"UPDATE outbox SET last_error = :error, failed_at = :at"
	" WHERE id = :id AND sent_at IS NULL AND failed_at IS NULL" };

/* Note a failure of a notice (q_outbox_failed or q_outbox_give_up); the rows changed, or -1. */
static int
store_outbox_fail(struct store *st, const struct store_sql *q, long long id, const char *error,
    long long at)
{
	struct store_stmt *s = store_prepare(st, q);

	store_bind_int(s, ":id", id);
	store_bind_text(s, ":error", error);
	store_bind_int(s, ":at", at);
	if (store_run(st, s) == -1)
		return -1;
	return (int)store_changes(st);
}

/* A notice failed: due again at retry_at. */
int
store_outbox_failed(struct store *st, long long id, const char *error, long long retry_at)
{
	return store_outbox_fail(st, &q_outbox_failed, id, error, retry_at) == -1 ? -1 : 0;
}

/* Give up on a notice: marked failed at `at`, never retried.  1 done, 0 not pending. */
int
store_outbox_give_up(struct store *st, long long id, const char *error, long long at)
{
	int r = store_outbox_fail(st, &q_outbox_give_up, id, error, at);

	return r == -1 ? -1 : r == 1;
}

static const struct store_sql q_outbox_failed_list = { "outbox failed list",
	"SELECT id, account, kind, rcpt, attempts, created_at, failed_at,"
	" coalesce(last_error, '') AS error FROM outbox"
	" WHERE account = :account AND failed_at IS NOT NULL ORDER BY failed_at, id" };

struct notice_walk {
	store_notice_cb cb;
	void *arg;
};

/* One given-up notice to the caller's callback. */
static int
store_notice_row_cb(void *arg, struct store_stmt *s)
{
	struct notice_walk *w = arg;
	struct notice nt;

	memset(&nt, 0, sizeof nt);
	store_row_read(s, notice_cols, STORE_NCOLS(notice_cols), &nt);
	nt.failed_at = store_col_int(s, "failed_at");
	store_col_copy(s, "error", nt.error, sizeof nt.error);
	return w->cb(w->arg, &nt);
}

/* The notices of an account that were given up (message left NULL). */
int
store_outbox_failed_list(struct store *st, const char *account, store_notice_cb cb, void *arg)
{
	struct notice_walk w = { cb, arg };

	return store_walk_by(st, &q_outbox_failed_list, ":account", account,
	    store_notice_row_cb, &w);
}

/* Notices sent or given up on before the bound. */
const struct store_sql store_outbox_purge_sql = { "purge",
	"DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < :before)"
	" OR (failed_at IS NOT NULL AND failed_at < :before)" };

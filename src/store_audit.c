/*
 * The store's audit log: who changed what, when and why, written in
 * the transaction of the change itself.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

static const struct store_sql q_audit_insert = { "audit insert",
	"INSERT INTO audit (at, actor, action, account, target, detail)"
	" VALUES (:at, :actor, :action, :account, :target, :detail)" };

/* Append to the audit log (inside the caller's transaction). */
int
store_audit_insert(struct store *st, long long at, const char *actor, const char *action,
    const char *account, const char *target, const char *detail)
{
	struct store_stmt *s = store_prepare(st, &q_audit_insert);

	store_bind_int(s, ":at", at);
	store_bind_text(s, ":actor", actor);
	store_bind_text(s, ":action", action);
	store_bind_text(s, ":account", account);
	store_bind_text(s, ":target", target);
	store_bind_text(s, ":detail", detail != NULL ? detail : "");
	return store_run(st, s);
}

static const struct store_col audit_cols[] = {
	STORE_COL(struct audit_entry, id, STORE_INT64),
	STORE_COL(struct audit_entry, at, STORE_INT64),
	STORE_COL(struct audit_entry, actor, STORE_TEXT),
	STORE_COL(struct audit_entry, action, STORE_TEXT),
	STORE_COL(struct audit_entry, account, STORE_TEXT),
	STORE_COL(struct audit_entry, target, STORE_TEXT),
	STORE_COL(struct audit_entry, detail, STORE_TEXT),
};

static const struct store_sql q_audit_list = { "audit list",
	"SELECT * FROM (SELECT id, at, actor, action, coalesce(account, '') AS account,"
	" coalesce(target, '') AS target, detail FROM audit WHERE account = :account"
	" ORDER BY at DESC, id DESC LIMIT :limit) ORDER BY at, id" };

struct audit_walk {
	store_audit_cb cb;
	void *arg;
};

/* One audit row to the caller's callback. */
static int
store_audit_row_cb(void *arg, struct store_stmt *s)
{
	struct audit_walk *w = arg;
	struct audit_entry e;

	store_row_read(s, audit_cols, STORE_NCOLS(audit_cols), &e);
	return w->cb(w->arg, &e);
}

/* The last `limit` audit entries of an account, oldest first. */
int
store_audit_list(struct store *st, const char *account, long long limit,
    store_audit_cb cb, void *arg)
{
	struct store_stmt *s = store_prepare(st, &q_audit_list);
	struct audit_walk w = { cb, arg };

	store_bind_text(s, ":account", account);
	store_bind_int(s, ":limit", limit);
	return store_walk(st, s, store_audit_row_cb, &w);
}

static const struct store_sql q_last_audit = { "audit lookup",
	"SELECT coalesce(max(at), 0) AS at FROM audit WHERE account = :account"
	" AND action IN (:action1, :action2)" };

/* When an account last had an audit entry of one of two actions (0: never). */
int
store_last_audit(struct store *st, const char *account, const char *action1,
    const char *action2, long long *at)
{
	struct store_stmt *s = store_prepare(st, &q_last_audit);
	int r;

	*at = 0;
	store_bind_text(s, ":account", account);
	store_bind_text(s, ":action1", action1);
	store_bind_text(s, ":action2", action2);
	if ((r = store_one(st, s)) == 1) {
		*at = store_col_int(s, "at");
		store_reset(s);
	}
	return r == -1 ? -1 : 0;
}

/* Audit entries older than the bound. */
const struct store_sql store_audit_purge_sql = { "purge",
	"DELETE FROM audit WHERE at < :before" };

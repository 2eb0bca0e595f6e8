/*
 * The store's accounts and domains: what cPanel's data says (sync
 * writes them, store_sync.c), read on the hot path and by the commands.
 */
#include <stddef.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

static const struct store_col account_cols[] = {
	STORE_COL(struct account, name, STORE_TEXT),
	STORE_COL(struct account, owner, STORE_TEXT),
	STORE_COL(struct account, contact, STORE_TEXT),
	STORE_COL(struct account, main_domain, STORE_TEXT),
	STORE_COL(struct account, present, STORE_INT),
	STORE_COL(struct account, created_at, STORE_INT64),
	STORE_COL(struct account, updated_at, STORE_INT64),
};

static const struct store_sql q_domain_owner = { "domain lookup",
	"SELECT account FROM domains WHERE domain = :domain" };

/* The account a domain is listed for (exactly that domain); 1, 0 or -1 (hot path). */
int
store_domain_owner(struct store *st, const char *domain, char *account, size_t len)
{
	struct store_stmt *s = store_prepare(st, &q_domain_owner);
	int r;

	store_bind_text(s, ":domain", domain);
	if ((r = store_one(st, s)) == 1) {
		store_col_copy(s, "account", account, len);
		store_reset(s);
	}
	return r;
}

static const struct store_sql q_account_exists = { "account lookup",
	"SELECT 1 FROM accounts WHERE name = :name AND present = 1" };

/* Whether an account is known and still present in cPanel; 1, 0 or -1 (hot path). */
int
store_account_exists(struct store *st, const char *name)
{
	return store_found(st, &q_account_exists, ":name", name);
}

static const struct store_sql q_local_domain = { "local domain lookup",
	"SELECT 1 FROM local_domains WHERE domain = :domain" };

/* Whether a domain is one of the server's local domains; 1, 0 or -1 (hot path). */
int
store_local_domain(struct store *st, const char *domain)
{
	return store_found(st, &q_local_domain, ":domain", domain);
}

static const struct store_sql q_account_get = { "account lookup",
	"SELECT name, owner, contact, main_domain, present, created_at, updated_at"
	" FROM accounts WHERE name = :name" };

/* One account's row; 1, 0 (unknown) or -1. */
int
store_account_get(struct store *st, const char *name, struct account *a)
{
	struct store_stmt *s = store_prepare(st, &q_account_get);
	int r;

	store_bind_text(s, ":name", name);
	if ((r = store_one(st, s)) == 1) {
		store_row_read(s, account_cols, STORE_NCOLS(account_cols), a);
		store_reset(s);
	}
	return r;
}

static const struct store_sql q_account_list = { "account list",
	"SELECT * FROM (SELECT name, owner, contact, main_domain, present,"
	" created_at, updated_at, EXISTS (SELECT 1 FROM suspensions s"
	"  WHERE s.target = a.name AND s.lifted_at IS NULL) AS suspended"
	" FROM accounts a) WHERE :state IS NULL"
	" OR (:state = 'suspended' AND suspended)"
	" OR (:state = 'active' AND present = 1 AND NOT suspended)"
	" OR (:state = 'removed' AND present = 0)"
	" ORDER BY name" };

struct account_walk {
	store_account_cb cb;
	void *arg;
};

/* One row of q_account_list to the caller's callback. */
static int
store_account_row_cb(void *arg, struct store_stmt *s)
{
	struct account_walk *w = arg;
	struct account a;

	store_row_read(s, account_cols, STORE_NCOLS(account_cols), &a);
	return w->cb(w->arg, &a, (int)store_col_int(s, "suspended"));
}

/* Accounts, optionally only those in state "active", "suspended" or "removed". */
int
store_account_list(struct store *st, const char *state, store_account_cb cb, void *arg)
{
	struct account_walk w = { cb, arg };

	return store_walk_by(st, &q_account_list, ":state", state, store_account_row_cb, &w);
}

static const struct store_sql q_account_domains = { "domain list",
	"SELECT domain, kind FROM domains WHERE account = :account"
	" ORDER BY kind = 'main' DESC, domain" };

struct domain_walk {
	int (*cb)(void *arg, const char *domain, const char *kind);
	void *arg;
};

/* One row of q_account_domains to the caller's callback. */
static int
store_domain_row_cb(void *arg, struct store_stmt *s)
{
	struct domain_walk *w = arg;

	return w->cb(w->arg, store_col_str(s, "domain"), store_col_str(s, "kind"));
}

/* The domains of an account, main domain first. */
int
store_account_domains(struct store *st, const char *name,
    int (*cb)(void *arg, const char *domain, const char *kind), void *arg)
{
	struct domain_walk w = { cb, arg };

	return store_walk_by(st, &q_account_domains, ":account", name, store_domain_row_cb, &w);
}

/* accounts active, suspended, removed (not suspended); notices queued, sent, failed */
static const struct store_sql q_stats = { "stats",
	"SELECT coalesce(sum(present = 1 AND NOT susp), 0) AS active,"
	" coalesce(sum(susp), 0) AS suspended,"
	" coalesce(sum(present = 0 AND NOT susp), 0) AS removed,"
	" (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL) AS queued,"
	" (SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL) AS sent,"
	" (SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL) AS failed"
	" FROM (SELECT present, EXISTS (SELECT 1 FROM suspensions s WHERE s.target = a.name"
	"  AND s.lifted_at IS NULL) AS susp FROM accounts a)" };

/*
 * For the metrics: accounts by state (active, suspended, removed: a
 * removed account still suspended counts as suspended) in accounts[3],
 * the outbox's notices by state (queued, sent, failed) in notices[3].
 */
int
store_stats(struct store *st, long long accounts[3], long long notices[3])
{
	static const char *const acol[3] = { "active", "suspended", "removed" };
	static const char *const ncol[3] = { "queued", "sent", "failed" };
	struct store_stmt *s = store_prepare(st, &q_stats);
	int r;

	if ((r = store_one(st, s)) == 1) {
		for (int i = 0; i < 3; i++) {
			accounts[i] = store_col_int(s, acol[i]);
			notices[i] = store_col_int(s, ncol[i]);
		}
		store_reset(s);
	}
	return r == 1 ? 0 : -1;
}

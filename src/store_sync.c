/*
 * The store's side of sync: cPanel's accounts, domains and local
 * domains are staged in temporary tables, then compared with the store
 * (each difference reported) and applied, in the caller's transaction.
 * With an account (sync --account) only that account's slice of the
 * store is compared: the account, its domains, and the local domains
 * among the domains it has or had (temp.sync_scope).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

/* Create (or empty) the temporary tables sync stages cPanel's data in. */
int
store_sync_stage_begin(struct store *st)
{
	return store_exec(st,
	    "CREATE TEMP TABLE IF NOT EXISTS sync_accounts (name TEXT PRIMARY KEY,"
	    " owner TEXT NOT NULL, contact TEXT NOT NULL, main_domain TEXT NOT NULL,"
	    " uuid TEXT);"	/* NULL: not known (no users file) */
	    "CREATE TEMP TABLE IF NOT EXISTS sync_domains (domain TEXT PRIMARY KEY,"
	    " account TEXT NOT NULL, kind TEXT NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS temp.sync_domains_account ON sync_domains (account);"
	    "CREATE TEMP TABLE IF NOT EXISTS sync_local (domain TEXT PRIMARY KEY);"
	    "CREATE TEMP TABLE IF NOT EXISTS sync_scope (domain TEXT PRIMARY KEY);"
	    /* the renames' moves, in order, for the history file (store_history_moves) */
	    "CREATE TEMP TABLE IF NOT EXISTS history_moves (seq INTEGER PRIMARY KEY,"
	    " from_name TEXT NOT NULL, to_name TEXT NOT NULL);"
	    "DELETE FROM temp.sync_accounts; DELETE FROM temp.sync_domains;"
	    " DELETE FROM temp.sync_local; DELETE FROM temp.sync_scope;"
	    " DELETE FROM temp.history_moves;", "sync staging");
}

static const struct store_sql q_stage_account = { "sync staging",
	"INSERT OR REPLACE INTO temp.sync_accounts (name, owner, contact, main_domain)"
	" VALUES (:name, :owner, :contact, :main_domain)" };

/* An account as cPanel has it. */
int
store_sync_stage_account(struct store *st, const char *name, const char *owner,
    const char *contact, const char *main_domain)
{
	return store_run_texts(st, &q_stage_account, ":name", name, ":owner", owner,
	    ":contact", contact, ":main_domain", main_domain, NULL);
}

static const struct store_sql q_stage_domain = { "sync staging",
	"INSERT OR REPLACE INTO temp.sync_domains (domain, account, kind)"
	" VALUES (:domain, :account, :kind)" };

/* A domain of an account as cPanel has it. */
int
store_sync_stage_domain(struct store *st, const char *domain, const char *account,
    const char *kind)
{
	return store_run_texts(st, &q_stage_domain, ":domain", domain, ":account", account,
	    ":kind", kind, NULL);
}

static const struct store_sql q_stage_local = { "sync staging",
	"INSERT OR IGNORE INTO temp.sync_local (domain) VALUES (:domain)" };
static const struct store_sql q_stage_scope = { "sync staging",
	"INSERT OR IGNORE INTO temp.sync_scope (domain) VALUES (:domain)" };

/* One of the server's local domains. */
int
store_sync_stage_local(struct store *st, const char *domain)
{
	return store_run_texts(st, &q_stage_local, ":domain", domain, NULL);
}

/* sync --account: a domain of the slice compared (the account's, old or new). */
int
store_sync_stage_scope(struct store *st, const char *domain)
{
	return store_run_texts(st, &q_stage_scope, ":domain", domain, NULL);
}

static const struct store_sql q_stage_uuid = { "sync staging",
	"UPDATE temp.sync_accounts SET uuid = :uuid WHERE name = :name" };

/* cPanel's UUID of a staged account. */
int
store_sync_stage_uuid(struct store *st, const char *name, const char *uuid)
{
	return store_run_texts(st, &q_stage_uuid, ":name", name, ":uuid", uuid, NULL);
}

/* A sync statement, and its form for one account (:account), if it has one. */
struct sync_sql {
	struct store_sql all, one;
};

/*
 * The statement of q for the whole store, or for one account's slice:
 * named by :account, or (the local domains) by temp.sync_scope.
 */
static struct store_stmt *
store_sync_prepare(struct store *st, const struct sync_sql *q, const char *account)
{
	struct store_stmt *s;

	if (account == NULL || q->one.sql == NULL)
		return store_prepare(st, &q->all);
	s = store_prepare(st, &q->one);
	if (s != NULL && store_has_param(s, ":account"))
		store_bind_text(s, ":account", account);
	return s;
}

/* A comparison row: the name changed, its old value and its new one. */
#define SYNC_ROW(name, old, new) "SELECT " name " AS name, " old " AS old_value, " \
	new " AS new_value"
#define DOMAIN_OWNER(t) t ".account || ' (' || " t ".kind || ')'"

static const struct sync_report {
	enum sync_change what;
	struct sync_sql q;
} sync_reports[] = {
	{ SYNC_ACCOUNT_ADDED, { { "sync compare", SYNC_ROW("n.name", "''", "n.owner")
	    " FROM temp.sync_accounts n LEFT JOIN accounts a ON a.name = n.name"
	    " WHERE a.name IS NULL OR a.present = 0 ORDER BY n.name" }, { NULL, NULL } } },
	{ SYNC_ACCOUNT_CHANGED, { { "sync compare", SYNC_ROW("n.name",
	    "'owner=' || a.owner || ' contact=' || a.contact || ' main=' || a.main_domain",
	    "'owner=' || n.owner || ' contact=' || n.contact || ' main=' || n.main_domain")
	    " FROM temp.sync_accounts n JOIN accounts a ON a.name = n.name"
	    " WHERE a.present = 1 AND (a.owner <> n.owner OR a.contact <> n.contact"
	    "  OR a.main_domain <> n.main_domain) ORDER BY n.name" }, { NULL, NULL } } },
	{ SYNC_ACCOUNT_REMOVED, {
	    { "sync compare", SYNC_ROW("name", "owner", "''") " FROM accounts WHERE present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts) ORDER BY name" },
	    { "sync compare", SYNC_ROW("name", "owner", "''") " FROM accounts"
	    " WHERE name = :account AND present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts)" } } },
	{ SYNC_DOMAIN_ADDED, { { "sync compare",
	    SYNC_ROW("n.domain", "''", DOMAIN_OWNER("n"))
	    " FROM temp.sync_domains n LEFT JOIN domains d ON d.domain = n.domain"
	    " WHERE d.domain IS NULL ORDER BY n.domain" }, { NULL, NULL } } },
	{ SYNC_DOMAIN_CHANGED, { { "sync compare",
	    SYNC_ROW("n.domain", DOMAIN_OWNER("d"), DOMAIN_OWNER("n"))
	    " FROM temp.sync_domains n JOIN domains d ON d.domain = n.domain"
	    " WHERE d.account <> n.account OR d.kind <> n.kind ORDER BY n.domain" },
	    { NULL, NULL } } },
	{ SYNC_DOMAIN_REMOVED, {
	    { "sync compare", SYNC_ROW("d.domain", DOMAIN_OWNER("d"), "''") " FROM domains d"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_domains) ORDER BY domain" },
	    { "sync compare", SYNC_ROW("d.domain", DOMAIN_OWNER("d"), "''") " FROM domains d"
	    " WHERE account = :account AND domain NOT IN (SELECT domain FROM temp.sync_domains)"
	    " ORDER BY domain" } } },
	{ SYNC_LOCAL_ADDED, { { "sync compare", SYNC_ROW("domain", "''", "''")
	    " FROM temp.sync_local WHERE domain NOT IN (SELECT domain FROM local_domains)"
	    " ORDER BY domain" }, { NULL, NULL } } },
	{ SYNC_LOCAL_REMOVED, {
	    { "sync compare", SYNC_ROW("domain", "''", "''") " FROM local_domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_local) ORDER BY domain" },
	    { "sync compare", SYNC_ROW("domain", "''", "''") " FROM local_domains"
	    " WHERE domain IN (SELECT domain FROM temp.sync_scope)"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_local) ORDER BY domain" } } },
};

/* The kind cPanel's data implies: the main domain, a subdomain of another, or addon. */
static const struct store_sql sync_kinds[] = {
	{ "sync domain kinds", "UPDATE temp.sync_domains SET kind = 'main' WHERE domain IN"
	    " (SELECT main_domain FROM temp.sync_accounts a WHERE a.name = sync_domains.account)" },
	{ "sync domain kinds", "UPDATE temp.sync_domains SET kind = 'sub' WHERE kind <> 'main'"
	    " AND EXISTS (SELECT 1 FROM temp.sync_domains p WHERE p.account = sync_domains.account"
	    "  AND length(sync_domains.domain) > length(p.domain) + 1"
	    "  AND substr(sync_domains.domain, -length(p.domain) - 1) = '.' || p.domain)" },
};

static const struct sync_apply {
	int with_now;			/* the statement takes :now */
	struct sync_sql q;
} sync_applies[] = {
	{ 1, { { "sync apply", "INSERT INTO accounts (name, owner, contact, main_domain,"
	    " present, created_at, updated_at) SELECT name, owner, contact, main_domain, 1,"
	    " :now, :now FROM temp.sync_accounts WHERE true ON CONFLICT (name) DO UPDATE SET"
	    " owner = excluded.owner, contact = excluded.contact,"
	    " main_domain = excluded.main_domain, present = 1, updated_at = :now"
	    " WHERE owner <> excluded.owner OR contact <> excluded.contact"
	    " OR main_domain <> excluded.main_domain OR present = 0" }, { NULL, NULL } } },
	{ 1, { { "sync apply", "UPDATE accounts SET present = 0, updated_at = :now"
	    " WHERE present = 1 AND name NOT IN (SELECT name FROM temp.sync_accounts)" },
	    { "sync apply", "UPDATE accounts SET present = 0, updated_at = :now"
	    " WHERE name = :account AND present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts)" } } },
	{ 0, { { "sync apply", "DELETE FROM domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_domains)" },
	    { "sync apply", "DELETE FROM domains WHERE account = :account"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_domains)" } } },
	{ 0, { { "sync apply", "INSERT INTO domains (domain, account, kind)"
	    " SELECT domain, account, kind FROM temp.sync_domains WHERE true"
	    " ON CONFLICT (domain) DO UPDATE SET account = excluded.account, kind = excluded.kind"
	    " WHERE account <> excluded.account OR kind <> excluded.kind" }, { NULL, NULL } } },
	{ 0, { { "sync apply", "DELETE FROM local_domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_local)" },
	    { "sync apply", "DELETE FROM local_domains"
	    " WHERE domain IN (SELECT domain FROM temp.sync_scope)"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_local)" } } },
	{ 0, { { "sync apply", "INSERT OR IGNORE INTO local_domains (domain)"
	    " SELECT domain FROM temp.sync_local" }, { NULL, NULL } } },
	{ 0, { { "sync apply", "UPDATE accounts SET uuid = n.uuid FROM temp.sync_accounts n"
	    " WHERE n.name = accounts.name AND n.uuid IS NOT NULL AND accounts.uuid <> n.uuid" },
	    { NULL, NULL } } },
};

struct sync_walk {
	enum sync_change what;
	store_sync_cb cb;
	void *arg;
};

/* One difference to the caller's callback. */
static int
store_sync_row_cb(void *arg, struct store_stmt *s)
{
	struct sync_walk *w = arg;

	return w->cb(w->arg, w->what, store_col_str(s, "name"), store_col_str(s, "old_value"),
	    store_col_str(s, "new_value"));
}

/*
 * Compare the staged data with the store, report each difference
 * through cb, then apply them.  Call inside a transaction.  With an
 * account, only that account's slice of the store is compared: what
 * the staged data does not name elsewhere is left alone.
 */
int
store_sync_apply(struct store *st, long long now, const char *account,
    store_sync_cb cb, void *arg)
{
	for (size_t i = 0; i < STORE_NCOLS(sync_kinds); i++)
		if (store_run(st, store_prepare(st, &sync_kinds[i])) == -1)
			return -1;
	for (size_t i = 0; i < STORE_NCOLS(sync_reports); i++) {
		struct sync_walk w = { sync_reports[i].what, cb, arg };

		if (store_walk(st, store_sync_prepare(st, &sync_reports[i].q, account),
		    store_sync_row_cb, &w) == -1)
			return -1;
	}
	for (size_t i = 0; i < STORE_NCOLS(sync_applies); i++) {
		struct store_stmt *s = store_sync_prepare(st, &sync_applies[i].q, account);

		if (sync_applies[i].with_now)
			store_bind_int(s, ":now", now);
		if (store_run(st, s) == -1)
			return -1;
	}
	return 0;
}

static const struct store_sql q_sync_counts = { "sync counts",
	"SELECT (SELECT count(*) FROM accounts WHERE present = 1) AS present,"
	" (SELECT count(*) FROM accounts WHERE present = 1"
	"  AND name NOT IN (SELECT name FROM temp.sync_accounts)) AS removed,"
	" (SELECT count(*) FROM temp.sync_accounts) AS staged" };

/* Accounts present now, those the staged data would remove, and those staged. */
int
store_sync_counts(struct store *st, long long *present, long long *removed, long long *staged)
{
	struct store_stmt *s = store_prepare(st, &q_sync_counts);

	if (store_one(st, s) != 1)
		return -1;
	*present = store_col_int(s, "present");
	*removed = store_col_int(s, "removed");
	*staged = store_col_int(s, "staged");
	store_reset(s);
	return 0;
}

/* domains now, to vanish, staged; accounts with an owner, to lose it */
static const struct store_sql q_sync_guard = { "sync guard",
	"SELECT (SELECT count(*) FROM domains) AS domains,"
	" (SELECT count(*) FROM domains WHERE domain NOT IN"
	"  (SELECT domain FROM temp.sync_domains)) AS domains_removed,"
	" (SELECT count(*) FROM temp.sync_domains) AS domains_staged,"
	" (SELECT count(*) FROM accounts WHERE present = 1 AND owner <> '') AS owned,"
	" (SELECT count(*) FROM accounts a JOIN temp.sync_accounts n ON n.name = a.name"
	"  WHERE a.present = 1 AND a.owner <> '' AND n.owner = '') AS owners_lost" };

static const struct store_col sync_guard_cols[] = {
	STORE_COL(struct sync_guard, domains, STORE_INT64),
	STORE_COL(struct sync_guard, domains_removed, STORE_INT64),
	STORE_COL(struct sync_guard, domains_staged, STORE_INT64),
	STORE_COL(struct sync_guard, owned, STORE_INT64),
	STORE_COL(struct sync_guard, owners_lost, STORE_INT64),
};

/* What sync's truncation guard weighs, from the staged data against the store. */
int
store_sync_guard(struct store *st, struct sync_guard *g)
{
	struct store_stmt *s = store_prepare(st, &q_sync_guard);

	if (store_one(st, s) != 1)
		return -1;
	store_row_read(s, sync_guard_cols, STORE_NCOLS(sync_guard_cols), g);
	store_reset(s);
	return 0;
}

/* each domain a suspended account (or one with a suspended mailbox) would lose */
#define SYNC_LOSSES "SELECT d.account AS account, d.domain AS domain," \
	" (SELECT count(*) FROM domains x WHERE x.account = d.account) AS account_domains," \
	" EXISTS (SELECT 1 FROM temp.sync_accounts n WHERE n.name = d.account) AS staying" \
	" FROM domains d WHERE d.domain NOT IN" \
	"  (SELECT domain FROM temp.sync_domains n WHERE n.account = d.account)" \
	" AND EXISTS (SELECT 1 FROM suspensions s WHERE s.account = d.account" \
	"  AND s.lifted_at IS NULL)"

static const struct sync_sql q_sync_losses = {
	{ "sync suspended losses", SYNC_LOSSES " ORDER BY d.account, d.domain" },
	{ "sync suspended losses", SYNC_LOSSES " AND d.account = :account"
	    " ORDER BY d.account, d.domain" },
};

struct loss_walk {
	store_loss_cb cb;
	void *arg;
};

/* One domain lost to the caller's callback. */
static int
store_loss_row_cb(void *arg, struct store_stmt *s)
{
	struct loss_walk *w = arg;

	return w->cb(w->arg, store_col_str(s, "account"), store_col_str(s, "domain"),
	    store_col_int(s, "account_domains"), (int)store_col_int(s, "staying"));
}

/* Each domain that an account with a suspension in force would lose. */
int
store_sync_suspended_losses(struct store *st, const char *account, store_loss_cb cb, void *arg)
{
	struct loss_walk w = { cb, arg };

	return store_walk(st, store_sync_prepare(st, &q_sync_losses, account),
	    store_loss_row_cb, &w);
}

/*
 * Give an account's whole record (suspensions, complaints, unblocks,
 * limits, audit, history, hosts, notices; with_domains: its domains too)
 * to another name, which must be free.
 */
static int
store_account_move(struct store *st, const char *from, const char *to, int with_domains)
{
	static const struct store_sql moves[] = {
		{ "account move", "UPDATE accounts SET name = :to WHERE name = :from" },
		{ "account move", "UPDATE domains SET account = :to WHERE account = :from" },
		{ "account move", "UPDATE suspensions SET target = :to"
		    " WHERE kind = 'account' AND target = :from" },
		{ "account move", "UPDATE suspensions SET account = :to WHERE account = :from" },
		{ "account move", "UPDATE complaints SET account = :to WHERE account = :from" },
		{ "account move", "UPDATE audit SET target = :to"
		    " WHERE account = :from AND target = :from" },
		{ "account move", "UPDATE audit SET account = :to WHERE account = :from" },
		{ "account move", "UPDATE limits SET account = :to WHERE account = :from" },
		/* the history's own file follows after the commit (store_history_moves) */
		{ "account move", "INSERT INTO temp.history_moves (from_name, to_name)"
		    " VALUES (:from, :to)" },
		{ "account move", "UPDATE outbox SET account = :to WHERE account = :from" },
	};

	for (size_t i = 0; i < STORE_NCOLS(moves); i++)
		if ((i != 1 || with_domains) &&
		    store_run_texts(st, &moves[i], ":from", from, ":to", to, NULL) == -1)
			return -1;
	return 0;
}

static const struct store_sql q_account_taken = { "account lookup",
	"SELECT 1 FROM accounts WHERE name = :name" };

/* A free name for the record of an account whose name was reused: "bob.removed-<time>". */
static int
store_archive_name(struct store *st, const char *name, long long now, char *buf, size_t len)
{
	for (int i = 0; i < 100; i++) {
		int r;

		if (i == 0)
			snprintf(buf, len, "%.32s.removed-%lld", name, now);
		else
			snprintf(buf, len, "%.32s.removed-%lld-%d", name, now, i);
		if ((r = store_found(st, &q_account_taken, ":name", buf)) != 1)
			return r;
	}
	return store_errorf(st, "no free name to keep the record of %s", name);
}

/* A stored account (from) whose name cPanel gave up or changed (to, uuid). */
struct store_rename {
	char from[64], to[64], uuid[128];
};

static const struct store_col rename_cols[] = {
	STORE_COL(struct store_rename, from, STORE_TEXT),
	STORE_COL(struct store_rename, to, STORE_TEXT),
	STORE_COL(struct store_rename, uuid, STORE_TEXT),
};

struct renames {
	struct store_rename *r;
	size_t n, cap;
	int nomem;
};

/* Keep one row of a renames query. */
static int
store_rename_row_cb(void *arg, struct store_stmt *s)
{
	struct renames *rs = arg;
	struct store_rename *tmp;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		if ((tmp = realloc(rs->r, rs->cap * sizeof *tmp)) == NULL) {
			rs->nomem = 1;
			return 1;
		}
		rs->r = tmp;
	}
	store_row_read(s, rename_cols, STORE_NCOLS(rename_cols), &rs->r[rs->n++]);
	return 0;
}

/* The rows of a renames query; the caller frees rs->r. */
static int
store_renames_read(struct store *st, const struct store_sql *q, struct renames *rs)
{
	memset(rs, 0, sizeof *rs);
	if (store_walk(st, store_prepare(st, q), store_rename_row_cb, rs) == -1)
		return -1;
	if (rs->nomem)
		return store_errorf(st, "sync renames: out of memory");
	return 0;
}

/*
 * CROSS JOIN in the two rename queries: the staged accounts drive (one
 * for sync --account), each looked up in accounts by name or by
 * accounts_uuid (whose WHERE uuid <> '' the queries repeat), never a
 * scan of accounts.
 */
/* Staged names whose stored holder is another account (see store_sync_renames). */
static const struct store_sql q_sync_reused = { "sync renames",
	"SELECT a.name AS \"from\", '' AS \"to\", '' AS uuid"
	" FROM temp.sync_accounts n CROSS JOIN accounts a ON a.name = n.name"
	" WHERE n.uuid IS NOT NULL AND a.uuid <> n.uuid AND"
	" ((a.uuid <> '' AND NOT EXISTS (SELECT 1 FROM temp.sync_accounts m"
	"   WHERE m.uuid = a.uuid))"
	"  OR (a.uuid = '' AND EXISTS (SELECT 1 FROM accounts b"
	"   WHERE b.uuid = n.uuid AND b.uuid <> '' AND b.name <> n.name)))"
	" ORDER BY n.name" };
/* Stored accounts staged under another name, by their UUID. */
static const struct store_sql q_sync_renames = { "sync renames",
	"SELECT a.name AS \"from\", n.name AS \"to\", n.uuid AS uuid"
	" FROM temp.sync_accounts n CROSS JOIN accounts a ON a.uuid = n.uuid"
	" WHERE n.uuid <> '' AND a.uuid <> '' AND a.name <> n.name ORDER BY n.name" };
static const struct store_sql q_account_gone = { "account move",
	"UPDATE accounts SET present = 0, updated_at = :now WHERE name = :name" };

/* The old holders of reused names keep their record under another name. */
static int
store_sync_reused(struct store *st, long long now, struct renames *reused,
    struct renames *rn, store_sync_cb cb, void *arg)
{
	char keep[64];

	for (size_t i = 0; i < reused->n; i++) {
		const char *name = reused->r[i].from;
		struct store_stmt *s;

		if (store_archive_name(st, name, now, keep, sizeof keep) == -1 ||
		    store_account_move(st, name, keep, 0) == -1)
			return -1;
		s = store_prepare(st, &q_account_gone);
		store_bind_text(s, ":name", keep);
		store_bind_int(s, ":now", now);
		if (store_run(st, s) == -1)
			return -1;
		for (size_t j = 0; j < rn->n; j++)
			if (strcmp(rn->r[j].from, name) == 0)
				snprintf(rn->r[j].from, sizeof rn->r[j].from, "%s", keep);
		if (cb(arg, SYNC_ACCOUNT_REUSED, name, keep, "") != 0)
			return -1;
	}
	return 0;
}

/* Renames, each once its new name is free; a cycle goes through a spare name. */
static int
store_sync_moves(struct store *st, long long now, struct renames *rn,
    store_sync_cb cb, void *arg)
{
	struct store_rename *r;
	size_t done = 0;
	char keep[64];
	int progress, taken;

	while (done < rn->n) {
		progress = 0;
		for (r = rn->r; r < rn->r + rn->n; r++) {
			if (r->from[0] == '\0')
				continue;
			if ((taken = store_found(st, &q_account_taken, ":name", r->to)) == -1)
				return -1;
			if (taken)
				continue;
			if (store_account_move(st, r->from, r->to, 1) == -1 ||
			    cb(arg, SYNC_ACCOUNT_RENAMED, r->to, r->from, r->uuid) != 0)
				return -1;
			r->from[0] = '\0';
			done++;
			progress = 1;
		}
		for (r = rn->r; !progress && r < rn->r + rn->n; r++) {
			if (r->from[0] == '\0')
				continue;
			if (store_archive_name(st, r->from, now, keep, sizeof keep) == -1 ||
			    store_account_move(st, r->from, keep, 1) == -1)
				return -1;
			snprintf(r->from, sizeof r->from, "%s", keep);
			progress = 1;
		}
	}
	return 0;
}

/*
 * Before sync compares names: follow cPanel's UUIDs.  An account staged
 * under a new name with the UUID of a stored one was renamed: its
 * record moves to the new name (SYNC_ACCOUNT_RENAMED: name the new one,
 * old_value the old, new_value the UUID).  A staged name whose stored
 * holder had another UUID (or the staged one has none while it had one)
 * and whose UUID is gone is a new account: the old record is kept under
 * "name.removed-<time>", marked removed, and the name starts clean
 * (SYNC_ACCOUNT_REUSED: old_value the kept name).  So is a stored name
 * without a UUID that a renamed account now takes.  Call inside the
 * sync's transaction, after staging.
 */
int
store_sync_renames(struct store *st, long long now, store_sync_cb cb, void *arg)
{
	struct renames reused = { NULL, 0, 0, 0 }, rn = { NULL, 0, 0, 0 };
	int r = -1;

	if (store_renames_read(st, &q_sync_reused, &reused) == 0 &&
	    store_renames_read(st, &q_sync_renames, &rn) == 0 &&
	    store_sync_reused(st, now, &reused, &rn, cb, arg) == 0 &&
	    store_sync_moves(st, now, &rn, cb, arg) == 0)
		r = 0;
	free(rn.r);
	free(reused.r);
	return r;
}

struct store_moves_ctx {
	int (*cb)(void *arg, const char *from, const char *to);
	void *arg;
};

static int
store_history_moves_row(void *arg, struct store_stmt *s)
{
	struct store_moves_ctx *x = arg;

	return x->cb(x->arg, store_col_str(s, "from_name"), store_col_str(s, "to_name"));
}

/* The account moves of the last sync's renames, in order, for the history file; -1 if cb fails. */
int
store_history_moves(struct store *st, int (*cb)(void *arg, const char *from,
    const char *to), void *arg)
{
	static const struct store_sql q = { "history moves",
	    "SELECT from_name, to_name FROM temp.history_moves ORDER BY seq" };
	struct store_moves_ctx x = { cb, arg };

	return store_walk(st, store_prepare(st, &q), store_history_moves_row, &x);
}

/*
 * The store's core: one SQLite file in WAL mode, its schema (numbered
 * migrations on PRAGMA user_version), opening and closing it,
 * transactions, and the statement helper the store's files share
 * (store_db.h).  What the store keeps is in one file each:
 * store_account.c (accounts, domains), store_suspension.c (suspensions,
 * the unblock rule's records), store_complaint.c, store_outbox.c (the
 * notice outbox), store_audit.c, store_limits.c, store_sync.c (sync
 * staging), store_outgoing.c (cPanel's outgoing state), store_record.c
 * (export and import); the message history is at the end of this file.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_db.h"
#include "store_view.h"

/* Migration N brings the schema from user_version N-1 to N. */
const char *const store_migrations[] = {
	/* 1: accounts, domains, local domains, suspensions, audit, history */
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY,"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  contact TEXT NOT NULL DEFAULT '',"
	"  main_domain TEXT NOT NULL DEFAULT '',"
	"  present INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE domains ("
	"  domain TEXT PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('main', 'addon', 'sub'))"
	") WITHOUT ROWID;"
	"CREATE INDEX domains_account ON domains (account);"
	"CREATE TABLE local_domains (domain TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE suspensions ("
	"  id INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('account', 'mailbox')),"
	"  reason TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  lifted_at INTEGER,"
	"  lifted_by TEXT,"
	"  lift_reason TEXT"
	");"
	"CREATE UNIQUE INDEX suspensions_active ON suspensions (target) WHERE lifted_at IS NULL;"
	"CREATE INDEX suspensions_account ON suspensions (account, created_at);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  account TEXT,"
	"  target TEXT,"
	"  detail TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX audit_account ON audit (account, at);"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  account TEXT NOT NULL,"
	"  mailbox TEXT NOT NULL DEFAULT '',"
	"  ctx TEXT NOT NULL,"
	"  uid INTEGER,"
	"  script TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  rcpt TEXT NOT NULL DEFAULT '',"
	"  verdict TEXT NOT NULL"
	");"
	"CREATE INDEX messages_account ON messages (account, at);",

	/* 2: the abuse lifecycle: complaints, counted unblocks, the notice outbox */
	"CREATE TABLE complaints ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  window_end INTEGER NOT NULL,"
	"  closed_at INTEGER,"
	"  closed_by TEXT,"
	"  close_reason TEXT"
	");"
	"CREATE INDEX complaints_account ON complaints (account, created_at);"
	"CREATE INDEX complaints_open ON complaints (window_end) WHERE closed_at IS NULL;"
	/* owner: granted unblock request; admin: counted lift; admin-nocount: not counted */
	"ALTER TABLE suspensions ADD COLUMN lift_kind TEXT"
	"  CHECK (lift_kind IN ('owner', 'admin', 'admin-nocount'));"
	"ALTER TABLE suspensions ADD COLUMN complaint_id INTEGER;"
	"ALTER TABLE suspensions ADD COLUMN eligible_notified_at INTEGER;"
	"CREATE INDEX suspensions_lifted ON suspensions (account, lifted_at)"
	"  WHERE lifted_at IS NOT NULL;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  rcpt TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  due_at INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  sent_at INTEGER,"
	"  last_error TEXT"
	");"
	"CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL;"
	"CREATE INDEX outbox_account ON outbox (account, created_at);"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE INDEX messages_at ON messages (at);",

	/* 3: what each source sent and how it went; hosts seen; per-account limits */
	"ALTER TABLE messages ADD COLUMN msgid TEXT;"
	"ALTER TABLE messages ADD COLUMN source_kind TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN n_local INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN n_external INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN domains TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX messages_msgid ON messages (msgid) WHERE msgid IS NOT NULL;"
	"CREATE TABLE mailbox_hosts ("
	"  mailbox TEXT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox, ip)"
	") WITHOUT ROWID;"
	"CREATE INDEX mailbox_hosts_last ON mailbox_hosts (last_seen);"
	"CREATE TABLE limits ("
	"  account TEXT NOT NULL,"
	"  detector TEXT NOT NULL,"
	"  value INTEGER NOT NULL,"
	"  action TEXT NOT NULL,"
	"  set_at INTEGER NOT NULL,"
	"  set_by TEXT NOT NULL,"
	"  PRIMARY KEY (account, detector)"
	") WITHOUT ROWID;",

	/* 4: a notice that kept failing for notify.give_up is marked failed, never retried */
	"ALTER TABLE outbox ADD COLUMN failed_at INTEGER;"
	"DROP INDEX outbox_due;"
	"CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND failed_at IS NULL;"
	"CREATE INDEX outbox_failed ON outbox (account, failed_at) WHERE failed_at IS NOT NULL;",

	/* 5: accounts keyed by cPanel's UUID (var/cpanel/users/<user>), "" unknown */
	"ALTER TABLE accounts ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX accounts_uuid ON accounts (uuid) WHERE uuid <> '';",

	/*
	 * 6: cPanel's own outgoing email state (etc/outgoing_mail_suspended_users,
	 * etc/outgoing_mail_hold_users), as sync last read it: shown, never enforced
	 */
	"CREATE TABLE cpanel_outgoing ("
	"  account TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('suspended', 'held')),"
	"  since INTEGER NOT NULL"
	") WITHOUT ROWID;",

	/*
	 * 7: the change log of what the daemon keeps in memory (view.c): every
	 * change of a domain, local domain, account, suspension or limit
	 * appends the key it touched; the newest 65,536 entries are kept
	 */
	"CREATE TABLE view_changes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  tbl INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  key2 TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE TRIGGER view_changes_prune AFTER INSERT ON view_changes"
	"  WHEN new.id % 1024 = 0 BEGIN"
	"  DELETE FROM view_changes WHERE id <= new.id - 65536; END;"
	"CREATE TRIGGER view_domains_insert AFTER INSERT ON domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, new.domain, ''); END;"
	"CREATE TRIGGER view_domains_delete AFTER DELETE ON domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, old.domain, ''); END;"
	"CREATE TRIGGER view_domains_update AFTER UPDATE ON domains"
	"  WHEN new.domain IS NOT old.domain OR new.account IS NOT old.account BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, old.domain, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 1, new.domain, ''"
	"   WHERE new.domain IS NOT old.domain; END;"
	"CREATE TRIGGER view_local_domains_insert AFTER INSERT ON local_domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, new.domain, ''); END;"
	"CREATE TRIGGER view_local_domains_delete AFTER DELETE ON local_domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, old.domain, ''); END;"
	"CREATE TRIGGER view_local_domains_update AFTER UPDATE ON local_domains"
	"  WHEN new.domain IS NOT old.domain BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, old.domain, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 2, new.domain, ''"
	"   WHERE new.domain IS NOT old.domain; END;"
	"CREATE TRIGGER view_accounts_insert AFTER INSERT ON accounts BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, new.name, ''); END;"
	"CREATE TRIGGER view_accounts_delete AFTER DELETE ON accounts BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, old.name, ''); END;"
	"CREATE TRIGGER view_accounts_update AFTER UPDATE ON accounts"
	"  WHEN new.name IS NOT old.name OR new.present IS NOT old.present BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, old.name, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 3, new.name, ''"
	"   WHERE new.name IS NOT old.name; END;"
	"CREATE TRIGGER view_suspensions_insert AFTER INSERT ON suspensions BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, new.target, new.account); END;"
	"CREATE TRIGGER view_suspensions_delete AFTER DELETE ON suspensions BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, old.target, old.account); END;"
	"CREATE TRIGGER view_suspensions_update AFTER UPDATE ON suspensions"
	"  WHEN new.target IS NOT old.target OR new.account IS NOT old.account"
	"   OR new.kind IS NOT old.kind OR new.created_at IS NOT old.created_at"
	"   OR new.lifted_at IS NOT old.lifted_at BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, old.target, old.account);"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 4, new.target, new.account"
	"   WHERE new.target IS NOT old.target OR new.account IS NOT old.account; END;"
	"CREATE TRIGGER view_limits_insert AFTER INSERT ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, new.account, ''); END;"
	"CREATE TRIGGER view_limits_delete AFTER DELETE ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, old.account, ''); END;"
	"CREATE TRIGGER view_limits_update AFTER UPDATE ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, old.account, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 5, new.account, ''"
	"   WHERE new.account IS NOT old.account; END;",

	/*
	 * 8: the message history moves to a file of its own (history.c): its
	 * tables are set aside here, and the history's first open copies them
	 * over and drops them
	 */
	"ALTER TABLE messages RENAME TO messages_v7;"
	"ALTER TABLE mailbox_hosts RENAME TO mailbox_hosts_v7;",
};
const int store_schema_version = (int)(sizeof store_migrations / sizeof store_migrations[0]);

/* Remember the database's last error for store_error(); -1. */
int
store_fail(struct store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);

	st->busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
	snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

/* An error of the store's own for store_error(); -1. */
int
store_errorf(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	st->busy = 0;
	return -1;
}

/* A bug in a statement's use (a name it does not have): no way on. */
static void __attribute__((noreturn))
store_misuse(struct store_stmt *s, const char *kind, const char *name)
{
	fprintf(stderr, "store: no %s \"%s\" in: %s\n", kind, name, sqlite3_sql(s->s));
	abort();
}

/* The cache slot of a statement: its own, or the empty one it goes in. */
static struct store_stmt **
store_slot(struct store *st, const struct store_sql *q)
{
	uint64_t h = ((uint64_t)(uintptr_t)q >> 3) * UINT64_C(0x9E3779B97F4A7C15);
	size_t i = (size_t)(h >> 40) & (STORE_CACHE_SLOTS - 1);

	for (size_t n = 0; st->cache[i] != NULL && st->cache[i]->q != q; n++) {
		if (n == STORE_CACHE_SLOTS) {
			/* more statements than STORE_CACHE_SLOTS: raise it */
			fprintf(stderr, "store: statement cache full\n");
			abort();
		}
		i = (i + 1) & (STORE_CACHE_SLOTS - 1);
	}
	return &st->cache[i];
}

/* The statement of q on this connection, prepared on first use; NULL on error. */
struct store_stmt *
store_prepare(struct store *st, const struct store_sql *q)
{
	struct store_stmt **c = store_slot(st, q), *x;

	if (*c != NULL)
		return *c;
	if ((x = calloc(1, sizeof *x)) == NULL) {
		store_errorf(st, "%s: out of memory", q->what);
		return NULL;
	}
	if (sqlite3_prepare_v3(st->db, q->sql, -1, SQLITE_PREPARE_PERSISTENT, &x->s,
	    NULL) != SQLITE_OK) {
		store_fail(st, q->what);
		sqlite3_finalize(x->s);
		free(x);
		return NULL;
	}
	x->q = q;
	return *c = x;
}

/* What a statement is for, for an error message. */
static const char *
store_what(struct store_stmt *s)
{
	return s->q != NULL ? s->q->what : "statement";
}

/* The index of a named column of the statement, 0 if it has none. */
static int
store_col_find(sqlite3_stmt *s, const char *name)
{
	for (int i = 0; i < sqlite3_column_count(s); i++)
		if (strcmp(sqlite3_column_name(s, i), name) == 0)
			return i + 1;
	return 0;
}

/*
 * The index of a name in memo, remembered from an earlier call with the
 * same name, or found (1-based) with find and remembered; 0 if none.
 */
static int
store_memo(struct store_name *memo, sqlite3_stmt *s, const char *name,
    int (*find)(sqlite3_stmt *, const char *))
{
	int i;

	for (struct store_name *m = memo; m < memo + STORE_MEMO; m++) {
		if (m->name == name)
			return m->i;
		if (m->name == NULL) {
			if ((i = find(s, name)) != 0) {
				m->name = name;
				m->i = i;
			}
			return i;
		}
	}
	return find(s, name);
}

/* Whether the statement has a named parameter. */
int
store_has_param(struct store_stmt *s, const char *name)
{
	return store_memo(s->params, s->s, name, sqlite3_bind_parameter_index) != 0;
}

/* The index of a named parameter. */
static int
store_param(struct store_stmt *s, const char *name)
{
	int i = store_memo(s->params, s->s, name, sqlite3_bind_parameter_index);

	if (i == 0)
		store_misuse(s, "parameter", name);
	return i;
}

/* Bind a text parameter by name; NULL binds SQL NULL. */
void
store_bind_text(struct store_stmt *s, const char *name, const char *v)
{
	if (s == NULL)
		return;
	if (v == NULL)
		sqlite3_bind_null(s->s, store_param(s, name));
	else
		sqlite3_bind_text(s->s, store_param(s, name), v, -1, SQLITE_TRANSIENT);
}

/* Bind an integer parameter by name. */
void
store_bind_int(struct store_stmt *s, const char *name, long long v)
{
	if (s != NULL)
		sqlite3_bind_int64(s->s, store_param(s, name), v);
}

/* Bind a floating-point parameter by name. */
void
store_bind_real(struct store_stmt *s, const char *name, double v)
{
	if (s != NULL)
		sqlite3_bind_double(s->s, store_param(s, name), v);
}

/* Make a statement ready for its next use: reset, bindings cleared. */
void
store_reset(struct store_stmt *s)
{
	sqlite3_reset(s->s);
	sqlite3_clear_bindings(s->s);
}

/* Run a statement that returns no rows; 0 or -1. */
int
store_run(struct store *st, struct store_stmt *s)
{
	int r = 0;

	if (s == NULL)
		return -1;
	if (sqlite3_step(s->s) != SQLITE_DONE)
		r = store_fail(st, store_what(s));
	store_reset(s);
	return r;
}

/*
 * Run a query of one row at most: 1 (read the row, then store_reset),
 * 0 no row, -1 error.
 */
int
store_one(struct store *st, struct store_stmt *s)
{
	int rc, r = 0;

	if (s == NULL)
		return -1;
	if ((rc = sqlite3_step(s->s)) == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		r = store_fail(st, store_what(s));
	store_reset(s);
	return r;
}

/* Hand each row to cb until it returns non-zero; 0, or -1 on error. */
int
store_walk(struct store *st, struct store_stmt *s, store_row_cb cb, void *arg)
{
	int rc, r = 0;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s->s)) == SQLITE_ROW)
		if (cb(arg, s) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = store_fail(st, store_what(s));
	store_reset(s);
	return r;
}

/* Prepare q, bind its one text parameter name to value, and walk its rows. */
int
store_walk_by(struct store *st, const struct store_sql *q, const char *name, const char *value,
    store_row_cb cb, void *arg)
{
	struct store_stmt *s = store_prepare(st, q);

	store_bind_text(s, name, value);
	return store_walk(st, s, cb, arg);
}

/* The rows the last statement changed. */
long long
store_changes(struct store *st)
{
	return sqlite3_changes(st->db);
}

/* The id of the row the last insert added. */
long long
store_last_id(struct store *st)
{
	return sqlite3_last_insert_rowid(st->db);
}

/* The index of a named column. */
static int
store_col(struct store_stmt *s, const char *name)
{
	int i = store_memo(s->cols, s->s, name, store_col_find);

	if (i == 0)
		store_misuse(s, "column", name);
	return i - 1;
}

/* An integer column of the current row, by name. */
long long
store_col_int(struct store_stmt *s, const char *name)
{
	return sqlite3_column_int64(s->s, store_col(s, name));
}

/* A text column of the current row, by name ("" for NULL); valid until the next step. */
const char *
store_col_str(struct store_stmt *s, const char *name)
{
	const unsigned char *t = sqlite3_column_text(s->s, store_col(s, name));

	return t != NULL ? (const char *)t : "";
}

/* Copy a text column of the current row, by name, into a buffer. */
void
store_col_copy(struct store_stmt *s, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", store_col_str(s, name));
}

/* Fill a struct from the current row through a column table. */
void
store_row_read(struct store_stmt *s, const struct store_col *cols, size_t n, void *row)
{
	for (size_t i = 0; i < n; i++) {
		char *f = (char *)row + cols[i].off;

		switch (cols[i].type) {
		case STORE_TEXT:
			store_col_copy(s, cols[i].name, f, cols[i].len);
			break;
		case STORE_INT64:
			*(long long *)(void *)f = store_col_int(s, cols[i].name);
			break;
		case STORE_INT:
			*(int *)(void *)f = (int)store_col_int(s, cols[i].name);
			break;
		}
	}
}

/* Run SQL of no parameters, one or more statements, not cached; 0 or -1. */
int
store_exec(struct store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, what);
	return 0;
}

/* Run a statement of text parameters only, given as name, value pairs, then NULL; 0 or -1. */
int
store_run_texts(struct store *st, const struct store_sql *q, ...)
{
	struct store_stmt *s = store_prepare(st, q);
	const char *name;
	va_list ap;

	va_start(ap, q);
	while ((name = va_arg(ap, const char *)) != NULL)
		store_bind_text(s, name, va_arg(ap, const char *));
	va_end(ap);
	return store_run(st, s);
}

/* Run a query of one text parameter: 1 it has a row, 0 none, -1 error. */
int
store_found(struct store *st, const struct store_sql *q, const char *name, const char *v)
{
	struct store_stmt *s = store_prepare(st, q);
	int r;

	store_bind_text(s, name, v);
	if ((r = store_one(st, s)) == 1)
		store_reset(s);
	return r;
}

/* The schema's version in the file; -1 on error. */
static int
store_db_user_version(sqlite3 *db)
{
	sqlite3_stmt *s;
	int version = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return version;
}

/*
 * Bring a file's schema (name, for messages) to version, in one
 * transaction: migrations[N] takes user_version N to N + 1.
 */
int
store_db_migrate(sqlite3 *db, const char *const migrations[], int version, const char *name,
    char *err, size_t errlen)
{
	int v;

	/* Most opens find the schema current: check without taking the write lock. */
	if (store_db_user_version(db) == version)
		return 0;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "begin migration: %s", sqlite3_errmsg(db));
		return -1;
	}
	if ((v = store_db_user_version(db)) < 0)
		goto fail;
	if (v > version) {
		snprintf(err, errlen, "%s schema version %d is newer than this program's (%d)",
		    name, v, version);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (; v < version; v++) {
		char pragma[64];

		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
		if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "migration: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Open (creating if needed) a database file for writing, never
 * read-only, with extended result codes, the busy timeout and pragmas
 * run; NULL and err filled on failure.
 */
sqlite3 *
store_db_open(const char *path, long long busy_timeout_ms, const char *pragmas, char *err,
    size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db != NULL ? sqlite3_errmsg(db) :
		    "cannot open");
		goto fail;
	}
	/* SQLite opens a file it cannot write read-only: never run like that */
	if (sqlite3_db_readonly(db, "main") == 1) {
		snprintf(err, errlen, "%s: cannot write it", path);
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)busy_timeout_ms);
	if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

/* Every row a statement (or its triggers) changes: note the change log's. */
static void
store_update_cb(void *arg, int op, const char *dbname, const char *table, sqlite3_int64 rowid)
{
	struct store *st = arg;

	(void)op;
	(void)dbname;
	(void)rowid;
	if (strcmp(table, "view_changes") == 0)
		st->view_touched = 1;
}

/*
 * Open (creating if needed) the database, switch it to WAL and bring
 * its schema up to date.
 */
struct store *
store_open(const char *path, long long busy_timeout_ms, char *err, size_t errlen)
{
	static int configured;
	struct store *st;
	char gen_err[256];

	/*
	 * Before SQLite's first use (the first open is made before any
	 * thread starts): no memory statistics, whose global mutex every
	 * allocation would take, so that a connection on a thread of lower
	 * priority (the user socket's) never makes the policy loop wait.
	 */
	if (!configured) {
		configured = 1;
		(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((st->db = store_db_open(path, busy_timeout_ms, "PRAGMA journal_mode = WAL;"
	    " PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", err, errlen)) == NULL)
		goto fail;
	if (store_db_migrate(st->db, store_migrations, store_schema_version, "database",
	    st->err, sizeof st->err) == -1) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto fail;
	}
	/* the daemon's generation file, when there is one: commits bump it */
	(void)store_gen_attach(path, 0, gen_err, sizeof gen_err);
	sqlite3_update_hook(st->db, store_update_cb, st);
	return st;
fail:
	store_close(st);
	return NULL;
}

/* Finalise every statement and close. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < STORE_CACHE_SLOTS; i++) {
		if (st->cache[i] != NULL)
			sqlite3_finalize(st->cache[i]->s);
		free(st->cache[i]);
	}
	sqlite3_close(st->db);
	free(st);
}

/* The last error, for messages. */
const char *
store_error(struct store *st)
{
	return st->err;
}

static const struct store_sql q_begin = { "begin", "BEGIN IMMEDIATE" };
static const struct store_sql q_read_begin = { "begin", "BEGIN" };
static const struct store_sql q_commit = { "commit", "COMMIT" };
static const struct store_sql q_rollback = { "rollback", "ROLLBACK" };

/* Begin a write transaction, taking the write lock now. */
int
store_begin(struct store *st)
{
	return store_run(st, store_prepare(st, &q_begin));
}

/*
 * Commit the transaction.  When it changed what the daemon holds in
 * memory (migration 7's triggers wrote view_changes), bump the
 * generation: the daemon reads the change log before its next answer
 * (view.c).  Other commits (the outbox of a notice run, the audit
 * alone) cost the daemon nothing.
 */
int
store_commit(struct store *st)
{
	int touched = st->view_touched;

	if (store_run(st, store_prepare(st, &q_commit)) == -1)
		return -1;
	st->view_touched = 0;
	if (touched)
		store_gen_bump();
	return 0;
}

/* The connection, for the view's statements (store_view.c). */
sqlite3 *
store_sqlite(struct store *st)
{
	return st->db;
}

/* Roll back the transaction, if one is open. */
void
store_rollback(struct store *st)
{
	st->view_touched = 0;
	if (sqlite3_get_autocommit(st->db) == 0)
		(void)store_run(st, store_prepare(st, &q_rollback));
}

/*
 * One read transaction around the lookups of one decision: one snapshot
 * and one WAL read lock, instead of one for every statement.  Never
 * waits: a deferred BEGIN takes no lock until the first read.
 */
int
store_read_begin(struct store *st)
{
	return store_run(st, store_prepare(st, &q_read_begin));
}

/* End the read transaction of store_read_begin. */
void
store_read_end(struct store *st)
{
	if (store_run(st, store_prepare(st, &q_commit)) == -1)
		store_rollback(st);
}

/* Whether the last failure was another connection holding the lock. */
int
store_busy(struct store *st)
{
	return st->busy;
}

/* Commits with a sync of their own (full) or at checkpoints only (WAL, normal). */
int
store_set_synchronous(struct store *st, int full)
{
	return store_exec(st, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", "synchronous");
}

/* Progress handler: interrupt the statement once the deadline has passed. */
static int
store_deadline_cb(void *arg)
{
	struct store_deadline *d = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < d->at.tv_sec || (now.tv_sec == d->at.tv_sec &&
	    now.tv_nsec < d->at.tv_nsec))
		return 0;
	d->timed_out = 1;
	return 1;
}

/*
 * Bound the time of db's statements to come: those still running ms
 * milliseconds from now fail, and d->timed_out says so until the next
 * bound is set; 0 lifts the bound (d->timed_out still tells about it).
 */
void
store_deadline_set(sqlite3 *db, struct store_deadline *d, long long ms)
{
	if (ms <= 0) {
		sqlite3_progress_handler(db, 0, NULL, NULL);
		return;
	}
	d->timed_out = 0;
	clock_gettime(CLOCK_MONOTONIC, &d->at);
	d->at.tv_sec += (time_t)(ms / 1000);
	d->at.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d->at.tv_nsec >= 1000000000L) {
		d->at.tv_sec++;
		d->at.tv_nsec -= 1000000000L;
	}
	sqlite3_progress_handler(db, 10000, store_deadline_cb, d);
}

/*
 * Bound the time of the statements to come: those still running ms
 * milliseconds from now fail, and store_timed_out says so until the next
 * bound is set; 0 lifts the bound.
 */
void
store_time_limit(struct store *st, long long ms)
{
	store_deadline_set(st->db, &st->deadline, ms);
}

/* Whether the last store_time_limit bound interrupted a statement. */
int
store_timed_out(struct store *st)
{
	return st->deadline.timed_out;
}


/* Delete the records older than retention.records (history.c purges its own); *n rows. */
int
store_purge(struct store *st, long long records_before, long long *n)
{
	static const struct store_sql *const records[] = {
		&store_audit_purge_sql, &store_outbox_purge_sql, &store_complaint_purge_sql,
		&store_suspension_purge_sql,
	};

	*n = 0;
	for (size_t i = 0; i < sizeof records / sizeof records[0]; i++) {
		struct store_stmt *s = store_prepare(st, records[i]);

		store_bind_int(s, ":before", records_before);
		if (store_run(st, s) == -1)
			return -1;
		*n += store_changes(st);
	}
	return 0;
}

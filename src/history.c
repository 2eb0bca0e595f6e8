/*
 * The message history: one SQLite file in WAL mode of its own, written
 * by the daemon's writer thread alone, read by the commands, the user
 * socket and the daemon's start.
 *
 * A record costs the same whatever the size of the history: it is
 * appended at the end of `messages` (rowid only, no index), pointing at
 * the account's previous record (`prev`); the account's newest record
 * (`account_last`), Exim's message id (`msgids`) and the mailbox's host
 * (`mailbox_hosts`) are small tables updated in place; the first record
 * of each hour (`hours`) is written once an hour.  An account's history
 * is read by following its chain from the newest record back to the
 * period's start; a period of every account by a range of rowids from
 * the first record of its hour.  Purging deletes whole hours from the
 * front of the table.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "config.h"
#include "history.h"
#include "store_db.h"

#define HISTORY_SCHEMA_VERSION 1

static const char history_schema[] =
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
	"  verdict TEXT NOT NULL,"
	"  msgid TEXT,"
	"  source_kind TEXT NOT NULL DEFAULT '',"
	"  source TEXT NOT NULL DEFAULT '',"
	"  n_local INTEGER NOT NULL DEFAULT 0,"
	"  n_external INTEGER NOT NULL DEFAULT 0,"
	"  domains TEXT NOT NULL DEFAULT '',"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  deferred INTEGER NOT NULL DEFAULT 0,"
	"  bounced INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  prev INTEGER"		/* the account's record before this one */
	");"
	"CREATE TABLE account_last ("
	"  account TEXT PRIMARY KEY,"
	"  id INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE hours ("
	"  hour INTEGER PRIMARY KEY,"	/* at / 3600 */
	"  id INTEGER NOT NULL"		/* the hour's first record */
	");"
	"CREATE TABLE msgids ("
	"  msgid TEXT PRIMARY KEY,"
	"  id INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX msgids_id ON msgids (id);"
	"CREATE TABLE mailbox_hosts ("
	"  mailbox TEXT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox, ip)"
	") WITHOUT ROWID;"
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value"
	") WITHOUT ROWID;";

/*
 * The columns of a record, in the table's order after id: X(name, type).
 * The statements' column lists and the code that binds and reads them
 * are made from this one list.
 */
#define HIST_COLUMNS(X) \
	X(at, HC_INT) X(account, HC_TEXT) X(mailbox, HC_TEXT) X(ctx, HC_TEXT) \
	X(uid, HC_UID) X(script, HC_TEXT) X(ip, HC_TEXT) X(sender, HC_TEXT) \
	X(rcpt, HC_TEXT) X(verdict, HC_TEXT) X(msgid, HC_NULLTEXT) \
	X(source_kind, HC_TEXT) X(source, HC_TEXT) X(n_local, HC_INT) \
	X(n_external, HC_INT) X(domains, HC_TEXT) X(delivered, HC_INT) \
	X(deferred, HC_INT) X(bounced, HC_INT) X(reason, HC_TEXT)

/* HC_PTR: a pointer to the column's text, valid until the next step. */
enum hcol_type { HC_INT, HC_TEXT, HC_UID, HC_NULLTEXT, HC_PTR };

/* The column table entry of field f of a struct type. */
#define HC_OF(type, f, t) { #f, offsetof(type, f), sizeof(((type *)0)->f), t }
#define HC_ENTRY(f, t) HC_OF(struct message_record, f, t),
static const struct hcol {
	const char *name;
	size_t off, size;
	enum hcol_type type;
} hist_cols[] = { HIST_COLUMNS(HC_ENTRY) };
#define HIST_NCOLS (sizeof hist_cols / sizeof hist_cols[0])

#define HC_NAME(f, t) ", " #f
#define HC_PARAM(f, t) ", :" #f
/* "at, account, ..." and ":at, :account, ..." */
#define HIST_COLS (&(HIST_COLUMNS(HC_NAME))[2])
#define HIST_PARAMS (&(HIST_COLUMNS(HC_PARAM))[2])

/* The ids of an account's chain: its newest ?3 records since ?2 (-1: all). */
#define HIST_CHAIN "WITH RECURSIVE chain(id, n) AS (" \
	" SELECT id, 1 FROM account_last WHERE account = ?1" \
	" UNION ALL SELECT m.prev, c.n + 1 FROM chain c JOIN messages m ON m.id = c.id" \
	"  WHERE m.prev IS NOT NULL AND m.at >= ?2 AND (?3 < 0 OR c.n < ?3))" \
	" SELECT id FROM chain"
/* An account's records of a period, as HIST_CHAIN takes them. */
#define HIST_ROWS "(SELECT * FROM messages WHERE id IN (" HIST_CHAIN ")" \
	" AND at >= ?2 AND source_kind <> '')"
/* The first record that can be at ?1 or later: where a period's range of rowids starts. */
#define HIST_START "coalesce((SELECT id FROM hours WHERE hour <= ?1 / 3600" \
	" ORDER BY hour DESC LIMIT 1), 0)"
#define HIST_SUMS "count(*), sum(n_local), sum(n_external), sum(delivered)," \
	" sum(deferred), sum(bounced), sum(verdict = 'REFUSE'), sum(verdict = 'HOLD')," \
	" sum(verdict = 'DEFER'), min(at), max(at)"

enum hstmt {
	H_BEGIN, H_COMMIT, H_ROLLBACK,
	H_INSERT, H_LAST_SET, H_HOUR, H_MSGID, H_HOST_UPSERT, H_HOST_FIRST, H_OUTCOME,
	H_LIST, H_SOURCES, H_TOP, H_DOMAINS, H_HOSTS, H_RECENT, H_PURGE_START,
	H_COUNT
};

static const char *const hstmt_sql[H_COUNT] = {
	[H_BEGIN] = "BEGIN IMMEDIATE",
	[H_COMMIT] = "COMMIT",
	[H_ROLLBACK] = "ROLLBACK",
	/* H_INSERT and H_LIST: made from hist_cols by hist_stmt */
	[H_LAST_SET] = "INSERT INTO account_last (account, id) VALUES (?1, ?2)"
	    " ON CONFLICT (account) DO UPDATE SET id = excluded.id",
	[H_HOUR] = "INSERT OR IGNORE INTO hours (hour, id) VALUES (?1, ?2)",
	[H_MSGID] = "INSERT OR REPLACE INTO msgids (msgid, id) VALUES (?1, ?2)",
	[H_HOST_UPSERT] = "INSERT INTO mailbox_hosts (mailbox, ip, account, first_seen, last_seen)"
	    " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (mailbox, ip) DO UPDATE"
	    " SET last_seen = excluded.last_seen"
	    " WHERE excluded.last_seen >= last_seen + 3600",	/* not a write per record */
	[H_HOST_FIRST] = "SELECT first_seen FROM mailbox_hosts WHERE mailbox = ?1 AND ip = ?2",
	[H_OUTCOME] = "UPDATE messages SET delivered = delivered + (?2 = 'delivered'),"
	    " deferred = deferred + (?2 = 'deferred'), bounced = bounced + (?2 = 'bounced')"
	    " WHERE id = (SELECT id FROM msgids WHERE msgid = ?1)",
	[H_SOURCES] = "SELECT account, source_kind, source, " HIST_SUMS " FROM " HIST_ROWS
	    " GROUP BY account, source_kind, source"
	    " ORDER BY sum(n_external) DESC, count(*) DESC, source LIMIT ?4",
	[H_TOP] = "SELECT account, '', '', " HIST_SUMS " FROM messages"
	    " WHERE id >= " HIST_START " AND at >= ?1 AND source_kind <> ''"
	    " GROUP BY account ORDER BY sum(n_external) DESC, count(*) DESC, account LIMIT ?2",
	[H_DOMAINS] = "SELECT source_kind, source, domains FROM " HIST_ROWS " WHERE domains <> ''",
	[H_HOSTS] = "SELECT m.source_kind, m.source, m.ip, count(*),"
	    " coalesce((SELECT h.first_seen FROM mailbox_hosts h"
	    "  WHERE h.mailbox = m.source AND h.ip = m.ip), min(m.at))"
	    " FROM " HIST_ROWS " AS m WHERE m.ip <> ''"
	    " GROUP BY m.source_kind, m.source, m.ip"
	    " ORDER BY m.source, count(*) DESC, m.ip",
	/*
	 * What was let through since ?1, since the account's last suspension or
	 * lift (the policy database, attached as "policy" for this query).
	 */
	[H_RECENT] = "SELECT * FROM (SELECT m.at, m.account, m.source_kind, m.source, m.ip,"
	    " m.rcpt, m.n_external, m.delivered, m.deferred + m.bounced, coalesce(m.uid, -1),"
	    " coalesce((SELECT h.first_seen FROM mailbox_hosts h"
	    "  WHERE h.mailbox = m.source AND h.ip = m.ip), m.at),"
	    " (SELECT coalesce(max(max(s.created_at, coalesce(s.lifted_at, 0))), 0)"
	    "  FROM policy.suspensions s WHERE s.account = m.account AND s.kind = 'account')"
	    "  AS last_change, m.id"
	    " FROM messages m WHERE m.id >= " HIST_START " AND m.at >= ?1"
	    " AND m.verdict IN ('PASS', 'HOLD') AND m.source_kind <> '')"
	    " WHERE at > last_change ORDER BY at, id",
	/* the first record of the hour of ?1, or past the last */
	[H_PURGE_START] = "SELECT coalesce((SELECT id FROM hours WHERE hour >= ?1 / 3600"
	    " ORDER BY hour LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM messages))",
};

struct history {
	sqlite3 *db;
	sqlite3_stmt *stmt[H_COUNT];
	char *policy_path;
	char err[512];
	int busy;
	long long hour;			/* the hour of the last record written */
	struct store_deadline deadline;	/* history_time_limit */
};

/* Remember the database's last error for history_error(). */
static int
hist_fail(struct history *h, const char *what)
{
	int rc = sqlite3_errcode(h->db);

	h->busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
	snprintf(h->err, sizeof h->err, "history: %s: %s", what, sqlite3_errmsg(h->db));
	return -1;
}

/* The prepared statement for id, prepared on first use. */
static sqlite3_stmt *
hist_stmt(struct history *h, enum hstmt id)
{
	char sql[2048], params[256];
	size_t off = 0;

	if (h->stmt[id] != NULL)
		return h->stmt[id];
	for (size_t i = 0; i < HIST_NCOLS && off < sizeof params; i++)
		off += (size_t)snprintf(params + off, sizeof params - off, "%s?%zu",
		    i > 0 ? ", " : "", i + 1);
	/* the values ?1... in the order of hist_cols; ?2 is the account */
	if (id == H_INSERT)
		snprintf(sql, sizeof sql, "INSERT INTO messages (prev, %s) VALUES"
		    " ((SELECT id FROM account_last WHERE account = ?2), %s)", HIST_COLS, params);
	else if (id == H_LIST)
		snprintf(sql, sizeof sql, "SELECT id, %s FROM messages WHERE id IN (" HIST_CHAIN
		    ") AND at >= ?2 ORDER BY at, id", HIST_COLS);
	else
		snprintf(sql, sizeof sql, "%s", hstmt_sql[id]);
	if (sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &h->stmt[id],
	    NULL) != SQLITE_OK) {
		hist_fail(h, "prepare");
		return NULL;
	}
	return h->stmt[id];
}

/* Reset a statement and its bindings. */
static void
hist_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Run a statement that returns no rows; 0 or -1. */
static int
hist_exec(struct history *h, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	hist_done(s);
	return rc == SQLITE_DONE ? 0 : hist_fail(h, what);
}

/* Run SQL text with no parameters; 0 or -1. */
static int
hist_exec_sql(struct history *h, const char *sql, const char *what)
{
	return sqlite3_exec(h->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : hist_fail(h, what);
}

/* Bind a text parameter; NULL binds SQL NULL. */
static void
hist_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Copy a text column (NULL: "") into a fixed buffer. */
static void
hist_col_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
}

void
history_path(const struct config *cfg, char *buf, size_t len)
{
	const char *db = cfg->database_path;
	size_t n = strlen(db);

	if (cfg->database_history_path != NULL && cfg->database_history_path[0] != '\0') {
		snprintf(buf, len, "%s", cfg->database_history_path);
		return;
	}
	/* /var/lib/mailabuse/mailabuse.db: /var/lib/mailabuse/mailabuse-history.db */
	if (n > 3 && strcmp(db + n - 3, ".db") == 0)
		n -= 3;
	snprintf(buf, len, "%.*s-history.db", (int)n, db);
}

/* The schema: migration N brings user_version N to N + 1. */
static const char *const history_migrations[HISTORY_SCHEMA_VERSION] = {
	history_schema,
};

/* Attach the policy database as "policy"; 0, or -1 (none configured, or an error). */
static int
hist_attach(struct history *h)
{
	sqlite3_stmt *s;
	int rc;

	if (h->policy_path == NULL || access(h->policy_path, F_OK) == -1) {
		snprintf(h->err, sizeof h->err, "history: no policy database to read");
		return -1;
	}
	if (sqlite3_prepare_v2(h->db, "ATTACH DATABASE ?1 AS policy", -1, &s, NULL) != SQLITE_OK)
		return hist_fail(h, "attach");
	hist_bind_text(s, 1, h->policy_path);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : hist_fail(h, "attach");
}

static void
hist_detach(struct history *h)
{
	(void)sqlite3_exec(h->db, "DETACH DATABASE policy", NULL, NULL, NULL);
}

/*
 * The records of before the split: the policy database's migration 8
 * renamed its tables messages_v7 and mailbox_hosts_v7; copy them here in
 * time order, chained, and drop them there.  The copy is marked done in
 * the same transaction (the two files commit one after the other), so
 * that a crash before the policy database's drop never copies twice; the
 * mark goes once the drop is done.
 */
static const char *const hist_copy_sql[] = {
	"INSERT INTO temp.copy_base SELECT coalesce(max(id), 0) FROM main.messages",
	"WITH o AS (SELECT m.*, row_number() OVER (ORDER BY at, id) AS nid"
	"  FROM policy.messages_v7 m)"
	" INSERT INTO main.messages (id, at, account, mailbox, ctx, uid, script, ip, sender,"
	"  rcpt, verdict, msgid, source_kind, source, n_local, n_external, domains, delivered,"
	"  deferred, bounced, reason, prev)"
	" SELECT nid + b.base, at, account, mailbox, ctx, uid, script, ip, sender, rcpt, verdict,"
	"  msgid, source_kind, source, n_local, n_external, domains, delivered, deferred, bounced,"
	"  reason, lag(nid + b.base) OVER (PARTITION BY account ORDER BY nid)"
	" FROM o, temp.copy_base b ORDER BY nid",
	"INSERT OR REPLACE INTO main.account_last (account, id) SELECT account, max(id)"
	" FROM main.messages WHERE id > (SELECT base FROM temp.copy_base) GROUP BY account",
	"INSERT OR IGNORE INTO main.hours (hour, id) SELECT at / 3600, min(id) FROM main.messages"
	" WHERE id > (SELECT base FROM temp.copy_base) GROUP BY at / 3600",
	"INSERT OR REPLACE INTO main.msgids (msgid, id) SELECT msgid, id FROM main.messages"
	" WHERE id > (SELECT base FROM temp.copy_base) AND msgid IS NOT NULL ORDER BY id",
	"INSERT OR IGNORE INTO main.mailbox_hosts (mailbox, ip, account, first_seen, last_seen)"
	" SELECT mailbox, ip, account, first_seen, last_seen FROM policy.mailbox_hosts_v7",
	"INSERT OR REPLACE INTO main.meta (key, value) VALUES ('policy_v7_copied',"
	" (SELECT count(*) FROM policy.messages_v7))",
};

static int
hist_copy_policy(struct history *h)
{
	sqlite3_stmt *s;
	int tables = 0, copied = 0;

	if (h->policy_path == NULL || access(h->policy_path, F_OK) == -1)
		return 0;
	if (hist_attach(h) == -1)
		return -1;
	if (sqlite3_prepare_v2(h->db, "SELECT count(*) FROM policy.sqlite_master"
	    " WHERE type = 'table' AND name IN ('messages_v7', 'mailbox_hosts_v7')", -1, &s,
	    NULL) != SQLITE_OK) {
		hist_fail(h, "copy");
		hist_detach(h);
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		tables = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (tables == 0) {
		hist_detach(h);
		return 0;
	}
	if (hist_exec_sql(h, "BEGIN IMMEDIATE", "copy") == -1)
		goto fail;
	if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM main.meta WHERE key = 'policy_v7_copied'",
	    -1, &s, NULL) != SQLITE_OK)
		goto fail;
	copied = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	if (!copied) {
		if (hist_exec_sql(h, "CREATE TEMP TABLE copy_base (base INTEGER)", "copy") == -1)
			goto fail;
		for (size_t i = 0; i < sizeof hist_copy_sql / sizeof hist_copy_sql[0]; i++)
			if (hist_exec_sql(h, hist_copy_sql[i], "copy of the records") == -1)
				goto fail;
		if (hist_exec_sql(h, "DROP TABLE temp.copy_base", "copy") == -1)
			goto fail;
	}
	if (hist_exec_sql(h, "DROP TABLE IF EXISTS policy.messages_v7;"
	    " DROP TABLE IF EXISTS policy.mailbox_hosts_v7", "copy") == -1 ||
	    hist_exec_sql(h, "COMMIT", "copy") == -1)
		goto fail;
	hist_detach(h);
	/* both committed: a database restored from before the split copies again */
	return hist_exec_sql(h, "DELETE FROM meta WHERE key = 'policy_v7_copied'", "copy");
fail:
	(void)sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	hist_detach(h);
	return -1;
}

struct history *
history_open(const char *path, const char *policy_path, long long busy_timeout_ms,
    char *err, size_t errlen)
{
	struct history *h;

	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (policy_path != NULL && (h->policy_path = strdup(policy_path)) == NULL)) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->hour = -1;
	/* records are not acknowledged to anyone: a crash may lose the last ones */
	if ((h->db = store_db_open(path, busy_timeout_ms, "PRAGMA journal_mode = WAL;"
	    " PRAGMA synchronous = NORMAL;", err, errlen)) == NULL)
		goto fail;
	if (store_db_migrate(h->db, history_migrations, HISTORY_SCHEMA_VERSION, "history",
	    h->err, sizeof h->err) == -1 || hist_copy_policy(h) == -1) {
		snprintf(err, errlen, "%s: %s", path, h->err);
		goto fail;
	}
	return h;
fail:
	history_close(h);
	return NULL;
}

void
history_close(struct history *h)
{
	if (h == NULL)
		return;
	for (int i = 0; i < H_COUNT; i++)
		sqlite3_finalize(h->stmt[i]);
	sqlite3_close(h->db);
	free(h->policy_path);
	free(h);
}

const char *
history_error(struct history *h)
{
	return h->err;
}

/* Whether the last failure was a lock held by another. */
int
history_busy(struct history *h)
{
	return h->busy;
}

int
history_begin(struct history *h)
{
	sqlite3_stmt *s = hist_stmt(h, H_BEGIN);

	return s == NULL ? -1 : hist_exec(h, s, "begin");
}

int
history_commit(struct history *h)
{
	sqlite3_stmt *s = hist_stmt(h, H_COMMIT);

	return s == NULL ? -1 : hist_exec(h, s, "commit");
}

void
history_rollback(struct history *h)
{
	sqlite3_stmt *s = hist_stmt(h, H_ROLLBACK);

	if (s != NULL && sqlite3_get_autocommit(h->db) == 0)
		(void)hist_exec(h, s, "rollback");
}

/* Make id the account's newest record. */
static int
hist_last_set(struct history *h, const char *account, long long id)
{
	sqlite3_stmt *s = hist_stmt(h, H_LAST_SET);

	if (s == NULL)
		return -1;
	hist_bind_text(s, 1, account);
	sqlite3_bind_int64(s, 2, id);
	return hist_exec(h, s, "account's newest record");
}

/* Bind the columns of a record to ?1... in the order of hist_cols. */
static void
hist_bind_record(sqlite3_stmt *s, const struct message_record *m)
{
	for (size_t i = 0; i < HIST_NCOLS; i++) {
		const struct hcol *c = &hist_cols[i];
		const char *p = (const char *)m + c->off;
		int k = (int)i + 1;

		switch (c->type) {
		case HC_INT:
			sqlite3_bind_int64(s, k, *(const long long *)(const void *)p);
			break;
		case HC_UID:
			if (*(const long long *)(const void *)p >= 0)
				sqlite3_bind_int64(s, k, *(const long long *)(const void *)p);
			else
				sqlite3_bind_null(s, k);
			break;
		case HC_NULLTEXT:
			hist_bind_text(s, k, p[0] != '\0' ? p : NULL);
			break;
		case HC_TEXT:
			hist_bind_text(s, k, p);
			break;
		case HC_PTR:
			hist_bind_text(s, k, *(const char *const *)(const void *)p);
			break;
		}
	}
}

/* Fill a struct from the row's columns, from column first on, through a column table. */
static void
hist_read_cols(sqlite3_stmt *s, int first, const struct hcol *cols, size_t n, void *row)
{
	for (size_t i = 0; i < n; i++) {
		const struct hcol *c = &cols[i];
		char *p = (char *)row + c->off;
		int k = first + (int)i;

		switch (c->type) {
		case HC_INT:
			*(long long *)(void *)p = sqlite3_column_int64(s, k);
			break;
		case HC_UID:
			*(long long *)(void *)p = sqlite3_column_type(s, k) == SQLITE_NULL ? -1 :
			    sqlite3_column_int64(s, k);
			break;
		case HC_TEXT:
		case HC_NULLTEXT:
			hist_col_text(s, k, p, c->size);
			break;
		case HC_PTR:
			*(const char **)(void *)p = (const char *)sqlite3_column_text(s, k);
			break;
		}
	}
}

/* Read the columns of a record from column first on. */
static void
hist_read_record(sqlite3_stmt *s, int first, struct message_record *m)
{
	hist_read_cols(s, first, hist_cols, HIST_NCOLS, m);
}

/*
 * Append one record: at the end of the table, chained to the account's
 * previous one; the account's newest, the hour's first, the message id
 * and the mailbox's host beside it.
 */
int
history_message_insert(struct history *h, const struct message_record *m)
{
	sqlite3_stmt *s;
	long long id, hour = m->at / 3600;

	if ((s = hist_stmt(h, H_INSERT)) == NULL)
		return -1;
	hist_bind_record(s, m);
	if (hist_exec(h, s, "record") == -1)
		return -1;
	id = sqlite3_last_insert_rowid(h->db);
	if (hist_last_set(h, m->account, id) == -1)
		return -1;
	if (hour != h->hour) {
		if ((s = hist_stmt(h, H_HOUR)) == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, hour);
		sqlite3_bind_int64(s, 2, id);
		if (hist_exec(h, s, "record") == -1)
			return -1;
		h->hour = hour;
	}
	if (m->msgid[0] != '\0') {
		if ((s = hist_stmt(h, H_MSGID)) == NULL)
			return -1;
		hist_bind_text(s, 1, m->msgid);
		sqlite3_bind_int64(s, 2, id);
		if (hist_exec(h, s, "record") == -1)
			return -1;
	}
	if (strcmp(m->source_kind, "mailbox") != 0 || m->ip[0] == '\0')
		return 0;
	if ((s = hist_stmt(h, H_HOST_UPSERT)) == NULL)
		return -1;
	hist_bind_text(s, 1, m->source);
	hist_bind_text(s, 2, m->ip);
	hist_bind_text(s, 3, m->account);
	sqlite3_bind_int64(s, 4, m->at);
	return hist_exec(h, s, "host");
}

/* A delivery outcome of the last record of Exim's message id. */
int
history_message_outcome(struct history *h, const char *msgid, const char *outcome)
{
	sqlite3_stmt *s = hist_stmt(h, H_OUTCOME);

	if (s == NULL)
		return -1;
	hist_bind_text(s, 1, msgid);
	hist_bind_text(s, 2, outcome);
	return hist_exec(h, s, "outcome");
}

int
history_host_first_seen(struct history *h, const char *mailbox, const char *ip,
    long long *first)
{
	sqlite3_stmt *s = hist_stmt(h, H_HOST_FIRST);
	int rc;

	if (s == NULL)
		return -1;
	hist_bind_text(s, 1, mailbox);
	hist_bind_text(s, 2, ip);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*first = sqlite3_column_int64(s, 0);
	hist_done(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : hist_fail(h, "host lookup");
}

/* Step a bound query to its end, row_cb for each row (non-zero stops); 0 or -1. */
static int
hist_walk(struct history *h, sqlite3_stmt *s, const char *what,
    int (*row_cb)(sqlite3_stmt *s, void *ctx), void *ctx)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (row_cb(s, ctx) != 0)
			break;
	hist_done(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hist_fail(h, what);
	return 0;
}

/*
 * Walk statement id's rows of an account's records since a time, of its
 * newest max_rows at most (?1, ?2, ?3; ?4 = limit when the statement has it).
 */
static int
hist_walk_account(struct history *h, enum hstmt id, const char *account, long long since,
    long long max_rows, long long limit, const char *what,
    int (*row_cb)(sqlite3_stmt *s, void *ctx), void *ctx)
{
	sqlite3_stmt *s = hist_stmt(h, id);

	if (s == NULL)
		return -1;
	hist_bind_text(s, 1, account);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int64(s, 3, max_rows);
	if (sqlite3_bind_parameter_count(s) >= 4)
		sqlite3_bind_int64(s, 4, limit);
	return hist_walk(h, s, what, row_cb, ctx);
}

struct hist_msg_ctx {
	struct message_record *m;
	history_message_cb cb;
	void *arg;
};

static int
hist_msg_row(sqlite3_stmt *s, void *ctx)
{
	struct hist_msg_ctx *x = ctx;

	memset(x->m, 0, sizeof *x->m);
	hist_read_record(s, 1, x->m);
	return x->cb(x->arg, x->m);
}

/* The newest `limit` records of an account since a time, oldest first. */
int
history_message_list(struct history *h, const char *account, long long since,
    long long limit, history_message_cb cb, void *arg)
{
	sqlite3_stmt *s = hist_stmt(h, H_LIST);
	struct hist_msg_ctx x = { NULL, cb, arg };
	int rc;

	if (s == NULL)
		return -1;
	if ((x.m = malloc(sizeof *x.m)) == NULL) {
		snprintf(h->err, sizeof h->err, "history: out of memory");
		return -1;
	}
	hist_bind_text(s, 1, account);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int64(s, 3, limit);
	rc = hist_walk(h, s, "list", hist_msg_row, &x);
	free(x.m);
	return rc;
}

/* The columns of a sums row, in order: account, kind, source, then HIST_SUMS's. */
#define SUM_COL(f, t) HC_OF(struct source_stats, f, t)
static const struct hcol hist_sum_cols[] = {
	SUM_COL(account, HC_TEXT), SUM_COL(kind, HC_TEXT), SUM_COL(source, HC_TEXT),
	SUM_COL(messages, HC_INT), SUM_COL(n_local, HC_INT), SUM_COL(n_external, HC_INT),
	SUM_COL(delivered, HC_INT), SUM_COL(deferred, HC_INT), SUM_COL(bounced, HC_INT),
	SUM_COL(refused, HC_INT), SUM_COL(held, HC_INT), SUM_COL(limited, HC_INT),
	SUM_COL(first_at, HC_INT), SUM_COL(last_at, HC_INT),
};

struct hist_src_ctx {
	history_source_cb cb;
	void *arg;
};

static int
hist_source_row(sqlite3_stmt *s, void *ctx)
{
	struct hist_src_ctx *x = ctx;
	struct source_stats st;

	memset(&st, 0, sizeof st);
	hist_read_cols(s, 0, hist_sum_cols, sizeof hist_sum_cols / sizeof hist_sum_cols[0], &st);
	return x->cb(x->arg, &st);
}

/*
 * What each source of an account sent since a time (of its newest
 * max_rows records at most, -1 all), the busiest `limit` first.
 */
int
history_sources(struct history *h, const char *account, long long since,
    long long max_rows, long long limit, history_source_cb cb, void *arg)
{
	struct hist_src_ctx x = { cb, arg };

	return hist_walk_account(h, H_SOURCES, account, since, max_rows, limit,
	    "sources", hist_source_row, &x);
}

/* The accounts sending the most since a time (kind and source ""). */
int
history_top_accounts(struct history *h, long long since, long long limit,
    history_source_cb cb, void *arg)
{
	sqlite3_stmt *s = hist_stmt(h, H_TOP);
	struct hist_src_ctx x = { cb, arg };

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, limit);
	return hist_walk(h, s, "top", hist_source_row, &x);
}

struct hist_dom_ctx {
	int (*cb)(void *arg, const char *kind, const char *source, const char *domains);
	void *arg;
};

static int
hist_domains_row(sqlite3_stmt *s, void *ctx)
{
	struct hist_dom_ctx *x = ctx;

	return x->cb(x->arg, (const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2));
}

/* The recipient domains of each record of an account since a time. */
int
history_domains(struct history *h, const char *account, long long since,
    long long max_rows, int (*cb)(void *arg, const char *kind, const char *source,
    const char *domains), void *arg)
{
	struct hist_dom_ctx x = { cb, arg };

	return hist_walk_account(h, H_DOMAINS, account, since, max_rows, 0,
	    "domains", hist_domains_row, &x);
}

struct hist_host_ctx {
	int (*cb)(void *arg, const char *kind, const char *source, const char *ip,
	    long long messages, long long first_seen);
	void *arg;
};

static int
hist_hosts_row(sqlite3_stmt *s, void *ctx)
{
	struct hist_host_ctx *x = ctx;

	return x->cb(x->arg, (const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2),
	    sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 4));
}

/* The client hosts of each source of an account since a time, with when first seen. */
int
history_hosts(struct history *h, const char *account, long long since,
    long long max_rows, int (*cb)(void *arg, const char *kind, const char *source,
    const char *ip, long long messages, long long first_seen), void *arg)
{
	struct hist_host_ctx x = { cb, arg };

	return hist_walk_account(h, H_HOSTS, account, since, max_rows, 0,
	    "hosts", hist_hosts_row, &x);
}

struct hist_recent_ctx {
	history_recent_cb cb;
	void *arg;
};

/* The columns of H_RECENT, in order. */
#define RC_COL(f, t) HC_OF(struct recent_message, f, t)
static const struct hcol hist_recent_cols[] = {
	RC_COL(at, HC_INT), RC_COL(account, HC_TEXT), RC_COL(kind, HC_TEXT),
	RC_COL(source, HC_TEXT), RC_COL(ip, HC_TEXT), RC_COL(rcpt, HC_PTR),
	RC_COL(n_external, HC_INT), RC_COL(ok, HC_INT), RC_COL(failed, HC_INT),
	RC_COL(uid, HC_INT), RC_COL(host_first_seen, HC_INT), RC_COL(last_change, HC_INT),
};

static int
hist_recent_row(sqlite3_stmt *s, void *ctx)
{
	struct hist_recent_ctx *x = ctx;
	struct recent_message r;

	memset(&r, 0, sizeof r);
	hist_read_cols(s, 0, hist_recent_cols, sizeof hist_recent_cols / sizeof hist_recent_cols[0],
	    &r);
	return x->cb(x->arg, &r);
}

/*
 * The records let through since a time (the detectors' windows at
 * start), leaving out what came before each account's last suspension
 * or lift (read from the policy database).
 */
int
history_recent_messages(struct history *h, long long since, history_recent_cb cb, void *arg)
{
	struct hist_recent_ctx x = { cb, arg };
	sqlite3_stmt *s;
	int rc;

	if (hist_attach(h) == -1)
		return -1;
	/* prepared for this query alone: it names the attached database */
	if (sqlite3_prepare_v2(h->db, hstmt_sql[H_RECENT], -1, &s, NULL) != SQLITE_OK) {
		hist_fail(h, "recent");
		hist_detach(h);
		return -1;
	}
	sqlite3_bind_int64(s, 1, since);
	rc = hist_walk(h, s, "recent", hist_recent_row, &x);
	sqlite3_finalize(s);
	hist_detach(h);
	return rc;
}

/*
 * Delete the records of the hours before the one of `before` (whole
 * hours from the front of the table: no search), their message ids, the
 * accounts whose newest record they were, and the hosts not seen since.
 */
int
history_purge(struct history *h, long long before, long long *n)
{
	static const char *const sql[] = {
		"DELETE FROM messages WHERE id < ?1",
		"DELETE FROM msgids WHERE id < ?1",
		"DELETE FROM account_last WHERE id < ?1",
		"DELETE FROM hours WHERE id < ?1",
		"DELETE FROM mailbox_hosts WHERE last_seen < ?2",
	};
	sqlite3_stmt *s = hist_stmt(h, H_PURGE_START);
	long long start = 0;
	int rc;

	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, before);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		start = sqlite3_column_int64(s, 0);
	hist_done(s);
	if (rc != SQLITE_ROW)
		return hist_fail(h, "purge");
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		if (sqlite3_prepare_v2(h->db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return hist_fail(h, "purge");
		sqlite3_bind_int64(s, 1, start);
		if (sqlite3_bind_parameter_count(s) > 1)
			sqlite3_bind_int64(s, 2, before);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return hist_fail(h, "purge");
		/* the rows of the record, not those of the tables beside it */
		if (i == 0 || i == 4)
			*n += sqlite3_changes(h->db);
	}
	return 0;
}

/*
 * An account's rows of "messages" (its chain, oldest first; without the
 * chain's own column) or "mailbox_hosts", as a JSON array of objects.
 */
json_t *
history_record_rows(struct history *h, const char *table, const char *account)
{
	char sql[2048];
	sqlite3_stmt *s;
	json_t *rows;
	int rc;

	if (strcmp(table, "messages") == 0)
		snprintf(sql, sizeof sql, "SELECT id, %s FROM messages WHERE id IN (%s)"
		    " ORDER BY at, id", HIST_COLS, HIST_CHAIN);
	else if (strcmp(table, "mailbox_hosts") == 0)
		snprintf(sql, sizeof sql, "SELECT * FROM mailbox_hosts WHERE account = ?1"
		    " ORDER BY 1, 2");
	else {
		snprintf(h->err, sizeof h->err, "%s: not a table of the history", table);
		return NULL;
	}
	if (sqlite3_prepare_v2(h->db, sql, -1, &s, NULL) != SQLITE_OK) {
		hist_fail(h, "export");
		return NULL;
	}
	hist_bind_text(s, 1, account);
	if (sqlite3_bind_parameter_count(s) > 1) {
		sqlite3_bind_int64(s, 2, 0);
		sqlite3_bind_int64(s, 3, -1);
	}
	if ((rows = store_record_rows_json(s, &rc)) == NULL)
		snprintf(h->err, sizeof h->err, "history: export: %s", sqlite3_errstr(rc));
	return rows;
}

/* The key a row is compared by on import: its columns but id, in one string. */
static char *
hist_row_key(json_t *row)
{
	json_t *copy = json_deep_copy(row);
	char *key;

	if (copy == NULL)
		return NULL;
	json_object_del(copy, "id");
	json_object_del(copy, "prev");
	key = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(copy);
	return key;
}

/* Bind the members of an imported row to the :name parameters of s. */
static int
hist_bind_json(struct history *h, sqlite3_stmt *s, const char *table, json_t *row)
{
	const char *key;
	json_t *v;

	json_object_foreach(row, key, v) {
		char name[80];
		int k;

		if (strcmp(key, "id") == 0 || strcmp(key, "prev") == 0)
			continue;
		snprintf(name, sizeof name, ":%s", key);
		if ((k = sqlite3_bind_parameter_index(s, name)) == 0) {
			snprintf(h->err, sizeof h->err, "%s: no column \"%.64s\" in this database",
			    table, key);
			return -1;
		}
		if (store_record_bind_value(s, k, v) == -1) {
			snprintf(h->err, sizeof h->err, "%s: column \"%.64s\" is not a value",
			    table, key);
			return -1;
		}
	}
	return 0;
}

/* Add the ids of an account's chain to temp.relink. */
static int
hist_relink_add(struct history *h, const char *account)
{
	char sql[1024];
	sqlite3_stmt *s;
	int rc;

	snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO temp.relink (id) SELECT id FROM (%s)",
	    HIST_CHAIN);
	if (sqlite3_prepare_v2(h->db, sql, -1, &s, NULL) != SQLITE_OK)
		return hist_fail(h, "relink");
	hist_bind_text(s, 1, account);
	sqlite3_bind_int64(s, 2, 0);
	sqlite3_bind_int64(s, 3, -1);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : hist_fail(h, "relink");
}

/*
 * Link an account's records again in time order, after an import; with
 * other, those of other too, which become the account's (a rename).
 */
static int
hist_relink(struct history *h, const char *account, const char *other)
{
	sqlite3_stmt *s, *u;
	long long prev = 0;
	int rc;

	if (hist_exec_sql(h, "CREATE TEMP TABLE IF NOT EXISTS relink (id INTEGER PRIMARY KEY);"
	    " DELETE FROM temp.relink", "relink") == -1 ||
	    hist_relink_add(h, account) == -1 || (other != NULL && hist_relink_add(h, other) == -1))
		return -1;
	if (sqlite3_prepare_v2(h->db, "SELECT id FROM messages WHERE id IN"
	    " (SELECT id FROM temp.relink) ORDER BY at, id", -1, &s, NULL) != SQLITE_OK)
		return hist_fail(h, "relink");
	if (sqlite3_prepare_v2(h->db, "UPDATE messages SET prev = nullif(?2, 0), account = ?3"
	    " WHERE id = ?1", -1, &u, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return hist_fail(h, "relink");
	}
	hist_bind_text(u, 3, account);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(s, 0);

		sqlite3_bind_int64(u, 1, id);
		sqlite3_bind_int64(u, 2, prev);
		if (sqlite3_step(u) != SQLITE_DONE) {
			rc = SQLITE_ERROR;
			break;
		}
		sqlite3_reset(u);
		prev = id;
	}
	sqlite3_finalize(s);
	sqlite3_finalize(u);
	if (rc != SQLITE_DONE)
		return hist_fail(h, "relink");
	if (prev != 0 && hist_last_set(h, account, prev) == -1)
		return -1;
	if (other == NULL)
		return 0;
	if (sqlite3_prepare_v2(h->db, "DELETE FROM account_last WHERE account = ?1", -1, &s,
	    NULL) != SQLITE_OK)
		return hist_fail(h, "relink");
	hist_bind_text(s, 1, other);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : hist_fail(h, "relink");
}

/*
 * An account renamed (sync, by cPanel's UUID): its records and hosts go
 * to the new name, in the caller's transaction.
 */
int
history_account_move(struct history *h, const char *from, const char *to)
{
	sqlite3_stmt *s;
	int rc;

	if (hist_relink(h, to, from) == -1)
		return -1;
	if (sqlite3_prepare_v2(h->db, "UPDATE mailbox_hosts SET account = ?2 WHERE account = ?1",
	    -1, &s, NULL) != SQLITE_OK)
		return hist_fail(h, "account move");
	hist_bind_text(s, 1, from);
	hist_bind_text(s, 2, to);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : hist_fail(h, "account move");
}

/*
 * Import an account's exported rows of table (in the caller's
 * transaction): a row equal to one the account has already is not added
 * again; a host already known keeps the earliest first and latest last
 * sighting.  *n counts the rows added.
 */
int
history_record_import(struct history *h, const char *table, const char *account,
    json_t *rows, long long *n)
{
	json_t *have = NULL, *seen = NULL, *row;
	sqlite3_stmt *s = NULL;
	char sql[2048];
	size_t i;
	int r = -1, messages = strcmp(table, "messages") == 0;

	*n = 0;
	/* chained as the writer chains them; hist_relink puts them in time order */
	if (messages)
		snprintf(sql, sizeof sql, "INSERT INTO messages (prev, %s) VALUES ((SELECT id"
		    " FROM account_last WHERE account = :account), %s)", HIST_COLS, HIST_PARAMS);
	else if (strcmp(table, "mailbox_hosts") == 0)
		snprintf(sql, sizeof sql, "INSERT INTO mailbox_hosts (mailbox, ip, account,"
		    " first_seen, last_seen) VALUES (:mailbox, :ip, :account, :first_seen,"
		    " :last_seen) ON CONFLICT (mailbox, ip) DO UPDATE"
		    " SET first_seen = min(first_seen, excluded.first_seen),"
		    " last_seen = max(last_seen, excluded.last_seen)"
		    " WHERE excluded.first_seen < first_seen OR excluded.last_seen > last_seen");
	else {
		snprintf(h->err, sizeof h->err, "%s: not a table of the history", table);
		return -1;
	}
	if (!json_is_array(rows) || json_array_size(rows) == 0)
		return json_is_array(rows) || rows == NULL ? 0 : -1;
	if ((have = history_record_rows(h, table, account)) == NULL ||
	    (seen = json_object()) == NULL)
		goto out;
	json_array_foreach(have, i, row) {
		char *key = hist_row_key(row);

		if (key == NULL)
			goto out;
		json_object_set_new(seen, key, json_true());
		free(key);
	}
	if (sqlite3_prepare_v2(h->db, sql, -1, &s, NULL) != SQLITE_OK) {
		hist_fail(h, "import");
		goto out;
	}
	json_array_foreach(rows, i, row) {
		char *key;

		if (!json_is_object(row)) {
			snprintf(h->err, sizeof h->err, "%s: not a row of the record", table);
			goto out;
		}
		if ((key = hist_row_key(row)) == NULL)
			goto out;
		if (json_object_get(seen, key) != NULL) {
			free(key);
			continue;
		}
		json_object_set_new(seen, key, json_true());
		free(key);
		if (hist_bind_json(h, s, table, row) == -1)
			goto out;
		if (sqlite3_step(s) != SQLITE_DONE) {
			hist_fail(h, "import");
			goto out;
		}
		if (sqlite3_changes(h->db) > 0)
			(*n)++;
		hist_done(s);
		if (messages && hist_last_set(h, json_string_value(json_object_get(row,
		    "account")), sqlite3_last_insert_rowid(h->db)) == -1)
			goto out;
	}
	if (messages && *n > 0 && hist_relink(h, account, NULL) == -1)
		goto out;
	r = 0;
out:
	sqlite3_finalize(s);
	json_decref(have);
	json_decref(seen);
	return r;
}

/* Bound the time of the statements to come, as store_time_limit does. */
void
history_time_limit(struct history *h, long long ms)
{
	store_deadline_set(h->db, &h->deadline, ms);
}

int
history_timed_out(struct history *h)
{
	return h->deadline.timed_out;
}

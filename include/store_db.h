/*
 * The store's own header, shared by its files and nothing else: the
 * connection, and the one statement helper every file of the store
 * uses (store.c); history.c, in the store too, opens its file, brings
 * its schema up to date and bounds its statements' time with it.
 *
 * A file keeps its SQL next to the code that binds it, as a static
 * struct store_sql.  A statement is prepared once per connection, on
 * first use, and cached; parameters are bound by name (":name") and
 * columns read by name, or through a column table (struct store_col)
 * that fills a struct field by field.  The steps:
 *
 *	struct store_stmt *s = store_prepare(st, &q_domain_owner);
 *	store_bind_text(s, ":domain", domain);
 *	if ((r = store_one(st, s)) == 1) {
 *		store_col_copy(s, "account", account, len);
 *		store_reset(s);
 *	}
 *
 * store_prepare returns NULL on failure (the error is kept for
 * store_error); the bind calls then do nothing and the step calls
 * return -1, so a caller checks once, at the step.  Naming a parameter
 * or a column the statement does not have is a bug: it aborts.
 */
#ifndef MAILABUSE_STORE_DB_H
#define MAILABUSE_STORE_DB_H

#include <stddef.h>
#include <time.h>

#include <sqlite3.h>

#include "store.h"

/* One statement: what it is for (in error messages) and its SQL. */
struct store_sql {
	const char *what;
	const char *sql;
};

/* Statements cached per connection; a power of two, twice what the store has. */
#define STORE_CACHE_SLOTS 256
/* The names of a statement whose index is remembered, of parameters and of columns. */
#define STORE_MEMO 16

/*
 * A prepared statement of a connection, with the index of each name it
 * was asked for (by the name's address: the callers' names are string
 * constants), so that a name costs a lookup once, not on every use.
 */
struct store_stmt {
	const struct store_sql *q;
	sqlite3_stmt *s;
	struct store_name {
		const char *name;
		int i;
	} params[STORE_MEMO], cols[STORE_MEMO];
};

/* A bound on a connection's statements (store_deadline_set). */
struct store_deadline {
	struct timespec at;		/* statements stop here */
	int timed_out;			/* the deadline interrupted a statement */
};

struct store {
	sqlite3 *db;
	struct store_stmt *cache[STORE_CACHE_SLOTS];
	char err[512];
	int busy;			/* the last failure was a lock held by another */
	struct store_deadline deadline;	/* store_time_limit */
	int view_touched;		/* the transaction wrote view_changes */
};

/* How a column table reads a column into a struct's field. */
enum store_col_type { STORE_TEXT, STORE_INT64, STORE_INT };

struct store_col {
	const char *name;		/* the column's name in the statement */
	enum store_col_type type;
	size_t off;			/* of the field */
	size_t len;			/* of a text field's buffer */
};

/* A column table entry for field of struct type, read from the column of that name. */
#define STORE_COL(type, field, kind) \
	{ #field, kind, offsetof(type, field), sizeof(((type *)0)->field) }
#define STORE_NCOLS(cols) (sizeof (cols) / sizeof (cols)[0])

/* Called for each row of store_walk; non-zero stops the walk. */
typedef int (*store_row_cb)(void *arg, struct store_stmt *s);

/* store.c: the helper. */
int store_fail(struct store *st, const char *what);
int store_errorf(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct store_stmt *store_prepare(struct store *st, const struct store_sql *q);
int store_has_param(struct store_stmt *s, const char *name);
void store_bind_text(struct store_stmt *s, const char *name, const char *v);
void store_bind_int(struct store_stmt *s, const char *name, long long v);
void store_bind_real(struct store_stmt *s, const char *name, double v);
int store_run(struct store *st, struct store_stmt *s);
int store_one(struct store *st, struct store_stmt *s);
void store_reset(struct store_stmt *s);
int store_walk(struct store *st, struct store_stmt *s, store_row_cb cb, void *arg);
int store_walk_by(struct store *st, const struct store_sql *q, const char *name,
    const char *value, store_row_cb cb, void *arg);
int store_exec(struct store *st, const char *sql, const char *what);
int store_run_texts(struct store *st, const struct store_sql *q, ...)
    __attribute__((sentinel));
int store_found(struct store *st, const struct store_sql *q, const char *name, const char *v);
long long store_col_int(struct store_stmt *s, const char *name);
const char *store_col_str(struct store_stmt *s, const char *name);
void store_col_copy(struct store_stmt *s, const char *name, char *buf, size_t len);
void store_row_read(struct store_stmt *s, const struct store_col *cols, size_t n, void *row);
long long store_changes(struct store *st);
long long store_last_id(struct store *st);

/* store.c: opening a file, its schema, a time bound; history.c's file too. */
sqlite3 *store_db_open(const char *path, long long busy_timeout_ms, const char *pragmas,
    char *err, size_t errlen);
int store_db_migrate(sqlite3 *db, const char *const migrations[], int version,
    const char *name, char *err, size_t errlen);
void store_deadline_set(sqlite3 *db, struct store_deadline *d, long long ms);

/* store_record.c: an exported row, out of a statement and into one; history.c's too. */
struct json_t;
int store_record_row_json(struct json_t *rows, sqlite3_stmt *s);
struct json_t *store_record_rows_json(sqlite3_stmt *s, int *rc);
int store_record_bind_value(sqlite3_stmt *s, int i, const struct json_t *v);

/* The schema: migration N brings user_version N-1 to N (store.c). */
extern const char *const store_migrations[];
extern const int store_schema_version;

/* What store_purge deletes of each file's records, before a time bound to ":before". */
extern const struct store_sql store_audit_purge_sql, store_outbox_purge_sql,
    store_complaint_purge_sql, store_suspension_purge_sql;

#endif

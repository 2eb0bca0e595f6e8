/*
 * Export and import of one account's record (mailabusectl export and
 * import).  The rows go out as JSON objects, one member a column, so
 * that the columns later migrations add travel without a change here;
 * on import a member that names no column of this server's schema is
 * an error, never a silently dropped value.  The SQL of a row is made
 * from the names of its columns (checked against the schema), so these
 * statements are prepared for each use, not cached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_db.h"

static const char *const store_record_tables[] = {
	"suspensions", "complaints", "limits", "audit",	/* the history: history.c */
};

/* Whether table is one an account's record is exported from. */
static int
store_record_table(const char *table)
{
	for (size_t i = 0; i < sizeof store_record_tables / sizeof store_record_tables[0]; i++)
		if (strcmp(table, store_record_tables[i]) == 0)
			return 1;
	return 0;
}

/* One column of the current row as a JSON value. */
static json_t *
store_record_value(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(s, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(s, i));
	case SQLITE_NULL:
		return json_null();
	default:
		return json_string((const char *)sqlite3_column_text(s, i));
	}
}

/* Append the current row of s, every column by its name, to rows; 0 or -1. */
int
store_record_row_json(json_t *rows, sqlite3_stmt *s)
{
	json_t *row = json_object();

	for (int i = 0; row != NULL && i < sqlite3_column_count(s); i++)
		json_object_set_new(row, sqlite3_column_name(s, i), store_record_value(s, i));
	return row == NULL || json_array_append_new(rows, row) == -1 ? -1 : 0;
}

/* Bind a member of an exported row to parameter i of s; -1 if it is no value. */
int
store_record_bind_value(sqlite3_stmt *s, int i, const json_t *v)
{
	if (json_is_integer(v))
		sqlite3_bind_int64(s, i, json_integer_value(v));
	else if (json_is_real(v))
		sqlite3_bind_double(s, i, json_real_value(v));
	else if (json_is_string(v))
		sqlite3_bind_text(s, i, json_string_value(v), -1, SQLITE_TRANSIENT);
	else if (json_is_null(v))
		sqlite3_bind_null(s, i);
	else
		return -1;
	return 0;
}

/*
 * Every row of a prepared, bound statement, as a JSON array of objects;
 * finalises s.  NULL on error, with SQLite's result code in *rc.
 */
json_t *
store_record_rows_json(sqlite3_stmt *s, int *rc)
{
	json_t *rows = json_array();
	int r = SQLITE_NOMEM;

	while (rows != NULL && (r = sqlite3_step(s)) == SQLITE_ROW)
		if (store_record_row_json(rows, s) == -1) {
			r = SQLITE_NOMEM;
			break;
		}
	sqlite3_finalize(s);
	*rc = r;
	if (r != SQLITE_DONE) {
		json_decref(rows);
		return NULL;
	}
	return rows;
}

/* The rows of table that belong to account, as a JSON array of objects; NULL on error. */
json_t *
store_record_rows(struct store *st, const char *table, const char *account)
{
	char sql[256];
	sqlite3_stmt *s;
	json_t *rows;
	int rc;

	if (!store_record_table(table)) {
		store_errorf(st, "%s: not a table of the record", table);
		return NULL;
	}
	snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE account = :account ORDER BY 1, 2",
	    table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st, "export");
		return NULL;
	}
	sqlite3_bind_text(s, sqlite3_bind_parameter_index(s, ":account"), account, -1,
	    SQLITE_TRANSIENT);
	if ((rows = store_record_rows_json(s, &rc)) == NULL)
		store_fail(st, "export");
	return rows;
}

/*
 * The INSERT of an exported row into table, each member of the row
 * (but "id") bound to a parameter named after its column; with dedup,
 * only if no row equal in every column is there.  Allocated; NULL on
 * error.
 */
static char *
store_record_insert_sql(struct store *st, const char *table, json_t *row, int dedup)
{
	char *sql = NULL, *cols = NULL, *vals = NULL, *cond = NULL;
	size_t sqllen, colslen, valslen, condlen;
	FILE *fc = open_memstream(&cols, &colslen), *fv = open_memstream(&vals, &valslen);
	FILE *fd = open_memstream(&cond, &condlen), *fs;
	const char *key, *sep = "";
	json_t *v;
	int bad = fc == NULL || fv == NULL || fd == NULL;

	if (bad)
		store_errorf(st, "import: out of memory");
	json_object_foreach(row, key, v) {
		if (bad || strcmp(key, "id") == 0)
			continue;
		if (sqlite3_table_column_metadata(st->db, "main", table, key, NULL, NULL, NULL,
		    NULL, NULL) != SQLITE_OK) {
			bad = store_errorf(st, "%s: no column \"%.64s\" in this database",
			    table, key);
			continue;
		}
		fprintf(fc, "%s\"%s\"", sep, key);
		fprintf(fv, "%s:%s", sep, key);
		fprintf(fd, "%s\"%s\" IS :%s", *sep != '\0' ? " AND " : "", key, key);
		sep = ", ";
	}
	if (fc != NULL)
		fclose(fc);
	if (fv != NULL)
		fclose(fv);
	if (fd != NULL)
		fclose(fd);
	if (!bad && *sep == '\0')
		bad = store_errorf(st, "%s: an empty row", table);
	if (!bad && (fs = open_memstream(&sql, &sqllen)) != NULL) {
		if (dedup)
			fprintf(fs, "INSERT INTO %s (%s) SELECT %s WHERE NOT EXISTS"
			    " (SELECT 1 FROM %s WHERE %s)", table, cols, vals, table, cond);
		else
			fprintf(fs, "INSERT INTO %s (%s) VALUES (%s)", table, cols, vals);
		fclose(fs);
	}
	free(cols);
	free(vals);
	free(cond);
	return sql;
}

/*
 * Bind each member of an exported row (but "id") to the parameter of
 * its name.  The names are the row's, not constants: looked up here,
 * not through the statement helper.
 */
static int
store_record_bind(struct store *st, sqlite3_stmt *s, const char *table, json_t *row)
{
	char name[80];
	const char *key;
	json_t *v;
	int i;

	json_object_foreach(row, key, v) {
		if (strcmp(key, "id") == 0)
			continue;
		snprintf(name, sizeof name, ":%s", key);
		i = sqlite3_bind_parameter_index(s, name);
		if (store_record_bind_value(s, i, v) == -1)
			return store_errorf(st, "%s: column \"%.64s\" is not a value", table, key);
	}
	return 0;
}

/*
 * Insert one exported row into table, without its "id"; *id gets the
 * new row's id.  With dedup, a row equal in every column to one already
 * there is not inserted again (*id is then 0).
 */
int
store_record_row_insert(struct store *st, const char *table, json_t *row, int dedup,
    long long *id)
{
	sqlite3_stmt *s = NULL;
	char *sql;
	int r = -1;

	*id = 0;
	if (!store_record_table(table) || !json_is_object(row))
		return store_errorf(st, "%s: not a row of the record", table);
	if ((sql = store_record_insert_sql(st, table, row, dedup)) == NULL)
		return -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		store_fail(st, "import");
	else if (store_record_bind(st, s, table, row) == 0) {
		if (sqlite3_step(s) != SQLITE_DONE)
			store_fail(st, "import");
		else {
			if (sqlite3_changes(st->db) > 0)
				*id = sqlite3_last_insert_rowid(st->db);
			r = 0;
		}
	}
	sqlite3_finalize(s);
	free(sql);
	return r;
}

/* Delete an account's suspensions, complaints and limits (import --force). */
int
store_record_delete(struct store *st, const char *account)
{
	static const struct store_sql deletes[] = {
		{ "import", "DELETE FROM suspensions WHERE account = :account" },
		{ "import", "DELETE FROM complaints WHERE account = :account" },
		{ "import", "DELETE FROM limits WHERE account = :account" },
	};

	for (size_t i = 0; i < STORE_NCOLS(deletes); i++)
		if (store_run_texts(st, &deletes[i], ":account", account, NULL) == -1)
			return -1;
	return 0;
}

static const struct store_sql q_account_import = { "import",
	"INSERT OR IGNORE INTO accounts (name, owner, contact, main_domain, present,"
	" created_at, updated_at) VALUES (:name, :owner, :contact, :main_domain, 0,"
	" :created_at, :now)" };

/*
 * An imported account not yet in this server's cPanel data: its row,
 * not present, so that the next sync adds it; nothing if it exists.
 */
int
store_account_import(struct store *st, const struct account *a, long long now)
{
	struct store_stmt *s = store_prepare(st, &q_account_import);

	store_bind_text(s, ":name", a->name);
	store_bind_text(s, ":owner", a->owner);
	store_bind_text(s, ":contact", a->contact);
	store_bind_text(s, ":main_domain", a->main_domain);
	store_bind_int(s, ":created_at", a->created_at);
	store_bind_int(s, ":now", now);
	return store_run(st, s);
}

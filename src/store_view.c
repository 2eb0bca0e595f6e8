/*
 * The store's side of the daemon's view (view.c): the statements that
 * read the tables the view keeps, the change log migration 7's triggers
 * fill (view_changes), and the generation file beside the database.
 *
 * The generation file DATABASE-gen holds one 64-bit counter, mapped
 * shared by every process that opens the database: every commit through
 * store_commit() that wrote the change log increments it (an update hook
 * notes the rows the triggers write), and the daemon compares it with the value
 * it last saw before each answer (one load).  It is created by the
 * daemon, as its user, 0600; mailabusectl only opens it.  Without it (a
 * user that cannot write it, a daemon never started) nothing is bumped
 * and the daemon sees changes at its next PRAGMA data_version check.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "store_view.h"

static const char *const sv_sql[SVQ_COUNT] = {
	[SVQ_DOMAINS] = "SELECT domain, account FROM domains",
	[SVQ_LOCALS] = "SELECT domain FROM local_domains",
	[SVQ_ACCOUNTS] = "SELECT name FROM accounts WHERE present = 1",
	[SVQ_TARGETS] = "SELECT target FROM suspensions WHERE lifted_at IS NULL",
	[SVQ_CHANGES_ALL] = "SELECT account, max(max(created_at, coalesce(lifted_at, 0)))"
	    " FROM suspensions WHERE kind = 'account' GROUP BY account",
	[SVQ_LIMITS_ALL] = "SELECT account, detector, action, value FROM limits",
	/* each of min and max alone: a seek to one end of the table, not a scan */
	[SVQ_LOG_SPAN] = "SELECT coalesce((SELECT min(id) FROM view_changes), 0),"
	    " coalesce((SELECT max(id) FROM view_changes), 0)",
	[SVQ_LOG] = "SELECT tbl, id, key, key2 FROM view_changes WHERE id > ?1 ORDER BY id",
	[SVQ_DOMAIN] = "SELECT account FROM domains WHERE domain = ?1",
	[SVQ_LOCAL] = "SELECT 1 FROM local_domains WHERE domain = ?1",
	[SVQ_ACCOUNT] = "SELECT 1 FROM accounts WHERE name = ?1 AND present = 1",
	[SVQ_TARGET] = "SELECT 1 FROM suspensions WHERE target = ?1 AND lifted_at IS NULL",
	[SVQ_CHANGE] = "SELECT coalesce(max(max(created_at, coalesce(lifted_at, 0))), 0)"
	    " FROM suspensions WHERE account = ?1 AND kind = 'account'",
	[SVQ_LIMITS] = "SELECT account, detector, action, value FROM limits WHERE account = ?1",
	[SVQ_DATA_VERSION] = "PRAGMA data_version",
	[SVQ_SIZES] = "SELECT (SELECT count(*) FROM domains) + (SELECT count(*) FROM local_domains),"
	    " (SELECT count(*) FROM accounts)",
};

struct store_view {
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *stmt[SVQ_COUNT];
	char err[512];
};

/* Statements on the store's connection, prepared on first use. */
struct store_view *
store_view_open(struct store *st, char *err, size_t errlen)
{
	struct store_view *sv;

	if ((sv = calloc(1, sizeof *sv)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sv->st = st;
	sv->db = store_sqlite(st);
	return sv;
}

/* Finalise the statements; before the store is closed. */
void
store_view_close(struct store_view *sv)
{
	if (sv == NULL)
		return;
	for (int i = 0; i < SVQ_COUNT; i++)
		sqlite3_finalize(sv->stmt[i]);
	free(sv);
}

const char *
store_view_error(struct store_view *sv)
{
	return sv->err;
}

static int
store_view_fail(struct store_view *sv, const char *what)
{
	snprintf(sv->err, sizeof sv->err, "%s: %s", what, sqlite3_errmsg(sv->db));
	return -1;
}

/*
 * Run query q (bound to key, or to num when key is NULL) and give each
 * row to cb.  0; what cb returned when it stopped the walk (a positive
 * number: enough rows); or -1 with the error set: the database's, or
 * "out of memory" when cb could not keep a row.
 */
int
store_view_rows(struct store_view *sv, enum store_view_query q, const char *key,
    long long num, store_view_cb cb, void *arg)
{
	struct store_view_row row;
	sqlite3_stmt *s;
	int rc, ret = 0;

	sv->err[0] = '\0';
	if ((s = sv->stmt[q]) == NULL &&
	    sqlite3_prepare_v3(sv->db, sv_sql[q], -1, SQLITE_PREPARE_PERSISTENT,
	    &sv->stmt[q], NULL) != SQLITE_OK) {
		sv->stmt[q] = NULL;
		return store_view_fail(sv, "view: prepare");
	}
	s = sv->stmt[q];
	if (sqlite3_bind_parameter_count(s) > 0) {
		if (key != NULL)
			sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(s, 1, num);
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int nt = 0, nn = 0, ncol = sqlite3_column_count(s);

		memset(&row, 0, sizeof row);
		row.t[0] = row.t[1] = row.t[2] = "";
		for (int i = 0; i < ncol; i++) {
			if (sqlite3_column_type(s, i) == SQLITE_INTEGER) {
				if (nn < 2)
					row.n[nn++] = sqlite3_column_int64(s, i);
			} else if (nt < 3) {
				const unsigned char *t = sqlite3_column_text(s, i);

				row.t[nt++] = t != NULL ? (const char *)t : "";
			}
		}
		if ((ret = cb(arg, &row)) != 0) {
			/* unless a query cb made (view.c's change log) said why */
			if (ret < 0 && sv->err[0] == '\0')
				snprintf(sv->err, sizeof sv->err, "view: out of memory");
			break;
		}
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = store_view_fail(sv, "view: read");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ret;
}

/* One snapshot around a refresh of the view. */
int
store_view_begin(struct store_view *sv)
{
	sv->err[0] = '\0';
	if (store_read_begin(sv->st) == -1) {
		snprintf(sv->err, sizeof sv->err, "%s", store_error(sv->st));
		return -1;
	}
	return 0;
}

void
store_view_end(struct store_view *sv)
{
	store_read_end(sv->st);
}

/* The process's mapping of the generation file. */
static struct {
	pthread_mutex_t lock;
	uint64_t *gen;
} store_gen = { PTHREAD_MUTEX_INITIALIZER, NULL };

/*
 * Map DATABASE-gen (created, 0600, when create is set: the daemon does
 * it as its user).  Once per process: later calls do nothing.
 */
int
store_gen_attach(const char *dbpath, int create, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb;
	void *p;
	int fd, r = -1;

	pthread_mutex_lock(&store_gen.lock);
	if (store_gen.gen != NULL) {
		pthread_mutex_unlock(&store_gen.lock);
		return 0;
	}
	snprintf(path, sizeof path, "%s-gen", dbpath);
	fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (create ? O_CREAT : 0),
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_size < (off_t)sizeof(uint64_t) &&
	    (!create || ftruncate(fd, (off_t)sizeof(uint64_t)) == -1)) {
		snprintf(err, errlen, "%s: too short", path);
		goto out;
	}
	p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	store_gen.gen = p;
	r = 0;
out:
	if (fd != -1)
		close(fd);
	pthread_mutex_unlock(&store_gen.lock);
	return r;
}

/* A commit that wrote the change log: the daemon looks at it before its next answer. */
void
store_gen_bump(void)
{
	if (store_gen.gen != NULL)
		__atomic_add_fetch(store_gen.gen, 1, __ATOMIC_SEQ_CST);
}

/* The generation now: one load. */
uint64_t
store_gen_read(void)
{
	return store_gen.gen != NULL ? __atomic_load_n(store_gen.gen, __ATOMIC_ACQUIRE) : 0;
}

int
store_gen_attached(void)
{
	return store_gen.gen != NULL;
}

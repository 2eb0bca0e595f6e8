/*
 * Unit tests of the store's core (store.c) on throwaway databases: a
 * file at each older schema version upgrades to the latest, keeping its
 * rows; a newer one is refused; transactions, the busy flag, the time
 * bound, the purge of old records, and which commits move the daemon's
 * generation counter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"
#include "store_db.h"
#include "store_view.h"

/* The schema version of the file of a store. */
static int
user_version(struct store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	assert_int_equal(sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL),
	    SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A file at schema version v (0: empty), with an account "old" from version 1 on. */
static void
make_old(const char *path, int v)
{
	sqlite3 *db;
	char pragma[64];

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int i = 0; i < v; i++)
		assert_int_equal(sqlite3_exec(db, store_migrations[i], NULL, NULL, NULL),
		    SQLITE_OK);
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v);
	assert_int_equal(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
	if (v >= 1)
		assert_int_equal(sqlite3_exec(db, "INSERT INTO accounts (name, owner,"
		    " created_at, updated_at) VALUES ('old', 'reseller', 1, 2)", NULL, NULL,
		    NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Each older version upgrades to the latest, its rows kept, every table usable. */
static void
test_migrations(void **state)
{
	(void)state;
	assert_true(store_schema_version >= 6);
	for (int v = 0; v < store_schema_version; v++) {
		char path[256], err[512], s[16];
		struct store *st;
		struct account a;
		long long since;

		store_test_path(path, sizeof path);
		make_old(path, v);
		st = store_open(path, 1000, err, sizeof err);
		if (st == NULL)
			fail_msg("version %d: %s", v, err);
		assert_int_equal(user_version(st), store_schema_version);
		assert_int_equal(store_account_get(st, "old", &a), v >= 1);
		if (v >= 1)
			assert_string_equal(a.owner, "reseller");
		assert_int_equal(store_outgoing_get(st, "old", s, sizeof s, &since), 0);
		assert_int_equal(store_limit_set(st, "old", "rate", 1, "hold", NOW, "root"), 0);
		assert_int_equal(store_outbox_insert(st, "old", "k", "r@example.org", "m", NOW), 0);
		store_close(st);
		/* opened again, current already: nothing to do */
		assert_non_null(st = store_open(path, 1000, err, sizeof err));
		assert_int_equal(user_version(st), store_schema_version);
		store_close(st);
		store_test_unlink(path);
	}
}

/* A file of a newer program's schema is refused, and left alone. */
static void
test_newer_schema_refused(void **state)
{
	char path[256], err[512];
	sqlite3 *db;

	(void)state;
	store_test_path(path, sizeof path);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_null(store_open(path, 1000, err, sizeof err));
	assert_non_null(strstr(err, "database schema version 999 is newer"));
	store_test_unlink(path);
}

/* Count the audit entries walked. */
static int
count_cb(void *arg, const struct audit_entry *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

/* What a rollback undoes, a commit keeps; a read transaction sees the same. */
static void
test_transactions(void **state)
{
	struct store *st = store_test_st(state);
	int n = 0;

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "note", "alice", NULL, "x"), 0);
	store_rollback(st);
	assert_int_equal(store_audit_list(st, "alice", 10, count_cb, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "note", "alice", NULL, "x"), 0);
	assert_int_equal(store_commit(st), 0);
	/* a rollback outside a transaction does nothing */
	store_rollback(st);
	assert_int_equal(store_read_begin(st), 0);
	assert_int_equal(store_audit_list(st, "alice", 10, count_cb, &n), 0);
	store_read_end(st);
	assert_int_equal(n, 1);
	assert_int_equal(store_set_synchronous(st, 0), 0);
	assert_int_equal(store_set_synchronous(st, 1), 0);
}

/*
 * A commit that changes the daemon's view (accounts and domains through
 * sync) moves the generation; an audit-only commit and a rollback do not.
 */
static void
test_generation(void **state)
{
	struct store_test *t = *state;
	char gen[300], err[512];
	uint64_t g0;

	snprintf(gen, sizeof gen, "%s-gen", t->path);
	assert_int_equal(store_gen_attach(t->path, 1, err, sizeof err), 0);
	g0 = store_gen_read();
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(store_audit_insert(t->st, NOW, "root", "note", "alice", NULL, "x"), 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_true(store_gen_read() == g0);
	store_test_accounts(t->st);
	assert_true(store_gen_read() == g0 + 1);
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(store_sync_stage_begin(t->st), 0);
	assert_int_equal(store_sync_stage_account(t->st, "carol", "", "", "example.org"), 0);
	assert_int_equal(store_sync_stage_domain(t->st, "example.org", "carol", "main"), 0);
	assert_int_equal(store_sync_apply(t->st, NOW, NULL, store_test_sync_cb, NULL), 0);
	store_rollback(t->st);
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(store_audit_insert(t->st, NOW, "root", "note", "bob", NULL, "y"), 0);
	assert_int_equal(store_commit(t->st), 0);
	assert_true(store_gen_read() == g0 + 1);
	unlink(gen);
}

/* A writer waiting on another's lock fails, and says it was busy. */
static void
test_busy(void **state)
{
	struct store_test *t = *state;
	struct store *other;
	char err[512];

	assert_non_null(other = store_open(t->path, 10, err, sizeof err));
	assert_int_equal(store_begin(t->st), 0);
	assert_int_equal(store_begin(other), -1);
	assert_int_equal(store_busy(other), 1);
	assert_non_null(strstr(store_error(other), "begin"));
	assert_int_equal(store_commit(t->st), 0);
	assert_int_equal(store_begin(other), 0);
	assert_int_equal(store_commit(other), 0);
	store_close(other);
}

/* A statement running past the bound is interrupted, and store_timed_out says so. */
static void
test_time_limit(void **state)
{
	struct store *st = store_test_st(state);
	int rc;

	store_time_limit(st, 1);
	rc = sqlite3_exec(st->db, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
	    " SELECT x + 1 FROM c WHERE x < 100000000) SELECT count(*) FROM c", NULL, NULL, NULL);
	assert_int_equal(rc, SQLITE_INTERRUPT);
	assert_int_equal(store_timed_out(st), 1);
	store_time_limit(st, 0);
	assert_int_equal(store_timed_out(st), 1);
	store_time_limit(st, 60000);
	assert_int_equal(store_timed_out(st), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "note", "alice", NULL, ""), 0);
	store_time_limit(st, 0);
}

/* Suspend alice at `at`, lifted at `lifted` with lift_kind. */
static void
suspend_lifted(struct store *st, long long at, long long lifted, const char *lift_kind)
{
	struct suspension sp = { .target = "alice", .account = "alice", .kind = "account",
	    .reason = "r", .source = "admin", .created_by = "root", .created_at = at };

	assert_int_equal(store_suspension_insert(st, &sp), 0);
	assert_int_equal(store_suspension_lift(st, sp.id, lifted, "root", "r", lift_kind), 0);
}

/* The purge deletes what is old, but keeps each account's last counted unblock. */
static void
test_purge(void **state)
{
	struct store *st = store_test_st(state);
	struct complaint c = { .account = "alice", .source = "s", .ref = "r",
	    .created_at = NOW - 100, .created_by = "root", .window_end = NOW - 90 };
	long long ids[4], n = -1, at;
	size_t due;
	int audited = 0;

	assert_int_equal(store_audit_insert(st, NOW - 100, "root", "note", "alice", NULL, ""), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "note", "alice", NULL, ""), 0);
	assert_int_equal(store_outbox_insert(st, "alice", "k", "r@example.org", "m", NOW - 100),
	    0);
	assert_int_equal(store_outbox_due(st, NOW, NULL, ids, N(ids), &due), 0);
	assert_int_equal(store_outbox_sent(st, ids[0], NOW - 100), 0);
	assert_int_equal(store_complaint_insert(st, &c), 0);
	assert_int_equal(store_complaint_close(st, c.id, NOW - 95, "root", "done"), 0);
	suspend_lifted(st, NOW - 300, NOW - 200, "owner");
	suspend_lifted(st, NOW - 150, NOW - 120, "admin");
	suspend_lifted(st, NOW - 110, NOW - 105, "admin-nocount");
	assert_int_equal(store_purge(st, NOW - 50, &n), 0);
	/* one audit entry, the notice, the complaint, two of the three suspensions */
	assert_int_equal(n, 5);
	assert_int_equal(store_audit_list(st, "alice", 10, count_cb, &audited), 0);
	assert_int_equal(audited, 1);
	assert_int_equal(store_complaint_get(st, c.id, &c), 0);
	assert_int_equal(store_last_unblock(st, "alice", &at), 0);
	assert_int_equal(at, NOW - 120);
	assert_int_equal(store_purge(st, NOW - 50, &n), 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test_setup_teardown(test_transactions, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_busy, store_test_setup, store_test_teardown),
		cmocka_unit_test_setup_teardown(test_time_limit, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_purge, store_test_setup, store_test_teardown),
		cmocka_unit_test_setup_teardown(test_generation, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the history (history.c) on throwaway files: records and
 * what is read back from them (an account's list, its sources, hosts and
 * domains, the busiest accounts, the detectors' last hour), outcomes by
 * Exim's message id, purging whole hours, export and import, and the
 * move of the records of a policy database of schema 7 into the history.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config.h"
#include "history.h"
#include "store.h"

#define NOW 1800000000LL		/* a whole hour: 1800000000 / 3600 = 500000 */

struct files {
	char dir[64];
	char policy[128];
	char hist[128];
};

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct files *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/mailabuse-unit.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->policy, sizeof f->policy, "%s/mailabuse.db", f->dir);
	snprintf(f->hist, sizeof f->hist, "%s/mailabuse-history.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct files *f = *state;

	(void)nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* A record of account's mailbox (or of a script when box is NULL). */
static void
rec(struct message_record *m, long long at, const char *account, const char *box,
    const char *ip, const char *verdict, const char *msgid, long long n_external)
{
	memset(m, 0, sizeof *m);
	m->at = at;
	snprintf(m->account, sizeof m->account, "%s", account);
	snprintf(m->ctx, sizeof m->ctx, box != NULL ? "smtp" : "local");
	m->uid = box != NULL ? -1 : 1001;
	snprintf(m->mailbox, sizeof m->mailbox, "%s", box != NULL ? box : "");
	snprintf(m->ip, sizeof m->ip, "%s", ip);
	snprintf(m->verdict, sizeof m->verdict, "%s", verdict);
	snprintf(m->msgid, sizeof m->msgid, "%s", msgid);
	snprintf(m->source_kind, sizeof m->source_kind, box != NULL ? "mailbox" : "script");
	snprintf(m->source, sizeof m->source, "%s", box != NULL ? box : "/home/a/form.php");
	snprintf(m->rcpt, sizeof m->rcpt, "x@remote.test");
	snprintf(m->domains, sizeof m->domains, "remote.test:%lld", n_external);
	m->n_external = n_external;
}

static struct history *
open_hist(struct files *f)
{
	char err[512];
	struct history *h = history_open(f->hist, f->policy, 1000, err, sizeof err);

	if (h == NULL)
		fail_msg("history_open: %s", err);
	return h;
}

/* Three hours of records of two accounts, in time order as the writer appends them. */
static void
fill(struct history *h)
{
	struct message_record m;
	char id[32];

	assert_int_equal(history_begin(h), 0);
	for (int i = 0; i < 30; i++) {
		long long at = NOW - 3 * 3600 + i * 360;	/* every 6 minutes */

		snprintf(id, sizeof id, "1x%04d-000000-AB", i);
		rec(&m, at, i % 3 == 0 ? "bob" : "alice", i % 2 == 0 ? "info@alice.test" : NULL,
		    i < 15 ? "192.0.2.1" : "192.0.2.2", i == 4 ? "REFUSE" : "PASS", id, 2);
		if (i % 3 == 0)
			snprintf(m.source, sizeof m.source, "bob@bob.test");
		assert_int_equal(history_message_insert(h, &m), 0);
	}
	assert_int_equal(history_commit(h), 0);
}

static int
count_cb(void *arg, const struct message_record *m)
{
	long long *n = arg;

	if (n[1] > m->at)
		fail_msg("records out of order");
	n[1] = m->at;
	n[0]++;
	return 0;
}

static void
test_list_and_limits(void **state)
{
	struct history *h = open_hist(*state);
	long long n[2] = { 0, 0 };

	fill(h);
	/* bob: every third record (10), alice the rest (20) */
	assert_int_equal(history_message_list(h, "bob", 0, 1000, count_cb, n), 0);
	assert_int_equal(n[0], 10);
	n[0] = n[1] = 0;
	assert_int_equal(history_message_list(h, "alice", 0, 5, count_cb, n), 0);
	assert_int_equal(n[0], 5);
	/* the last hour: records 20..29, alice's of them */
	n[0] = n[1] = 0;
	assert_int_equal(history_message_list(h, "alice", NOW - 3600, 1000, count_cb, n), 0);
	assert_int_equal(n[0], 7);
	n[0] = n[1] = 0;
	assert_int_equal(history_message_list(h, "nobody", 0, 1000, count_cb, n), 0);
	assert_int_equal(n[0], 0);
	history_close(h);
}

static int
sources_cb(void *arg, const struct source_stats *x)
{
	json_t *o = arg;

	json_object_set_new(o, x->kind[0] != '\0' ? x->source : x->account,
	    json_pack("[I, I, I, I]", (json_int_t)x->messages, (json_int_t)x->n_external,
	    (json_int_t)x->refused, (json_int_t)x->delivered));
	return 0;
}

static void
test_sources_top_outcomes(void **state)
{
	struct history *h = open_hist(*state);
	json_t *o = json_object();
	long long first = 0;

	fill(h);
	/* record 4 (alice's mailbox, REFUSE) is delivered twice and bounced once */
	assert_int_equal(history_begin(h), 0);
	assert_int_equal(history_message_outcome(h, "1x0004-000000-AB", "delivered"), 0);
	assert_int_equal(history_message_outcome(h, "1x0004-000000-AB", "delivered"), 0);
	assert_int_equal(history_message_outcome(h, "1x0004-000000-AB", "bounced"), 0);
	assert_int_equal(history_message_outcome(h, "unknown", "bounced"), 0);
	assert_int_equal(history_commit(h), 0);
	assert_int_equal(history_sources(h, "alice", 0, -1, 10, sources_cb, o), 0);
	/* alice: i not multiple of 3; mailbox when i even: 2,4,8,10,14,16,20,22,26,28 */
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o,
	    "info@alice.test"), 0)), 10);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o,
	    "info@alice.test"), 2)), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o,
	    "info@alice.test"), 3)), 2);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o,
	    "/home/a/form.php"), 0)), 10);
	json_object_clear(o);
	/* the newest 4 records of alice only */
	assert_int_equal(history_sources(h, "alice", 0, 4, 10, sources_cb, o), 0);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o,
	    "info@alice.test"), 0)) + json_integer_value(json_array_get(json_object_get(o,
	    "/home/a/form.php"), 0)), 4);
	json_object_clear(o);
	assert_int_equal(history_top_accounts(h, NOW - 3600, 10, sources_cb, o), 0);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "alice"), 0)), 7);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "bob"), 0)), 3);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "bob"), 1)), 6);
	json_decref(o);
	/* hosts: first seen when first used, a second host later */
	assert_int_equal(history_host_first_seen(h, "info@alice.test", "192.0.2.1", &first), 1);
	assert_int_equal(first, NOW - 3 * 3600 + 2 * 360);
	assert_int_equal(history_host_first_seen(h, "info@alice.test", "192.0.2.2", &first), 1);
	assert_int_equal(first, NOW - 3 * 3600 + 16 * 360);
	assert_int_equal(history_host_first_seen(h, "info@alice.test", "192.0.2.9", &first), 0);
	history_close(h);
}

static int
recent_cb(void *arg, const struct recent_message *r)
{
	int *n = arg;

	assert_true(r->at >= NOW - 3600);
	assert_true(strcmp(r->account, "bob") == 0 || strcmp(r->account, "alice") == 0);
	(*n)++;
	return 0;
}

static void
test_recent_reads_suspensions(void **state)
{
	struct files *f = *state;
	char err[512];
	struct store *st = store_open(f->policy, 1000, err, sizeof err);
	struct history *h;
	struct suspension sp;
	int n = 0;

	assert_non_null(st);
	h = open_hist(f);
	fill(h);
	assert_int_equal(history_recent_messages(h, NOW - 3600, recent_cb, &n), 0);
	assert_int_equal(n, 10);
	/* bob lifted at NOW - 1800: his records before it are left out */
	memset(&sp, 0, sizeof sp);
	snprintf(sp.target, sizeof sp.target, "bob");
	snprintf(sp.account, sizeof sp.account, "bob");
	snprintf(sp.kind, sizeof sp.kind, "account");
	snprintf(sp.reason, sizeof sp.reason, "test");
	snprintf(sp.source, sizeof sp.source, "admin");
	snprintf(sp.created_by, sizeof sp.created_by, "root");
	sp.created_at = NOW - 7200;
	assert_int_equal(store_suspension_insert(st, &sp), 0);
	assert_int_equal(store_suspension_lift(st, sp.id, NOW - 1800, "root", "ok", "admin"), 0);
	n = 0;
	assert_int_equal(history_recent_messages(h, NOW - 3600, recent_cb, &n), 0);
	/* bob's of the last hour: 21, 24, 27; those after NOW - 1800: 27 */
	assert_int_equal(n, 8);
	history_close(h);
	store_close(st);
}

static void
test_purge_whole_hours(void **state)
{
	struct history *h = open_hist(*state);
	long long n = 0, c[2] = { 0, 0 }, first;

	fill(h);
	assert_int_equal(history_begin(h), 0);
	/* the hour of NOW - 1.5 h is kept whole: records 0..9 go */
	assert_int_equal(history_purge(h, NOW - 5400, &n), 0);
	assert_int_equal(history_commit(h), 0);
	assert_true(n >= 10);
	assert_int_equal(history_message_list(h, "alice", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 14);
	/* the chain ends where the purge cut it */
	c[0] = c[1] = 0;
	assert_int_equal(history_message_list(h, "bob", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 6);
	/* hosts last seen before the cut are gone */
	assert_int_equal(history_host_first_seen(h, "info@alice.test", "192.0.2.2", &first), 1);
	history_close(h);
}

static void
test_export_import(void **state)
{
	struct files *f = *state;
	struct history *h = open_hist(f);
	json_t *rows, *hosts;
	long long n = 0, c[2] = { 0, 0 };

	fill(h);
	rows = history_record_rows(h, "messages", "bob");
	assert_non_null(rows);
	assert_int_equal(json_array_size(rows), 10);
	assert_null(json_object_get(json_array_get(rows, 0), "prev"));
	assert_non_null(json_object_get(json_array_get(rows, 0), "msgid"));
	hosts = history_record_rows(h, "mailbox_hosts", "alice");
	assert_int_equal(json_array_size(hosts), 2);
	assert_null(history_record_rows(h, "audit", "bob"));
	/* bob's records imported as carol's, twice: added once */
	for (size_t i = 0; i < json_array_size(rows); i++)
		json_object_set_new(json_array_get(rows, i), "account", json_string("carol"));
	assert_int_equal(history_begin(h), 0);
	assert_int_equal(history_record_import(h, "messages", "carol", rows, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(history_record_import(h, "messages", "carol", rows, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(history_record_import(h, "mailbox_hosts", "alice", hosts, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(history_commit(h), 0);
	/* imported after newer records of carol: the chain is in time order again */
	assert_int_equal(history_message_list(h, "carol", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 10);
	c[0] = c[1] = 0;
	assert_int_equal(history_message_list(h, "carol", NOW - 3600, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 3);
	/* a column this history lacks is an error, not dropped */
	json_object_set_new(json_array_get(rows, 0), "colour", json_string("red"));
	json_object_set_new(json_array_get(rows, 0), "at", json_integer(1));
	assert_int_equal(history_begin(h), 0);
	assert_int_equal(history_record_import(h, "messages", "carol", rows, &n), -1);
	assert_non_null(strstr(history_error(h), "colour"));
	history_rollback(h);
	json_decref(rows);
	json_decref(hosts);
	history_close(h);
}

/* A rename (sync): bob's records and hosts become robert's, merged with robert's own. */
static void
test_account_move(void **state)
{
	struct history *h = open_hist(*state);
	struct message_record m;
	long long c[2] = { 0, 0 };
	json_t *hosts;

	fill(h);
	assert_int_equal(history_begin(h), 0);
	rec(&m, NOW - 10, "robert", "r@robert.test", "192.0.2.3", "PASS", "", 1);
	assert_int_equal(history_message_insert(h, &m), 0);
	assert_int_equal(history_account_move(h, "bob", "robert"), 0);
	assert_int_equal(history_commit(h), 0);
	assert_int_equal(history_message_list(h, "robert", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 11);
	c[0] = c[1] = 0;
	assert_int_equal(history_message_list(h, "bob", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 0);
	hosts = history_record_rows(h, "mailbox_hosts", "robert");
	assert_int_equal(json_array_size(hosts), 3);
	json_decref(hosts);
	history_close(h);
}

/* Run SQL on a file. */
static void
sql(const char *path, const char *text)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", text, err);
	sqlite3_close(db);
}

static long long
sql_int(const char *path, const char *text)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, text, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/*
 * A policy database of schema 7, with its records in messages (ids out
 * of time order, as an import leaves them) and mailbox_hosts: opened by
 * this version, its records are in the history, in time order, chained.
 */
static void
test_migration_of_old_records(void **state)
{
	struct files *f = *state;
	char err[512];
	struct store *st;
	struct history *h;
	long long c[2] = { 0, 0 }, first = 0;
	json_t *o = json_object();

	/* a schema-7 file: this version's, its tables renamed back */
	assert_non_null(st = store_open(f->policy, 1000, err, sizeof err));
	store_close(st);
	sql(f->policy, "ALTER TABLE messages_v7 RENAME TO messages;"
	    " ALTER TABLE mailbox_hosts_v7 RENAME TO mailbox_hosts; PRAGMA user_version = 7;"
	    " INSERT INTO messages (id, at, account, ctx, verdict, source_kind, source, ip,"
	    "  msgid, n_external) VALUES"
	    "  (1, 1799990000, 'dave', 'smtp', 'PASS', 'mailbox', 'd@dave.test', '192.0.2.5',"
	    "   '1old-000003-AB', 1),"
	    "  (2, 1799980000, 'dave', 'smtp', 'PASS', 'mailbox', 'd@dave.test', '192.0.2.5',"
	    "   '1old-000002-AB', 2),"
	    "  (3, 1799995000, 'erin', 'local', 'HOLD', 'script', '/x.php', '', NULL, 4),"
	    "  (7, 1799970000, 'dave', 'smtp', 'REFUSE', 'mailbox', 'd@dave.test', '192.0.2.5',"
	    "   '1old-000001-AB', 8);"
	    " INSERT INTO mailbox_hosts VALUES ('d@dave.test', '192.0.2.5', 'dave', 1799000000,"
	    "  1799990000);");
	/* this version's policy database sets them aside (migration 8) */
	assert_non_null(st = store_open(f->policy, 1000, err, sizeof err));
	assert_int_equal(sql_int(f->policy, "PRAGMA user_version"), 8);
	assert_int_equal(sql_int(f->policy, "SELECT count(*) FROM messages_v7"), 4);
	/* the history's first open moves them */
	h = open_hist(f);
	assert_int_equal(sql_int(f->policy, "SELECT count(*) FROM sqlite_master"
	    " WHERE name IN ('messages_v7', 'mailbox_hosts_v7')"), 0);
	assert_int_equal(history_message_list(h, "dave", 0, 1000, count_cb, c), 0);
	assert_int_equal(c[0], 3);
	assert_int_equal(history_sources(h, "dave", 1799975000, -1, 10, sources_cb, o), 0);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "d@dave.test"),
	    1)), 3);
	assert_int_equal(history_host_first_seen(h, "d@dave.test", "192.0.2.5", &first), 1);
	assert_int_equal(first, 1799000000);
	assert_int_equal(history_begin(h), 0);
	assert_int_equal(history_message_outcome(h, "1old-000001-AB", "delivered"), 0);
	assert_int_equal(history_commit(h), 0);
	assert_int_equal(sql_int(f->hist, "SELECT delivered FROM messages"
	    " WHERE msgid = '1old-000001-AB'"), 1);
	/* in time order in the file */
	assert_int_equal(sql_int(f->hist, "SELECT group_concat(n_external, '') FROM"
	    " (SELECT n_external FROM messages ORDER BY id)"), 8214);
	history_close(h);
	/* a second open moves nothing again */
	h = open_hist(f);
	assert_int_equal(sql_int(f->hist, "SELECT count(*) FROM messages"), 4);
	assert_int_equal(sql_int(f->hist, "SELECT count(*) FROM meta"), 0);
	history_close(h);
	/* a crash after the history's commit, before the database's: the drop only */
	sql(f->policy, "CREATE TABLE messages_v7 AS SELECT 1 AS id;"
	    " CREATE TABLE mailbox_hosts_v7 AS SELECT 1 AS mailbox;");
	sql(f->hist, "INSERT INTO meta VALUES ('policy_v7_copied', 4)");
	h = open_hist(f);
	assert_int_equal(sql_int(f->hist, "SELECT count(*) FROM messages"), 4);
	assert_int_equal(sql_int(f->hist, "SELECT count(*) FROM meta"), 0);
	assert_int_equal(sql_int(f->policy, "SELECT count(*) FROM sqlite_master"
	    " WHERE name IN ('messages_v7', 'mailbox_hosts_v7')"), 0);
	history_close(h);
	store_close(st);
	json_decref(o);
}

static void
test_path_default(void **state)
{
	struct config cfg;
	char buf[256];

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.database_path = (char *)(uintptr_t)"/var/lib/mailabuse/mailabuse.db";
	cfg.database_history_path = (char *)(uintptr_t)"";
	history_path(&cfg, buf, sizeof buf);
	assert_string_equal(buf, "/var/lib/mailabuse/mailabuse-history.db");
	cfg.database_path = (char *)(uintptr_t)"/srv/state/db";
	history_path(&cfg, buf, sizeof buf);
	assert_string_equal(buf, "/srv/state/db-history.db");
	cfg.database_history_path = (char *)(uintptr_t)"/fast/h.db";
	history_path(&cfg, buf, sizeof buf);
	assert_string_equal(buf, "/fast/h.db");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sources_top_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_reads_suspensions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_whole_hours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_import, setup, teardown),
		cmocka_unit_test_setup_teardown(test_account_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_of_old_records, setup, teardown),
		cmocka_unit_test(test_path_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the store's complaints (store_complaint.c) on a
 * throwaway database: record, read, close early, expire with audit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Record a complaint of alice whose window ends at window_end; its id. */
static long long
complain(struct store *st, const char *ref, long long window_end)
{
	struct complaint c;

	memset(&c, 0, sizeof c);
	snprintf(c.account, sizeof c.account, "alice");
	snprintf(c.source, sizeof c.source, "spamcop");
	snprintf(c.ref, sizeof c.ref, "%s", ref);
	snprintf(c.created_by, sizeof c.created_by, "root");
	c.created_at = NOW - 1000;
	c.window_end = window_end;
	assert_int_equal(store_complaint_insert(st, &c), 0);
	assert_true(c.id > 0);
	return c.id;
}

/* A complaint reads back whole; closing it early works once. */
static void
test_complaint_get_and_close(void **state)
{
	struct store *st = store_test_st(state);
	struct complaint c;
	long long id = complain(st, "ticket 1", NOW + DAY);

	assert_int_equal(store_complaint_get(st, id, &c), 1);
	assert_int_equal(c.id, id);
	assert_string_equal(c.account, "alice");
	assert_string_equal(c.source, "spamcop");
	assert_string_equal(c.ref, "ticket 1");
	assert_string_equal(c.created_by, "root");
	assert_int_equal(c.created_at, NOW - 1000);
	assert_int_equal(c.window_end, NOW + DAY);
	assert_int_equal(c.closed_at, 0);
	assert_string_equal(c.closed_by, "");
	assert_int_equal(store_complaint_get(st, id + 1, &c), 0);
	assert_int_equal(store_complaint_close(st, id, NOW, "root", "resolved"), 0);
	assert_int_equal(store_complaint_close(st, id, NOW, "root", "again"), 1);
	assert_int_equal(store_complaint_get(st, id, &c), 1);
	assert_int_equal(c.closed_at, NOW);
	assert_string_equal(c.closed_by, "root");
	assert_string_equal(c.close_reason, "resolved");
}

/* Collect the refs of the complaints walked. */
static int
refs_cb(void *arg, const struct complaint *c)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 128 - strlen(buf), "%s,", c->ref);
	return 0;
}

/* Count audit entries of action complaint-ended. */
static int
ended_cb(void *arg, const struct audit_entry *e)
{
	*(int *)arg += strcmp(e->action, "complaint-ended") == 0;
	return 0;
}

/* Expiry closes (and audits) the windows that have ended, and only those. */
static void
test_complaint_list_and_expire(void **state)
{
	struct store *st = store_test_st(state);
	struct complaint c;
	char buf[128] = "";
	long long n = -1, ended_id;
	int audited = 0;

	ended_id = complain(st, "a", NOW - 10);
	complain(st, "b", NOW + 10);
	assert_int_equal(store_complaint_list(st, "alice", refs_cb, buf), 0);
	assert_string_equal(buf, "a,b,");
	assert_int_equal(store_complaints_expire(st, NOW, "mailabusectl", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_complaint_get(st, ended_id, &c), 1);
	assert_int_equal(c.closed_at, NOW - 10);
	assert_string_equal(c.closed_by, "mailabusectl");
	assert_string_equal(c.close_reason, "window ended");
	assert_int_equal(store_audit_list(st, "alice", 10, ended_cb, &audited), 0);
	assert_int_equal(audited, 1);
	assert_int_equal(store_complaints_expire(st, NOW, "mailabusectl", &n), 0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_complaint_get_and_close, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_complaint_list_and_expire, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

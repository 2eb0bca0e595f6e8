/*
 * Unit tests of the store's audit log (store_audit.c) on a throwaway
 * database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

struct entries {
	int n;
	struct audit_entry e[8];
};

/* Keep the entries walked. */
static int
keep_cb(void *arg, const struct audit_entry *e)
{
	struct entries *x = arg;

	if (x->n < (int)N(x->e))
		x->e[x->n] = *e;
	x->n++;
	return 0;
}

/* The newest `limit` entries, oldest first, every field; NULLs read as "". */
static void
test_audit_list(void **state)
{
	struct store *st = store_test_st(state);
	struct entries x;

	assert_int_equal(store_audit_insert(st, NOW - 3, "root", "suspend", "alice", "alice",
	    "spam"), 0);
	assert_int_equal(store_audit_insert(st, NOW - 2, "root", "note", "alice", NULL, NULL), 0);
	assert_int_equal(store_audit_insert(st, NOW - 1, "alice", "unblock", "alice", "alice",
	    "fixed"), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "suspend", "bob", "bob", ""), 0);
	memset(&x, 0, sizeof x);
	assert_int_equal(store_audit_list(st, "alice", 2, keep_cb, &x), 0);
	assert_int_equal(x.n, 2);
	assert_int_equal(x.e[0].at, NOW - 2);
	assert_string_equal(x.e[0].action, "note");
	assert_string_equal(x.e[0].target, "");
	assert_string_equal(x.e[0].detail, "");
	assert_true(x.e[0].id > 0);
	assert_int_equal(x.e[1].at, NOW - 1);
	assert_string_equal(x.e[1].actor, "alice");
	assert_string_equal(x.e[1].account, "alice");
	assert_string_equal(x.e[1].target, "alice");
	assert_string_equal(x.e[1].detail, "fixed");
}

/* The last entry of one of two actions; 0 when there is none. */
static void
test_audit_last(void **state)
{
	struct store *st = store_test_st(state);
	long long at = -1;

	assert_int_equal(store_last_audit(st, "alice", "suspend", "unsuspend", &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(store_audit_insert(st, NOW - 5, "root", "suspend", "alice", "alice",
	    ""), 0);
	assert_int_equal(store_audit_insert(st, NOW - 3, "root", "unsuspend", "alice", "alice",
	    ""), 0);
	assert_int_equal(store_audit_insert(st, NOW, "root", "note", "alice", "alice", ""), 0);
	assert_int_equal(store_last_audit(st, "alice", "suspend", "unsuspend", &at), 0);
	assert_int_equal(at, NOW - 3);
	assert_int_equal(store_last_audit(st, "alice", "suspend", "suspend", &at), 0);
	assert_int_equal(at, NOW - 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_audit_list, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_audit_last, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

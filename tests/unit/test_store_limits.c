/*
 * Unit tests of the store's per-account limits (store_limits.c) on a
 * throwaway database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Collect "detector=value/action/set_at/set_by;" of the limits walked. */
static int
limits_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 256 - strlen(buf), "%s=%lld/%s/%lld/%s;", detector, value,
	    action, set_at - NOW, set_by);
	return 0;
}

/* Set, replace, list in detector order, delete; other accounts untouched. */
static void
test_limits(void **state)
{
	struct store *st = store_test_st(state);
	char buf[256] = "";

	assert_int_equal(store_limit_set(st, "alice", "rate", 100, "hold", NOW, "root"), 0);
	assert_int_equal(store_limit_set(st, "alice", "bounces", 5, "suspend", NOW, "root"), 0);
	assert_int_equal(store_limit_set(st, "bob", "rate", 1, "defer", NOW, "root"), 0);
	assert_int_equal(store_limit_set(st, "alice", "rate", 200, "defer", NOW + 1, "admin"), 0);
	assert_int_equal(store_limits_get(st, "alice", limits_cb, buf), 0);
	assert_string_equal(buf, "bounces=5/suspend/0/root;rate=200/defer/1/admin;");
	assert_int_equal(store_limit_delete(st, "alice", "bounces"), 0);
	assert_int_equal(store_limit_delete(st, "alice", "nothing"), 0);
	buf[0] = '\0';
	assert_int_equal(store_limits_get(st, "alice", limits_cb, buf), 0);
	assert_string_equal(buf, "rate=200/defer/1/admin;");
	buf[0] = '\0';
	assert_int_equal(store_limits_get(st, "bob", limits_cb, buf), 0);
	assert_string_equal(buf, "rate=1/defer/0/root;");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limits, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

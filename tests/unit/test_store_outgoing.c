/*
 * Unit tests of the store's copy of cPanel's outgoing email state
 * (store_outgoing.c) on a throwaway database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Collect "account:old>new;" of each change reported. */
static int
changes_cb(void *arg, const char *account, const char *old_state, const char *new_state)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 256 - strlen(buf), "%s:%s>%s;", account, old_state,
	    new_state);
	return 0;
}

/* Stage, apply with time, from the staged state; 1 changed, and read back. */
static void
sync_outgoing(struct store *st, long long now, const char *const *pairs, size_t n, char *buf)
{
	buf[0] = '\0';
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_outgoing_stage_begin(st), 0);
	for (size_t i = 0; i + 1 < n; i += 2)
		assert_int_equal(store_outgoing_stage(st, pairs[i], pairs[i + 1]), 0);
	assert_int_equal(store_outgoing_apply(st, now, changes_cb, buf), 0);
	assert_int_equal(store_commit(st), 0);
}

/* Changes are reported old to new, suspended wins over held, since moves on a change. */
static void
test_outgoing(void **state)
{
	struct store *st = store_test_st(state);
	static const char *const first[] = { "alice", "held", "bob", "held", "bob", "suspended" };
	static const char *const second[] = { "alice", "suspended" };
	char buf[256], s[16];
	long long since = 0;

	sync_outgoing(st, NOW, first, N(first), buf);
	assert_string_equal(buf, "alice:>held;bob:>suspended;");
	assert_int_equal(store_outgoing_get(st, "bob", s, sizeof s, &since), 1);
	assert_string_equal(s, "suspended");
	assert_int_equal(since, NOW);
	sync_outgoing(st, NOW + 10, second, N(second), buf);
	assert_string_equal(buf, "alice:held>suspended;bob:suspended>;");
	assert_int_equal(store_outgoing_get(st, "bob", s, sizeof s, &since), 0);
	assert_int_equal(store_outgoing_get(st, "alice", s, sizeof s, &since), 1);
	assert_int_equal(since, NOW + 10);
	sync_outgoing(st, NOW + 20, second, N(second), buf);
	assert_string_equal(buf, "");
	assert_int_equal(store_outgoing_get(st, "alice", s, sizeof s, &since), 1);
	assert_int_equal(since, NOW + 10);
}

/* A callback that refuses: apply fails and stores nothing. */
static int
refuse_cb(void *arg, const char *account, const char *old_state, const char *new_state)
{
	(void)arg;
	(void)account;
	(void)old_state;
	(void)new_state;
	return 1;
}

static void
test_outgoing_refused(void **state)
{
	struct store *st = store_test_st(state);
	char s[16];
	long long since;

	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_outgoing_stage_begin(st), 0);
	assert_int_equal(store_outgoing_stage(st, "alice", "held"), 0);
	assert_int_equal(store_outgoing_apply(st, NOW, refuse_cb, NULL), -1);
	store_rollback(st);
	assert_int_equal(store_outgoing_get(st, "alice", s, sizeof s, &since), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outgoing, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_outgoing_refused, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the store's suspensions and the unblock rule's records
 * (store_suspension.c) on a throwaway database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Suspend a target of an account at a time; the suspension's id. */
static long long
suspend(struct store *st, const char *target, const char *kind, long long at,
    long long complaint_id)
{
	struct suspension sp;

	memset(&sp, 0, sizeof sp);
	snprintf(sp.target, sizeof sp.target, "%s", target);
	snprintf(sp.account, sizeof sp.account, "alice");
	snprintf(sp.kind, sizeof sp.kind, "%s", kind);
	snprintf(sp.reason, sizeof sp.reason, "spam run");
	snprintf(sp.source, sizeof sp.source, "detector");
	snprintf(sp.created_by, sizeof sp.created_by, "mailabused");
	sp.created_at = at;
	sp.complaint_id = complaint_id;
	assert_int_equal(store_suspension_insert(st, &sp), 0);
	assert_true(sp.id > 0);
	return sp.id;
}

/* An active suspension reads back field by field; a lift ends it once. */
static void
test_suspension_active_and_lift(void **state)
{
	struct store *st = store_test_st(state);
	struct suspension sp;
	long long id = suspend(st, "alice", "account", NOW - 100, 7);

	assert_int_equal(store_suspension_active(st, "alice", &sp), 1);
	assert_int_equal(sp.id, id);
	assert_string_equal(sp.target, "alice");
	assert_string_equal(sp.account, "alice");
	assert_string_equal(sp.kind, "account");
	assert_string_equal(sp.reason, "spam run");
	assert_string_equal(sp.source, "detector");
	assert_string_equal(sp.created_by, "mailabused");
	assert_int_equal(sp.created_at, NOW - 100);
	assert_int_equal(sp.lifted_at, 0);
	assert_string_equal(sp.lifted_by, "");
	assert_string_equal(sp.lift_kind, "");
	assert_int_equal(sp.complaint_id, 7);
	assert_int_equal(store_suspension_active(st, "alice", NULL), 1);
	assert_int_equal(store_suspension_active(st, "bob", &sp), 0);

	assert_int_equal(store_suspension_lift(st, id, NOW, "root", "cleaned", "admin"), 0);
	assert_int_equal(store_suspension_active(st, "alice", &sp), 0);
	/* a second lift fails and says why */
	assert_int_equal(store_suspension_lift(st, id, NOW, "root", "again", "admin"), -1);
	assert_non_null(strstr(store_error(st), "is not active"));
	/* one active suspension per target */
	suspend(st, "alice", "account", NOW, 0);
	assert_int_equal(store_suspension_active(st, "alice", &sp), 1);
	assert_int_equal(sp.complaint_id, 0);
}

/* The hot path's flags: account, mailbox, and the last change of the account's. */
static void
test_suspension_flags(void **state)
{
	struct store *st = store_test_st(state);
	int acc, mbox;
	long long last, id;

	assert_int_equal(store_suspension_flags(st, "alice", "u@example.com", &acc, &mbox,
	    &last), 0);
	assert_int_equal(acc + mbox, 0);
	assert_int_equal(last, 0);
	suspend(st, "u@example.com", "mailbox", NOW - 50, 0);
	assert_int_equal(store_suspension_flags(st, "alice", "u@example.com", &acc, &mbox,
	    &last), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(mbox, 1);
	assert_int_equal(last, 0);
	id = suspend(st, "alice", "account", NOW - 40, 0);
	assert_int_equal(store_suspension_flags(st, "alice", NULL, &acc, &mbox, &last), 0);
	assert_int_equal(acc, 1);
	assert_int_equal(mbox, 0);
	assert_int_equal(last, NOW - 40);
	assert_int_equal(store_suspension_lift(st, id, NOW - 10, "root", "ok", "owner"), 0);
	assert_int_equal(store_suspension_flags(st, "alice", "", &acc, &mbox, &last), 0);
	assert_int_equal(acc, 0);
	assert_int_equal(last, NOW - 10);
}

/* Count the suspensions walked; remember the last id. */
static int
count_cb(void *arg, const struct suspension *sp)
{
	long long *n = arg;

	n[0]++;
	n[1] = sp->id;
	return 0;
}

/* The list has past and present ones; the last counted unblock skips no-count lifts. */
static void
test_suspension_list_and_last_unblock(void **state)
{
	struct store *st = store_test_st(state);
	long long n[2] = { 0, 0 }, at = -1;
	long long a = suspend(st, "alice", "account", NOW - 300, 0);

	assert_int_equal(store_last_unblock(st, "alice", &at), 0);
	assert_int_equal(at, 0);
	assert_int_equal(store_suspension_lift(st, a, NOW - 200, "alice", "fixed", "owner"), 0);
	a = suspend(st, "alice", "account", NOW - 150, 0);
	assert_int_equal(store_suspension_lift(st, a, NOW - 100, "root", "test",
	    "admin-nocount"), 0);
	suspend(st, "m@example.com", "mailbox", NOW - 90, 0);
	assert_int_equal(store_last_unblock(st, "alice", &at), 0);
	assert_int_equal(at, NOW - 200);
	assert_int_equal(store_suspension_list(st, "alice", count_cb, n), 0);
	assert_int_equal(n[0], 3);
	n[0] = 0;
	assert_int_equal(store_suspension_list(st, "bob", count_cb, n), 0);
	assert_int_equal(n[0], 0);
}

/* Pending eligibility notices: active account suspensions not yet marked, once each. */
static void
test_suspension_pending_eligible(void **state)
{
	struct store *st = store_test_st(state);
	long long n[2] = { 0, 0 };
	long long id = suspend(st, "alice", "account", NOW, 0);

	suspend(st, "m@example.com", "mailbox", NOW, 0);
	assert_int_equal(store_suspension_pending_eligible(st, count_cb, n), 0);
	assert_int_equal(n[0], 1);
	assert_int_equal(n[1], id);
	assert_int_equal(store_suspension_set_notified(st, id, NOW), 0);
	assert_int_equal(store_suspension_set_notified(st, id, NOW), 1);
	n[0] = 0;
	assert_int_equal(store_suspension_pending_eligible(st, count_cb, n), 0);
	assert_int_equal(n[0], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_suspension_active_and_lift,
		    store_test_setup, store_test_teardown),
		cmocka_unit_test_setup_teardown(test_suspension_flags, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_suspension_list_and_last_unblock,
		    store_test_setup, store_test_teardown),
		cmocka_unit_test_setup_teardown(test_suspension_pending_eligible,
		    store_test_setup, store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

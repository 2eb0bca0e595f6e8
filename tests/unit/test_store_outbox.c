/*
 * Unit tests of the store's notice outbox (store_outbox.c) on a
 * throwaway database: queue, due, claim with a lease, sent, retried,
 * given up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Queued notices are due; a claim reads one whole and leases it. */
static void
test_outbox_due_and_claim(void **state)
{
	struct store *st = store_test_st(state);
	struct notice nt;
	long long ids[4];
	size_t n = 99;

	assert_int_equal(store_outbox_insert(st, "alice", "suspended", "a@example.org",
	    "Subject: x\n\nbody\n", NOW - 20), 0);
	assert_int_equal(store_outbox_insert(st, "bob", "eligible", "b@example.org", "m",
	    NOW - 10), 0);
	assert_int_equal(store_outbox_due(st, NOW, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_outbox_due(st, NOW, "bob", ids, N(ids), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_due(st, NOW - 15, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 1);
	/* no more ids than the caller has room for */
	assert_int_equal(store_outbox_due(st, NOW, NULL, ids, 1, &n), 0);
	assert_int_equal(n, 1);

	memset(&nt, 0, sizeof nt);
	assert_int_equal(store_outbox_claim(st, ids[0], NOW, NOW + 60, &nt), 1);
	assert_int_equal(nt.id, ids[0]);
	assert_string_equal(nt.account, "alice");
	assert_string_equal(nt.kind, "suspended");
	assert_string_equal(nt.rcpt, "a@example.org");
	assert_string_equal(nt.message, "Subject: x\n\nbody\n");
	assert_int_equal(nt.attempts, 1);
	assert_int_equal(nt.created_at, NOW - 20);
	free(nt.message);
	/* leased: another run neither sees it due nor takes it */
	assert_int_equal(store_outbox_claim(st, ids[0], NOW, NOW + 60, &nt), 0);
	assert_int_equal(store_outbox_due(st, NOW, "alice", ids, N(ids), &n), 0);
	assert_int_equal(n, 0);
}

struct failed {
	int n;
	struct notice last;
};

/* Keep the last given-up notice walked. */
static int
failed_cb(void *arg, const struct notice *nt)
{
	struct failed *f = arg;

	f->n++;
	f->last = *nt;
	return 0;
}

/* Sent is done; failed is due again later; given up is listed and never due. */
static void
test_outbox_sent_failed_give_up(void **state)
{
	struct store *st = store_test_st(state);
	struct failed f;
	long long ids[4];
	size_t n;

	assert_int_equal(store_outbox_insert(st, "alice", "k1", "a@example.org", "1", NOW), 0);
	assert_int_equal(store_outbox_insert(st, "alice", "k2", "a@example.org", "2", NOW), 0);
	assert_int_equal(store_outbox_due(st, NOW, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_outbox_sent(st, ids[0], NOW), 0);
	assert_int_equal(store_outbox_failed(st, ids[1], "connection refused", NOW + 300), 0);
	assert_int_equal(store_outbox_due(st, NOW + 299, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_outbox_due(st, NOW + 300, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_give_up(st, ids[0], "too many failures", NOW + 400), 1);
	assert_int_equal(store_outbox_give_up(st, ids[0], "again", NOW + 500), 0);
	assert_int_equal(store_outbox_due(st, NOW + 1000, NULL, ids, N(ids), &n), 0);
	assert_int_equal(n, 0);
	memset(&f, 0, sizeof f);
	assert_int_equal(store_outbox_failed_list(st, "alice", failed_cb, &f), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.last.kind, "k2");
	assert_string_equal(f.last.error, "too many failures");
	assert_int_equal(f.last.failed_at, NOW + 400);
	assert_null(f.last.message);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outbox_due_and_claim, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_outbox_sent_failed_give_up, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

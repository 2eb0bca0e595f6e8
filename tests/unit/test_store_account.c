/*
 * Unit tests of the store's accounts and domains (store_account.c) on
 * a throwaway database: the hot-path lookups, one account, the lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* The hot-path lookups find what sync stored, and nothing else. */
static void
test_account_lookups(void **state)
{
	struct store *st = store_test_st(state);
	char owner[64];

	store_test_accounts(st);
	assert_int_equal(store_domain_owner(st, "shop.example.com", owner, sizeof owner), 1);
	assert_string_equal(owner, "alice");
	assert_int_equal(store_domain_owner(st, "example.net", owner, sizeof owner), 1);
	assert_string_equal(owner, "bob");
	assert_int_equal(store_domain_owner(st, "example.org", owner, sizeof owner), 0);
	/* a buffer too short gets a cut, terminated name */
	assert_int_equal(store_domain_owner(st, "example.com", owner, 3), 1);
	assert_string_equal(owner, "al");
	assert_int_equal(store_account_exists(st, "alice"), 1);
	assert_int_equal(store_account_exists(st, "carol"), 0);
	assert_int_equal(store_local_domain(st, "example.com"), 1);
	assert_int_equal(store_local_domain(st, "example.net"), 0);
}

/* One account's row, every field. */
static void
test_account_get(void **state)
{
	struct store *st = store_test_st(state);
	struct account a;

	store_test_accounts(st);
	assert_int_equal(store_account_get(st, "alice", &a), 1);
	assert_string_equal(a.name, "alice");
	assert_string_equal(a.owner, "reseller");
	assert_string_equal(a.contact, "alice@example.org");
	assert_string_equal(a.main_domain, "example.com");
	assert_int_equal(a.present, 1);
	assert_int_equal(a.created_at, NOW - DAY);
	assert_int_equal(a.updated_at, NOW - DAY);
	assert_int_equal(store_account_get(st, "carol", &a), 0);
}

struct names {
	char list[256];
	int suspended;
};

/* Collect account names ("alice,bob,") and count the suspended ones. */
static int
names_cb(void *arg, const struct account *a, int suspended)
{
	struct names *n = arg;

	strncat(n->list, a->name, sizeof n->list - strlen(n->list) - 2);
	strcat(n->list, ",");
	n->suspended += suspended;
	return 0;
}

/* The account list, whole and by state; removed accounts once sync drops them. */
static void
test_account_list_states(void **state)
{
	struct store *st = store_test_st(state);
	struct suspension sp = { .target = "bob", .account = "bob", .kind = "account",
	    .reason = "spam", .source = "admin", .created_by = "root", .created_at = NOW };
	struct names n;

	store_test_accounts(st);
	assert_int_equal(store_suspension_insert(st, &sp), 0);
	memset(&n, 0, sizeof n);
	assert_int_equal(store_account_list(st, NULL, names_cb, &n), 0);
	assert_string_equal(n.list, "alice,bob,");
	assert_int_equal(n.suspended, 1);
	memset(&n, 0, sizeof n);
	assert_int_equal(store_account_list(st, "suspended", names_cb, &n), 0);
	assert_string_equal(n.list, "bob,");
	memset(&n, 0, sizeof n);
	assert_int_equal(store_account_list(st, "active", names_cb, &n), 0);
	assert_string_equal(n.list, "alice,");
	memset(&n, 0, sizeof n);
	assert_int_equal(store_account_list(st, "removed", names_cb, &n), 0);
	assert_string_equal(n.list, "");
}

/* Stop after the first account: the callback's non-zero ends the walk. */
static int
first_cb(void *arg, const struct account *a, int suspended)
{
	(void)suspended;
	snprintf(arg, 64, "%s", a->name);
	return 1;
}

static void
test_account_list_stops(void **state)
{
	struct store *st = store_test_st(state);
	char first[64] = "";

	store_test_accounts(st);
	assert_int_equal(store_account_list(st, NULL, first_cb, first), 0);
	assert_string_equal(first, "alice");
	/* the statement was reset: it runs again from the start */
	first[0] = '\0';
	assert_int_equal(store_account_list(st, NULL, first_cb, first), 0);
	assert_string_equal(first, "alice");
}

/* Collect "domain:kind," of an account's domains. */
static int
domains_cb(void *arg, const char *domain, const char *kind)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 256 - strlen(buf), "%s:%s,", domain, kind);
	return 0;
}

/* An account's domains, the main one first, with the kinds sync worked out. */
static void
test_account_domains(void **state)
{
	struct store *st = store_test_st(state);
	char buf[256] = "";

	store_test_accounts(st);
	assert_int_equal(store_account_domains(st, "alice", domains_cb, buf), 0);
	assert_string_equal(buf, "example.com:main,shop.example.com:sub,");
	buf[0] = '\0';
	assert_int_equal(store_account_domains(st, "carol", domains_cb, buf), 0);
	assert_string_equal(buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_account_lookups, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_account_get, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_account_list_states, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_account_list_stops, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_account_domains, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the store's side of sync (store_sync.c) on a throwaway
 * database: what is reported and applied, for the whole store and for
 * one account, the guard's counts, the losses of suspended accounts,
 * and renames followed by cPanel's UUIDs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>

#include "store_test.h"

/* Collect "what:name:old>new;" of each change reported. */
static int
report_cb(void *arg, enum sync_change what, const char *name, const char *old_value,
    const char *new_value)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 1024 - strlen(buf), "%d:%s:%s>%s;", (int)what, name,
	    old_value, new_value);
	return 0;
}

/* A second sync: alice changes contact, loses shop, bob is gone, carol comes. */
static void
stage_second(struct store *st)
{
	assert_int_equal(store_sync_stage_begin(st), 0);
	assert_int_equal(store_sync_stage_account(st, "alice", "reseller", "new@example.org",
	    "example.com"), 0);
	assert_int_equal(store_sync_stage_account(st, "carol", "", "", "example.info"), 0);
	assert_int_equal(store_sync_stage_domain(st, "example.com", "alice", "addon"), 0);
	assert_int_equal(store_sync_stage_domain(st, "example.info", "carol", "addon"), 0);
	assert_int_equal(store_sync_stage_local(st, "example.info"), 0);
}

/* Every kind of change is reported, then applied. */
static void
test_sync_apply(void **state)
{
	struct store *st = store_test_st(state);
	char buf[1024] = "", owner[64];
	struct account a;

	store_test_accounts(st);
	assert_int_equal(store_begin(st), 0);
	stage_second(st);
	assert_int_equal(store_sync_apply(st, NOW, NULL, report_cb, buf), 0);
	assert_int_equal(store_commit(st), 0);
	assert_string_equal(buf,
	    "0:carol:>;"
	    "1:alice:owner=reseller contact=alice@example.org main=example.com>"
	    "owner=reseller contact=new@example.org main=example.com;"
	    "2:bob:>;"
	    "3:example.info:>carol (main);"
	    "5:example.net:bob (main)>;"
	    "5:shop.example.com:alice (sub)>;"
	    "6:example.info:>;"
	    "7:example.com:>;");
	assert_int_equal(store_account_get(st, "alice", &a), 1);
	assert_string_equal(a.contact, "new@example.org");
	assert_int_equal(a.updated_at, NOW);
	assert_int_equal(store_account_exists(st, "bob"), 0);
	assert_int_equal(store_account_get(st, "bob", &a), 1);
	assert_int_equal(a.present, 0);
	assert_int_equal(store_domain_owner(st, "example.info", owner, sizeof owner), 1);
	assert_int_equal(store_domain_owner(st, "shop.example.com", owner, sizeof owner), 0);
	assert_int_equal(store_local_domain(st, "example.com"), 0);
	assert_int_equal(store_local_domain(st, "example.info"), 1);
}

/* sync --account: only that account's slice changes. */
static void
test_sync_apply_one_account(void **state)
{
	struct store *st = store_test_st(state);
	char buf[1024] = "";

	store_test_accounts(st);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_sync_stage_begin(st), 0);
	assert_int_equal(store_sync_stage_account(st, "alice", "reseller", "alice@example.org",
	    "example.com"), 0);
	assert_int_equal(store_sync_stage_domain(st, "example.com", "alice", "addon"), 0);
	assert_int_equal(store_sync_stage_scope(st, "example.com"), 0);
	assert_int_equal(store_sync_stage_scope(st, "shop.example.com"), 0);
	assert_int_equal(store_sync_apply(st, NOW, "alice", report_cb, buf), 0);
	assert_int_equal(store_commit(st), 0);
	/* shop is gone, example.com no longer local; bob, not staged, stays */
	assert_non_null(strstr(buf, "5:shop.example.com:alice (sub)>;"));
	assert_non_null(strstr(buf, "7:example.com:>;"));
	assert_null(strstr(buf, "bob"));
	assert_int_equal(store_account_exists(st, "bob"), 1);
	assert_int_equal(store_local_domain(st, "example.com"), 0);
}

/* Collect "account:domain:domains:staying;" of each domain lost. */
static int
loss_cb(void *arg, const char *account, const char *domain, long long account_domains,
    int staying)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 256 - strlen(buf), "%s:%s:%lld:%d;", account, domain,
	    account_domains, staying);
	return 0;
}

/* The guard's and the counts' figures, and each domain a suspended account would lose. */
static void
test_sync_guard_counts_losses(void **state)
{
	struct store *st = store_test_st(state);
	struct suspension sp = { .target = "alice", .account = "alice", .kind = "account",
	    .reason = "spam", .source = "admin", .created_by = "root", .created_at = NOW };
	struct sync_guard g;
	long long present, removed, staged;
	char buf[256] = "";

	store_test_accounts(st);
	assert_int_equal(store_suspension_insert(st, &sp), 0);
	assert_int_equal(store_begin(st), 0);
	stage_second(st);
	assert_int_equal(store_sync_counts(st, &present, &removed, &staged), 0);
	assert_int_equal(present, 2);
	assert_int_equal(removed, 1);
	assert_int_equal(staged, 2);
	assert_int_equal(store_sync_guard(st, &g), 0);
	assert_int_equal(g.domains, 3);
	assert_int_equal(g.domains_removed, 2);
	assert_int_equal(g.domains_staged, 2);
	assert_int_equal(g.owned, 1);
	assert_int_equal(g.owners_lost, 0);
	assert_int_equal(store_sync_suspended_losses(st, NULL, loss_cb, buf), 0);
	assert_string_equal(buf, "alice:shop.example.com:2:1;");
	buf[0] = '\0';
	assert_int_equal(store_sync_suspended_losses(st, "bob", loss_cb, buf), 0);
	assert_string_equal(buf, "");
	buf[0] = '\0';
	assert_int_equal(store_sync_suspended_losses(st, "alice", loss_cb, buf), 0);
	assert_string_equal(buf, "alice:shop.example.com:2:1;");
	store_rollback(st);
}

/* Count the limits walked. */
static int
limit_count_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	(void)detector;
	(void)value;
	(void)action;
	(void)set_at;
	(void)set_by;
	(*(long long *)arg)++;
	return 0;
}

/* A rename followed by UUID moves the record; a reused name keeps the old one aside. */
static void
test_sync_renames(void **state)
{
	struct store *st = store_test_st(state);
	char buf[1024] = "";
	long long n[1] = { 0 };
	struct account a;

	store_test_accounts(st);
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_sync_stage_begin(st), 0);
	assert_int_equal(store_sync_stage_account(st, "alice", "", "", "example.com"), 0);
	assert_int_equal(store_sync_stage_account(st, "bob", "", "", "example.net"), 0);
	assert_int_equal(store_sync_stage_uuid(st, "alice", "uuid-a"), 0);
	assert_int_equal(store_sync_stage_uuid(st, "bob", "uuid-b"), 0);
	assert_int_equal(store_sync_renames(st, NOW, report_cb, buf), 0);
	assert_int_equal(store_sync_apply(st, NOW, NULL, store_test_sync_cb, NULL), 0);
	assert_int_equal(store_commit(st), 0);
	assert_string_equal(buf, "");
	assert_int_equal(store_limit_set(st, "alice", "rate", 5, "hold", NOW, "root"), 0);

	/* alice is now called alicia; bob's name went to an account with another UUID */
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_sync_stage_begin(st), 0);
	assert_int_equal(store_sync_stage_account(st, "alicia", "", "", "example.com"), 0);
	assert_int_equal(store_sync_stage_account(st, "bob", "", "", "example.net"), 0);
	assert_int_equal(store_sync_stage_uuid(st, "alicia", "uuid-a"), 0);
	assert_int_equal(store_sync_stage_uuid(st, "bob", "uuid-new"), 0);
	assert_int_equal(store_sync_renames(st, NOW, report_cb, buf), 0);
	assert_int_equal(store_commit(st), 0);
	assert_string_equal(buf, "9:bob:bob.removed-1800000000>;8:alicia:alice>uuid-a;");
	assert_int_equal(store_account_get(st, "alice", &a), 0);
	assert_int_equal(store_account_get(st, "bob.removed-1800000000", &a), 1);
	assert_int_equal(a.present, 0);
	assert_int_equal(store_account_get(st, "bob", &a), 0);
	/* the record went with the name */
	assert_int_equal(store_limits_get(st, "alicia", limit_count_cb, n), 0);
	assert_int_equal(n[0], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_apply, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_sync_apply_one_account, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_sync_guard_counts_losses, store_test_setup,
		    store_test_teardown),
		cmocka_unit_test_setup_teardown(test_sync_renames, store_test_setup,
		    store_test_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for decision.c (the verdict on a message from its facts,
 * the reply texts, the detectors' view of a message) and for view.c's
 * lookups on a view filled by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "decision.h"
#include "store.h"
#include "store_view.h"
#include "view.h"

static struct identity
ident(enum identity_kind kind, enum identity_how how)
{
	struct identity id;

	memset(&id, 0, sizeof id);
	id.kind = kind;
	id.how = how;
	snprintf(id.account, sizeof id.account, "bob");
	if (kind == IDENTITY_MAILBOX)
		snprintf(id.mailbox, sizeof id.mailbox, "info@example.com");
	return id;
}

static void
facts(struct decision_facts *f, const struct identity *id, int whole)
{
	memset(f, 0, sizeof *f);
	f->id = id;
	f->whole = whole;
}

/* An RCPT that passes is not recorded; one under a suspension being written defers. */
static void
test_rcpt(void **state)
{
	struct identity id = ident(IDENTITY_MAILBOX, HOW_AUTH_MAILBOX);
	struct decision_facts f;
	struct decision d;

	(void)state;
	facts(&f, &id, 0);
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_PASS);
	assert_false(d.record);
	assert_false(d.count);
	f.pending = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DEFER);
	assert_string_equal(d.text, "4.7.1 Outgoing mail of account bob is being suspended");
	assert_false(d.record);
	f.pending = 0;
	f.policy.account_suspended = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_REFUSE);
	assert_true(d.record);
	assert_true(d.log_refusal);
	assert_string_equal(d.why, "account-suspended");
	assert_false(d.count);
}

/* A whole message: counted when it passes; each detector action its verdict and text. */
static void
test_whole(void **state)
{
	struct identity id = ident(IDENTITY_ACCOUNT, HOW_AUTH_USER);
	struct detect_trip trip;
	struct decision_facts f;
	struct decision d;

	(void)state;
	facts(&f, &id, 1);
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_PASS);
	assert_true(d.record);
	assert_true(d.count);
	memset(&trip, 0, sizeof trip);
	f.tripped = 1;
	f.trip = &trip;
	f.why = "over 10 messages";
	trip.action = ACTION_HOLD;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_HOLD);
	assert_string_equal(d.text, "held for review: over 10 messages");
	assert_true(d.count);
	trip.action = ACTION_DEFER;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DEFER);
	assert_string_equal(d.text, "4.7.1 Sending limit reached, try again later: over 10 messages");
	assert_false(d.count);
	assert_false(d.suspend);
	trip.action = ACTION_SUSPEND;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DEFER);
	assert_string_equal(d.text,
	    "4.7.1 Outgoing mail of account bob is being suspended: over 10 messages");
	assert_true(d.suspend);
	assert_string_equal(d.why, "over 10 messages");
	/* a suspension under way comes before the detectors */
	f.pending = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_DEFER);
	assert_false(d.suspend);
	assert_string_equal(d.why, "suspension under way");
}

/* policy.web_action = hold: a refused whole message named by X-PHP-Script is held. */
static void
test_web_hold(void **state)
{
	struct identity id = ident(IDENTITY_ACCOUNT, HOW_WEB_SCRIPT);
	struct decision_facts f;
	struct decision d;

	(void)state;
	facts(&f, &id, 1);
	f.policy.account_suspended = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_REFUSE);
	f.web_hold = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_HOLD);
	assert_non_null(strstr(d.text, "(named by X-PHP-Script)"));
	assert_true(d.record);
	/* not at RCPT, and not for another way of naming the account */
	facts(&f, &id, 0);
	f.policy.account_suspended = 1;
	f.web_hold = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_REFUSE);
}

/* Nobody's mail: the verdict only, nothing recorded or counted. */
static void
test_not_ours(void **state)
{
	struct identity id = ident(IDENTITY_UNKNOWN, HOW_NONE);
	struct decision_facts f;
	struct decision d;

	(void)state;
	facts(&f, &id, 1);
	f.pending = 1;
	decision_take(&f, &d);
	assert_int_equal(d.verdict, VERDICT_PASS);
	assert_false(d.record);
	assert_false(d.count);
}

static void
test_names(void **state)
{
	char key[64];
	struct detect_msg m;
	struct decision_detect_in in;

	(void)state;
	assert_int_equal(decision_source_from_name("script"), SOURCE_SCRIPT);
	assert_int_equal(decision_source_from_name(""), SOURCE_NONE);
	assert_string_equal(decision_source_name(SOURCE_LOOPBACK), "loopback");
	assert_int_equal(decision_outcome_from_event("msg:rcpt:defer"), OUTCOME_DEFERRED);
	assert_int_equal(decision_outcome_from_event("msg:fail:internal"), OUTCOME_BOUNCED);
	assert_int_equal(decision_outcome_from_event("msg:host:defer"), OUTCOME_NONE);
	assert_string_equal(identity_how_name(HOW_LOOPBACK_UID), "loopback-uid");
	memset(&in, 0, sizeof in);
	in.account = "bob";
	in.kind = SOURCE_SCRIPT;
	in.source = "contact.php";
	in.uid = 1001;
	in.ip = "";
	decision_detect_msg(&in, &m, key, sizeof key);
	assert_string_equal(m.script, "uid 1001");
	assert_string_equal(m.mailbox, "");
	in.kind = SOURCE_MAILBOX;
	in.source = "info@example.com";
	in.ip = "192.0.2.1";
	in.host_new = 1;
	decision_detect_msg(&in, &m, key, sizeof key);
	assert_string_equal(m.script, "");
	assert_string_equal(m.mailbox, "info@example.com");
	assert_true(m.host != 0 && m.host_new);
}

/* The view filled by hand: every lookup, a removal, limits over the configuration's. */
static void
test_view(void **state)
{
	struct view *v = view_new();
	struct detect_limits lim;
	char acc[64], name[64];

	(void)state;
	assert_non_null(v);
	assert_int_equal(view_account_set(v, "bob", 1), 0);
	assert_int_equal(view_domain_set(v, "example.com", "bob"), 0);
	assert_int_equal(view_domain_set(v, "gone.test", "carol"), 0);
	assert_int_equal(view_local_set(v, "example.com", 1), 0);
	assert_int_equal(view_target_set(v, "info@example.com", 1), 0);
	assert_int_equal(view_last_change_set(v, "bob", 1234), 0);
	assert_int_equal(view_domain_owner(v, "example.com", acc, sizeof acc), 1);
	assert_string_equal(acc, "bob");
	assert_int_equal(view_domain_owner(v, "EXAMPLE.com", acc, sizeof acc), 0);
	/* a domain's account need not be a present account */
	assert_int_equal(view_domain_owner(v, "gone.test", acc, sizeof acc), 1);
	assert_false(view_account_exists(v, "carol"));
	assert_true(view_account_exists(v, "bob"));
	assert_true(view_local_domain(v, "example.com"));
	assert_false(view_local_domain(v, "remote.test"));
	assert_true(view_target_suspended(v, "info@example.com"));
	assert_false(view_target_suspended(v, "bob"));
	assert_false(view_target_suspended(v, ""));
	assert_int_equal(view_last_change(v, "bob"), 1234);
	assert_int_equal(view_last_change(v, "nobody"), 0);
	assert_int_equal(view_target_set(v, "info@example.com", 0), 0);
	assert_false(view_target_suspended(v, "info@example.com"));
	assert_int_equal(view_domain_set(v, "example.com", NULL), 0);
	assert_int_equal(view_domain_owner(v, "example.com", acc, sizeof acc), 0);
	memset(&lim, 0, sizeof lim);
	lim.l[DET_ACCOUNT_MESSAGES].value = 100;
	assert_int_equal(view_limit_set(v, "bob", detect_name(DET_ACCOUNT_MESSAGES), "suspend",
	    5), 0);
	view_limits_apply(v, "bob", &lim);
	assert_int_equal(lim.l[DET_ACCOUNT_MESSAGES].value, 5);
	assert_int_equal(lim.l[DET_ACCOUNT_MESSAGES].action, ACTION_SUSPEND);
	view_limits_clear(v, "bob");
	lim.l[DET_ACCOUNT_MESSAGES].value = 100;
	view_limits_apply(v, "bob", &lim);
	assert_int_equal(lim.l[DET_ACCOUNT_MESSAGES].value, 100);
	/* many keys: the maps grow, removals leave no key behind */
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "d%d.test", i);
		assert_int_equal(view_domain_set(v, name, i % 2 ? "bob" : "carol"), 0);
	}
	for (int i = 0; i < 20000; i += 2) {
		snprintf(name, sizeof name, "d%d.test", i);
		assert_int_equal(view_domain_set(v, name, NULL), 0);
	}
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof name, "d%d.test", i);
		assert_int_equal(view_domain_owner(v, name, acc, sizeof acc), i % 2);
	}
	view_clear(v);
	assert_false(view_account_exists(v, "bob"));
	view_free(v);
}

/* SQL on a second connection, as mailabusectl or sqlite3 would write it. */
static void
sql(const char *path, const char *text)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", text, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/*
 * The view on a throwaway database: loaded whole, then kept in step by
 * migration 7's change log (each table's triggers), and read whole again
 * when the log lost entries it had not seen.
 */
static void
test_view_store(void **state)
{
	char dir[] = "/tmp/mailabuse-view.XXXXXX", path[128], err[256], acc[64];
	struct store_view *sv;
	struct detect_limits lim;
	struct store *st;
	struct view *v;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/db", dir);
	assert_non_null(st = store_open(path, 5000, err, sizeof err));
	assert_non_null(sv = store_view_open(st, err, sizeof err));
	assert_non_null(v = view_new());
	sql(path, "INSERT INTO accounts (name, created_at, updated_at) VALUES ('bob', 1, 1);"
	    "INSERT INTO domains VALUES ('example.com', 'bob', 'main');"
	    "INSERT INTO local_domains VALUES ('example.com');"
	    "INSERT INTO suspensions (target, account, kind, reason, source, created_by,"
	    " created_at) VALUES ('info@example.com', 'bob', 'mailbox', 'r', 's', 't', 10);");
	assert_int_equal(view_refresh(v, sv, 0, err, sizeof err), 0);
	assert_int_equal(view_domain_owner(v, "example.com", acc, sizeof acc), 1);
	assert_string_equal(acc, "bob");
	assert_true(view_account_exists(v, "bob"));
	assert_true(view_local_domain(v, "example.com"));
	assert_true(view_target_suspended(v, "info@example.com"));
	/* changes after the load: applied from the log */
	sql(path, "INSERT INTO suspensions (target, account, kind, reason, source, created_by,"
	    " created_at) VALUES ('bob', 'bob', 'account', 'r', 's', 't', 20);"
	    "UPDATE suspensions SET lifted_at = 30 WHERE target = 'info@example.com';"
	    "INSERT INTO domains VALUES ('shop.test', 'bob', 'addon');"
	    "DELETE FROM local_domains;"
	    "UPDATE accounts SET present = 0 WHERE name = 'bob';"
	    "INSERT INTO limits VALUES ('bob', 'account_messages', 7, 'hold', 1, 'me');");
	assert_int_equal(view_refresh(v, sv, 1, err, sizeof err), 0);
	assert_true(view_target_suspended(v, "bob"));
	assert_false(view_target_suspended(v, "info@example.com"));
	assert_int_equal(view_last_change(v, "bob"), 20);
	assert_int_equal(view_domain_owner(v, "shop.test", acc, sizeof acc), 1);
	assert_false(view_local_domain(v, "example.com"));
	assert_int_equal(view_domain_owner(v, "example.com", acc, sizeof acc), 1);
	assert_false(view_account_exists(v, "bob"));
	memset(&lim, 0, sizeof lim);
	view_limits_apply(v, "bob", &lim);
	assert_int_equal(lim.l[DET_ACCOUNT_MESSAGES].value, 7);
	assert_int_equal(lim.l[DET_ACCOUNT_MESSAGES].action, ACTION_HOLD);
	/* entries lost before the view saw them: read whole again */
	sql(path, "UPDATE suspensions SET lifted_at = 40 WHERE target = 'bob';"
	    "DELETE FROM domains WHERE domain = 'shop.test';"
	    "DELETE FROM view_changes WHERE id < (SELECT max(id) FROM view_changes);");
	assert_int_equal(view_refresh(v, sv, 1, err, sizeof err), 0);
	assert_false(view_target_suspended(v, "bob"));
	assert_int_equal(view_last_change(v, "bob"), 40);
	assert_int_equal(view_domain_owner(v, "shop.test", acc, sizeof acc), 0);
	/* the log gone: the refresh fails and the view says it is stale */
	sql(path, "ALTER TABLE view_changes RENAME TO away;");
	assert_int_equal(view_refresh(v, sv, 1, err, sizeof err), -1);
	assert_false(view_ok(v));
	view_free(v);
	store_view_close(sv);
	store_close(st);
	snprintf(err, sizeof err, "rm -rf %s", dir);
	assert_int_equal(system(err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_web_hold),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_view_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

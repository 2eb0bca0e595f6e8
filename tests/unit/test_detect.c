/*
 * Unit tests for detect.c: the sliding hour and each detector at its
 * boundaries (the limit exactly, one over, a window sliding past an hour),
 * with the clock passed in.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "detect.h"

/* A time on a bucket boundary, so that the window's edge is exact. */
#define N(a) (sizeof (a) / sizeof (a)[0])
#define T0 (1796000000LL - 1796000000LL % DETECT_BUCKET_SECONDS)

static struct detect_limits
limits_off(void)
{
	struct detect_limits lim;

	memset(&lim, 0, sizeof lim);
	lim.bounce_min = 1;
	return lim;
}

static struct detect_msg
msg(const char *account, const char *mailbox, const char *script, unsigned long ext)
{
	struct detect_msg m;

	memset(&m, 0, sizeof m);
	m.account = account;
	m.mailbox = mailbox;
	m.script = script;
	m.n_external = ext;
	return m;
}

static void
test_window_slides_past_the_hour(void **state)
{
	struct detect_window w = { { 0 }, -1 };

	(void)state;
	detect_window_add(&w, T0, 3);
	assert_int_equal(detect_window_sum(&w, T0), 3);
	assert_int_equal(detect_window_sum(&w, T0 + 3599), 3);
	assert_int_equal(detect_window_sum(&w, T0 + 3600), 0);
	/* a later count drops the old buckets */
	detect_window_add(&w, T0 + 1800, 2);
	assert_int_equal(detect_window_sum(&w, T0 + 1800), 5);
	assert_int_equal(detect_window_sum(&w, T0 + 3600), 2);
	assert_int_equal(detect_window_sum(&w, T0 + 1800 + 3600), 0);
	/* a count far later than the window starts it afresh */
	detect_window_add(&w, T0 + 10 * 3600, 1);
	assert_int_equal(detect_window_sum(&w, T0 + 10 * 3600), 1);
	/* a count older than the window is not counted */
	detect_window_add(&w, T0, 7);
	assert_int_equal(detect_window_sum(&w, T0 + 10 * 3600), 1);
}

static void
test_account_messages_limit_exactly_and_one_over(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "", "", 1);
	struct detect_trip t;

	(void)state;
	lim.l[DET_ACCOUNT_MESSAGES].value = 3;
	lim.l[DET_ACCOUNT_MESSAGES].action = ACTION_DEFER;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(detect_check(d, &m, &lim, T0 + i, &t), 0);	/* 1..3: at most the limit */
		detect_count(d, &m, &lim, T0 + i);
	}
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3, &t), 1);		/* the 4th: one over */
	assert_int_equal(t.det, DET_ACCOUNT_MESSAGES);
	assert_int_equal(t.action, ACTION_DEFER);
	assert_int_equal(t.count, 4);
	assert_int_equal(t.limit, 3);
	assert_string_equal(t.what, "bob");
	/* another account is not affected */
	m.account = "alice";
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3, &t), 0);
	m.account = "bob";
	/* an hour later the window has slid past them */
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3599, &t), 1);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3600, &t), 0);
	detect_free(d);
}

static void
test_rcpts_count_external_recipients(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "info@example.com", "", 4);
	struct detect_trip t;

	(void)state;
	lim.l[DET_MAILBOX_RCPTS].value = 10;
	lim.l[DET_MAILBOX_RCPTS].action = ACTION_HOLD;
	detect_count(d, &m, &lim, T0);
	detect_count(d, &m, &lim, T0);		/* 8 so far */
	m.n_external = 2;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);	/* 10: the limit */
	m.n_external = 3;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);	/* 11 */
	assert_int_equal(t.det, DET_MAILBOX_RCPTS);
	assert_int_equal(t.action, ACTION_HOLD);
	assert_int_equal(t.count, 11);
	/* only local recipients: nothing external to count */
	m.n_external = 0;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	/* the same mailbox name counts per mailbox, not for a sibling */
	m.mailbox = "sales@example.com";
	m.n_external = 3;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	detect_free(d);
}

static void
test_new_hosts_distinct(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "info@example.com", "", 1);
	struct detect_trip t;
	char ip[32];

	(void)state;
	lim.l[DET_MAILBOX_NEW_HOSTS].value = 3;
	lim.l[DET_MAILBOX_NEW_HOSTS].action = ACTION_SUSPEND;
	m.host_new = 1;
	for (int i = 1; i <= 3; i++) {
		snprintf(ip, sizeof ip, "203.0.113.%d", i);
		m.host = detect_hash(ip);
		assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
		detect_count(d, &m, &lim, T0);
		detect_count(d, &m, &lim, T0);	/* the same host twice counts once */
	}
	/* a host seen before is not new, whatever its count */
	m.host_new = 0;
	m.host = detect_hash("198.51.100.1");
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	/* one of the three again: still three */
	m.host_new = 1;
	m.host = detect_hash("203.0.113.2");
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	/* a fourth new host: over */
	m.host = detect_hash("203.0.113.4");
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);
	assert_int_equal(t.det, DET_MAILBOX_NEW_HOSTS);
	assert_int_equal(t.action, ACTION_SUSPEND);
	assert_int_equal(t.count, 4);
	/* an hour later the first three have left the window */
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3600, &t), 0);
	detect_free(d);
}

static void
test_script_distinct_recipients(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "", "example.com/contact.php", 2);
	struct detect_trip t;
	uint64_t h[3];

	(void)state;
	lim.l[DET_SCRIPT_RCPTS].value = 4;
	lim.l[DET_SCRIPT_RCPTS].action = ACTION_HOLD;
	h[0] = detect_hash("a@x.test");
	h[1] = detect_hash("b@x.test");
	m.rcpt_hashes = h;
	m.n_rcpt_hashes = 2;
	detect_count(d, &m, &lim, T0);
	detect_count(d, &m, &lim, T0);		/* the same two again: still 2 */
	h[0] = detect_hash("c@x.test");
	h[1] = detect_hash("d@x.test");
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);	/* 4: the limit */
	detect_count(d, &m, &lim, T0);
	h[2] = detect_hash("e@x.test");
	m.rcpt_hashes = &h[2];
	m.n_rcpt_hashes = 1;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);	/* 5 */
	assert_int_equal(t.det, DET_SCRIPT_RCPTS);
	assert_int_equal(t.count, 5);
	assert_string_equal(t.what, "example.com/contact.php");
	m.label = "www.example.com/contact.php";
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);
	assert_string_equal(t.what, "www.example.com/contact.php");	/* named by its label */
	m.label = NULL;
	/* an old recipient again is not a new one */
	m.rcpt_hashes = h;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	/* another script of the account has its own count */
	m.script = "example.com/other.php";
	m.rcpt_hashes = &h[2];
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	detect_free(d);
}

static void
test_bounce_rate_needs_its_minimum(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "", "", 1);
	struct detect_trip t;

	(void)state;
	lim.l[DET_BOUNCE].value = 50;
	lim.l[DET_BOUNCE].action = ACTION_DEFER;
	lim.bounce_min = 4;
	detect_outcome(d, "bob", 1, 0, T0, T0);
	detect_outcome(d, "bob", 1, 0, T0, T0);
	detect_outcome(d, "bob", 1, 0, T0, T0);
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);	/* 3 < min */
	detect_outcome(d, "bob", 0, 0, T0, T0);
	detect_outcome(d, "bob", 0, 0, T0, T0);
	detect_outcome(d, "bob", 0, 0, T0, T0);
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);	/* 50%: the limit */
	detect_outcome(d, "bob", 1, 0, T0, T0);
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);	/* 4 of 7: 57% */
	assert_int_equal(t.det, DET_BOUNCE);
	assert_int_equal(t.count, 57);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 3600, &t), 0);
	detect_free(d);
}

/* Exim reports a deferral at every try: one (message, recipient) counts once. */
static void
test_deferral_counts_once_and_suspension_resets(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "", "", 1);
	struct detect_trip t;
	uint64_t k = detect_hash("1xXzgt-00024g-1x\na@x.test");

	(void)state;
	lim.l[DET_BOUNCE].value = 50;
	lim.l[DET_BOUNCE].action = ACTION_HOLD;
	lim.bounce_min = 2;
	assert_int_equal(detect_outcome(d, "bob", 0, 0, T0, T0), 1);
	assert_int_equal(detect_outcome(d, "bob", 1, k, T0, T0), 1);
	for (int i = 1; i <= 5; i++)	/* the retries */
		assert_int_equal(detect_outcome(d, "bob", 1, k, T0, T0 + i * 60), -1);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 400, &t), 0);	/* 1 of 2: 50% */
	/* suspended and lifted at T0 + 500: what came before no longer counts */
	assert_int_equal(detect_outcome(d, "bob", 1, 0, T0, T0 + 450), 1);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 460, &t), 1);	/* 2 of 3 */
	detect_reset_before(d, "bob", T0 + 500);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 510, &t), 0);
	/* the old spam still queued bounces: not counted; new mail's outcomes are */
	assert_int_equal(detect_outcome(d, "bob", 1, 0, T0 + 100, T0 + 600), 0);
	assert_int_equal(detect_outcome(d, "bob", 1, 0, T0 + 550, T0 + 600), 1);
	/* the same reset again changes nothing */
	detect_reset_before(d, "bob", T0 + 500);
	assert_int_equal(detect_outcome(d, "bob", 0, 0, T0 + 550, T0 + 600), 1);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 610, &t), 0);	/* 1 of 2 */
	/* the reset is remembered past the hour, for mail Exim retries for days */
	assert_int_equal(detect_expire(d, T0 + 2 * 86400), 0);
	assert_int_equal(detect_outcome(d, "bob", 1, 0, T0 + 100, T0 + 2 * 86400), 0);
	detect_free(d);
}

static void
test_most_severe_action_wins_and_forget(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "info@example.com", "", 5);
	struct detect_trip t;
	char text[256];

	(void)state;
	lim.l[DET_ACCOUNT_MESSAGES].value = 1;
	lim.l[DET_ACCOUNT_MESSAGES].action = ACTION_HOLD;
	lim.l[DET_ACCOUNT_RCPTS].value = 1;
	lim.l[DET_ACCOUNT_RCPTS].action = ACTION_SUSPEND;
	lim.l[DET_MAILBOX_MESSAGES].value = 1;
	lim.l[DET_MAILBOX_MESSAGES].action = ACTION_DEFER;
	detect_count(d, &m, &lim, T0);
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);
	assert_int_equal(t.action, ACTION_SUSPEND);
	assert_int_equal(t.det, DET_ACCOUNT_RCPTS);
	detect_trip_text(&t, text, sizeof text);
	assert_string_equal(text, "account_rcpts: bob, 10 external recipients in the last hour"
	    " (limit 1)");
	lim.l[DET_ACCOUNT_RCPTS].value = 0;
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);
	assert_int_equal(t.action, ACTION_DEFER);
	assert_true(detect_size(d) > 0);
	detect_forget(d, "bob");
	assert_int_equal(detect_size(d), 0);
	assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	detect_free(d);
}

static void
test_expire_frees_idle_entries(void **state)
{
	struct detect *d = detect_new();
	struct detect_msg m = msg("bob", "info@example.com", "s.php", 1);
	struct detect_limits lim = limits_off();
	uint64_t h = detect_hash("a@x.test");

	(void)state;
	lim.l[DET_MAILBOX_MESSAGES].value = 10;
	lim.l[DET_SCRIPT_RCPTS].value = 10;
	m.rcpt_hashes = &h;
	m.n_rcpt_hashes = 1;
	detect_count(d, &m, &lim, T0);
	assert_int_equal(detect_size(d), 3);
	assert_int_equal(detect_expire(d, T0 + 3600), 0);
	assert_int_equal(detect_expire(d, T0 + 3601), 3);
	assert_int_equal(detect_size(d), 0);
	detect_free(d);
}

/*
 * Forgetting an account frees its own entries, its mailboxes' and its
 * scripts', and nothing of another account (even one whose name starts
 * the same); an account kept past its idle time for its suspension loses
 * its idle mailboxes on their own, and can still be forgotten after.
 */
static void
test_forget_only_its_own(void **state)
{
	static const char *const who[] = { "bob", "bobby", "alice" };
	static const char *const boxes[] = { "a@x.test", "b@x.test", "c@x.test" };
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_trip t;
	uint64_t h = detect_hash("r@y.test");

	(void)state;
	lim.l[DET_MAILBOX_MESSAGES].value = 1;
	lim.l[DET_SCRIPT_RCPTS].value = 10;
	for (size_t i = 0; i < N(who); i++)
		for (size_t k = 0; k < N(boxes); k++) {
			struct detect_msg m = msg(who[i], boxes[k], "s.php", 1);

			m.rcpt_hashes = &h;
			m.n_rcpt_hashes = 1;
			detect_count(d, &m, &lim, T0);
		}
	/* per account: its own entry, 3 mailboxes, 1 script */
	assert_int_equal(detect_size(d), 15);
	detect_forget(d, "bob");
	assert_int_equal(detect_size(d), 10);
	detect_forget(d, "bob");
	assert_int_equal(detect_size(d), 10);
	for (size_t k = 0; k < N(boxes); k++) {
		struct detect_msg m = msg("bobby", boxes[k], "", 0);

		assert_int_equal(detect_check(d, &m, &lim, T0, &t), 1);
		m = msg("bob", boxes[k], "", 0);
		assert_int_equal(detect_check(d, &m, &lim, T0, &t), 0);
	}
	/* alice suspended at T0 + 10, then sends: her entry is kept past its idle time */
	detect_reset_before(d, "alice", T0 + 10);
	assert_int_equal(detect_size(d), 6);
	{
		struct detect_msg m = msg("alice", "a@x.test", "", 0);

		detect_count(d, &m, &lim, T0 + 10);
	}
	assert_int_equal(detect_size(d), 7);
	/* bobby's 5, alice's mailbox; not alice's own */
	assert_int_equal(detect_expire(d, T0 + 3611), 6);
	assert_int_equal(detect_size(d), 1);
	detect_forget(d, "alice");
	assert_int_equal(detect_size(d), 0);
	detect_free(d);
}

/* A script's set keeps limit + 1 recipients, the newest; many come and go. */
static void
test_set_cap_and_churn(void **state)
{
	struct detect *d = detect_new();
	struct detect_limits lim = limits_off();
	struct detect_msg m = msg("bob", "", "uid 1001", 1);
	struct detect_trip t;
	uint64_t h;
	char addr[64];

	(void)state;
	lim.l[DET_SCRIPT_RCPTS].value = 100;
	lim.l[DET_SCRIPT_RCPTS].action = ACTION_HOLD;
	m.rcpt_hashes = &h;
	m.n_rcpt_hashes = 1;
	/* 5,000 distinct recipients over the hour: the set stays at 101 */
	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof addr, "r%d@x.test", i);
		h = detect_hash(addr);
		detect_count(d, &m, &lim, T0 + i / 2);
	}
	snprintf(addr, sizeof addr, "new@x.test");
	h = detect_hash(addr);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 2500, &t), 1);
	assert_int_equal(t.count, 102);		/* 101 kept, plus this one */
	/* the newest are still known, the oldest forgotten */
	snprintf(addr, sizeof addr, "r4999@x.test");
	h = detect_hash(addr);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 2500, &t), 0);
	snprintf(addr, sizeof addr, "r0@x.test");
	h = detect_hash(addr);
	assert_int_equal(detect_check(d, &m, &lim, T0 + 2500, &t), 1);
	/* an hour after the last, all have left the window */
	assert_int_equal(detect_check(d, &m, &lim, T0 + 2499 + 3600, &t), 0);
	detect_free(d);
}

static void
test_names(void **state)
{
	(void)state;
	for (int i = 0; i < DET_COUNT; i++)
		assert_int_equal(detect_from_name(detect_name((enum detector)i)), i);
	assert_int_equal(detect_from_name("nonsense"), -1);
	assert_int_equal(detect_action_from_name("hold"), ACTION_HOLD);
	assert_int_equal(detect_action_from_name("explode"), -1);
	assert_int_not_equal(detect_hash(""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_slides_past_the_hour),
		cmocka_unit_test(test_account_messages_limit_exactly_and_one_over),
		cmocka_unit_test(test_rcpts_count_external_recipients),
		cmocka_unit_test(test_new_hosts_distinct),
		cmocka_unit_test(test_script_distinct_recipients),
		cmocka_unit_test(test_bounce_rate_needs_its_minimum),
		cmocka_unit_test(test_deferral_counts_once_and_suspension_resets),
		cmocka_unit_test(test_most_severe_action_wins_and_forget),
		cmocka_unit_test(test_expire_frees_idle_entries),
		cmocka_unit_test(test_forget_only_its_own),
		cmocka_unit_test(test_set_cap_and_churn),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for the unblock rule (policy_unblock): table-driven, with
 * the clock injected as `now`, at every boundary of the complaint window
 * and of the 90-day cooldown.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define N(a) (sizeof (a) / sizeof (a)[0])
#define DAY 86400LL
#define NOW 1800000000LL		/* the moment of the request */
#define COOLDOWN (90 * DAY)
#define NONE (-1LL)			/* no complaint window */

struct unblock_case {
	const char *name;
	int suspended;
	long long suspended_at;		/* relative to NOW */
	long long last_unblock;		/* relative to NOW; 0: never */
	long long win1, win2;		/* window ends relative to NOW, or NONE */
	int permanent;
	enum unblock_status want;
	long long want_from;		/* relative to NOW, for UNBLOCK_WAIT */
	int want_repeat;
};

static const struct unblock_case cases[] = {
	{ "not suspended", 0, 0, 0, NONE, NONE, 0, UNBLOCK_NOT_SUSPENDED, 0, 0 },
	{ "suspended, no complaint, never unblocked", 1, -DAY, 0, NONE, NONE, 0,
	    UNBLOCK_GRANTED, 0, 0 },
	/* the complaint window ends 1 s after, at, and 1 s before the request */
	{ "window ends 1s after the request", 1, -30 * DAY, 0, 1, NONE, 0, UNBLOCK_WAIT, 1, 0 },
	{ "window ends at the request", 1, -30 * DAY, 0, 0, NONE, 0, UNBLOCK_GRANTED, 0, 0 },
	{ "window ended 1s before the request", 1, -30 * DAY, 0, -1, NONE, 0,
	    UNBLOCK_GRANTED, 0, 0 },
	/* the last unblock 89d 23h 59m 59s, 90d and 90d 1s before */
	{ "unblocked 89d23h59m59s ago", 1, -10 * DAY, -(90 * DAY - 1), NONE, NONE, 0,
	    UNBLOCK_WAIT, 1, 1 },
	{ "unblocked exactly 90d ago", 1, -10 * DAY, -90 * DAY, NONE, NONE, 0,
	    UNBLOCK_GRANTED, 0, 1 },
	{ "unblocked 90d 1s ago", 1, -10 * DAY, -(90 * DAY + 1), NONE, NONE, 0,
	    UNBLOCK_GRANTED, 0, 1 },
	/* two complaints with different windows: the later one decides */
	{ "two windows, one still open", 1, -20 * DAY, 0, -10 * DAY, 10 * DAY, 0,
	    UNBLOCK_WAIT, 10 * DAY, 0 },
	{ "two windows, order does not matter", 1, -20 * DAY, 0, 10 * DAY, -10 * DAY, 0,
	    UNBLOCK_WAIT, 10 * DAY, 0 },
	{ "two windows, both ended", 1, -40 * DAY, 0, -10 * DAY, -1, 0, UNBLOCK_GRANTED, 0, 0 },
	/* window and cooldown both running: the later end decides */
	{ "window after the cooldown", 1, -5 * DAY, -80 * DAY, 25 * DAY, NONE, 0,
	    UNBLOCK_WAIT, 25 * DAY, 1 },
	{ "cooldown after the window", 1, -5 * DAY, -60 * DAY, 25 * DAY, NONE, 0,
	    UNBLOCK_WAIT, 30 * DAY, 1 },
	/* suspended twice: the second time long after the first unblock */
	{ "suspended again after the cooldown", 1, -5 * DAY, -200 * DAY, -1, NONE, 0,
	    UNBLOCK_GRANTED, 0, 0 },
	{ "suspended again exactly at the cooldown's end", 1, -110 * DAY, -200 * DAY, NONE,
	    NONE, 1, UNBLOCK_GRANTED, 0, 0 },
	{ "suspended again 1s before the cooldown's end", 1, -(110 * DAY) - 1, -200 * DAY,
	    NONE, NONE, 1, UNBLOCK_ADMIN_ONLY, 0, 1 },
	/* repeat_offence both ways, long after the cooldown */
	{ "repeat offence, wait: fine after the cooldown", 1, -150 * DAY, -200 * DAY, NONE,
	    NONE, 0, UNBLOCK_GRANTED, 0, 1 },
	{ "repeat offence, permanent: never by the owner", 1, -150 * DAY, -200 * DAY, NONE,
	    NONE, 1, UNBLOCK_ADMIN_ONLY, 0, 1 },
	{ "repeat offence, permanent, within the cooldown", 1, -10 * DAY, -20 * DAY, NONE,
	    NONE, 1, UNBLOCK_ADMIN_ONLY, 0, 1 },
	{ "permanent, but not a repeat offence", 1, -DAY, 0, -1, NONE, 1, UNBLOCK_GRANTED, 0, 0 },
	/*
	 * An admin lift counts (the store reports it as the last unblock) or,
	 * with --no-count, does not (the store reports none).
	 */
	{ "admin lift 10 days ago, counted", 1, -5 * DAY, -10 * DAY, NONE, NONE, 0,
	    UNBLOCK_WAIT, 80 * DAY, 1 },
	{ "admin lift 10 days ago, --no-count", 1, -5 * DAY, 0, NONE, NONE, 0,
	    UNBLOCK_GRANTED, 0, 0 },
};

static void
test_unblock_table(void **state)
{
	struct unblock_rules r;
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		const struct unblock_case *c = &cases[i];
		long long ends[2];
		struct unblock_facts f;
		struct unblock_decision d;
		size_t n = 0;

		memset(&f, 0, sizeof f);
		f.suspended = c->suspended;
		f.suspended_at = c->suspended ? NOW + c->suspended_at : 0;
		f.last_unblock = c->last_unblock != 0 ? NOW + c->last_unblock : 0;
		if (c->win1 != NONE)
			ends[n++] = NOW + c->win1;
		if (c->win2 != NONE)
			ends[n++] = NOW + c->win2;
		f.window_ends = ends;
		f.nwindows = n;
		r.cooldown = COOLDOWN;
		r.repeat_permanent = c->permanent;
		policy_unblock(&f, &r, NOW, &d);
		if (d.status != c->want || (c->want == UNBLOCK_WAIT && d.from != NOW + c->want_from) ||
		    (c->suspended && d.repeat != c->want_repeat))
			fail_msg("%s: got %s from %+lld repeat %d, want %s from %+lld repeat %d",
			    c->name, policy_unblock_status_name(d.status), d.from - NOW, d.repeat,
			    policy_unblock_status_name(c->want), c->want_from, c->want_repeat);
	}
}

/* Both reasons are reported when both hold; the later end decides. */
static void
test_unblock_wait_reports_both_reasons(void **state)
{
	long long ends[] = { NOW + 5 * DAY };
	struct unblock_facts f = { 1, NOW - DAY, NOW - 10 * DAY, ends, 1 };
	struct unblock_rules r = { COOLDOWN, 0 };
	struct unblock_decision d;
	(void)state;

	policy_unblock(&f, &r, NOW, &d);
	assert_int_equal(d.status, UNBLOCK_WAIT);
	assert_true(d.windows_open);
	assert_int_equal(d.windows_end, NOW + 5 * DAY);
	assert_true(d.cooldown_active);
	assert_int_equal(d.cooldown_end, NOW + 80 * DAY);
	assert_int_equal(d.from, NOW + 80 * DAY);
}

static void
test_unblock_zero_cooldown(void **state)
{
	struct unblock_facts f = { 1, NOW - 1, NOW - 2, NULL, 0 };
	struct unblock_rules r = { 0, 1 };
	struct unblock_decision d;
	(void)state;

	/* with no cooldown nothing is a repeat offence and every request may succeed */
	policy_unblock(&f, &r, NOW, &d);
	assert_int_equal(d.status, UNBLOCK_GRANTED);
	assert_false(d.repeat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unblock_table),
		cmocka_unit_test(test_unblock_wait_reports_both_reasons),
		cmocka_unit_test(test_unblock_zero_cooldown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

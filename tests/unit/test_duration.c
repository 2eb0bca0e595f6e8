/*
 * Unit tests for duration.c: parsing "45s", "15m", "12h", "30d" and
 * formatting seconds back in the largest exact unit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "duration.h"

/* The documented ceiling: 100 years of 366 days. */
#define MAX_SECONDS (100LL * 366 * 86400)

/* A sentinel the parser must not touch when it fails. */
#define UNTOUCHED (-4242LL)

struct ok_case {
	const char *text;
	long long seconds;
};

/* Valid durations, including every unit and the exact upper limit. */
static void
test_parse_valid(void **state)
{
	static const struct ok_case cases[] = {
		{ "45s", 45 },
		{ "15m", 15 * 60 },
		{ "12h", 12 * 3600 },
		{ "30d", 30 * 86400 },
		{ "0s", 0 },
		{ "0d", 0 },
		{ "1s", 1 },
		{ "1m", 60 },
		{ "1h", 3600 },
		{ "1d", 86400 },
		{ "007s", 7 },
		{ "90s", 90 },
		/* exactly at the limit, in every unit */
		{ "36600d", MAX_SECONDS },
		{ "878400h", MAX_SECONDS },
		{ "52704000m", MAX_SECONDS },
		{ "3162240000s", MAX_SECONDS },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long long v = UNTOUCHED;
		char err[256] = "";

		if (duration_parse(cases[i].text, &v, err, sizeof err) != 0)
			fail_msg("\"%s\" rejected: %s", cases[i].text, err);
		if (v != cases[i].seconds)
			fail_msg("\"%s\": got %lld, expected %lld", cases[i].text, v,
			    cases[i].seconds);
	}
}

/* Malformed or out-of-range durations: -1, an error message, *seconds untouched. */
static void
test_parse_invalid(void **state)
{
	static const char *const cases[] = {
		"",		/* empty */
		"30",		/* missing unit */
		"3w",		/* unknown unit */
		"5ms",		/* unit followed by more */
		"5sec",
		"5S",		/* units are lower case */
		"-1d",		/* negative */
		"+1d",
		" 5s",		/* leading space */
		"5s ",		/* trailing space */
		"5 s",		/* space before the unit */
		"5s\n",
		"s",		/* unit without number */
		"d",
		"1.5h",		/* no fractions */
		"1h30m",	/* one unit only */
		"0x10s",
		"5\ts",
		/* one over the limit, in every unit */
		"36601d",
		"878401h",
		"52704001m",
		"3162240001s",
		/* far over: must not overflow into something small */
		"99999999999999999999999999999999d",
		"18446744073709551617s",
		"9223372036854775808s",
		"213503982336d",	/* 213503982336 * 86400 wraps a signed 64-bit value */
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long long v = UNTOUCHED;
		char err[256] = "";

		if (duration_parse(cases[i], &v, err, sizeof err) != -1)
			fail_msg("\"%s\" accepted as %lld", cases[i], v);
		if (err[0] == '\0')
			fail_msg("\"%s\": no error message", cases[i]);
		if (v != UNTOUCHED)
			fail_msg("\"%s\": seconds written on failure (%lld)", cases[i], v);
	}
}

/* A NULL text is an error, not a crash. */
static void
test_parse_null(void **state)
{
	long long v = UNTOUCHED;
	char err[256] = "";
	(void)state;

	assert_int_equal(duration_parse(NULL, &v, err, sizeof err), -1);
	assert_string_equal(err, "empty duration");
	assert_true(v == UNTOUCHED);
}

/* The error names the offending text and says what is wrong. */
static void
test_parse_error_text(void **state)
{
	long long v;
	char err[256];
	(void)state;

	assert_int_equal(duration_parse("3w", &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "\"3w\""));
	assert_non_null(strstr(err, "unit"));

	assert_int_equal(duration_parse("36601d", &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "too long"));

	assert_int_equal(duration_parse("5s ", &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "trailing"));
}

/* A tiny error buffer is truncated, never overrun. */
static void
test_parse_small_err_buffer(void **state)
{
	long long v;
	char err[8];
	(void)state;

	memset(err, 'X', sizeof err);
	assert_int_equal(duration_parse("bogus", &v, err, 4), -1);
	assert_int_equal(strlen(err), 3);
	assert_int_equal(err[4], 'X');
}

struct fmt_case {
	long long seconds;
	const char *text;
};

/* Formatting picks the largest unit that divides exactly. */
static void
test_format(void **state)
{
	static const struct fmt_case cases[] = {
		{ 86400, "1d" },
		{ 90, "90s" },
		{ 3600, "1h" },
		{ 0, "0s" },
		{ 1, "1s" },
		{ 59, "59s" },
		{ 60, "1m" },
		{ 61, "61s" },
		{ 120, "2m" },
		{ 5400, "90m" },
		{ 7200, "2h" },
		{ 86400 + 3600, "25h" },
		{ 86400 + 60, "1441m" },
		{ 86401, "86401s" },
		{ 30 * 86400, "30d" },
		{ MAX_SECONDS, "36600d" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[32];

		duration_format(cases[i].seconds, buf, sizeof buf);
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%lld: got \"%s\", expected \"%s\"", cases[i].seconds, buf,
			    cases[i].text);
	}
}

/* format then parse gives back the same number of seconds. */
static void
test_round_trip(void **state)
{
	static const long long values[] = {
		0, 1, 45, 59, 60, 90, 3599, 3600, 3660, 86399, 86400, 90000,
		12 * 3600, 30 * 86400, 365LL * 86400, MAX_SECONDS - 1, MAX_SECONDS,
	};
	(void)state;

	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		char buf[32], err[256];
		long long back = UNTOUCHED;

		duration_format(values[i], buf, sizeof buf);
		if (duration_parse(buf, &back, err, sizeof err) != 0)
			fail_msg("%lld -> \"%s\" does not parse: %s", values[i], buf, err);
		if (back != values[i])
			fail_msg("%lld -> \"%s\" -> %lld", values[i], buf, back);
	}
}

/* A short buffer is truncated and stays terminated. */
static void
test_format_small_buffer(void **state)
{
	char buf[8];
	(void)state;

	memset(buf, 'X', sizeof buf);
	duration_format(123456, buf, 4);	/* "123456s" */
	assert_string_equal(buf, "123");
	assert_int_equal(buf[4], 'X');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_null),
		cmocka_unit_test(test_parse_error_text),
		cmocka_unit_test(test_parse_small_err_buffer),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_small_buffer),
	};

	return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}

/*
 * Unit tests for str.c: escaping text from outside for log lines and
 * terminals, and the plain-address check for CONTACTEMAIL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "str.h"

struct esc_case {
	const char *in;
	const char *out;
};

/* Each kind of byte, and the escapes of the boundaries around them. */
static void
test_escape_cases(void **state)
{
	static const struct esc_case cases[] = {
		{ "", "" },
		{ "plain bob@example.com", "plain bob@example.com" },
		{ "a\nb", "a\\nb" },
		{ "a\r\nb", "a\\r\\nb" },
		{ "\t", "\\t" },
		{ "back\\slash", "back\\\\slash" },
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "\x01", "\\x01" },
		{ "\x1f", "\\x1f" },
		{ " ", " " },			/* 0x20: the first printable */
		{ "~", "~" },			/* 0x7e: the last printable */
		{ "\x7f", "\\x7f" },		/* DEL */
		{ "caf\xc3\xa9", "caf\xc3\xa9" },	/* U+00E9: kept */
		{ "\xc2\xa0", "\xc2\xa0" },	/* U+00A0: the first after C1 */
		{ "\xc2\x9b", "\\xc2\\x9b" },	/* U+009B CSI: a C1 control */
		{ "\xc2\x80", "\\xc2\\x80" },	/* U+0080: the first C1 */
		{ "\x9b", "\\x9b" },		/* a lone 8-bit CSI */
		{ "\xc0\xaf", "\\xc0\\xaf" },	/* overlong */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },	/* a surrogate */
		{ "\xe2\x82", "\\xe2\\x82" },	/* cut short */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },	/* U+1F600 */
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },	/* past U+10FFFF */
		{ "\xff", "\\xff" },
	};
	char out[128];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_string_equal(str_escape(cases[i].in, out, sizeof out), cases[i].out);
		assert_int_equal(str_escape_len(cases[i].in), strlen(cases[i].out));
	}
	assert_string_equal(str_escape(NULL, out, sizeof out), "");
}

/* A forged log line stays on one line. */
static void
test_escape_no_newline(void **state)
{
	char out[256];

	(void)state;
	str_escape("info\nmailabused: conn 1: refused account=victim", out, sizeof out);
	assert_null(strchr(out, '\n'));
	assert_string_equal(out, "info\\nmailabused: conn 1: refused account=victim");
}

/* A short buffer: cut between escapes, always terminated. */
static void
test_escape_truncation(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'X', sizeof out);
	assert_string_equal(str_escape("abcdefghij", out, sizeof out), "abcdefg");
	/* "ab" then \x1b does not fit whole in 7: not half an escape */
	assert_string_equal(str_escape("abcd\x1b", out, sizeof out), "abcd");
	assert_string_equal(str_escape("abc\x1b", out, sizeof out), "abc\\x1b");
	assert_string_equal(str_escape("\n", out, 3), "\\n");
	assert_string_equal(str_escape("\n", out, 2), "");
	assert_string_equal(str_escape("a", out, 1), "");
	/* a UTF-8 sequence is never split */
	assert_string_equal(str_escape("abcdef\xc3\xa9", out, sizeof out), "abcdef");
	assert_string_equal(str_escape("abcde\xc3\xa9", out, sizeof out), "abcde\xc3\xa9");
	out[0] = 'X';
	str_escape("abc", out, 0);
	assert_int_equal(out[0], 'X');
}

/* Plain addresses that a To: header takes as they are. */
static void
test_address_valid(void **state)
{
	static const char *const good[] = {
		"bob@example.com", "bob.owner@contact.test", "a@b", "o'neil+tag@x-y.example",
		"UPPER@EXAMPLE.COM", "a_b-c=d@1.2.3.4",
	};
	char local64[80], local65[80], long254[300], long255[300];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(str_address_valid(good[i], 1));
	/* the local part: 64 characters at most */
	memset(local64, 'l', 64);
	strcpy(local64 + 64, "@x.test");
	memset(local65, 'l', 65);
	strcpy(local65 + 65, "@x.test");
	assert_true(str_address_valid(local64, 1));
	assert_false(str_address_valid(local65, 1));
	/* the whole address: 254 characters at most */
	memset(long254, 'd', 254);
	long254[254] = '\0';
	memcpy(long254, "l@", 2);
	assert_int_equal(strlen(long254), 254);
	assert_true(str_address_valid(long254, 1));
	memset(long255, 'd', 255);
	long255[255] = '\0';
	memcpy(long255, "l@", 2);
	assert_false(str_address_valid(long255, 1));
}

/* What is not one plain address. */
static void
test_address_invalid(void **state)
{
	static const char *const bad[] = {
		"", "bob", "@example.com", "bob@", "bob@@example.com", "a@b@c",
		"bob\t@example.com", "bob@example.com\t", "bob@example.com\r",
		"bob@example.com\nBcc: x@y", "bob @example.com", "bob@exa mple.com",
		"a@x.test, b@y.test", "a@x.test,b@y.test", "<bob@example.com>",
		"Bob <bob@example.com>", "\"bob\"@example.com", "bob@example..com",
		"bob@.example.com", "bob@example.com.", "bob@-example.com", "bob@example-.com",
		".bob@example.com", "bob.@example.com", "b..ob@example.com",
		"bob@exa_mple.com", "bob\\@example.com", "bob@[127.0.0.1]", "b\x1b@x.test",
		"b\xc3\xa9@x.test", "bob;x@example.com", "bob@example.com;",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (str_address_valid(bad[i], 1))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_false(str_address_valid(NULL, 1));
}

/* notify.from and notify.fallback may be a bare local name. */
static void
test_address_local_only(void **state)
{
	(void)state;
	assert_true(str_address_valid("root", 0));
	assert_true(str_address_valid("abuse@example.com", 0));
	assert_false(str_address_valid("root", 1));
	assert_false(str_address_valid("ro ot", 0));
	assert_false(str_address_valid("root\n", 0));
	assert_false(str_address_valid("", 0));
	assert_false(str_address_valid("root.", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_cases),
		cmocka_unit_test(test_escape_no_newline),
		cmocka_unit_test(test_escape_truncation),
		cmocka_unit_test(test_address_valid),
		cmocka_unit_test(test_address_invalid),
		cmocka_unit_test(test_address_local_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

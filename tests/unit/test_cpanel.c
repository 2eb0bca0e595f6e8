/*
 * Unit tests for cpanel.c: line parsers for etc/userdomains,
 * etc/trueuserowners, etc/localdomains and var/cpanel/users/<user>.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cpanel.h"

#define N(a) (sizeof (a) / sizeof (a)[0])

struct kv_case {
	const char *line;
	int r;			/* 1 record, 0 skip, -1 malformed */
	const char *key, *value;
};

/* Run a "key: value" or "KEY=VALUE" parser over a table. */
static void
kv_table_run(int (*parse)(char *, char **, char **), const struct kv_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char line[256];
		char *key = NULL, *value = NULL;
		int r;

		snprintf(line, sizeof line, "%s", cases[i].line);
		r = parse(line, &key, &value);
		if (r != cases[i].r)
			fail_msg("\"%s\": returned %d, expected %d", cases[i].line, r, cases[i].r);
		if (r != 1)
			continue;
		assert_non_null(key);
		assert_non_null(value);
		/* the results point into the caller's line */
		assert_true(key >= line && key < line + sizeof line);
		assert_true(value >= line && value < line + sizeof line);
		if (strcmp(key, cases[i].key) != 0 || strcmp(value, cases[i].value) != 0)
			fail_msg("\"%s\": got \"%s\" / \"%s\", expected \"%s\" / \"%s\"",
			    cases[i].line, key, value, cases[i].key, cases[i].value);
	}
}

/* etc/userdomains and etc/trueuserowners lines. */
static void
test_pair_parse(void **state)
{
	static const struct kv_case cases[] = {
		{ "example.com: bob", 1, "example.com", "bob" },
		{ "*: nobody", 1, "*", "nobody" },
		{ "example.com:bob", 1, "example.com", "bob" },
		{ "  example.com  :   bob  ", 1, "example.com", "bob" },
		{ "\texample.com:\tbob\t", 1, "example.com", "bob" },
		{ "example.com: bob\n", 1, "example.com", "bob" },
		{ "example.com: bob\r\n", 1, "example.com", "bob" },
		{ "bob: root", 1, "bob", "root" },
		{ "", 0, NULL, NULL },
		{ "   ", 0, NULL, NULL },
		{ "\n", 0, NULL, NULL },
		{ "# example.com: bob", 0, NULL, NULL },
		{ "   # comment", 0, NULL, NULL },
		{ "#", 0, NULL, NULL },
		{ "example.com bob", -1, NULL, NULL },		/* missing colon */
		{ "example.com", -1, NULL, NULL },
		{ "example.com:", -1, NULL, NULL },		/* empty value */
		{ "example.com:   ", -1, NULL, NULL },
		{ ": bob", -1, NULL, NULL },			/* empty key */
		{ "   : bob", -1, NULL, NULL },
		{ "example.com: bob smith", -1, NULL, NULL },	/* value with a space */
		{ "example.com: bob\tsmith", -1, NULL, NULL },
		{ "exa mple.com: bob", -1, NULL, NULL },	/* key with a space */
		{ "example.com: bob: x", -1, NULL, NULL },	/* a second colon */
		{ "example.com:: bob", -1, NULL, NULL },
	};
	(void)state;

	kv_table_run(cpanel_pair_parse, cases, N(cases));
}

/* var/cpanel/users/<user> lines. */
static void
test_users_line_parse(void **state)
{
	static const struct kv_case cases[] = {
		{ "CONTACTEMAIL=a@b", 1, "CONTACTEMAIL", "a@b" },
		{ "DNS=x.com", 1, "DNS", "x.com" },
		{ "DNS1=y.example.org", 1, "DNS1", "y.example.org" },
		{ "KEY=", 1, "KEY", "" },
		{ "KEY=  ", 1, "KEY", "" },
		{ "KEY=a=b", 1, "KEY", "a=b" },			/* only the first '=' splits */
		{ "KEY= value with spaces ", 1, "KEY", "value with spaces" },
		{ "  OWNER=root\n", 1, "OWNER", "root" },
		{ "SUSPENDED=0\r\n", 1, "SUSPENDED", "0" },
		{ "", 0, NULL, NULL },
		{ " \t ", 0, NULL, NULL },
		{ "# cPanel user file", 0, NULL, NULL },
		{ "=x", -1, NULL, NULL },			/* empty key */
		{ "  =x", -1, NULL, NULL },
		{ "=", -1, NULL, NULL },
		{ "KEY", -1, NULL, NULL },			/* no '=' */
		{ "KEY x", -1, NULL, NULL },
	};
	(void)state;

	kv_table_run(cpanel_users_line_parse, cases, N(cases));
}

struct dom_case {
	const char *line;
	int r;
	const char *domain;
};

/* etc/localdomains lines. */
static void
test_domain_line_parse(void **state)
{
	static const struct dom_case cases[] = {
		{ "example.com", 1, "example.com" },
		{ "  example.com  ", 1, "example.com" },
		{ "example.com\n", 1, "example.com" },
		{ "example.com\r\n", 1, "example.com" },
		{ "\tsub.example.com\t", 1, "sub.example.com" },
		{ "", 0, NULL },
		{ "  ", 0, NULL },
		{ "\n", 0, NULL },
		{ "# local domains", 0, NULL },
		{ "  #example.com", 0, NULL },
		{ "example.com other.com", -1, NULL },
		{ "example.com\tother.com", -1, NULL },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		char line[128];
		char *domain = NULL;
		int r;

		snprintf(line, sizeof line, "%s", cases[i].line);
		r = cpanel_domain_line_parse(line, &domain);
		if (r != cases[i].r)
			fail_msg("\"%s\": returned %d, expected %d", cases[i].line, r, cases[i].r);
		if (r == 1) {
			assert_non_null(domain);
			assert_string_equal(domain, cases[i].domain);
		}
	}
}

/* A skipped or malformed line leaves the outputs alone. */
static void
test_outputs_untouched_unless_record(void **state)
{
	char line[64];
	char sentinel[] = "untouched";
	char *key = sentinel, *value = sentinel;
	(void)state;

	snprintf(line, sizeof line, "# comment: x");
	assert_int_equal(cpanel_pair_parse(line, &key, &value), 0);
	assert_ptr_equal(key, sentinel);
	assert_ptr_equal(value, sentinel);

	snprintf(line, sizeof line, "no colon here");
	assert_int_equal(cpanel_pair_parse(line, &key, &value), -1);
	assert_ptr_equal(key, sentinel);

	snprintf(line, sizeof line, "NOEQUALS");
	assert_int_equal(cpanel_users_line_parse(line, &key, &value), -1);
	assert_ptr_equal(key, sentinel);
	assert_ptr_equal(value, sentinel);

	snprintf(line, sizeof line, "a b");
	assert_int_equal(cpanel_domain_line_parse(line, &key), -1);
	assert_ptr_equal(key, sentinel);
}

/* cPanel's outgoing suspended / held user lists: "user" or "user: ...". */
static void
test_user_line_parse(void **state)
{
	static const struct { const char *in; int r; const char *user; } cases[] = {
		{ "bob\n", 1, "bob" },
		{ "  bob  \n", 1, "bob" },
		{ "bob:\n", 1, "bob" },
		{ "bob: suspended by root\n", 1, "bob" },
		{ "bob :x\n", 1, "bob" },
		{ "\n", 0, NULL },
		{ "# comment\n", 0, NULL },
		{ "bob smith\n", -1, NULL },
		{ ": bob\n", -1, NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char line[64], sentinel[] = "untouched", *user = sentinel;

		snprintf(line, sizeof line, "%s", cases[i].in);
		assert_int_equal(cpanel_user_line_parse(line, &user), cases[i].r);
		if (cases[i].r == 1)
			assert_string_equal(user, cases[i].user);
		else
			assert_ptr_equal(user, sentinel);
	}
}

/* The lines cpanel_want_next gives, as "lineno:line|..." (newlines dropped). */
static void
want_lines(const struct cpanel_want *w, const char *file, char *out, size_t len)
{
	const char *p = file, *end = file + strlen(file), *s, *e;
	size_t lines, lineno = 1, o = 0;

	out[0] = '\0';
	while ((s = cpanel_want_next(w, p, end, &e, &lines)) != NULL) {
		lineno += lines;
		o += (size_t)snprintf(out + o, len - o, "%zu:%.*s|", lineno, (int)(e - s -
		    (e[-1] == '\n')), s);
		assert_true(o < len);
		lineno++;
		p = e;
	}
}

static void
test_want_next(void **state)
{
	char *names[] = { "bob.example", "shop.bob.example", "b.io" };
	size_t lens[] = { 11, 16, 4 };
	struct cpanel_want w = { 'o', "bob", 3, names, lens, 3 };
	char out[512];
	(void)state;

	/* etc/trueuserowners: the account as the key, not inside another name */
	want_lines(&w, "alice: bob\nbobby: root\nbob: res1\n  bob :root\nxbob: bob\n"
	    "bob:\nBOB: root\nbob", out, sizeof out);
	assert_string_equal(out, "3:bob: res1|4:  bob :root|6:bob:|");
	/* etc/userdomains: the account as the value, or one of its domains (any case) */
	w.kind = 'd';
	want_lines(&w, "alice.example: alice\nbob.example: bob\nSHOP.Bob.EXAMPLE: carol\n"
	    "bob.example.net: dave\nx.example: bobby\nb.io:eve\nB.IO\nz.example:bob  \n"
	    "z: bob", out, sizeof out);
	assert_string_equal(out, "2:bob.example: bob|3:SHOP.Bob.EXAMPLE: carol|6:b.io:eve|"
	    "7:B.IO|8:z.example:bob  |9:z: bob|");
	/* etc/localdomains: one of the domains */
	w.kind = 'l';
	want_lines(&w, "bob.example\nbob.examples\n\t Shop.bob.example\nalice.example\nb.io",
	    out, sizeof out);
	assert_string_equal(out, "1:bob.example|3:\t Shop.bob.example|5:b.io|");
	want_lines(&w, "", out, sizeof out);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair_parse),
		cmocka_unit_test(test_users_line_parse),
		cmocka_unit_test(test_domain_line_parse),
		cmocka_unit_test(test_outputs_untouched_unless_record),
		cmocka_unit_test(test_user_line_parse),
		cmocka_unit_test(test_want_next),
	};

	return cmocka_run_group_tests_name("cpanel", tests, NULL, NULL);
}

/*
 * Unit tests for proto.c: base64, the request parser, the reply
 * formatter and the recipient-list helpers (PROTOCOL.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

/* Base64 of a C string into a static-lifetime buffer owned by the caller. */
static void
b64(const char *raw, size_t rawlen, char *out, size_t outlen)
{
	assert_true(proto_base64_encode(raw, rawlen, out, outlen) >= 0);
}

/*
 * Build "MAILABUSE/1 <verb>" followed by name=base64(value) for each
 * (name, value) pair of the NULL-terminated list.
 */
static void
line_build(char *buf, size_t len, const char *verb, ...)
{
	va_list ap;
	const char *name;
	size_t o;

	o = (size_t)snprintf(buf, len, "%s %s", PROTO_VERSION, verb);
	va_start(ap, verb);
	while ((name = va_arg(ap, const char *)) != NULL) {
		const char *value = va_arg(ap, const char *);
		char enc[1024];

		b64(value, strlen(value), enc, sizeof enc);
		o += (size_t)snprintf(buf + o, len - o, " %s=%s", name, enc);
		assert_true(o < len);
	}
	va_end(ap);
}

/* Parse a copy of line; returns what the parser returns. */
static int
parse(char *line, struct proto_request *req, char *err, size_t errlen)
{
	err[0] = '\0';
	return proto_request_parse(line, req, err, errlen);
}

/* Fail unless haystack contains needle. */
static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- base64 ---- */

struct b64_vector {
	const char *raw;
	const char *enc;
};

/* RFC 4648 section 10 test vectors, both ways. */
static void
test_base64_rfc4648_vectors(void **state)
{
	static const struct b64_vector v[] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
		{ "A", "QQ==" },
		{ "AB", "QUI=" },
		{ "ABC", "QUJD" },
		{ "\xff\xff\xff", "////" },
		{ "\xfb\xff", "+/8=" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char enc[64], dec[64];
		long n;

		n = proto_base64_encode(v[i].raw, strlen(v[i].raw), enc, sizeof enc);
		assert_int_equal(n, strlen(v[i].enc));
		assert_string_equal(enc, v[i].enc);

		n = proto_base64_decode(v[i].enc, strlen(v[i].enc), dec, sizeof dec);
		assert_int_equal(n, strlen(v[i].raw));
		assert_memory_equal(dec, v[i].raw, (size_t)n);
	}
}

/* Encode then decode lengths 0 to 3 and all 256 byte values. */
static void
test_base64_round_trip(void **state)
{
	char all[256], enc[400], dec[300];
	long n;
	(void)state;

	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	/* every length 0..256 of the all-bytes string, so each tail shape is hit */
	for (size_t len = 0; len <= sizeof all; len++) {
		n = proto_base64_encode(all, len, enc, sizeof enc);
		assert_int_equal(n, (len + 2) / 3 * 4);
		assert_int_equal(strlen(enc), (size_t)n);
		n = proto_base64_decode(enc, strlen(enc), dec, sizeof dec);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(dec, all, len);
	}
	/* every single byte value alone (two padding characters) */
	for (int i = 0; i < 256; i++) {
		char c = (char)i;

		assert_int_equal(proto_base64_encode(&c, 1, enc, sizeof enc), 4);
		assert_int_equal(proto_base64_decode(enc, 4, dec, sizeof dec), 1);
		assert_int_equal((unsigned char)dec[0], i);
	}
}

/* Decoding may be done in place, as the request parser does. */
static void
test_base64_decode_in_place(void **state)
{
	char buf[] = "Zm9vYmFyYmF6";	/* "foobarbaz" */
	long n;
	(void)state;

	n = proto_base64_decode(buf, strlen(buf), buf, strlen(buf));
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "foobarbaz", 9);
}

/* Malformed base64 is rejected, never decoded leniently. */
static void
test_base64_decode_rejects(void **state)
{
	static const char *const bad[] = {
		"Q",		/* length not a multiple of 4 */
		"QQ",
		"QQ=",
		"QUJDR",
		"QQ===",
		"QQ==Q",
		"Q!==",		/* bad characters */
		"QUF*",
		"QU F",
		"QUF\n",
		"-_-_",		/* URL-safe alphabet is not ours */
		"QUJD\r\n\r\n",
		"Q===",		/* padding too early in a group */
		"====",
		"QQ=A",		/* data after padding */
		"QQ==QUFB",	/* padding in the middle */
		"QUI=QUFB",
		"QR==",		/* non-canonical: unused bits set */
		"QX==",
		"QUJ=",
		"QUL=",
	};
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char out[64];
		long n = proto_base64_decode(bad[i], strlen(bad[i]), out, sizeof out);

		if (n != -1)
			fail_msg("\"%s\" decoded (%ld bytes)", bad[i], n);
	}
	/* an embedded NUL is a bad character, whatever strlen says */
	{
		char out[8];

		assert_int_equal(proto_base64_decode("QU\0B", 4, out, sizeof out), -1);
	}
	/* the canonical forms of the above decode */
	{
		char out[8];

		assert_int_equal(proto_base64_decode("QQ==", 4, out, sizeof out), 1);
		assert_int_equal(out[0], 'A');
		assert_int_equal(proto_base64_decode("QUI=", 4, out, sizeof out), 2);
		assert_memory_equal(out, "AB", 2);
	}
}

/* Output buffers: exactly big enough works, one byte less fails. */
static void
test_base64_buffer_limits(void **state)
{
	char out[16];
	(void)state;

	/* encode needs 4 per 3 bytes plus the NUL */
	memset(out, 'X', sizeof out);
	assert_int_equal(proto_base64_encode("abc", 3, out, 5), 4);
	assert_string_equal(out, "YWJj");
	memset(out, 'X', sizeof out);
	assert_int_equal(proto_base64_encode("abc", 3, out, 4), -1);
	assert_int_equal(out[4], 'X');
	assert_int_equal(proto_base64_encode("", 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(proto_base64_encode("", 0, out, 0), -1);
	assert_int_equal(proto_base64_encode("a", 1, out, 5), 4);
	assert_int_equal(proto_base64_encode("a", 1, out, 4), -1);

	/* decode needs exactly the decoded length */
	memset(out, 'X', sizeof out);
	assert_int_equal(proto_base64_decode("YWJj", 4, out, 3), 3);
	assert_memory_equal(out, "abc", 3);
	memset(out, 'X', sizeof out);
	assert_int_equal(proto_base64_decode("YWJj", 4, out, 2), -1);
	assert_int_equal(out[2], 'X');
	assert_int_equal(proto_base64_decode("YWI=", 4, out, 2), 2);
	assert_int_equal(proto_base64_decode("YWI=", 4, out, 1), -1);
	assert_int_equal(proto_base64_decode("YWJjZA==", 8, out, 3), -1);
	assert_int_equal(proto_base64_decode("", 0, out, 0), 0);
}

/* ---- request parser ---- */

/* PING needs no fields; every field reads as "". */
static void
test_parse_ping(void **state)
{
	static const char *const lines[] = {
		"MAILABUSE/1 PING",
		"MAILABUSE/1 PING\r",
		"  MAILABUSE/1   PING  ",
	};
	(void)state;

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct proto_request req;
		char line[64], err[128];

		snprintf(line, sizeof line, "%s", lines[i]);
		memset(&req, 0x5a, sizeof req);
		if (parse(line, &req, err, sizeof err) != 0)
			fail_msg("\"%s\" rejected: %s", lines[i], err);
		assert_int_equal(req.verb, PROTO_PING);
		assert_string_equal(req.ctx, "");
		assert_string_equal(req.auth, "");
		assert_string_equal(req.uid, "");
		assert_string_equal(req.sender, "");
		assert_string_equal(req.rcpt, "");
		assert_string_equal(req.ip, "");
		assert_string_equal(req.script, "");
	}
}

/* CHECK with every field. */
static void
test_parse_check_all_fields(void **state)
{
	struct proto_request req;
	char line[1024], err[128];
	(void)state;

	line_build(line, sizeof line, "CHECK",
	    "ctx", "smtp", "auth", "info@example.com", "uid", "1001",
	    "sender", "info@example.com", "rcpt", "a@example.org",
	    "ip", "192.0.2.1", "script", "/home/bob/public_html/x.php", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_int_equal(req.verb, PROTO_CHECK);
	assert_string_equal(req.ctx, "smtp");
	assert_string_equal(req.auth, "info@example.com");
	assert_string_equal(req.uid, "1001");
	assert_string_equal(req.sender, "info@example.com");
	assert_string_equal(req.rcpt, "a@example.org");
	assert_string_equal(req.ip, "192.0.2.1");
	assert_string_equal(req.script, "/home/bob/public_html/x.php");
}

/* Only ctx is required; ctx=local works; order does not matter; "name=" is empty. */
static void
test_parse_check_minimal(void **state)
{
	struct proto_request req;
	char line[256], err[128];
	(void)state;

	snprintf(line, sizeof line, "MAILABUSE/1 CHECK ctx=bG9jYWw=");
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_int_equal(req.verb, PROTO_CHECK);
	assert_string_equal(req.ctx, "local");
	assert_string_equal(req.auth, "");
	assert_string_equal(req.sender, "");

	snprintf(line, sizeof line, "MAILABUSE/1 CHECK sender= uid=MA== ctx=c210cA== auth=");
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_string_equal(req.ctx, "smtp");
	assert_string_equal(req.uid, "0");
	assert_string_equal(req.sender, "");
	assert_string_equal(req.auth, "");
}

/* The message-level CHECK and the EVENT verb. */
static void
test_parse_stage_and_event(void **state)
{
	struct proto_request req;
	char line[1024], err[128];
	(void)state;

	line_build(line, sizeof line, "CHECK", "ctx", "smtp", "stage", "data",
	    "msgid", "1xXzgt-00024g-1x", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_string_equal(req.stage, "data");
	assert_string_equal(req.msgid, "1xXzgt-00024g-1x");
	line_build(line, sizeof line, "CHECK", "ctx", "smtp", "stage", "rcpt", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	/* a stage is of SMTP only, and one of the two */
	line_build(line, sizeof line, "CHECK", "ctx", "local", "stage", "data", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), -1);
	assert_contains(err, "stage");
	line_build(line, sizeof line, "CHECK", "ctx", "smtp", "stage", "mail", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), -1);
	/* EVENT needs its event */
	line_build(line, sizeof line, "EVENT", "event", "msg:delivery", "msgid", "x", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_int_equal(req.verb, PROTO_EVENT);
	assert_string_equal(req.event, "msg:delivery");
	line_build(line, sizeof line, "EVENT", "msgid", "x", NULL);
	assert_int_equal(parse(line, &req, err, sizeof err), -1);
	assert_contains(err, "event");
	assert_string_equal(proto_verdict_name(VERDICT_HOLD), "HOLD");
}

/* Values holding spaces, '=', '%', quotes, newlines or "x=y" stay one value. */
static void
test_parse_no_injection(void **state)
{
	static const char *const values[] = {
		"a rcpt=ZXZpbA==",
		"auth=x",
		" auth=eA== ",
		"\"a b\"@example.com",
		"50% off = cheap",
		"'quoted' \"double\"",
		"line1\nline2",
		"cr\r\nrcpt=ZXZpbA==",
		"\t\x01\x7f\xff",
		"==",
	};
	(void)state;

	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		struct proto_request req;
		char line[1024], err[128];

		line_build(line, sizeof line, "CHECK", "ctx", "smtp", "auth", values[i],
		    "rcpt", "victim@example.org", "sender", values[i], NULL);
		if (parse(line, &req, err, sizeof err) != 0)
			fail_msg("value %zu rejected: %s", i, err);
		assert_string_equal(req.auth, values[i]);
		assert_string_equal(req.sender, values[i]);
		assert_string_equal(req.rcpt, "victim@example.org");
		assert_string_equal(req.ctx, "smtp");
		assert_string_equal(req.uid, "");
	}

	/* without a real rcpt field, the one hidden in a value does not appear */
	{
		struct proto_request req;
		char line[256], err[128];

		line_build(line, sizeof line, "CHECK", "ctx", "smtp",
		    "auth", "a rcpt=ZXZpbA==", NULL);
		assert_int_equal(parse(line, &req, err, sizeof err), 0);
		assert_string_equal(req.rcpt, "");
		assert_string_equal(req.auth, "a rcpt=ZXZpbA==");
	}
}

/* Fields the daemon does not know are ignored. */
static void
test_parse_unknown_fields_ignored(void **state)
{
	struct proto_request req;
	char line[256], err[128];
	(void)state;

	snprintf(line, sizeof line,
	    "MAILABUSE/1 CHECK future=YmFy ctx=c210cA== x_1= auth2=Ym9i 9lives=");
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_string_equal(req.ctx, "smtp");
	assert_string_equal(req.auth, "");
}

/* A known field given twice is an error, even if one copy is empty. */
static void
test_parse_duplicate_field(void **state)
{
	static const char *const lines[] = {
		"MAILABUSE/1 CHECK ctx=c210cA== ctx=c210cA==",
		"MAILABUSE/1 CHECK ctx=c210cA== auth=Ym9i auth=",
		"MAILABUSE/1 CHECK auth= ctx=c210cA== auth=Ym9i",
		"MAILABUSE/1 CHECK ctx=c210cA== rcpt=YQ== rcpt=YQ==",
		"MAILABUSE/1 PING ip= ip=",
	};
	(void)state;

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		struct proto_request req;
		char line[128], err[128];

		snprintf(line, sizeof line, "%s", lines[i]);
		if (parse(line, &req, err, sizeof err) != -1)
			fail_msg("\"%s\" accepted", lines[i]);
		assert_contains(err, "twice");
	}
}

struct bad_line {
	const char *line;
	const char *err;	/* a piece of the expected message */
};

/* Malformed requests: version, verb, ctx, field syntax, base64, NUL. */
static void
test_parse_rejects(void **state)
{
	static const struct bad_line cases[] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "\r", "empty" },
		{ "CHECK ctx=c210cA==", "version" },
		{ "MAILABUSE/2 PING", "version" },
		{ "MAILABUSE/10 PING", "version" },
		{ "MAILABUSE/1x PING", "version" },
		{ "mailabuse/1 PING", "version" },
		{ "MAILABUSE/1", "missing verb" },
		{ "MAILABUSE/1 \r", "missing verb" },
		{ "MAILABUSE/1 check ctx=c210cA==", "unknown verb" },
		{ "MAILABUSE/1 QUIT", "unknown verb" },
		{ "MAILABUSE/1 PINGX", "unknown verb" },
		{ "MAILABUSE/1\tPING", "version" },
		{ "MAILABUSE/1 CHECK", "ctx" },
		{ "MAILABUSE/1 CHECK auth=Ym9i", "ctx" },
		{ "MAILABUSE/1 CHECK ctx=", "ctx" },
		{ "MAILABUSE/1 CHECK ctx=U01UUA==", "ctx" },		/* "SMTP" */
		{ "MAILABUSE/1 CHECK ctx=c210cHg=", "ctx" },		/* "smtpx" */
		{ "MAILABUSE/1 CHECK ctx=c210cCA=", "ctx" },		/* "smtp " */
		{ "MAILABUSE/1 CHECK ctx=bG9jYWwK", "ctx" },		/* "local\n" */
		{ "MAILABUSE/1 CHECK ctx=smtp", "ctx" },	/* valid base64 of other bytes */
		{ "MAILABUSE/1 CHECK ctx=local", "invalid base64" },	/* not encoded */
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=Ym9", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=Ym9i=", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=QR==", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=Y=9i", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=YQ==YQ==", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA==\r\r", "invalid base64" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=YQBi", "NUL" },	/* "a\0b" */
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth=AA==", "NUL" },	/* "\0" */
		{ "MAILABUSE/1 CHECK ctx=c210cA== sender=YWJj", NULL },	/* control: fine */
		{ "MAILABUSE/1 CHECK ctx=c210cA== auth", "malformed field" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== =Ym9i", "malformed field" },
		{ "MAILABUSE/1 CHECK CTX=c210cA==", "malformed field name" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== a-b=", "malformed field name" },
		{ "MAILABUSE/1 CHECK ctx=c210cA== a.b=", "malformed field name" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct proto_request req;
		char line[128], err[128];
		int r;

		snprintf(line, sizeof line, "%s", cases[i].line);
		r = parse(line, &req, err, sizeof err);
		if (cases[i].err == NULL) {
			if (r != 0)
				fail_msg("\"%s\" rejected: %s", cases[i].line, err);
			continue;
		}
		if (r != -1)
			fail_msg("\"%s\" accepted", cases[i].line);
		if (strstr(err, cases[i].err) == NULL)
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].line, err,
			    cases[i].err);
	}
}

/* The error for bad base64 names the field. */
static void
test_parse_error_names_field(void **state)
{
	struct proto_request req;
	char line[128], err[128];
	(void)state;

	snprintf(line, sizeof line, "MAILABUSE/1 CHECK ctx=c210cA== sender=!!!!");
	assert_int_equal(parse(line, &req, err, sizeof err), -1);
	assert_contains(err, "sender");
}

/* A trailing \r is dropped before the last value is decoded. */
static void
test_parse_trailing_cr(void **state)
{
	struct proto_request req;
	char line[128], err[128];
	(void)state;

	snprintf(line, sizeof line, "MAILABUSE/1 CHECK ctx=c210cA== auth=Ym9i\r");
	assert_int_equal(parse(line, &req, err, sizeof err), 0);
	assert_string_equal(req.auth, "bob");
	assert_string_equal(req.ctx, "smtp");
}

/* ---- replies ---- */

struct reply_case {
	enum verdict v;
	const char *text;
	const char *line;
};

/* Verdict words and the text after them. */
static void
test_reply_format(void **state)
{
	static const struct reply_case cases[] = {
		{ VERDICT_PASS, NULL, "PASS\n" },
		{ VERDICT_PASS, "", "PASS\n" },
		{ VERDICT_REFUSE, "5.7.1 Outgoing mail of account bob is suspended",
		    "REFUSE 5.7.1 Outgoing mail of account bob is suspended\n" },
		{ VERDICT_DEFER, "4.3.0 database unavailable", "DEFER 4.3.0 database unavailable\n" },
		{ VERDICT_ERROR, "5.5.2 request line too long", "ERROR 5.5.2 request line too long\n" },
		{ VERDICT_OK, "mailabused 0.1.0", "OK mailabused 0.1.0\n" },
		{ VERDICT_OK, NULL, "OK\n" },
		/* control characters and bytes >= 0x7f become '?' */
		{ VERDICT_REFUSE, "a\nb\rc\td\x01" "e\x7f" "f\x80g\xff" "h\xc3\xa9",
		    "REFUSE a?b?c?d?e?f?g?h??\n" },
		{ VERDICT_DEFER, "\n", "DEFER ?\n" },
		{ VERDICT_PASS, " ~", "PASS  ~\n" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char buf[256];
		int n = proto_reply_format(cases[i].v, cases[i].text, buf, sizeof buf);

		assert_int_equal(n, strlen(cases[i].line));
		assert_string_equal(buf, cases[i].line);
	}
}

/* Every printable ASCII character passes through unchanged. */
static void
test_reply_printable_kept(void **state)
{
	char text[96], expect[128], buf[128];
	size_t o = 0;
	(void)state;

	for (int c = 0x20; c < 0x7f; c++)
		text[o++] = (char)c;
	text[o] = '\0';
	snprintf(expect, sizeof expect, "PASS %s\n", text);
	assert_int_equal(proto_reply_format(VERDICT_PASS, text, buf, sizeof buf),
	    strlen(expect));
	assert_string_equal(buf, expect);
}

/* A buffer one byte too small gives -1; exactly large enough works. */
static void
test_reply_buffer_limits(void **state)
{
	char buf[64];
	const char *want = "REFUSE 5.7.1 x\n";	/* 15 characters */
	(void)state;

	assert_int_equal(proto_reply_format(VERDICT_REFUSE, "5.7.1 x", buf, 16), 15);
	assert_string_equal(buf, want);
	assert_int_equal(proto_reply_format(VERDICT_REFUSE, "5.7.1 x", buf, 15), -1);
	assert_int_equal(proto_reply_format(VERDICT_REFUSE, "5.7.1 x", buf, 1), -1);
	assert_int_equal(proto_reply_format(VERDICT_PASS, NULL, buf, 6), 5);
	assert_int_equal(proto_reply_format(VERDICT_PASS, NULL, buf, 5), -1);
	assert_int_equal(proto_reply_format(VERDICT_PASS, NULL, buf, 0), -1);
}

/* A long text is never silently truncated: all of it, or -1. */
static void
test_reply_long_text_not_truncated(void **state)
{
	char text[700], buf[1024];
	int n;
	(void)state;

	memset(text, 'a', 600);
	text[600] = '\0';
	n = proto_reply_format(VERDICT_REFUSE, text, buf, sizeof buf);
	if (n != -1) {
		assert_int_equal(n, strlen("REFUSE ") + 600 + 1);
		assert_int_equal(strlen(buf), strlen("REFUSE ") + 600 + 1);
	}
}

/* Names of the verdicts; anything unknown reads as ERROR. */
static void
test_verdict_names(void **state)
{
	(void)state;

	assert_string_equal(proto_verdict_name(VERDICT_PASS), "PASS");
	assert_string_equal(proto_verdict_name(VERDICT_REFUSE), "REFUSE");
	assert_string_equal(proto_verdict_name(VERDICT_DEFER), "DEFER");
	assert_string_equal(proto_verdict_name(VERDICT_ERROR), "ERROR");
	assert_string_equal(proto_verdict_name(VERDICT_OK), "OK");
	assert_string_equal(proto_verdict_name((enum verdict)99), "ERROR");
}

/* proto_sanitize: bounded, terminated, '?' for anything unprintable. */
static void
test_sanitize(void **state)
{
	char out[8];
	(void)state;

	memset(out, 'X', sizeof out);
	proto_sanitize("abc", out, 0);
	assert_int_equal(out[0], 'X');
	proto_sanitize("abc", out, 1);
	assert_string_equal(out, "");
	proto_sanitize("abcdef", out, 4);
	assert_string_equal(out, "abc");
	assert_int_equal(out[4], 'X');
	proto_sanitize("\x1f\x20\x7e\x7f", out, sizeof out);
	assert_string_equal(out, "? ~?");
	proto_sanitize("", out, sizeof out);
	assert_string_equal(out, "");
}

/* ---- recipient lists ---- */

/* Read every address of list into got (joined with '|'); returns the last status. */
static int
rcpt_all(const char *list, size_t outlen, char *got, size_t gotlen)
{
	const char *cur = list;
	char one[400];
	int r, guard = 0;

	assert_true(outlen <= sizeof one);
	got[0] = '\0';
	while ((r = proto_rcpt_next(&cur, one, outlen)) == 1) {
		size_t l = strlen(got);

		snprintf(got + l, gotlen - l, "%s%s", l > 0 ? "|" : "", one);
		assert_true(++guard < 100);
	}
	return r;
}

struct rcpt_case {
	const char *list;
	const char *want;	/* addresses joined with '|' */
};

/* Splitting Exim's $recipients. */
static void
test_rcpt_next(void **state)
{
	static const struct rcpt_case cases[] = {
		{ "a@x, b@y", "a@x|b@y" },
		{ "a@x,b@y", "a@x|b@y" },
		{ "a@x", "a@x" },
		{ "", "" },
		{ " , ,, ", "" },
		{ "  a@x  ,  , b@y ,", "a@x|b@y" },
		{ ",a@x,,,b@y,,", "a@x|b@y" },
		{ "\ta@x\t,\tb@y\t", "a@x|b@y" },
		{ "\"a,b\"@x, c@y", "\"a,b\"@x|c@y" },
		{ "\"a, b\"@x,\"c\"@y", "\"a, b\"@x|\"c\"@y" },
		{ "\"a\\\",b\"@x, c@y", "\"a\\\",b\"@x|c@y" },	/* escaped quote inside quotes */
		{ "\"a b\"@x", "\"a b\"@x" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[512];
		int r = rcpt_all(cases[i].list, 400, got, sizeof got);

		assert_int_equal(r, 0);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", expected \"%s\"", cases[i].list, got,
			    cases[i].want);
	}
}

/* At the end, the cursor stays at the end and further calls return 0. */
static void
test_rcpt_next_end(void **state)
{
	const char *list = "a@x";
	const char *cur = list;
	char out[16];
	(void)state;

	assert_int_equal(proto_rcpt_next(&cur, out, sizeof out), 1);
	assert_string_equal(out, "a@x");
	assert_int_equal(proto_rcpt_next(&cur, out, sizeof out), 0);
	assert_ptr_equal(cur, list + 3);
	assert_int_equal(proto_rcpt_next(&cur, out, sizeof out), 0);
}

/* An address that exactly fits is returned; one byte longer is -1. */
static void
test_rcpt_next_overlong(void **state)
{
	const char *cur;
	char out[8];
	(void)state;

	cur = "abc@xyz, b@y";		/* 7 characters + NUL = 8 */
	assert_int_equal(proto_rcpt_next(&cur, out, sizeof out), 1);
	assert_string_equal(out, "abc@xyz");

	cur = "abcd@xyz, b@y";		/* 8 characters: does not fit */
	memset(out, 'X', sizeof out);
	assert_int_equal(proto_rcpt_next(&cur, out, sizeof out), -1);
	for (size_t i = 0; i < sizeof out; i++)
		assert_int_equal(out[i], 'X');

	cur = "a@x";
	assert_int_equal(proto_rcpt_next(&cur, out, 0), -1);
}

struct domain_case {
	const char *addr;
	const char *domain;	/* NULL: none */
};

/* The domain is what follows the last '@'. */
static void
test_addr_domain(void **state)
{
	static const struct domain_case cases[] = {
		{ "a@example.com", "example.com" },
		{ "a@b@example.com", "example.com" },
		{ "\"a@b\"@example.org", "example.org" },
		{ "@x", "x" },
		{ "a@", NULL },
		{ "a", NULL },
		{ "", NULL },
		{ "@", NULL },
	};
	(void)state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *d = proto_addr_domain(cases[i].addr);

		if (cases[i].domain == NULL) {
			if (d != NULL)
				fail_msg("\"%s\": got \"%s\", expected none", cases[i].addr, d);
		} else {
			if (d == NULL)
				fail_msg("\"%s\": got none", cases[i].addr);
			assert_string_equal(d, cases[i].domain);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_rfc4648_vectors),
		cmocka_unit_test(test_base64_round_trip),
		cmocka_unit_test(test_base64_decode_in_place),
		cmocka_unit_test(test_base64_decode_rejects),
		cmocka_unit_test(test_base64_buffer_limits),
		cmocka_unit_test(test_parse_ping),
		cmocka_unit_test(test_parse_check_all_fields),
		cmocka_unit_test(test_parse_check_minimal),
		cmocka_unit_test(test_parse_stage_and_event),
		cmocka_unit_test(test_parse_no_injection),
		cmocka_unit_test(test_parse_unknown_fields_ignored),
		cmocka_unit_test(test_parse_duplicate_field),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_error_names_field),
		cmocka_unit_test(test_parse_trailing_cr),
		cmocka_unit_test(test_reply_format),
		cmocka_unit_test(test_reply_printable_kept),
		cmocka_unit_test(test_reply_buffer_limits),
		cmocka_unit_test(test_reply_long_text_not_truncated),
		cmocka_unit_test(test_verdict_names),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_rcpt_next),
		cmocka_unit_test(test_rcpt_next_end),
		cmocka_unit_test(test_rcpt_next_overlong),
		cmocka_unit_test(test_addr_domain),
	};

	return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}

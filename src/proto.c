/*
 * The policy socket protocol (PROTOCOL.md): one request line in, one
 * reply line out.  Field values are base64 so that no value can be read
 * as another field.  Pure: no I/O, no global state.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one base64 character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 decoding with padding.  out may be in; returns the
 * decoded length or -1 on malformed input or a short buffer.
 */
long
proto_base64_decode(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (inlen % 4 != 0)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == inlen && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;	/* data after padding */
			if ((v[k] = b64_value(c)) < 0)
				return -1;
		}
		if (o + (size_t)(3 - pad) > outlen)
			return -1;
		/* Reject non-canonical encodings: unused bits must be zero. */
		if (pad == 2 && (v[1] & 0x0f) != 0)
			return -1;
		if (pad == 1 && (v[2] & 0x03) != 0)
			return -1;
		out[o++] = (char)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			out[o++] = (char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
		if (pad < 1)
			out[o++] = (char)(((v[2] & 0x03) << 6) | v[3]);
	}
	return (long)o;
}

/* Encode with padding, NUL-terminated; returns the length or -1. */
long
proto_base64_encode(const char *in, size_t inlen, char *out, size_t outlen)
{
	size_t i, o = 0;
	const unsigned char *s = (const unsigned char *)in;

	if ((inlen + 2) / 3 * 4 + 1 > outlen)
		return -1;
	for (i = 0; i + 2 < inlen; i += 3) {
		out[o++] = b64_alphabet[s[i] >> 2];
		out[o++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
		out[o++] = b64_alphabet[((s[i + 1] & 0x0f) << 2) | (s[i + 2] >> 6)];
		out[o++] = b64_alphabet[s[i + 2] & 0x3f];
	}
	if (i < inlen) {
		out[o++] = b64_alphabet[s[i] >> 2];
		if (i + 1 < inlen) {
			out[o++] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
			out[o++] = b64_alphabet[(s[i + 1] & 0x0f) << 2];
		} else {
			out[o++] = b64_alphabet[(s[i] & 0x03) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
	return (long)o;
}

struct proto_field {
	const char *name;
	size_t offset;
};

static const struct proto_field proto_fields[] = {
	{ "ctx", offsetof(struct proto_request, ctx) },
	{ "auth", offsetof(struct proto_request, auth) },
	{ "uid", offsetof(struct proto_request, uid) },
	{ "sender", offsetof(struct proto_request, sender) },
	{ "rcpt", offsetof(struct proto_request, rcpt) },
	{ "ip", offsetof(struct proto_request, ip) },
	{ "script", offsetof(struct proto_request, script) },
	{ "account", offsetof(struct proto_request, account) },
	{ "limit", offsetof(struct proto_request, limit) },
	{ "stage", offsetof(struct proto_request, stage) },
	{ "msgid", offsetof(struct proto_request, msgid) },
	{ "event", offsetof(struct proto_request, event) },
	{ "since", offsetof(struct proto_request, since) },
	{ "nrcpt", offsetof(struct proto_request, nrcpt) },
	{ "age", offsetof(struct proto_request, age) },
	{ "port", offsetof(struct proto_request, port) },
	{ "lip", offsetof(struct proto_request, lip) },
	{ "lport", offsetof(struct proto_request, lport) },
	{ "parent", offsetof(struct proto_request, parent) },
};
#define PROTO_NFIELDS (sizeof proto_fields / sizeof proto_fields[0])

/* Split off the next space-separated word of *p, NUL-terminating it. */
static char *
proto_word_next(char **p)
{
	char *s = *p, *w;

	while (*s == ' ')
		s++;
	if (*s == '\0') {
		*p = s;
		return NULL;
	}
	w = s;
	while (*s != '\0' && *s != ' ')
		s++;
	if (*s == ' ')
		*s++ = '\0';
	*p = s;
	return w;
}

/* A verb's word to its value; -1 for an unknown word. */
static int
proto_verb_parse(const char *word, enum proto_verb *verb)
{
	static const struct {
		const char *word;
		enum proto_verb verb;
	} verbs[] = {
		{ "CHECK", PROTO_CHECK }, { "PING", PROTO_PING }, { "STATUS", PROTO_STATUS },
		{ "HISTORY", PROTO_HISTORY }, { "UNBLOCK", PROTO_UNBLOCK }, { "EVENT", PROTO_EVENT },
	};

	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(word, verbs[i].word) == 0) {
			*verb = verbs[i].verb;
			return 0;
		}
	return -1;
}

/* One name=base64 field decoded in place into its slot of req (unknown names ignored). */
static int
proto_field_parse(char *word, struct proto_request *req, unsigned *seen, char *err,
    size_t errlen)
{
	char *eq = strchr(word, '=');
	long n;
	size_t i;

	if (eq == NULL || eq == word) {
		snprintf(err, errlen, "malformed field, expected name=base64");
		return -1;
	}
	*eq = '\0';
	for (char *c = word; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) {
			snprintf(err, errlen, "malformed field name");
			return -1;
		}
	}
	n = proto_base64_decode(eq + 1, strlen(eq + 1), eq + 1, strlen(eq + 1));
	if (n < 0) {
		snprintf(err, errlen, "field %s: invalid base64", word);
		return -1;
	}
	if (memchr(eq + 1, '\0', (size_t)n) != NULL) {
		snprintf(err, errlen, "field %s: NUL byte in value", word);
		return -1;
	}
	eq[1 + n] = '\0';
	for (i = 0; i < PROTO_NFIELDS; i++)
		if (strcmp(word, proto_fields[i].name) == 0)
			break;
	if (i == PROTO_NFIELDS)
		return 0;	/* unknown fields are ignored */
	if (*seen & (1u << i)) {
		snprintf(err, errlen, "field %s given twice", word);
		return -1;
	}
	*seen |= 1u << i;
	*(const char **)(void *)((char *)req + proto_fields[i].offset) = eq + 1;
	return 0;
}

/* The fields a verb requires, and the values they may take. */
static int
proto_request_check(const struct proto_request *req, char *err, size_t errlen)
{
	if (req->verb == PROTO_CHECK) {
		if (strcmp(req->ctx, "smtp") != 0 && strcmp(req->ctx, "local") != 0 &&
		    strcmp(req->ctx, "route") != 0) {
			snprintf(err, errlen, "field ctx must be smtp, local or route");
			return -1;
		}
		if (req->stage[0] != '\0' && (strcmp(req->ctx, "smtp") != 0 ||
		    (strcmp(req->stage, "rcpt") != 0 && strcmp(req->stage, "data") != 0))) {
			snprintf(err, errlen, "field stage must be rcpt or data, with ctx smtp");
			return -1;
		}
	}
	if (req->verb == PROTO_EVENT && req->event[0] == '\0') {
		snprintf(err, errlen, "field event is required");
		return -1;
	}
	return 0;
}

/*
 * Parse one request line (without its newline; a trailing \r is
 * dropped).  The line is modified: values are decoded in place.
 */
int
proto_request_parse(char *line, struct proto_request *req, char *err, size_t errlen)
{
	static const char empty[] = "";
	char *p = line, *word;
	size_t len = strlen(line);
	unsigned seen = 0;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (size_t i = 0; i < PROTO_NFIELDS; i++)
		*(const char **)(void *)((char *)req + proto_fields[i].offset) = empty;
	if ((word = proto_word_next(&p)) == NULL) {
		snprintf(err, errlen, "empty request");
		return -1;
	}
	if (strcmp(word, PROTO_VERSION) != 0) {
		snprintf(err, errlen, "unsupported protocol version, expected " PROTO_VERSION);
		return -1;
	}
	if ((word = proto_word_next(&p)) == NULL) {
		snprintf(err, errlen, "missing verb");
		return -1;
	}
	if (proto_verb_parse(word, &req->verb) == -1) {
		snprintf(err, errlen, "unknown verb");
		return -1;
	}
	while ((word = proto_word_next(&p)) != NULL)
		if (proto_field_parse(word, req, &seen, err, errlen) == -1)
			return -1;
	return proto_request_check(req, err, errlen);
}

/* The verdict's word on the wire. */
const char *
proto_verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_PASS:
		return "PASS";
	case VERDICT_REFUSE:
		return "REFUSE";
	case VERDICT_DEFER:
		return "DEFER";
	case VERDICT_OK:
		return "OK";
	case VERDICT_REFUSED:
		return "REFUSED";
	case VERDICT_HOLD:
		return "HOLD";
	case VERDICT_ERROR:
	default:
		return "ERROR";
	}
}

/* Copy in to out, replacing anything but printable ASCII by '?'. */
void
proto_sanitize(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	for (; *in != '\0' && o + 1 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/*
 * Format the reply line "VERDICT text\n".  The text is made printable
 * ASCII.  Returns the length, or -1 if buf is too small.
 */
int
proto_reply_format(enum verdict v, const char *text, char *buf, size_t len)
{
	const char *word = proto_verdict_name(v);
	size_t n = strlen(word), tl = text != NULL ? strlen(text) : 0;

	if (n + (tl ? 1 + tl : 0) + 2 > len)
		return -1;
	memcpy(buf, word, n);
	if (tl > 0) {
		buf[n++] = ' ';
		proto_sanitize(text, buf + n, tl + 1);
		n += tl;
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return (int)n;
}

/*
 * Next address of a comma-separated recipient list (Exim's $recipients),
 * honouring double-quoted local parts.  Returns 1 with the address in
 * out, 0 at the end, -1 if an address does not fit.
 */
int
proto_rcpt_next(const char **cursor, char *out, size_t outlen)
{
	const char *s = *cursor, *start, *end;
	int quoted = 0;
	size_t n;

	for (;;) {
		while (*s == ' ' || *s == ',' || *s == '\t')
			s++;
		if (*s == '\0') {
			*cursor = s;
			return 0;
		}
		start = s;
		for (; *s != '\0'; s++) {
			if (*s == '\\' && quoted && s[1] != '\0')
				s++;
			else if (*s == '"')
				quoted = !quoted;
			else if (*s == ',' && !quoted)
				break;
		}
		end = s;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start)
			break;
	}
	*cursor = s;
	n = (size_t)(end - start);
	if (n + 1 > outlen)
		return -1;
	memcpy(out, start, n);
	out[n] = '\0';
	return 1;
}

/* The domain of an address: what follows its last '@', or NULL. */
const char *
proto_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || at[1] == '\0')
		return NULL;
	return at + 1;
}

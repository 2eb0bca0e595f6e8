/*
 * libFuzzer target for the cPanel file parsers: any bytes as
 * etc/userdomains, etc/trueuserowners, etc/localdomains or
 * var/cpanel/users/<user>, split into lines as sync reads them, must
 * parse or be refused line by line, and what parses must be a sane
 * record inside the line; a CONTACTEMAIL sync keeps is one plain address.
 * And sync --account's prefilter: cpanel_want_next must give exactly
 * the lines that cpanel_want_line takes, one by one, with their numbers.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpanel.h"
#include "identity.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* p lies inside [buf, buf + len] and is a string that ends there. */
static void
fuzz_inside(const char *buf, size_t len, const char *p)
{
	if (p < buf || p > buf + len || p + strlen(p) > buf + len)
		abort();
}

/* No white space at either end. */
static void
fuzz_trimmed(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1])))
		abort();
}

/* Every parser on one line, each on its own copy, as sync would call it. */
static void
fuzz_line(const char *line, size_t len)
{
	char *buf, *key, *value, norm[256];
	int r;

	if ((buf = malloc(len + 1)) == NULL)
		return;

	/* etc/userdomains, etc/trueuserowners: "key: value" */
	memcpy(buf, line, len);
	buf[len] = '\0';
	if ((r = cpanel_pair_parse(buf, &key, &value)) == 1) {
		fuzz_inside(buf, len, key);
		fuzz_inside(buf, len, value);
		fuzz_trimmed(key);
		fuzz_trimmed(value);
		if (*key == '\0' || *value == '\0' || strpbrk(key, " \t") != NULL ||
		    strpbrk(value, " \t:") != NULL)
			abort();
		if (identity_domain_normalise(key, norm, sizeof norm) == 0 &&
		    (norm[0] == '\0' || strlen(norm) > 253))
			abort();
		(void)identity_account_name_valid(value);
	} else if (r != 0 && r != -1)
		abort();

	/* etc/localdomains: one domain a line */
	memcpy(buf, line, len);
	buf[len] = '\0';
	if ((r = cpanel_domain_line_parse(buf, &value)) == 1) {
		fuzz_inside(buf, len, value);
		fuzz_trimmed(value);
		if (*value == '\0' || *value == '#' || strpbrk(value, " \t") != NULL)
			abort();
		(void)identity_domain_normalise(value, norm, sizeof norm);
	} else if (r != 0 && r != -1)
		abort();

	/* var/cpanel/users/<user>: "KEY=VALUE" */
	memcpy(buf, line, len);
	buf[len] = '\0';
	if ((r = cpanel_users_line_parse(buf, &key, &value)) == 1) {
		fuzz_inside(buf, len, key);
		fuzz_inside(buf, len, value);
		fuzz_trimmed(value);
		if (*key == '\0' || strchr(key, '=') != NULL)
			abort();
		if (strcmp(key, "DNS") == 0)
			(void)identity_domain_normalise(value, norm, sizeof norm);
		/* sync keeps a CONTACTEMAIL only as one plain address: one line, one '@' */
		if (strcmp(key, "CONTACTEMAIL") == 0 && str_address_valid(value, 1) &&
		    (strpbrk(value, " \t\r\n,<>\"") != NULL || strchr(value, '@') == NULL ||
		    strchr(value, '@') != strrchr(value, '@')))
			abort();
	} else if (r != 0 && r != -1)
		abort();
	free(buf);
}

/*
 * The prefilter against its definition.  The input: a byte choosing
 * the kind, a line of names separated by spaces (the account first,
 * then domain names, lower-cased as sync keeps them), then the file.
 */
static void
fuzz_want(const char *p, const char *end)
{
	char *hdr, *names[40], *tok, *save = NULL;
	size_t lens[40], n = 0, lines, lineno = 1, want_lineno = 1;
	struct cpanel_want w;
	const char *nl, *s, *e, *ref, *ref_end, *q;

	if (p == end)
		return;
	memset(&w, 0, sizeof w);
	w.kind = "odl"[(unsigned char)*p++ % 3];
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL || (hdr = malloc((size_t)(nl - p) + 1)) == NULL)
		return;
	memcpy(hdr, p, (size_t)(nl - p));
	hdr[nl - p] = '\0';
	p = nl + 1;
	/* a header starting with a space has no account */
	w.account = "";
	tok = strtok_r(hdr, " ", &save);
	if (tok != NULL && hdr[0] != ' ') {
		w.account = tok;
		tok = strtok_r(NULL, " ", &save);
	}
	w.account_len = strlen(w.account);
	for (; n < 40 && tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		for (char *c = tok; *c != '\0'; c++)
			*c = (char)tolower((unsigned char)*c);
		names[n] = tok;
		lens[n++] = strlen(tok);
	}
	w.names = names;
	w.lens = lens;
	w.n = n;
	/* the reference: every line through cpanel_want_line */
	q = p;
	for (;;) {
		for (ref = NULL; q < end; q = ref_end) {
			nl = memchr(q, '\n', (size_t)(end - q));
			ref_end = nl != NULL ? nl + 1 : end;
			if (cpanel_want_line(&w, q, ref_end)) {
				ref = q;
				break;
			}
			want_lineno += ref_end[-1] == '\n';
		}
		s = cpanel_want_next(&w, p, end, &e, &lines);
		lineno += lines;
		if (s != ref || (s != NULL && (e != ref_end || lineno != want_lineno)))
			abort();
		if (s == NULL)
			break;
		if (e <= s || e > end || (e < end && e[-1] != '\n') ||
		    memchr(s, '\n', (size_t)(e - s) - 1) != NULL)
			abort();
		p = q = e;
		lineno++;
		want_lineno++;
	}
	if (lineno != want_lineno)
		abort();
	free(hdr);
}

/* One input: a cPanel file, every parser on each of its lines. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;

	if (size > 65536)
		return 0;
	/* getline's lines: each with its newline, the last one maybe without */
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl != NULL ? nl + 1 : end;
		fuzz_line(p, (size_t)(nl - p));
		p = nl;
	}
	fuzz_want((const char *)data, end);
	return 0;
}

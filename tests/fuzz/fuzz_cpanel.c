/*
 * libFuzzer target for the cPanel file parsers: any bytes as
 * etc/userdomains, etc/trueuserowners, etc/localdomains or
 * var/cpanel/users/<user>, split into lines as sync reads them, must
 * parse or be refused line by line, and what parses must be a sane
 * record inside the line; a CONTACTEMAIL sync keeps is one plain address.
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
	return 0;
}

/*
 * libFuzzer target for the escaping of outside text (str_escape) and the
 * plain-address check (str_address_valid), which stand between outside
 * values and log lines, terminals and a notice's To: header.  Any bytes
 * must escape to printable text or valid UTF-8 without controls, that
 * unescapes to the input; a cut output ends between two escapes; an
 * address taken as valid can go into a header as is.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The value of hex digit c, or -1. */
static int
fuzz_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo str_escape into out (as long as its input); abort on a bad escape. */
static size_t
fuzz_unescape(const char *e, char *out)
{
	size_t n = 0;

	while (*e != '\0') {
		if (*e != '\\') {
			out[n++] = *e++;
			continue;
		}
		switch (e[1]) {
		case 'n': out[n++] = '\n'; e += 2; break;
		case 'r': out[n++] = '\r'; e += 2; break;
		case 't': out[n++] = '\t'; e += 2; break;
		case '\\': out[n++] = '\\'; e += 2; break;
		case 'x':
			if (fuzz_hex(e[2]) < 0 || fuzz_hex(e[3]) < 0)
				abort();
			out[n++] = (char)(fuzz_hex(e[2]) << 4 | fuzz_hex(e[3]));
			e += 4;
			break;
		default:
			abort();
		}
	}
	return n;
}

/* No C0 control, DEL, C1 control or invalid UTF-8 in s. */
static void
fuzz_printable(const unsigned char *s)
{
	while (*s != '\0') {
		unsigned cp, n;

		if (*s < 0x80) {
			if (*s < 0x20 || *s == 0x7f)
				abort();
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			n = 2;
			cp = *s & 0x1f;
		} else if (*s >= 0xe0 && *s <= 0xef) {
			n = 3;
			cp = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 4;
			cp = *s & 0x07;
		} else
			abort();
		for (unsigned i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				abort();
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			abort();
		s += n;
	}
}

/* One input: a value from outside, escaped and checked as an address. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *out, *back, *cut;
	size_t len, outlen, cutlen;

	if (size > 4096)
		return 0;
	if ((in = malloc(size + 1)) == NULL)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';		/* up to the first NUL, as a C string */

	/* the whole escape: printable, as long as said, and reversible */
	len = str_escape_len(in);
	outlen = len + 1;
	if ((out = malloc(outlen)) == NULL || (back = malloc(strlen(in) + 1)) == NULL)
		abort();
	if (str_escape(in, out, outlen) != out || strlen(out) != len)
		abort();
	fuzz_printable((const unsigned char *)out);
	if (fuzz_unescape(out, back) != strlen(in) || memcmp(back, in, strlen(in)) != 0)
		abort();

	/* a smaller buffer: a prefix of the whole, cut between two escapes */
	cutlen = size > 0 ? data[0] % (outlen + 1) : 0;
	if ((cut = malloc(cutlen + 1)) == NULL)
		abort();
	cut[cutlen] = 'Z';
	str_escape(in, cut, cutlen);
	if (cut[cutlen] != 'Z')
		abort();		/* wrote past outlen */
	if (cutlen > 0) {
		size_t cl = strlen(cut);

		/* cut only where the next escape (at most STR_ESCAPE_MAX) did not fit */
		if (cl >= cutlen || strncmp(cut, out, cl) != 0 ||
		    (cl < len && cl + STR_ESCAPE_MAX < cutlen))
			abort();
		fuzz_printable((const unsigned char *)cut);
		(void)fuzz_unescape(cut, back);	/* no escape cut in half */
	}

	/* an address taken as valid goes into a To: header as it is */
	for (int need_domain = 0; need_domain <= 1; need_domain++) {
		if (!str_address_valid(in, need_domain))
			continue;
		if (strlen(in) == 0 || strlen(in) > 254 || strpbrk(in, " \t\r\n,;:<>\"()[]\\") != NULL ||
		    strchr(in, '@') != strrchr(in, '@') || (need_domain && strchr(in, '@') == NULL))
			abort();
		for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++)
			if (*p <= 0x20 || *p >= 0x7f)
				abort();
	}
	free(cut);
	free(back);
	free(out);
	free(in);
	return 0;
}

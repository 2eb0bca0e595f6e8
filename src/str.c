/*
 * Text that comes from outside (logins, script names, hosts, cPanel
 * files, complaint references, reasons) on its way to a log line or a
 * terminal: control characters, and bytes that are not UTF-8, are
 * written as C-style escapes, so that no value can start a new log line
 * or send a terminal an escape sequence.  And the plain mail address a
 * notice may be sent to.  Pure: no I/O, no global state.
 */
#include <string.h>

#include "str.h"

/*
 * The length of the valid UTF-8 sequence at p (2 to 4), or 0 when p
 * does not start one: overlong forms, surrogates and code points past
 * U+10FFFF are not valid.  *cp receives the code point.
 */
static size_t
str_utf8_len(const unsigned char *p, unsigned *cp)
{
	unsigned c = p[0], v, min;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/*
 * The escaped form of one position of s into buf (at most
 * STR_ESCAPE_MAX bytes: an escape or a whole UTF-8 sequence); returns how many
 * input bytes it stands for, and the output length in *outn.
 */
static size_t
str_escape_one(const unsigned char *s, char *buf, size_t *outn)
{
	static const char hex[] = "0123456789abcdef";
	unsigned c = s[0], cp;
	size_t n;
	const char *two = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" :
	    c == '\\' ? "\\\\" : NULL;

	if (two != NULL) {
		memcpy(buf, two, 2);
		*outn = 2;
		return 1;
	}
	if (c >= 0x20 && c < 0x7f) {
		buf[0] = (char)c;
		*outn = 1;
		return 1;
	}
	/* UTF-8 passes, but not the C1 controls U+0080 to U+009F */
	if (c >= 0x80 && (n = str_utf8_len(s, &cp)) > 0 && cp >= 0xa0) {
		memcpy(buf, s, n);
		*outn = n;
		return n;
	}
	buf[0] = '\\';
	buf[1] = 'x';
	buf[2] = hex[c >> 4];
	buf[3] = hex[c & 0xf];
	*outn = 4;
	return 1;
}

/*
 * Copy in to out (outlen bytes, NUL included) with "\n", "\r", "\t",
 * "\\" and "\xNN" for every other control character, DEL, C1 control
 * and byte that is not part of valid UTF-8.  An output too small is cut
 * between two escapes, never inside one.  Returns out.
 */
char *
str_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)(in != NULL ? in : "");
	size_t len = 0;

	if (outlen == 0)
		return out;
	while (*s != '\0') {
		char one[STR_ESCAPE_MAX];
		size_t n, used = str_escape_one(s, one, &n);

		if (len + n >= outlen)
			break;
		memcpy(out + len, one, n);
		len += n;
		s += used;
	}
	out[len] = '\0';
	return out;
}

/* The length str_escape needs for all of in, NUL excluded. */
size_t
str_escape_len(const char *in)
{
	const unsigned char *s = (const unsigned char *)(in != NULL ? in : "");
	size_t len = 0;

	while (*s != '\0') {
		char one[STR_ESCAPE_MAX];
		size_t n;

		s += str_escape_one(s, one, &n);
		len += n;
	}
	return len;
}

/* Characters of an address's local part (RFC 5322 atext and the dot). */
static int
str_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/*
 * Whether s is one plain mail address that may go into a To: header as
 * is: local@domain (or, unless need_domain, a bare local name such as
 * "root"), at most 254 characters, local part of RFC 5322 atext and
 * dots, the domain of letters, digits, '-' and dots; no spaces, control
 * characters, commas, quotes, angle brackets or a second '@'.
 */
int
str_address_valid(const char *s, int need_domain)
{
	const char *at, *p;
	size_t len;

	if (s == NULL || (len = strlen(s)) == 0 || len > 254)
		return 0;
	at = strchr(s, '@');
	if (at == NULL && need_domain)
		return 0;
	if (at != NULL && strchr(at + 1, '@') != NULL)
		return 0;
	/* local part: 1 to 64 characters, no dot first, last or twice */
	if (at == s || (at != NULL ? (size_t)(at - s) : len) > 64 || s[0] == '.' ||
	    (at != NULL ? at[-1] : s[len - 1]) == '.')
		return 0;
	for (p = s; *p != '\0' && p != at; p++)
		if (!str_local_char((unsigned char)*p) || (p[0] == '.' && p[1] == '.'))
			return 0;
	if (at == NULL)
		return 1;
	/* domain: labels of letters, digits and '-', no empty label */
	p = at + 1;
	if (*p == '\0' || *p == '.' || s[len - 1] == '.' || *p == '-')
		return 0;
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.') {
			if (p[1] == '.' || p[1] == '-' || p[-1] == '-')
				return 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return s[len - 1] != '-';
}

/* Copy a string into dst of len bytes (len > 0), cut to fit. */
void
str_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

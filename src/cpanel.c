/*
 * Line parsers for the files cPanel keeps its accounts in:
 * etc/userdomains and etc/trueuserowners ("key: value"),
 * etc/localdomains (one domain a line), var/cpanel/users/<user>
 * ("KEY=VALUE") and etc/outgoing_mail_suspended_users and
 * etc/outgoing_mail_hold_users (one user a line, "user" or "user: ...").  Pure: they split a line in place.
 * Each returns 1 for a record, 0 for a line to skip (blank or comment),
 * -1 for a malformed line.  And the prefilter of sync --account, which
 * finds the lines of a file that may concern one account.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "cpanel.h"

/* Trim white space at both ends, in place. */
static char *
cpanel_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key: value", as in etc/userdomains and etc/trueuserowners. */
int
cpanel_pair_parse(char *line, char **key, char **value)
{
	char *s = cpanel_trim(line), *colon;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((colon = strchr(s, ':')) == NULL)
		return -1;
	*colon = '\0';
	*key = cpanel_trim(s);
	*value = cpanel_trim(colon + 1);
	if (**key == '\0' || **value == '\0' || strpbrk(*key, " \t") != NULL ||
	    strpbrk(*value, " \t:") != NULL)
		return -1;
	return 1;
}

/* One domain a line, as in etc/localdomains. */
int
cpanel_domain_line_parse(char *line, char **domain)
{
	char *s = cpanel_trim(line);

	if (*s == '\0' || *s == '#')
		return 0;
	if (strpbrk(s, " \t") != NULL)
		return -1;
	*domain = s;
	return 1;
}

/* "KEY=VALUE", as in var/cpanel/users/<user>. */
int
cpanel_users_line_parse(char *line, char **key, char **value)
{
	char *s = cpanel_trim(line), *eq;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return -1;
	*eq = '\0';
	*key = s;
	*value = cpanel_trim(eq + 1);
	return 1;
}

/*
 * One user a line, as in etc/outgoing_mail_suspended_users and
 * etc/outgoing_mail_hold_users: "user", "user:" or "user: anything"
 * (an lsearch file: what follows the colon is not ours to read).
 */
int
cpanel_user_line_parse(char *line, char **user)
{
	char *s = cpanel_trim(line), *colon;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((colon = strchr(s, ':')) != NULL)
		*colon = '\0';
	s = cpanel_trim(s);
	if (*s == '\0' || strpbrk(s, " \t") != NULL)
		return -1;
	*user = s;
	return 1;
}

/* White space around a line, as the prefilter trims it. */
static int
cpanel_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Whether [p, e) starts with one of the names, followed by a colon or white space. */
static int
cpanel_names_prefix(const struct cpanel_want *w, const char *p, const char *e, int colon)
{
	size_t len = (size_t)(e - p);

	for (size_t i = 0; i < w->n; i++) {
		const char *v = w->names[i];
		size_t n = w->lens[i], j;

		if (len < n || (len > n && !cpanel_blank(p[n]) && !(colon && p[n] == ':')))
			continue;
		for (j = 0; j < n; j++)
			if ((p[j] >= 'A' && p[j] <= 'Z' ? p[j] - 'A' + 'a' : p[j]) != v[j])
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

/*
 * Whether the line [p, e) (its newline included or not) may concern
 * the account: the definition cpanel_want_next finds lines by.
 */
int
cpanel_want_line(const struct cpanel_want *w, const char *p, const char *e)
{
	size_t n = w->account_len;

	while (p < e && cpanel_blank(*p))
		p++;
	while (e > p && cpanel_blank(e[-1]))
		e--;
	if (w->kind == 'o')
		return (size_t)(e - p) > n && memcmp(p, w->account, n) == 0 &&
		    (p[n] == ':' || cpanel_blank(p[n]));
	if (w->kind == 'l')
		return cpanel_names_prefix(w, p, e, 0);
	if ((size_t)(e - p) > n && memcmp(e - n, w->account, n) == 0 &&
	    (e[-(long)n - 1] == ':' || cpanel_blank(e[-(long)n - 1])))
		return 1;
	return cpanel_names_prefix(w, p, e, 1);
}

/* The number of newlines in [p, e), 8 bytes at a time. */
static size_t
cpanel_newlines(const char *p, const char *e)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), low = UINT64_C(0x7f7f7f7f7f7f7f7f);
	uint64_t x, y;
	size_t n = 0;

	for (; e - p >= 8; p += 8) {
		memcpy(&x, p, 8);
		x ^= ones * '\n';
		/* the high bit of each byte of y: that byte of x is 0 */
		y = ~(((x & low) + low) | x | low);
		n += (size_t)(((y >> 7) * ones) >> 56);
	}
	for (; p < e; p++)
		n += *p == '\n';
	return n;
}

/* The names' first 8 bytes, each ORed with 0x20 (case folded, and more), and their masks. */
#define CPANEL_WANT_QUICK 32

struct cpanel_quick {
	uint64_t v[CPANEL_WANT_QUICK], mask[CPANEL_WANT_QUICK];
	size_t n;
	uint64_t tail, tmask;	/* the account's last 8 bytes (or fewer) */
};

static void
cpanel_quick_init(const struct cpanel_want *w, struct cpanel_quick *q)
{
	unsigned char b[8], m[8];

	q->n = w->n;
	memset(b, 0, sizeof b);
	memset(m, 0, sizeof m);
	if (w->account_len >= 8)
		memcpy(b, w->account + w->account_len - 8, 8);
	else
		memcpy(b + 8 - w->account_len, w->account, w->account_len);
	memset(m + 8 - (w->account_len < 8 ? w->account_len : 8), 0xff,
	    w->account_len < 8 ? w->account_len : 8);
	memcpy(&q->tail, b, 8);
	memcpy(&q->tmask, m, 8);
	for (size_t i = 0; i < w->n && i < CPANEL_WANT_QUICK; i++) {
		size_t len = w->lens[i] < 8 ? w->lens[i] : 8;

		memset(b, 0, sizeof b);
		memset(m, 0, sizeof m);
		memcpy(b, w->names[i], len);
		memset(m, 0xff, len);
		memcpy(&q->v[i], b, 8);
		memcpy(&q->mask[i], m, 8);
		q->v[i] = (q->v[i] | UINT64_C(0x2020202020202020)) & q->mask[i];
	}
}

/*
 * Whether the line [p, e) may start with one of the names: its first 8
 * bytes ORed with 0x20 against theirs.  A byte equal to a name's byte
 * but for ASCII case is equal after the OR, so no line the names start
 * is missed; cpanel_want_line decides.
 */
static int
cpanel_quick_prefix(const struct cpanel_quick *q, const char *p, const char *e)
{
	uint64_t x;

	if (q->n > CPANEL_WANT_QUICK || e - p < 8 || cpanel_blank(*p))
		return 1;
	memcpy(&x, p, 8);
	x |= UINT64_C(0x2020202020202020);
	for (size_t i = 0; i < q->n; i++)
		if ((x & q->mask[i]) == q->v[i])
			return 1;
	return 0;
}

/*
 * The next line in [p, end) that cpanel_want_line takes, or NULL; *next
 * is set to the end of the line (after its newline), *lines to the
 * number of lines passed over (the newlines from p to the line, or to
 * end when there is none).  Most lines are
 * turned down without being parsed: in etc/trueuserowners only the
 * places the account's name occurs are looked at (memmem), elsewhere a
 * line whose first 8 bytes match no name and whose last byte is not
 * the account's last is skipped.
 */
const char *
cpanel_want_next(const struct cpanel_want *w, const char *p, const char *end, const char **next,
    size_t *lines)
{
	struct cpanel_quick q;
	const char *s, *e;

	*lines = 0;

	if (w->kind == 'o') {
		if (w->account_len == 0)
			goto slow;
		while (p < end && (s = memmem(p, (size_t)(end - p), w->account,
		    w->account_len)) != NULL) {
			/* the line the name occurs in: from after the newline before it */
			for (e = s; e > p && e[-1] != '\n'; e--)
				;
			*lines += cpanel_newlines(p, e);
			s = e;
			e = memchr(s, '\n', (size_t)(end - s));
			e = e != NULL ? e + 1 : end;
			if (cpanel_want_line(w, s, e)) {
				*next = e;
				return s;
			}
			*lines += e[-1] == '\n';
			p = e;
		}
		*lines += cpanel_newlines(p, end);
		return NULL;
	}
	if (w->kind == 'd' && w->account_len == 0)
		goto slow;
	cpanel_quick_init(w, &q);
	for (; p < end; p = e) {
		const char *t;

		e = memchr(p, '\n', (size_t)(end - p));
		e = e != NULL ? e + 1 : end;
		if (w->kind == 'd') {
			uint64_t x;

			/* a line that may end with the account: its last 8 bytes first */
			for (t = e; t > p && cpanel_blank(t[-1]); t--)
				;
			if (t - p >= 8) {
				memcpy(&x, t - 8, 8);
				if ((x & q.tmask) == q.tail && cpanel_want_line(w, p, e))
					goto found;
			} else if (cpanel_want_line(w, p, e))
				goto found;
		}
		if (cpanel_quick_prefix(&q, p, e) && cpanel_want_line(w, p, e))
			goto found;
		*lines += e[-1] == '\n';
	}
	return NULL;
found:
	*next = e;
	return p;
slow:
	for (; p < end; p = e) {
		e = memchr(p, '\n', (size_t)(end - p));
		e = e != NULL ? e + 1 : end;
		if (cpanel_want_line(w, p, e)) {
			*next = e;
			return p;
		}
		*lines += e[-1] == '\n';
	}
	return NULL;
}

/*
 * Who sent a message, decided as cPanel decides it: the authenticated
 * id (a mailbox belongs to the owner of its domain, a bare name is that
 * account), else the uid that submitted it.  Never the envelope sender
 * alone: it only tells bounces apart.  Pure: lookups are injected.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

/* A cPanel user name: lower-case letters, digits, '_', '-', '.'; not starting with '.' or '-'. */
int
identity_account_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= ACCOUNT_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (const char *p = name; *p != '\0'; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		    *p == '_' || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

/*
 * Lower-case a domain and check it is a plausible host name (letters,
 * digits, '-', '_', dots between labels; a trailing dot is dropped).
 */
int
identity_domain_normalise(const char *in, char *out, size_t len)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n == 0 || n >= len || n > 253 || in[0] == '.')
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.' && in[i + 1] == '.')
			return -1;
		if (!(isalnum(c) || c == '-' || c == '_' || c == '.'))
			return -1;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return 0;
}

/*
 * The account owning a domain already in normal form: the domain itself,
 * else its parent domains in turn.  The top-level label alone is never
 * tried.
 */
static int
identity_owner_walk(const struct identity_lookup *lk, const char *norm, char *account,
    size_t len)
{
	for (const char *d = norm; ; ) {
		const char *dot = strchr(d, '.');
		int r;

		if (dot == NULL)
			return 0;	/* a bare TLD owns nothing */
		if ((r = lk->domain_owner(lk->ctx, d, account, len)) != 0)
			return r;
		d = dot + 1;
	}
}

/*
 * The account owning a domain (a subdomain not listed belongs to its
 * parent's owner); the domain is normalised first.
 */
int
identity_domain_owner(const struct identity_lookup *lk, const char *domain,
    char *account, size_t len)
{
	char norm[256];

	if (identity_domain_normalise(domain, norm, sizeof norm) == -1)
		return 0;
	return identity_owner_walk(lk, norm, account, len);
}

/* Parse a decimal uid; -1 if it is not one. */
static int
identity_uid_parse(const char *s, unsigned long *uid)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*uid = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *uid > 0xffffffffUL)
		return -1;
	return 0;
}

/*
 * An SMTP login in its normal form, lower case, with cPanel's "user+domain"
 * (or "user%domain") written "user@domain"; -1 when too long.
 */
static int
identity_login_normalise(const char *auth, char *login, size_t len)
{
	size_t i;

	if (strlen(auth) >= len)
		return -1;
	for (i = 0; auth[i] != '\0'; i++)
		login[i] = (char)tolower((unsigned char)auth[i]);
	login[i] = '\0';
	if (strchr(login, '@') == NULL) {
		char *sep = strrchr(login, '+'), *pct = strrchr(login, '%');

		if (pct != NULL && (sep == NULL || pct > sep))
			sep = pct;
		if (sep != NULL && sep != login)
			*sep = '@';
	}
	return 0;
}

/* The sender of an authenticated session: a mailbox, or an account by its user name. */
static int
identity_by_auth(const char *auth, const struct identity_lookup *lk, struct identity *id)
{
	char login[ADDRESS_MAX], dom[256];
	const char *at;
	size_t ll;
	int r;

	if (identity_login_normalise(auth, login, sizeof login) == -1)
		return 0;
	if ((at = strrchr(login, '@')) == NULL) {
		id->how = HOW_AUTH_USER;
		if (!identity_account_name_valid(login))
			return 0;
		if ((r = lk->account_exists(lk->ctx, login)) == 1) {
			/* valid names are shorter than ACCOUNT_NAME_MAX */
			memcpy(id->account, login, strlen(login) + 1);
			id->kind = IDENTITY_ACCOUNT;
		}
		return r == -1 ? -1 : 0;
	}
	ll = (size_t)(at - login);
	id->how = HOW_AUTH_MAILBOX;
	if (ll == 0 || identity_domain_normalise(at + 1, dom, sizeof dom) == -1 ||
	    ll + 1 + strlen(dom) >= sizeof id->mailbox)
		return 0;
	if ((r = identity_owner_walk(lk, dom, id->account, sizeof id->account)) == 1) {
		/* Mailboxes are matched case-insensitively, on the normal form. */
		memcpy(id->mailbox, login, ll);
		id->mailbox[ll] = '@';
		memcpy(id->mailbox + ll + 1, dom, strlen(dom) + 1);
		id->kind = IDENTITY_MAILBOX;
	}
	return r == -1 ? -1 : 0;
}

/* The sender of a local submission: the account whose user the uid is, or the system. */
static int
identity_by_uid(unsigned long u, unsigned long system_uid_max,
    const struct identity_lookup *lk, struct identity *id)
{
	char name[ACCOUNT_NAME_MAX];
	int r;

	id->how = HOW_UID;
	if (u == 0 || u <= system_uid_max) {
		id->kind = IDENTITY_SYSTEM;
		return 0;
	}
	if ((r = lk->uid_name(lk->ctx, u, name, sizeof name)) != 1)
		return r;
	if ((r = lk->account_exists(lk->ctx, name)) == 1) {
		snprintf(id->account, sizeof id->account, "%s", name);
		id->kind = IDENTITY_ACCOUNT;
	}
	return r == -1 ? -1 : 0;
}

/*
 * Decide who sent a message from the request's auth, uid and sender.
 * An empty envelope sender is a bounce only when nothing else names a
 * sender: anybody can submit with an empty sender, so an authenticated
 * client or an account's script that does is judged as itself.
 * Returns 0 with id filled, -1 on a lookup failure (err filled).
 */
int
identity_resolve(const char *auth, const char *uid, const char *sender,
    unsigned long system_uid_max, const struct identity_lookup *lk,
    struct identity *id, char *err, size_t errlen)
{
	unsigned long u = 0;
	int have_uid = uid[0] != '\0' && identity_uid_parse(uid, &u) == 0;
	int r = 0;

	memset(id, 0, sizeof *id);
	id->kind = IDENTITY_UNKNOWN;
	id->how = HOW_NONE;
	if (sender[0] == '\0' && auth[0] == '\0' &&
	    (!have_uid || u == 0 || u <= system_uid_max)) {
		id->kind = IDENTITY_BOUNCE;
		id->how = HOW_BOUNCE;
	} else if (auth[0] != '\0')
		r = identity_by_auth(auth, lk, id);
	else if (have_uid)
		r = identity_by_uid(u, system_uid_max, lk, id);
	if (r == -1)
		snprintf(err, errlen, "lookup failed while identifying the sender");
	return r;
}

/* A short name for logs and JSON. */
/* The word the logs use for how a sender was identified. */
const char *
identity_how_name(enum identity_how how)
{
	static const char *const names[] = {
		[HOW_NONE] = "none", [HOW_BOUNCE] = "bounce", [HOW_AUTH_MAILBOX] = "auth-mailbox",
		[HOW_AUTH_USER] = "auth-user", [HOW_UID] = "uid",
		[HOW_LOOPBACK_UID] = "loopback-uid", [HOW_WEB_SCRIPT] = "web-script",
	};

	return (size_t)how < sizeof names / sizeof names[0] ? names[how] : "none";
}

const char *
identity_kind_name(enum identity_kind kind)
{
	switch (kind) {
	case IDENTITY_BOUNCE:
		return "bounce";
	case IDENTITY_SYSTEM:
		return "system";
	case IDENTITY_ACCOUNT:
		return "account";
	case IDENTITY_MAILBOX:
		return "mailbox";
	case IDENTITY_UNKNOWN:
	default:
		return "unknown";
	}
}

/*
 * Whether a client address is the server itself: 127.0.0.0/8, ::1, an
 * IPv4-mapped loopback address, or the very address it connected to.
 */
int
identity_address_local(const char *ip, const char *server_ip)
{
	unsigned char a[16];

	if (ip[0] == '\0')
		return 0;
	if (server_ip[0] != '\0' && strcmp(ip, server_ip) == 0)
		return 1;
	if (inet_pton(AF_INET, ip, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char lo[16] = { [15] = 1 };
		static const unsigned char v4[12] = { [10] = 0xff, [11] = 0xff };

		return memcmp(a, lo, 16) == 0 || (memcmp(a, v4, 12) == 0 && a[12] == 127);
	}
	return 0;
}

/*
 * The site cPanel's "X-PHP-Script: www.example.com/~bob/contact.php for
 * 203.0.113.5" names: its host name (normal form, without a port) and,
 * when the URI starts with /~user/, that user (lower case; "" if none).
 * Returns 0, or -1 when the header is not of that form (e.g. PHP's own
 * "X-PHP-Originating-Script: 1001:contact.php").
 */
int
identity_php_script_site(const char *header, char *host, size_t hostlen, char *user,
    size_t userlen)
{
	const char *p = header, *end, *slash, *colon, *tilde;
	char raw[256];
	size_t n;

	user[0] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if ((end = strstr(p, " for ")) == NULL)
		end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
	    end[-1] == '\n'))
		end--;
	if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
		return -1;
	n = (size_t)(slash - p);
	if ((colon = memchr(p, ':', n)) != NULL) {
		/* a port: digits only */
		for (const char *c = colon + 1; c < slash; c++)
			if (!isdigit((unsigned char)*c))
				return -1;
		n = (size_t)(colon - p);
	}
	if (n == 0 || n >= sizeof raw)
		return -1;
	memcpy(raw, p, n);
	raw[n] = '\0';
	if (identity_domain_normalise(raw, host, hostlen) == -1 || strchr(host, '.') == NULL)
		return -1;
	/* ~user: the first path segment only, as Apache's UserDir serves it */
	tilde = slash + 1;
	if (tilde < end && *tilde == '~') {
		size_t i = 0;

		for (tilde++; tilde < end && *tilde != '/' && *tilde != '?'; tilde++) {
			if (i + 1 >= userlen || i + 1 >= ACCOUNT_NAME_MAX) {
				user[0] = '\0';
				return 0;
			}
			user[i++] = (char)tolower((unsigned char)*tilde);
		}
		user[i] = '\0';
		if (!identity_account_name_valid(user))
			user[0] = '\0';
	}
	return 0;
}

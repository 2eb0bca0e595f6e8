/*
 * Unit tests for identity.c: who sent a message, with the store and
 * passwd lookups replaced by small fake tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"

/* The fake world: who owns which domain, which accounts exist, passwd. */
struct fake_domain {
	const char *domain;
	const char *account;
};

static const struct fake_domain fake_domains[] = {
	{ "example.com", "bob" },
	{ "shop.example.com", "alice" },	/* a subdomain of another account */
	{ "other.org", "carol" },
};

static const char *const fake_accounts[] = { "bob", "alice", "carol", "dave" };

struct fake_uid {
	unsigned long uid;
	const char *name;
};

static const struct fake_uid fake_uids[] = {
	{ 1000, "dave" },
	{ 1001, "bob" },
	{ 1002, "alice" },
	{ 1500, "mailman" },		/* in passwd, not a cPanel account */
	{ 4294967295UL, "maxuid" },
};

#define N(a) (sizeof (a) / sizeof (a)[0])

/* Per-test state: failure switches and a log of what was looked up. */
struct fake {
	int fail_domain, fail_account, fail_uid;
	int n_domain, n_account, n_uid;
	char queried[512];	/* domains looked up, joined with '|' */
};

/* Owner of exactly this domain, from the table; logs the query. */
static int
fake_domain_owner_cb(void *ctx, const char *domain, char *account, size_t len)
{
	struct fake *f = ctx;
	size_t l = strlen(f->queried);

	f->n_domain++;
	snprintf(f->queried + l, sizeof f->queried - l, "%s%s", l ? "|" : "", domain);
	if (f->fail_domain)
		return -1;
	for (size_t i = 0; i < N(fake_domains); i++) {
		if (strcmp(fake_domains[i].domain, domain) == 0) {
			snprintf(account, len, "%s", fake_domains[i].account);
			return 1;
		}
	}
	return 0;
}

/* Whether the account is in the table. */
static int
fake_account_exists_cb(void *ctx, const char *account)
{
	struct fake *f = ctx;

	f->n_account++;
	if (f->fail_account)
		return -1;
	for (size_t i = 0; i < N(fake_accounts); i++)
		if (strcmp(fake_accounts[i], account) == 0)
			return 1;
	return 0;
}

/* The passwd name of a uid, from the table. */
static int
fake_uid_name_cb(void *ctx, unsigned long uid, char *name, size_t len)
{
	struct fake *f = ctx;

	f->n_uid++;
	if (f->fail_uid)
		return -1;
	for (size_t i = 0; i < N(fake_uids); i++) {
		if (fake_uids[i].uid == uid) {
			snprintf(name, len, "%s", fake_uids[i].name);
			return 1;
		}
	}
	return 0;
}

/* A lookup table wired to f. */
static struct identity_lookup
lookup_make(struct fake *f)
{
	struct identity_lookup lk;

	memset(f, 0, sizeof *f);
	lk.domain_owner = fake_domain_owner_cb;
	lk.account_exists = fake_account_exists_cb;
	lk.uid_name = fake_uid_name_cb;
	lk.ctx = f;
	return lk;
}

struct resolve_case {
	const char *auth, *uid, *sender;
	unsigned long uid_max;
	enum identity_kind kind;
	const char *account;	/* "" when none */
	const char *mailbox;	/* "" when none */
	const char *how;
};

#define S "someone@example.net"		/* a non-empty envelope sender */

/* The resolution table: bounce, auth mailbox, auth user, uid, nobody. */
static void
test_resolve_table(void **state)
{
	static const struct resolve_case cases[] = {
		/* bounces: an empty sender with nobody else named, or from a system uid */
		{ "", "0", "", 999, IDENTITY_BOUNCE, "", "", "bounce" },
		{ "", "999", "", 999, IDENTITY_BOUNCE, "", "", "bounce" },
		{ "", "", "", 999, IDENTITY_BOUNCE, "", "", "bounce" },
		/* anybody can send with an empty sender: it does not hide who did */
		{ "info@example.com", "1001", "", 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		{ "bob", "", "", 999, IDENTITY_ACCOUNT, "bob", "", "auth-user" },
		{ "", "1000", "", 999, IDENTITY_ACCOUNT, "dave", "", "uid" },
		{ "", "1001", "", 1001, IDENTITY_BOUNCE, "", "", "bounce" },
		/* cPanel's other login forms: user+domain and user%domain */
		{ "info+example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		{ "info%example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		{ "a+b+example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "a+b@example.com", "auth-mailbox" },
		{ "+example.com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-user" },
		{ "@example.com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },

		/* auth a mailbox: owner of the domain, mailbox lower-cased */
		{ "info@example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		{ "Info@Example.COM", "", S, 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		{ "x@Shop.Example.COM", "", S, 999, IDENTITY_MAILBOX, "alice", "x@shop.example.com", "auth-mailbox" },
		{ "a@other.org", "", S, 999, IDENTITY_MAILBOX, "carol", "a@other.org", "auth-mailbox" },
		/* subdomains not listed belong to the parent's owner */
		{ "a@blog.example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "a@blog.example.com", "auth-mailbox" },
		{ "a@x.y.example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "a@x.y.example.com", "auth-mailbox" },
		/* a subdomain listed for another account wins, also for its own subdomains */
		{ "a@shop.example.com", "", S, 999, IDENTITY_MAILBOX, "alice", "a@shop.example.com", "auth-mailbox" },
		{ "a@deep.shop.example.com", "", S, 999, IDENTITY_MAILBOX, "alice", "a@deep.shop.example.com", "auth-mailbox" },
		/* the last '@' separates the domain */
		{ "a@b@example.com", "", S, 999, IDENTITY_MAILBOX, "bob", "a@b@example.com", "auth-mailbox" },
		/* auth wins over uid, even root's */
		{ "info@example.com", "0", S, 999, IDENTITY_MAILBOX, "bob", "info@example.com", "auth-mailbox" },
		/* unknown or malformed domains: nobody */
		{ "a@unknown.net", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@.example.com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@example..com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@exam ple.com", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },
		{ "a@example.com/x", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-mailbox" },

		/* auth a bare name */
		{ "bob", "", S, 999, IDENTITY_ACCOUNT, "bob", "", "auth-user" },
		{ "dave", "1001", S, 999, IDENTITY_ACCOUNT, "dave", "", "auth-user" },
		{ "nobody", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-user" },
		{ "Bob", "", S, 999, IDENTITY_ACCOUNT, "bob", "", "auth-user" },
		{ "BOB", "", S, 999, IDENTITY_ACCOUNT, "bob", "", "auth-user" },
		{ "../x", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-user" },
		{ ".bob", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-user" },
		{ "bo b", "", S, 999, IDENTITY_UNKNOWN, "", "", "auth-user" },

		/* no auth: the uid */
		{ "", "0", S, 999, IDENTITY_SYSTEM, "", "", "uid" },
		{ "", "1", S, 999, IDENTITY_SYSTEM, "", "", "uid" },
		{ "", "999", S, 999, IDENTITY_SYSTEM, "", "", "uid" },		/* at the limit */
		{ "", "1000", S, 999, IDENTITY_ACCOUNT, "dave", "", "uid" },	/* one over */
		{ "", "1001", S, 999, IDENTITY_ACCOUNT, "bob", "", "uid" },
		{ "", "01001", S, 999, IDENTITY_ACCOUNT, "bob", "", "uid" },
		{ "", "1001", S, 1001, IDENTITY_SYSTEM, "", "", "uid" },
		{ "", "1001", S, 1000, IDENTITY_ACCOUNT, "bob", "", "uid" },
		{ "", "0", S, 0, IDENTITY_SYSTEM, "", "", "uid" },
		{ "", "999", S, 0, IDENTITY_UNKNOWN, "", "", "uid" },
		{ "", "1500", S, 999, IDENTITY_UNKNOWN, "", "", "uid" },	/* not an account */
		{ "", "4242", S, 999, IDENTITY_UNKNOWN, "", "", "uid" },	/* no passwd entry */
		{ "", "4294967295", S, 999, IDENTITY_UNKNOWN, "", "", "uid" },
		/* not a uid */
		{ "", "12a", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "abc", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "-1", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "+1001", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", " 1001", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "1001 ", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "0x10", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "4294967296", S, 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "99999999999999999999999", S, 999, IDENTITY_UNKNOWN, "", "", "none" },

		/* the envelope sender alone never identifies */
		{ "", "", "info@example.com", 999, IDENTITY_UNKNOWN, "", "", "none" },
		{ "", "", "bob", 999, IDENTITY_UNKNOWN, "", "", "none" },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		const struct resolve_case *c = &cases[i];
		struct fake f;
		struct identity_lookup lk = lookup_make(&f);
		struct identity id;
		char err[128] = "";

		memset(&id, 0x5a, sizeof id);
		if (identity_resolve(c->auth, c->uid, c->sender, c->uid_max, &lk, &id,
		    err, sizeof err) != 0)
			fail_msg("case %zu (auth \"%s\" uid \"%s\"): failed: %s", i, c->auth,
			    c->uid, err);
		if (id.kind != c->kind)
			fail_msg("case %zu (auth \"%s\" uid \"%s\" sender \"%s\"): kind %s, expected %s",
			    i, c->auth, c->uid, c->sender, identity_kind_name(id.kind),
			    identity_kind_name(c->kind));
		if (strcmp(id.account, c->account) != 0)
			fail_msg("case %zu (auth \"%s\" uid \"%s\"): account \"%s\", expected \"%s\"",
			    i, c->auth, c->uid, id.account, c->account);
		if (strcmp(id.mailbox, c->mailbox) != 0)
			fail_msg("case %zu (auth \"%s\"): mailbox \"%s\", expected \"%s\"", i,
			    c->auth, id.mailbox, c->mailbox);
		if (strcmp(identity_how_name(id.how), c->how) != 0)
			fail_msg("case %zu (auth \"%s\" uid \"%s\"): how \"%s\", expected \"%s\"",
			    i, c->auth, c->uid, identity_how_name(id.how), c->how);
	}
}

/* Bounces and system uids need no lookup at all. */
static void
test_resolve_no_needless_lookups(void **state)
{
	struct fake f;
	struct identity_lookup lk = lookup_make(&f);
	struct identity id;
	char err[128];
	(void)state;

	f.fail_domain = f.fail_account = f.fail_uid = 1;
	assert_int_equal(identity_resolve("", "0", "", 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_BOUNCE);
	assert_int_equal(identity_resolve("", "999", S, 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_SYSTEM);
	assert_int_equal(f.n_domain + f.n_account + f.n_uid, 0);

	/* an invalid bare name is never passed to the store */
	lk = lookup_make(&f);
	assert_int_equal(identity_resolve("../x", "", S, 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(f.n_account, 0);

	/* the envelope sender is not looked up */
	lk = lookup_make(&f);
	assert_int_equal(identity_resolve("", "", "info@example.com", 999, &lk, &id, err,
	    sizeof err), 0);
	assert_int_equal(f.n_domain + f.n_account + f.n_uid, 0);
}

/* A bare TLD is never looked up; parents are tried nearest first. */
static void
test_resolve_lookup_order(void **state)
{
	struct fake f;
	struct identity_lookup lk = lookup_make(&f);
	struct identity id;
	char err[128];
	(void)state;

	assert_int_equal(identity_resolve("a@com", "", S, 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_UNKNOWN);
	assert_int_equal(f.n_domain, 0);

	lk = lookup_make(&f);
	assert_int_equal(identity_resolve("a@X.Y.Unknown.NET", "", S, 999, &lk, &id, err,
	    sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_UNKNOWN);
	assert_string_equal(f.queried, "x.y.unknown.net|y.unknown.net|unknown.net");

	lk = lookup_make(&f);
	assert_int_equal(identity_resolve("a@x.y.example.com", "", S, 999, &lk, &id, err,
	    sizeof err), 0);
	assert_string_equal(f.queried, "x.y.example.com|y.example.com|example.com");
}

struct fail_case {
	const char *auth, *uid;
	int fail_domain, fail_account, fail_uid;
};

/* Any lookup error makes the resolution fail with a message. */
static void
test_resolve_lookup_errors(void **state)
{
	static const struct fail_case cases[] = {
		{ "info@example.com", "", 1, 0, 0 },
		{ "a@x.y.example.com", "", 1, 0, 0 },
		{ "bob", "", 0, 1, 0 },
		{ "nobody", "", 0, 1, 0 },
		{ "", "1001", 0, 0, 1 },
		{ "", "1001", 0, 1, 0 },	/* uid found, account check fails */
		{ "", "4242", 0, 0, 1 },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		struct fake f;
		struct identity_lookup lk = lookup_make(&f);
		struct identity id;
		char err[128] = "";

		f.fail_domain = cases[i].fail_domain;
		f.fail_account = cases[i].fail_account;
		f.fail_uid = cases[i].fail_uid;
		if (identity_resolve(cases[i].auth, cases[i].uid, S, 999, &lk, &id, err,
		    sizeof err) != -1)
			fail_msg("case %zu: lookup error not reported", i);
		if (err[0] == '\0')
			fail_msg("case %zu: no error message", i);
	}
}

/* An auth too long for the mailbox buffer is nobody, not a truncated mailbox. */
static void
test_resolve_auth_too_long(void **state)
{
	struct fake f;
	struct identity_lookup lk = lookup_make(&f);
	struct identity id;
	char auth[ADDRESS_MAX + 16], err[128];
	size_t local;
	(void)state;

	/* exactly ADDRESS_MAX - 1 characters: fits */
	local = ADDRESS_MAX - 1 - strlen("@example.com");
	memset(auth, 'a', local);
	snprintf(auth + local, sizeof auth - local, "@example.com");
	assert_int_equal(strlen(auth), ADDRESS_MAX - 1);
	assert_int_equal(identity_resolve(auth, "", S, 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_MAILBOX);
	assert_string_equal(id.mailbox, auth);

	/* one more: does not */
	local++;
	memset(auth, 'a', local);
	snprintf(auth + local, sizeof auth - local, "@example.com");
	assert_int_equal(strlen(auth), ADDRESS_MAX);
	assert_int_equal(identity_resolve(auth, "", S, 999, &lk, &id, err, sizeof err), 0);
	assert_int_equal(id.kind, IDENTITY_UNKNOWN);
	assert_string_equal(id.mailbox, "");
}

/* identity_domain_owner on its own. */
static void
test_domain_owner(void **state)
{
	struct fake f;
	struct identity_lookup lk = lookup_make(&f);
	char account[ACCOUNT_NAME_MAX];
	(void)state;

	assert_int_equal(identity_domain_owner(&lk, "Blog.Example.Com.", account, sizeof account), 1);
	assert_string_equal(account, "bob");
	assert_int_equal(identity_domain_owner(&lk, "shop.example.com", account, sizeof account), 1);
	assert_string_equal(account, "alice");
	assert_int_equal(identity_domain_owner(&lk, "example.org", account, sizeof account), 0);
	assert_int_equal(identity_domain_owner(&lk, "", account, sizeof account), 0);
	assert_int_equal(identity_domain_owner(&lk, "..", account, sizeof account), 0);

	lk = lookup_make(&f);
	assert_int_equal(identity_domain_owner(&lk, "org", account, sizeof account), 0);
	assert_int_equal(f.n_domain, 0);

	f.fail_domain = 1;
	assert_int_equal(identity_domain_owner(&lk, "example.com", account, sizeof account), -1);
}

struct norm_case {
	const char *in;
	const char *out;	/* NULL: rejected */
};

/* Domain normalisation: lower case, trailing dot, shape of a host name. */
static void
test_domain_normalise(void **state)
{
	static const struct norm_case cases[] = {
		{ "example.com", "example.com" },
		{ "Example.COM", "example.com" },
		{ "example.com.", "example.com" },
		{ "a-b_c.Example9.com", "a-b_c.example9.com" },
		{ "com", "com" },
		{ "localhost.", "localhost" },
		{ "example.com..", NULL },
		{ "exa..mple.com", NULL },
		{ ".example.com", NULL },
		{ "..", NULL },
		{ ".", NULL },
		{ "", NULL },
		{ "exam ple.com", NULL },
		{ "example.com ", NULL },
		{ "ex@mple.com", NULL },
		{ "ex/mple.com", NULL },
		{ "ex\\mple.com", NULL },
		{ "ex\xc3\xa4mple.com", NULL },
		{ "example.com\n", NULL },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		char out[300];
		int r;

		memset(out, 0, sizeof out);
		r = identity_domain_normalise(cases[i].in, out, sizeof out);
		if (cases[i].out == NULL) {
			if (r != -1)
				fail_msg("\"%s\" accepted as \"%s\"", cases[i].in, out);
		} else {
			if (r != 0)
				fail_msg("\"%s\" rejected", cases[i].in);
			assert_string_equal(out, cases[i].out);
		}
	}
}

/* 253 characters is the longest domain; the trailing dot does not count. */
static void
test_domain_normalise_length(void **state)
{
	char in[300], out[300];
	(void)state;

	/* "a.a.a....a": 126 times "a." plus "a" = 253 */
	for (int i = 0; i < 126; i++)
		memcpy(in + 2 * i, "a.", 2);
	in[252] = 'a';
	in[253] = '\0';
	assert_int_equal(identity_domain_normalise(in, out, sizeof out), 0);
	assert_int_equal(strlen(out), 253);

	/* 253 plus a trailing dot */
	in[253] = '.';
	in[254] = '\0';
	assert_int_equal(identity_domain_normalise(in, out, sizeof out), 0);
	assert_int_equal(strlen(out), 253);

	/* 254 */
	in[253] = 'b';
	assert_int_equal(identity_domain_normalise(in, out, sizeof out), -1);

	/* the output buffer: exactly large enough, then one byte short */
	assert_int_equal(identity_domain_normalise("abc.de", out, 7), 0);
	assert_string_equal(out, "abc.de");
	memset(out, 'X', sizeof out);
	assert_int_equal(identity_domain_normalise("abc.de", out, 6), -1);
	assert_int_equal(out[6], 'X');
}

struct name_case {
	const char *name;
	int valid;
};

/* cPanel account names. */
static void
test_account_name_valid(void **state)
{
	static const struct name_case cases[] = {
		{ "bob", 1 },
		{ "a", 1 },
		{ "bob_1", 1 },
		{ "b-o.b", 1 },
		{ "1bob", 1 },
		{ "", 0 },
		{ "Bob", 0 },
		{ "../x", 0 },
		{ "..", 0 },
		{ ".bob", 0 },
		{ "-bob", 0 },
		{ "bo b", 0 },
		{ "bob@example.com", 0 },
		{ "bob/x", 0 },
		{ "bob\n", 0 },
		{ "b\xc3\xb6" "b", 0 },
	};
	char name[ACCOUNT_NAME_MAX + 2];
	(void)state;

	for (size_t i = 0; i < N(cases); i++)
		if (identity_account_name_valid(cases[i].name) != cases[i].valid)
			fail_msg("\"%s\": expected %s", cases[i].name,
			    cases[i].valid ? "valid" : "invalid");

	/* ACCOUNT_NAME_MAX - 1 characters is the longest */
	memset(name, 'a', ACCOUNT_NAME_MAX - 1);
	name[ACCOUNT_NAME_MAX - 1] = '\0';
	assert_int_equal(identity_account_name_valid(name), 1);
	name[ACCOUNT_NAME_MAX - 1] = 'a';
	name[ACCOUNT_NAME_MAX] = '\0';
	assert_int_equal(identity_account_name_valid(name), 0);
}

/* Names used in logs and JSON. */
static void
test_kind_names(void **state)
{
	(void)state;

	assert_string_equal(identity_kind_name(IDENTITY_BOUNCE), "bounce");
	assert_string_equal(identity_kind_name(IDENTITY_SYSTEM), "system");
	assert_string_equal(identity_kind_name(IDENTITY_ACCOUNT), "account");
	assert_string_equal(identity_kind_name(IDENTITY_MAILBOX), "mailbox");
	assert_string_equal(identity_kind_name(IDENTITY_UNKNOWN), "unknown");
	assert_string_equal(identity_kind_name((enum identity_kind)42), "unknown");
}

/* cPanel's X-PHP-Script: the site's host, and a ~user in the URI. */
static void
test_php_script_site(void **state)
{
	static const struct {
		const char *hdr, *host, *user;	/* host NULL: not of that form */
	} t[] = {
		{ "www.example.com/contact.php for 203.0.113.5", "www.example.com", "" },
		{ "WWW.Example.COM/contact.php for 203.0.113.5, 10.0.0.1", "www.example.com", "" },
		{ "example.com/~bob/form.php for 203.0.113.5", "example.com", "bob" },
		{ "server.host.test/~Alice/x.php for ::1", "server.host.test", "alice" },
		{ "server.host.test/~/x.php for ::1", "server.host.test", "" },
		{ "server.host.test/~bad!name/x.php", "server.host.test", "" },
		{ "server.host.test/a/~bob/x.php", "server.host.test", "" },
		{ "www.example.com:8080/x.php for 1.2.3.4", "www.example.com", "" },
		{ "  shop-bob.net/index.php", "shop-bob.net", "" },
		{ "1001:contact.php", NULL, NULL },
		{ "1001:dir/contact.php", NULL, NULL },
		{ "contact.php for 1.2.3.4", NULL, NULL },
		{ "localhost/x.php", NULL, NULL },
		{ "/x.php for 1.2.3.4", NULL, NULL },
		{ "www.exa mple.com/x.php", NULL, NULL },
		{ "www.example.com:80x/x.php", NULL, NULL },
		{ "", NULL, NULL },
	};
	char host[256], user[ACCOUNT_NAME_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int r = identity_php_script_site(t[i].hdr, host, sizeof host, user, sizeof user);

		if (t[i].host == NULL) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(host, t[i].host);
		assert_string_equal(user, t[i].user);
	}
}

/* Which client addresses are the server itself. */
static void
test_address_local(void **state)
{
	(void)state;
	assert_int_equal(identity_address_local("127.0.0.1", "127.0.0.1"), 1);
	assert_int_equal(identity_address_local("127.1.2.3", "192.0.2.1"), 1);
	assert_int_equal(identity_address_local("::1", "::1"), 1);
	assert_int_equal(identity_address_local("::ffff:127.0.0.1", ""), 1);
	assert_int_equal(identity_address_local("192.0.2.1", "192.0.2.1"), 1);
	assert_int_equal(identity_address_local("2001:db8::1", "2001:db8::1"), 1);
	assert_int_equal(identity_address_local("192.0.2.7", "192.0.2.1"), 0);
	assert_int_equal(identity_address_local("128.0.0.1", ""), 0);
	assert_int_equal(identity_address_local("::2", "::1"), 0);
	assert_int_equal(identity_address_local("::ffff:10.0.0.1", ""), 0);
	assert_int_equal(identity_address_local("", ""), 0);
	assert_int_equal(identity_address_local("not an address", ""), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_table),
		cmocka_unit_test(test_resolve_no_needless_lookups),
		cmocka_unit_test(test_resolve_lookup_order),
		cmocka_unit_test(test_resolve_lookup_errors),
		cmocka_unit_test(test_resolve_auth_too_long),
		cmocka_unit_test(test_domain_owner),
		cmocka_unit_test(test_domain_normalise),
		cmocka_unit_test(test_domain_normalise_length),
		cmocka_unit_test(test_account_name_valid),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_php_script_site),
		cmocka_unit_test(test_address_local),
	};

	return cmocka_run_group_tests_name("identity", tests, NULL, NULL);
}

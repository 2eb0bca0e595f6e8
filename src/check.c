/*
 * The hot path: one CHECK request becomes a verdict.  Identify the
 * sender, read its state from the store, apply the policy, log a
 * refusal, and remember the message for the account's history.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "detect.h"
#include "history.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "recorder.h"
#include "server.h"
#include "sockdiag.h"


static int
check_domain_owner_cb(void *ctx, const char *domain, char *account, size_t len)
{
	return store_domain_owner(ctx, domain, account, len);
}

static int
check_account_exists_cb(void *ctx, const char *account)
{
	return store_account_exists(ctx, account);
}

/* The user name of a uid, from the system's user database. */
static int
check_uid_name_cb(void *ctx, unsigned long uid, char *name, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[2048];
	int r;

	(void)ctx;
	r = getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res);
	if (r != 0 && r != ENOENT && r != ESRCH && r != EBADF && r != EPERM)
		return -1;
	if (res == NULL)
		return 0;
	snprintf(name, len, "%s", pw.pw_name);
	return 1;
}

/* Who sent the message a request is about (CHECK and EVENT alike). */
static int
check_identify(struct server *srv, const struct proto_request *req, struct identity *id)
{
	struct identity_lookup lk = {
		check_domain_owner_cb, check_account_exists_cb, check_uid_name_cb, srv->st
	};
	char err[128];

	return identity_resolve(req->auth, req->uid, req->sender,
	    (unsigned long)srv->cfg->policy_system_uid_max, &lk, id, err, sizeof err);
}

/* An account whose automatic suspension is being written. */
int
check_pending(struct server *srv, const char *account)
{
	for (struct pending_account *p = srv->pending; p != NULL; p = p->next)
		if (strcmp(p->account, account) == 0)
			return 1;
	return 0;
}

static void
check_pending_add(struct server *srv, const char *account)
{
	struct pending_account *p = calloc(1, sizeof *p);

	if (p == NULL)
		return;
	snprintf(p->account, sizeof p->account, "%s", account);
	p->next = srv->pending;
	srv->pending = p;
}

/* The writer is done with an account's suspension: start it afresh, tell its owner. */
void
check_pending_done(struct server *srv, const char *account, int ok)
{
	struct pending_account **pp, *p;

	for (pp = &srv->pending; (p = *pp) != NULL; pp = &p->next) {
		if (strcmp(p->account, account) != 0)
			continue;
		*pp = p->next;
		free(p);
		break;
	}
	if (!ok)
		return;
	if (srv->det != NULL)
		detect_forget(srv->det, account);
	if (!srv->stopping)
		server_notify_spawn(srv, account);
}

/* Copy a string, cut to fit. */
static void
check_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * The script behind a message, from PHP's headers: cPanel's
 * "X-PHP-Script: www.example.com/contact.php for 203.0.113.5" (name and
 * the web client), or PHP's "X-PHP-Originating-Script: 1001:contact.php".
 */
static void
check_script_parse(const char *header, char *name, size_t namelen, char *ip, size_t iplen)
{
	char clean[512];
	const char *p, *q;
	size_t n;

	proto_sanitize(header, clean, sizeof clean);
	if ((p = strstr(clean, " for ")) != NULL) {
		n = (size_t)(p - clean);
		snprintf(name, namelen, "%.*s", (int)(n < namelen ? n : namelen - 1), clean);
		p += 5;
		for (q = p; *q != '\0' && *q != ',' && *q != ' '; q++)
			;
		if (ip[0] == '\0')
			snprintf(ip, iplen, "%.*s", (int)((size_t)(q - p) < iplen ? (size_t)(q - p) :
			    iplen - 1), p);
		return;
	}
	for (p = clean; *p >= '0' && *p <= '9'; p++)
		;
	check_copy(name, namelen, p > clean && *p == ':' ? p + 1 : clean);
}

/*
 * Which source sent the message: a mailbox (or the account's own login),
 * a script, a loopback SMTP session, or neither.
 */
static void
check_source(const struct proto_request *req, const struct identity *id, int loopback,
    struct message_record *m)
{
	proto_sanitize(req->ip, m->ip, sizeof m->ip);
	/* a login with the account's name is a mailbox of sorts over SMTP; locally it
	   is only the caller's name */
	if (id->kind == IDENTITY_MAILBOX || (strcmp(id->how, "auth-user") == 0 &&
	    strcmp(req->ctx, "smtp") == 0)) {
		snprintf(m->source_kind, sizeof m->source_kind, "mailbox");
		check_copy(m->source, sizeof m->source,
		    id->kind == IDENTITY_MAILBOX ? id->mailbox : id->account);
	} else if (req->script[0] != '\0') {
		snprintf(m->source_kind, sizeof m->source_kind, "script");
		check_script_parse(req->script, m->source, sizeof m->source, m->ip, sizeof m->ip);
	} else if (loopback) {
		snprintf(m->source_kind, sizeof m->source_kind, "loopback");
		snprintf(m->source, sizeof m->source, "loopback SMTP (uid %s)", req->uid);
	} else {
		snprintf(m->source_kind, sizeof m->source_kind, "local");
		snprintf(m->source, sizeof m->source, "%s (%s %s)",
		    strcmp(req->ctx, "local") == 0 ? "sendmail" : "local SMTP",
		    req->uid[0] != '\0' ? "uid" : "account", req->uid[0] != '\0' ? req->uid :
		    id->account);
	}
}

/* The recipients of a message, sorted into local and external. */
struct check_rcpts {
	long long n_local, n_external;
	uint64_t hashes[1024];		/* distinct external recipients (the first 1024) */
	size_t n_hashes;
	struct {
		char domain[128];
		long long n;
	} dom[16];			/* the first 16 external domains */
	size_t n_dom;
	struct {
		char domain[128];
		int local;
	} seen[64];			/* domains looked up, for long lists */
	size_t n_seen;
};

/* The key a script's recipients are counted under: its uid, not a header. */
void
check_script_key(const char *kind, long long uid, char *buf, size_t len)
{
	if (strcmp(kind, "mailbox") == 0)
		snprintf(buf, len, "%s", "");
	else if (uid >= 0)
		snprintf(buf, len, "uid %lld", uid);
	else
		snprintf(buf, len, "account");
}

/* A recipient's hash, case-insensitively (lower-cases addr in place). */
uint64_t
check_rcpt_hash(char *addr)
{
	for (size_t i = 0; addr[i] != '\0'; i++)
		if (addr[i] >= 'A' && addr[i] <= 'Z')
			addr[i] = (char)(addr[i] + 32);
	return detect_hash(addr);
}

static int
check_hash_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Whether a domain is one of the server's, asking the store once per message. */
static int
check_domain_local(struct store *st, struct check_rcpts *rc, const char *domain)
{
	int local;

	for (size_t i = 0; i < rc->n_seen; i++)
		if (strcmp(rc->seen[i].domain, domain) == 0)
			return rc->seen[i].local;
	if ((local = store_local_domain(st, domain)) == -1)
		return -1;
	if (rc->n_seen < sizeof rc->seen / sizeof rc->seen[0] &&
	    strlen(domain) < sizeof rc->seen[0].domain) {
		snprintf(rc->seen[rc->n_seen].domain, sizeof rc->seen[0].domain, "%s", domain);
		rc->seen[rc->n_seen++].local = local;
	}
	return local;
}

/*
 * Sort the recipients into local and external.  nrcpt, when given, is how
 * many there are in all (the ACLs send at most 32 KiB of the list): those
 * not in the list count as external.
 */
static int
check_rcpts_sort(struct store *st, const char *rcpts, const char *nrcpt,
    struct check_rcpts *rc)
{
	const char *cur = rcpts, *dom;
	char addr[ADDRESS_MAX], norm[256], *end;
	long long total;
	int r, local;
	size_t u;

	/* the arrays are filled from the front: only the counts need resetting */
	rc->n_local = rc->n_external = 0;
	rc->n_hashes = rc->n_dom = rc->n_seen = 0;
	while ((r = proto_rcpt_next(&cur, addr, sizeof addr)) != 0) {
		local = 0;
		norm[0] = '\0';
		if (r == 1 && (dom = proto_addr_domain(addr)) != NULL &&
		    identity_domain_normalise(dom, norm, sizeof norm) == 0 &&
		    (local = check_domain_local(st, rc, norm)) == -1)
			return -1;
		if (local) {
			rc->n_local++;
			continue;
		}
		rc->n_external++;
		if (r != 1)
			continue;	/* too long to be an address: counted, not named */
		if (rc->n_hashes < sizeof rc->hashes / sizeof rc->hashes[0])
			rc->hashes[rc->n_hashes++] = check_rcpt_hash(addr);
		if (norm[0] == '\0')
			snprintf(norm, sizeof norm, "?");
		for (size_t i = 0; i <= rc->n_dom; i++) {
			if (i == rc->n_dom) {
				if (rc->n_dom < sizeof rc->dom / sizeof rc->dom[0]) {
					snprintf(rc->dom[i].domain, sizeof rc->dom[i].domain, "%s",
					    norm);
					rc->dom[i].n = 1;
					rc->n_dom++;
				}
				break;
			}
			if (strcmp(rc->dom[i].domain, norm) == 0) {
				rc->dom[i].n++;
				break;
			}
		}
	}
	/* distinct: sorted, then each kept once */
	qsort(rc->hashes, rc->n_hashes, sizeof rc->hashes[0], check_hash_cmp);
	for (size_t i = u = 0; i < rc->n_hashes; i++)
		if (u == 0 || rc->hashes[i] != rc->hashes[u - 1])
			rc->hashes[u++] = rc->hashes[i];
	rc->n_hashes = u;
	if (nrcpt[0] != '\0' && (total = strtoll(nrcpt, &end, 10)) > 0 && *end == '\0' &&
	    total > rc->n_local + rc->n_external)
		rc->n_external = total - rc->n_local;
	return 0;
}

/* Fill the record of a message for `mailabusectl history`. */
static void
check_record_fill(const struct proto_request *req, const struct identity *id, int loopback,
    struct message_record *m)
{
	char *end;

	memset(m, 0, sizeof *m);
	m->at = clock_now();
	snprintf(m->account, sizeof m->account, "%s", id->account);
	snprintf(m->mailbox, sizeof m->mailbox, "%s", id->mailbox);
	snprintf(m->ctx, sizeof m->ctx, "%s", req->ctx);
	m->uid = req->uid[0] != '\0' ? strtoll(req->uid, &end, 10) : -1;
	if (req->uid[0] != '\0' && *end != '\0')
		m->uid = -1;
	proto_sanitize(req->script, m->script, sizeof m->script);
	proto_sanitize(req->sender, m->sender, sizeof m->sender);
	proto_sanitize(req->rcpt, m->rcpt, sizeof m->rcpt);
	proto_sanitize(req->msgid, m->msgid, sizeof m->msgid);
	check_source(req, id, loopback, m);
}

static void
check_record(struct server *srv, struct message_record *m, enum verdict v)
{
	snprintf(m->verdict, sizeof m->verdict, "%s", proto_verdict_name(v));
	if (srv->rec != NULL)
		recorder_message(srv->rec, m, (size_t)srv->cfg->history_queue_max);
}

static int
check_limit_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	struct detect_limits *lim = arg;
	int d = detect_from_name(detector), a = detect_action_from_name(action);

	(void)set_at;
	(void)set_by;
	if (d >= 0) {
		lim->l[d].value = value;
		if (a >= 0)
			lim->l[d].action = (enum detect_action)a;
	}
	return 0;
}

/*
 * The detectors' say on a message that policy lets through: PASS, HOLD,
 * or DEFER (over a limit, or an automatic suspension under way).  -1 on
 * a database error.
 */
static int
check_detect(struct server *srv, unsigned long long connid, const struct check_rcpts *rc,
    struct message_record *m, enum verdict *v, char *text, size_t len)
{
	struct detect_limits lim;
	struct detect_trip trip;
	struct detect_msg dm;
	long long now = m->at, first;
	char why[512], key[64];
	int r;

	config_detect_limits(srv->cfg, &lim);
	if (store_limits_get(srv->st, m->account, check_limit_cb, &lim) == -1)
		return -1;
	memset(&dm, 0, sizeof dm);
	dm.account = m->account;
	dm.mailbox = strcmp(m->source_kind, "mailbox") == 0 ? m->source : "";
	check_script_key(m->source_kind, m->uid, key, sizeof key);
	dm.script = key;
	dm.label = m->source;
	dm.n_external = (unsigned long)rc->n_external;
	dm.rcpt_hashes = rc->hashes;
	dm.n_rcpt_hashes = rc->n_hashes;
	if (dm.mailbox[0] != '\0' && m->ip[0] != '\0') {
		if ((r = history_host_first_seen(srv->hist, dm.mailbox, m->ip, &first)) == -1)
			return -1;
		dm.host = detect_hash(m->ip);
		dm.host_new = r == 0 || first >= now - DETECT_WINDOW;
	}
	if (check_pending(srv, m->account)) {
		*v = VERDICT_DEFER;
		snprintf(text, len, "4.7.1 Outgoing mail of account %s is being suspended",
		    m->account);
		snprintf(m->reason, sizeof m->reason, "suspension under way");
	} else if (detect_check(srv->det, &dm, &lim, now, &trip)) {
		detect_trip_text(&trip, why, sizeof why);
		check_copy(m->reason, sizeof m->reason, why);
		log_info("conn %llu: account=%s source=%s: over a limit, %s: %s", connid,
		    m->account, m->source, detect_action_name(trip.action), why);
		switch (trip.action) {
		case ACTION_HOLD:
			*v = VERDICT_HOLD;
			snprintf(text, len, "held for review: %s", why);
			detect_count(srv->det, &dm, &lim, now);
			break;
		case ACTION_SUSPEND:
			*v = VERDICT_DEFER;
			snprintf(text, len, "4.7.1 Outgoing mail of account %s is being suspended:"
			    " %s", m->account, why);
			check_pending_add(srv, m->account);
			recorder_suspend(srv->rec, m->account, why, why);
			break;
		case ACTION_DEFER:
		default:
			*v = VERDICT_DEFER;
			snprintf(text, len, "4.7.1 Sending limit reached, try again later: %s", why);
			break;
		}
	} else {
		detect_count(srv->det, &dm, &lim, now);
		*v = VERDICT_PASS;
	}
	return 0;
}

/* Whether a uid is one of policy.web_uids (resolved when the configuration was taken). */
static int
check_web_uid(const struct config *cfg, unsigned long uid)
{
	for (size_t i = 0; i < cfg->policy_web_nuids; i++)
		if (cfg->policy_web_uid[i] == uid)
			return 1;
	return 0;
}

/*
 * Mail from the web server's uid (policy.web_uids): the account is the
 * one whose site cPanel's X-PHP-Script: header names (~user in the URI
 * first, else the owner of the host's domain).  Any script running under
 * that uid can write the header, so it is trusted for these uids only.
 * Returns 0 (id changed when the site is an account's), -1 on a lookup
 * error.
 */
static int
check_web_identify(struct server *srv, const struct proto_request *req, struct identity *id)
{
	struct identity_lookup lk = {
		check_domain_owner_cb, check_account_exists_cb, check_uid_name_cb, srv->st
	};
	char host[256], user[ACCOUNT_NAME_MAX], account[ACCOUNT_NAME_MAX], *end;
	unsigned long uid;
	int r;

	/* not for a login, nor for an account's own uid; a web uid at or below
	   policy.system_uid_max (www-data) with an empty sender is no bounce */
	if (id->kind == IDENTITY_ACCOUNT || id->kind == IDENTITY_MAILBOX ||
	    req->auth[0] != '\0' || req->script[0] == '\0' ||
	    srv->cfg->policy_web_nuids == 0)
		return 0;
	uid = strtoul(req->uid, &end, 10);
	if (req->uid[0] == '\0' || *end != '\0' || !check_web_uid(srv->cfg, uid))
		return 0;
	if (identity_php_script_site(req->script, host, sizeof host, user, sizeof user) == -1)
		return 0;
	r = 0;
	if (user[0] != '\0' && (r = store_account_exists(srv->st, user)) == 1)
		snprintf(account, sizeof account, "%s", user);
	else if (r != -1)
		r = identity_domain_owner(&lk, host, account, sizeof account);
	if (r == -1)
		return -1;
	if (r == 1) {
		memset(id->mailbox, 0, sizeof id->mailbox);
		snprintf(id->account, sizeof id->account, "%s", account);
		id->kind = IDENTITY_ACCOUNT;
		id->how = "web-script";
	}
	return 0;
}

/*
 * A remote delivery Exim's router fragment asks about (ctx=route): an
 * address that a forwarder, filter or list of an account generated
 * (parent), or a local submission that reached delivery.  The account
 * suspended: policy.redirect_action decides (DEFER keeps it on the queue).
 */
static enum verdict
check_route(struct server *srv, unsigned long long connid, const struct proto_request *req,
    char *text, size_t len)
{
	struct identity_lookup lk = {
		check_domain_owner_cb, check_account_exists_cb, check_uid_name_cb, srv->st
	};
	const char *action = srv->cfg->policy_redirect_action;
	struct identity id;
	long long last_change;
	int acc = 0, mbx = 0;
	char err[128], rcpt[256], parent[256];

	if (req->parent[0] != '\0') {
		/* the redirected address is a mailbox: its domain's owner set up the redirection */
		if (identity_resolve(req->parent, "", "-", (unsigned long)srv->cfg->policy_system_uid_max,
		    &lk, &id, err, sizeof err) == -1)
			goto defer;
	} else if (check_identify(srv, req, &id) == -1)
		goto defer;
	if (id.kind != IDENTITY_ACCOUNT && id.kind != IDENTITY_MAILBOX)
		return VERDICT_PASS;
	if (store_suspension_flags(srv->st, id.account, id.mailbox, &acc, &mbx,
	    &last_change) == -1)
		goto defer;
	if (!acc && !mbx && !check_pending(srv, id.account))
		return VERDICT_PASS;
	proto_sanitize(req->rcpt, rcpt, sizeof rcpt);
	proto_sanitize(req->parent, parent, sizeof parent);
	log_info("conn %llu: route rcpt=<%s> parent=<%s> account=%s%s%s: %s suspended,"
	    " policy.redirect_action=%s", connid, rcpt, parent, id.account,
	    id.mailbox[0] ? " mailbox=" : "", id.mailbox, acc ? "account" : "mailbox", action);
	if (strcmp(action, "pass") == 0)
		return VERDICT_PASS;
	if (strcmp(action, "fail") == 0) {
		snprintf(text, len, "5.7.1 Outgoing mail of account %s is suspended", id.account);
		return VERDICT_REFUSE;
	}
	snprintf(text, len, "4.7.1 Outgoing mail of account %s is suspended: held until it is"
	    " lifted", id.account);
	return VERDICT_DEFER;

defer:
	log_warnx("conn %llu: cannot decide on a route, answering DEFER: %s", connid,
	    store_error(srv->st));
	snprintf(text, len, "4.3.0 mail policy service temporarily unavailable");
	return VERDICT_DEFER;
}

/* Decide on one request, the store read in one transaction. */
static enum verdict
check_decide(struct server *srv, unsigned long long connid,
    const struct proto_request *req, int loopback, char *text, size_t len)
{
	const struct config *cfg = srv->cfg;
	struct policy_facts facts = { 0, 0, 0 };
	struct policy_decision d;
	struct message_record *m = NULL;
	struct check_rcpts *rc = NULL;
	struct identity id;
	enum verdict v;
	long long last_change;
	int whole, rcpts_matter;

	if (check_identify(srv, req, &id) == -1 || check_web_identify(srv, req, &id) == -1)
		goto defer;
	if (loopback && strcmp(id.how, "uid") == 0)
		id.how = "loopback-uid";
	/* the whole message (DATA, or a local submission), not one RCPT */
	whole = strcmp(req->ctx, "local") == 0 || strcmp(req->stage, "data") == 0;
	if (id.kind == IDENTITY_ACCOUNT || id.kind == IDENTITY_MAILBOX) {
		if (store_suspension_flags(srv->st, id.account, id.mailbox,
		    &facts.account_suspended, &facts.mailbox_suspended, &last_change) == -1)
			goto defer;
		/* suspended or lifted since it was counted: start it afresh */
		detect_reset_before(srv->det, id.account, last_change);
		/* the recipients, sorted once: for the policy and for the record */
		rcpts_matter = policy_rcpts_matter(&id, &facts, cfg->policy_allow_local_delivery);
		if (whole || rcpts_matter) {
			if ((rc = malloc(sizeof *rc)) == NULL ||
			    check_rcpts_sort(srv->st, req->rcpt, whole ? req->nrcpt : "", rc) == -1)
				goto defer;
			facts.rcpts_all_local = rc->n_local > 0 && rc->n_external == 0;
		}
	}
	policy_verdict(&id, &facts, cfg->policy_allow_local_delivery, &d);
	/* the values as they came, bounded: log.c escapes what is not printable */
	if (d.verdict == VERDICT_REFUSE || log_debug_enabled())
		(d.verdict == VERDICT_REFUSE ? log_info : log_debug)(
		    "conn %llu: %s ctx=%.16s sender=<%.127s> account=%s mailbox=%.127s"
		    " identified-by=%s auth=%.127s uid=%.16s ip=%.63s rcpt=<%.255s> reason=%s",
		    connid, d.verdict == VERDICT_REFUSE ? "refused" : "passed", req->ctx,
		    req->sender, id.account[0] ? id.account : "-",
		    id.mailbox[0] ? id.mailbox : "-", id.how, req->auth[0] ? req->auth : "-",
		    req->uid[0] ? req->uid : "-", req->ip[0] ? req->ip : "-", req->rcpt,
		    d.reason);
	v = d.verdict;
	snprintf(text, len, "%s", d.text);
	/* the header that named the account can be forged: hold, if so configured */
	if (v == VERDICT_REFUSE && whole && strcmp(id.how, "web-script") == 0 &&
	    strcmp(cfg->policy_web_action, "hold") == 0) {
		v = VERDICT_HOLD;
		snprintf(text, len, "held for review: %s (named by X-PHP-Script)", d.text);
	}
	if (id.kind != IDENTITY_ACCOUNT && id.kind != IDENTITY_MAILBOX) {
		free(rc);
		return v;
	}
	/*
	 * An RCPT that passes is recorded with its message at DATA; one
	 * that is refused never gets there, so it is recorded now.
	 */
	if (!whole && v == VERDICT_PASS) {
		free(rc);
		if (check_pending(srv, id.account)) {
			snprintf(text, len, "4.7.1 Outgoing mail of account %s is being suspended",
			    id.account);
			return VERDICT_DEFER;
		}
		return v;
	}
	/* a refused RCPT whose recipients did not matter to the policy: sort its one */
	if (rc == NULL && ((rc = malloc(sizeof *rc)) == NULL ||
	    check_rcpts_sort(srv->st, req->rcpt, "", rc) == -1))
		goto defer;
	if ((m = malloc(sizeof *m)) == NULL)
		goto defer;
	check_record_fill(req, &id, loopback, m);
	m->n_local = rc->n_local;
	m->n_external = rc->n_external;
	for (size_t i = 0, off = 0; i < rc->n_dom && off < sizeof m->domains; i++)
		off += (size_t)snprintf(m->domains + off, sizeof m->domains - off, "%s%s:%lld",
		    i > 0 ? "," : "", rc->dom[i].domain, rc->dom[i].n);
	if (v == VERDICT_PASS && check_detect(srv, connid, rc, m, &v, text, len) == -1)
		goto defer;
	if (v == VERDICT_REFUSE)
		snprintf(m->reason, sizeof m->reason, "%s", d.reason);
	check_record(srv, m, v);
	free(rc);
	free(m);
	return v;

defer:
	free(rc);
	free(m);
	log_warnx("conn %llu: cannot decide, answering DEFER: %s", connid,
	    store_error(srv->st));
	snprintf(text, len, "4.3.0 mail policy service temporarily unavailable");
	return VERDICT_DEFER;
}

/*
 * An SMTP session from the server itself without AUTH (the fragments send
 * the client's and the server's address and port): the uid owning the
 * client's socket, into uid.  Returns 1 found, 0 not a loopback request,
 * or the verdict of policy.loopback_unknown (-1 pass, -2 defer, -3
 * refuse) when the owner cannot be found.
 */
static int
check_loopback(struct server *srv, unsigned long long connid,
    const struct proto_request *req, char *uid, size_t len)
{
	unsigned long cport, sport, owner;
	char err[256], ip[64], lip[64];
	char *end;
	int r = -1;

	if (req->lport[0] == '\0' || req->auth[0] != '\0' || strcmp(req->ctx, "smtp") != 0)
		return 0;
	proto_sanitize(req->ip, ip, sizeof ip);
	proto_sanitize(req->lip, lip, sizeof lip);
	cport = strtoul(req->port, &end, 10);
	if (req->port[0] == '\0' || *end != '\0')
		cport = 0;
	sport = strtoul(req->lport, &end, 10);
	if (*end != '\0')
		sport = 0;
	snprintf(err, sizeof err, "no such connection");
	if (cport > 0 && cport < 65536 && sport > 0 && sport < 65536)
		r = sockdiag_owner(req->ip, (unsigned)cport, req->lip, (unsigned)sport, &owner,
		    err, sizeof err);
	if (r == 1) {
		snprintf(uid, len, "%lu", owner);
		log_debug("conn %llu: loopback SMTP [%s]:%lu -> [%s]:%lu is uid %lu", connid,
		    ip, cport, lip, sport, owner);
		return 1;
	}
	log_info("conn %llu: loopback SMTP [%s]:%lu -> [%s]:%lu: owner not found (%s%s),"
	    " policy.loopback_unknown=%s", connid, ip, cport, lip, sport, err,
	    identity_address_local(req->ip, req->lip) ? "" : "; not a loopback address",
	    srv->cfg->policy_loopback_unknown);
	if (strcmp(srv->cfg->policy_loopback_unknown, "refuse") == 0)
		return -3;
	if (strcmp(srv->cfg->policy_loopback_unknown, "defer") == 0)
		return -2;
	return -1;
}

/* Decide on one request; text receives the reply text. */
enum verdict
check_request(struct server *srv, unsigned long long connid,
    const struct proto_request *req, char *text, size_t len)
{
	struct proto_request r = *req;
	char uid[32];
	int tx, lo;
	enum verdict v;

	lo = check_loopback(srv, connid, req, uid, sizeof uid);
	switch (lo) {
	case -1:
		snprintf(text, len, "%s", "");
		return VERDICT_PASS;
	case -2:
		snprintf(text, len, "4.7.0 Cannot tell which local user opened this connection");
		return VERDICT_DEFER;
	case -3:
		snprintf(text, len, "5.7.1 Cannot tell which local user opened this connection");
		return VERDICT_REFUSE;
	case 1:
		r.uid = uid;
		break;
	default:
		break;
	}
	tx = store_read_begin(srv->st) == 0;
	if (strcmp(r.ctx, "route") == 0)
		v = check_route(srv, connid, &r, text, len);
	else
		v = check_decide(srv, connid, &r, lo == 1, text, len);
	if (tx)
		store_read_end(srv->st);
	return v;
}

/* An outcome of a delivery, from Exim's event_action. */
enum verdict
check_event(struct server *srv, unsigned long long connid,
    const struct proto_request *req, char *text, size_t len)
{
	struct identity id;
	const char *outcome;
	long long now, sent_at, age;
	uint64_t once = 0;
	char *end;

	if (strcmp(req->event, "msg:delivery") == 0)
		outcome = "delivered";
	else if (strcmp(req->event, "msg:defer") == 0 || strcmp(req->event, "msg:rcpt:defer") == 0)
		outcome = "deferred";
	else if (strcmp(req->event, "msg:fail:delivery") == 0 ||
	    strcmp(req->event, "msg:fail:internal") == 0)
		outcome = "bounced";
	else {
		snprintf(text, len, "ignored");
		return VERDICT_OK;
	}
	if (check_identify(srv, req, &id) == -1) {
		log_warnx("conn %llu: event not counted: %s", connid, store_error(srv->st));
		snprintf(text, len, "not counted");
		return VERDICT_OK;
	}
	if (id.kind != IDENTITY_ACCOUNT && id.kind != IDENTITY_MAILBOX) {
		snprintf(text, len, "not ours");
		return VERDICT_OK;
	}
	now = clock_now();
	sent_at = now;
	if (req->age[0] != '\0' && (age = strtoll(req->age, &end, 10)) >= 0 && *end == '\0')
		sent_at = now - age;
	/* a deferral comes at every try: the pair of message and recipient counts once */
	if (strcmp(outcome, "deferred") == 0) {
		char pair[512];

		snprintf(pair, sizeof pair, "%s\n%s", req->msgid, req->rcpt);
		once = detect_hash(pair);
	}
	if (detect_outcome(srv->det, id.account, strcmp(outcome, "delivered") != 0, once,
	    sent_at, now) == -1) {
		snprintf(text, len, "deferred again");
		return VERDICT_OK;
	}
	if (req->msgid[0] != '\0')
		recorder_outcome(srv->rec, req->msgid, outcome,
		    (size_t)srv->cfg->history_queue_max);
	snprintf(text, len, "%s", outcome);
	return VERDICT_OK;
}

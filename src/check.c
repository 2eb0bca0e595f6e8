/*
 * The decision on one request.  check_request gathers the facts (who
 * sent it, from the in-memory view; where its recipients go; what the
 * detectors say), takes the verdict (decision_take, pure) and does the
 * follow-up (the log line, the history record, the detectors' counts,
 * an automatic suspension handed to the writer).  check_event counts
 * the outcome of a delivery.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clock.h"
#include "decision.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "sockdiag.h"
#include "store_view.h"
#include "str.h"
#include "view.h"

/* A configuration taken into service: its limits, parsed once. */
void
check_env_config(struct check_env *env, const struct config *cfg)
{
	env->cfg = cfg;
	config_detect_limits(cfg, &env->lim);
}

/* An account whose automatic suspension is being written. */
int
check_pending(const struct check_env *env, const char *account)
{
	for (const struct pending_account *p = *env->pending; p != NULL; p = p->next)
		if (strcmp(p->account, account) == 0)
			return 1;
	return 0;
}

static int
check_domain_owner_cb(void *ctx, const char *domain, char *account, size_t len)
{
	const struct check_env *env = ctx;

	return view_domain_owner(env->view, domain, account, len);
}

static int
check_account_exists_cb(void *ctx, const char *account)
{
	const struct check_env *env = ctx;

	return view_account_exists(env->view, account);
}

/*
 * The user name of a uid, from the system's user database, kept a
 * minute (and no longer than the view stays unchanged: an account made
 * since is seen at once).
 */
static int
check_uid_name_cb(void *ctx, unsigned long uid, char *name, size_t len)
{
	struct check_env *env = ctx;
	struct check_uid *c = &env->uids[uid % CHECK_UIDS];
	long long now = clock_now();
	struct passwd pw, *res = NULL;
	char buf[2048];
	int r;

	if (env->uids_applied != view_changes_applied(env->view)) {
		memset(env->uids, 0, sizeof env->uids);
		env->uids_applied = view_changes_applied(env->view);
	}
	if (c->state != 0 && c->uid == uid && now - c->at < CHECK_UID_TTL && now >= c->at) {
		if (c->state == 2)
			return 0;
		snprintf(name, len, "%s", c->name);
		return 1;
	}
	r = getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res);
	if (r != 0 && r != ENOENT && r != ESRCH && r != EBADF && r != EPERM)
		return -1;
	c->uid = uid;
	c->at = now;
	c->state = res == NULL ? 2 : 1;
	if (res == NULL)
		return 0;
	snprintf(c->name, sizeof c->name, "%s", pw.pw_name);
	snprintf(name, len, "%s", pw.pw_name);
	return 1;
}

static void
check_lookup(struct check_env *env, struct identity_lookup *lk)
{
	lk->domain_owner = check_domain_owner_cb;
	lk->account_exists = check_account_exists_cb;
	lk->uid_name = check_uid_name_cb;
	lk->ctx = env;
}

/* Who sent the message a request is about (CHECK and EVENT alike). */
static int
check_identify(struct check_env *env, const struct proto_request *req, struct identity *id)
{
	struct identity_lookup lk;
	char err[128];

	check_lookup(env, &lk);
	return identity_resolve(req->auth, req->uid, req->sender,
	    (unsigned long)env->cfg->policy_system_uid_max, &lk, id, err, sizeof err);
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
 */
static void
check_web_identify(struct check_env *env, const struct proto_request *req, struct identity *id)
{
	char host[256], user[ACCOUNT_NAME_MAX], account[ACCOUNT_NAME_MAX], *end;
	struct identity_lookup lk;
	unsigned long uid;
	int r = 0;

	/* not for a login, nor for an account's own uid; a web uid at or below
	   policy.system_uid_max (www-data) with an empty sender is no bounce */
	if (id->kind == IDENTITY_ACCOUNT || id->kind == IDENTITY_MAILBOX ||
	    req->auth[0] != '\0' || req->script[0] == '\0' || env->cfg->policy_web_nuids == 0)
		return;
	uid = strtoul(req->uid, &end, 10);
	if (req->uid[0] == '\0' || *end != '\0' || !check_web_uid(env->cfg, uid))
		return;
	if (identity_php_script_site(req->script, host, sizeof host, user, sizeof user) == -1)
		return;
	check_lookup(env, &lk);
	if (user[0] != '\0' && view_account_exists(env->view, user)) {
		snprintf(account, sizeof account, "%s", user);
		r = 1;
	} else
		r = identity_domain_owner(&lk, host, account, sizeof account);
	if (r == 1) {
		memset(id->mailbox, 0, sizeof id->mailbox);
		snprintf(id->account, sizeof id->account, "%s", account);
		id->kind = IDENTITY_ACCOUNT;
		id->how = HOW_WEB_SCRIPT;
	}
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
	str_copy(name, namelen, p > clean && *p == ':' ? p + 1 : clean);
}

/*
 * Which source sent the message: a mailbox (or the account's own login),
 * a script, a loopback SMTP session, or neither.
 */
static enum source_kind
check_source(const struct proto_request *req, const struct identity *id, int loopback,
    struct message_record *m)
{
	proto_sanitize(req->ip, m->ip, sizeof m->ip);
	/* a login with the account's name is a mailbox of sorts over SMTP; locally it
	   is only the caller's name */
	if (id->kind == IDENTITY_MAILBOX || (id->how == HOW_AUTH_USER &&
	    strcmp(req->ctx, "smtp") == 0)) {
		str_copy(m->source, sizeof m->source,
		    id->kind == IDENTITY_MAILBOX ? id->mailbox : id->account);
		return SOURCE_MAILBOX;
	}
	if (req->script[0] != '\0') {
		check_script_parse(req->script, m->source, sizeof m->source, m->ip, sizeof m->ip);
		return SOURCE_SCRIPT;
	}
	if (loopback) {
		snprintf(m->source, sizeof m->source, "loopback SMTP (uid %s)", req->uid);
		return SOURCE_LOOPBACK;
	}
	snprintf(m->source, sizeof m->source, "%s (%s %s)",
	    strcmp(req->ctx, "local") == 0 ? "sendmail" : "local SMTP",
	    req->uid[0] != '\0' ? "uid" : "account", req->uid[0] != '\0' ? req->uid :
	    id->account);
	return SOURCE_LOCAL;
}

static int
check_hash_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Count an external recipient's domain among the first few. */
static void
check_rcpt_domain(struct check_rcpts *rc, const char *norm)
{
	for (size_t i = 0; i < rc->n_dom; i++)
		if (strcmp(rc->dom[i].domain, norm) == 0) {
			rc->dom[i].n++;
			return;
		}
	if (rc->n_dom < sizeof rc->dom / sizeof rc->dom[0]) {
		snprintf(rc->dom[rc->n_dom].domain, sizeof rc->dom[0].domain, "%s", norm);
		rc->dom[rc->n_dom++].n = 1;
	}
}

/*
 * Sort the recipients into local and external.  nrcpt, when given, is how
 * many there are in all (the ACLs send at most 32 KiB of the list): those
 * not in the list count as external.
 */
static void
check_rcpts_sort(const struct view *v, const char *rcpts, const char *nrcpt,
    struct check_rcpts *rc)
{
	const char *cur = rcpts, *dom;
	char addr[ADDRESS_MAX], norm[256], *end;
	long long total;
	size_t u;
	int r;

	/* the arrays are filled from the front: only the counts need resetting */
	rc->n_local = rc->n_external = 0;
	rc->n_hashes = rc->n_dom = 0;
	while ((r = proto_rcpt_next(&cur, addr, sizeof addr)) != 0) {
		norm[0] = '\0';
		if (r == 1 && (dom = proto_addr_domain(addr)) != NULL &&
		    identity_domain_normalise(dom, norm, sizeof norm) == 0 &&
		    view_local_domain(v, norm)) {
			rc->n_local++;
			continue;
		}
		rc->n_external++;
		if (r != 1)
			continue;	/* too long to be an address: counted, not named */
		if (rc->n_hashes < sizeof rc->hashes / sizeof rc->hashes[0])
			rc->hashes[rc->n_hashes++] = decision_rcpt_hash(addr);
		check_rcpt_domain(rc, norm[0] != '\0' ? norm : "?");
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
}

/* Fill the record of a message for `mailabusectl history`. */
static enum source_kind
check_record_fill(const struct proto_request *req, const struct identity *id, int loopback,
    const struct check_rcpts *rc, struct message_record *m)
{
	enum source_kind kind;
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
	kind = check_source(req, id, loopback, m);
	snprintf(m->source_kind, sizeof m->source_kind, "%s", decision_source_name(kind));
	m->n_local = rc->n_local;
	m->n_external = rc->n_external;
	for (size_t i = 0, off = 0; i < rc->n_dom && off < sizeof m->domains; i++)
		off += (size_t)snprintf(m->domains + off, sizeof m->domains - off, "%s%s:%lld",
		    i > 0 ? "," : "", rc->dom[i].domain, rc->dom[i].n);
	return kind;
}

/* What one CHECK is decided on, gathered. */
struct check_facts {
	struct identity id;
	struct decision_facts df;
	int ours;			/* an account's or a mailbox's */
	int sorted;			/* env->rc holds the recipients */
	int recorded;			/* env->m is filled */
	struct detect_msg dm;		/* the detectors' view, when they were asked */
	char key[64];
	struct detect_limits lim;
	struct detect_trip trip;
	char why[512];
};

/*
 * The detectors' say on a whole message policy lets through: the record
 * (for the source), the hosts the mailbox was seen from (the store), the
 * account's limits (the view).  -1 on a store error.
 */
static int
check_detect_facts(struct check_env *env, const struct proto_request *req, int loopback,
    struct check_facts *f)
{
	struct message_record *m = &env->m;
	struct decision_detect_in in;
	long long first = 0;
	int r = 0;

	memset(&in, 0, sizeof in);
	in.kind = check_record_fill(req, &f->id, loopback, &env->rc, m);
	f->recorded = 1;
	in.account = m->account;
	in.source = m->source;
	in.uid = m->uid;
	in.ip = m->ip;
	in.n_external = (unsigned long)env->rc.n_external;
	in.rcpt_hashes = env->rc.hashes;
	in.n_rcpt_hashes = env->rc.n_hashes;
	if (in.kind == SOURCE_MAILBOX && m->ip[0] != '\0') {
		if ((r = history_host_first_seen(env->hist, m->source, m->ip, &first)) == -1)
			return -1;
		in.host_new = r == 0 || first >= m->at - DETECT_WINDOW;
	}
	decision_detect_msg(&in, &f->dm, f->key, sizeof f->key);
	f->lim = env->lim;
	view_limits_apply(env->view, m->account, &f->lim);
	if (detect_check(env->det, &f->dm, &f->lim, m->at, &f->trip)) {
		f->df.tripped = 1;
		f->df.trip = &f->trip;
		detect_trip_text(&f->trip, f->why, sizeof f->why);
		f->df.why = f->why;
	}
	return 0;
}

/* Gather the facts of a CHECK; -1 with the reason in err. */
static int
check_gather(struct check_env *env, const struct proto_request *req, int loopback,
    struct check_facts *f, char *err, size_t errlen)
{
	struct decision_facts *df = &f->df;
	struct policy_decision pd;
	const char *account;

	memset(f, 0, sizeof *f);
	if (check_identify(env, req, &f->id) == -1) {
		snprintf(err, errlen, "the user database cannot be read");
		return -1;
	}
	check_web_identify(env, req, &f->id);
	if (loopback && f->id.how == HOW_UID)
		f->id.how = HOW_LOOPBACK_UID;
	df->id = &f->id;
	df->whole = strcmp(req->ctx, "local") == 0 || strcmp(req->stage, "data") == 0;
	df->allow_local_delivery = env->cfg->policy_allow_local_delivery;
	df->web_hold = env->cfg->policy_web_action_choice == CONFIG_WEB_HOLD;
	f->ours = f->id.kind == IDENTITY_ACCOUNT || f->id.kind == IDENTITY_MAILBOX;
	if (!f->ours)
		return 0;
	account = f->id.account;
	df->policy.account_suspended = view_target_suspended(env->view, account);
	df->policy.mailbox_suspended = view_target_suspended(env->view, f->id.mailbox);
	df->pending = check_pending(env, account);
	/* suspended or lifted since it was counted: start it afresh */
	detect_reset_before(env->det, account, view_last_change(env->view, account));
	if (df->whole || policy_rcpts_matter(&f->id, &df->policy, df->allow_local_delivery)) {
		check_rcpts_sort(env->view, req->rcpt, df->whole ? req->nrcpt : "", &env->rc);
		f->sorted = 1;
		df->policy.rcpts_all_local = env->rc.n_local > 0 && env->rc.n_external == 0;
	}
	if (!df->whole || df->pending)
		return 0;
	policy_verdict(&f->id, &df->policy, df->allow_local_delivery, &pd);
	if (pd.verdict == VERDICT_PASS && check_detect_facts(env, req, loopback, f) == -1) {
		snprintf(err, errlen, "%s", history_error(env->hist));
		return -1;
	}
	return 0;
}

/* The log line of a decision: refusals at info, the rest at debug. */
static void
check_log(unsigned long long connid, const struct proto_request *req,
    const struct check_facts *f, const struct decision *d)
{
	const struct identity *id = &f->id;

	if (!d->log_refusal && !log_debug_enabled())
		return;
	/* the values as they came, bounded: log.c escapes what is not printable */
	(d->log_refusal ? log_info : log_debug)(
	    "conn %llu: %s ctx=%.16s sender=<%.127s> account=%s mailbox=%.127s"
	    " identified-by=%s auth=%.127s uid=%.16s ip=%.63s rcpt=<%.255s> reason=%s",
	    connid, d->log_refusal ? "refused" : "passed", req->ctx,
	    req->sender, id->account[0] ? id->account : "-",
	    id->mailbox[0] ? id->mailbox : "-", identity_how_name(id->how),
	    req->auth[0] ? req->auth : "-", req->uid[0] ? req->uid : "-",
	    req->ip[0] ? req->ip : "-", req->rcpt, d->reason);
}

/* After the verdict: the log, the history record, the detectors, a suspension. */
static void
check_follow_up(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, int loopback, struct check_facts *f,
    const struct decision *d, struct check_reply *out)
{
	struct message_record *m = &env->m;

	check_log(connid, req, f, d);
	if (f->df.tripped)
		log_info("conn %llu: account=%s source=%s: over a limit, %s: %s", connid,
		    m->account, m->source, detect_action_name(f->trip.action), f->why);
	if (f->df.tripped)
		metrics_detect_add((int)f->trip.det, (int)f->trip.action);
	if (d->count)
		detect_count(env->det, &f->dm, &f->lim, m->at);
	if (d->suspend) {
		recorder_suspend(env->rec, m->account, f->why, f->why);
		snprintf(out->suspending, sizeof out->suspending, "%s", m->account);
	}
	if (!d->record)
		return;
	/* a refused RCPT whose recipients did not matter to the policy: sort its one */
	if (!f->sorted)
		check_rcpts_sort(env->view, req->rcpt, "", &env->rc);
	if (!f->recorded)
		(void)check_record_fill(req, &f->id, loopback, &env->rc, m);
	str_copy(m->reason, sizeof m->reason, d->why);
	snprintf(m->verdict, sizeof m->verdict, "%s", proto_verdict_name(d->verdict));
	if (env->rec != NULL)
		recorder_message(env->rec, m, (size_t)env->cfg->history_queue_max);
}

/* Decide on a CHECK: facts, verdict, follow-up. */
static void
check_decide(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, int loopback, struct check_reply *out)
{
	struct check_facts f;
	struct decision d;
	char err[512];

	if (check_gather(env, req, loopback, &f, err, sizeof err) == -1) {
		log_warnx("conn %llu: cannot decide, answering DEFER: %s", connid, err);
		out->verdict = VERDICT_DEFER;
		decision_reply(REPLY_UNAVAILABLE, "", NULL, out->text, sizeof out->text);
		return;
	}
	decision_take(&f.df, &d);
	check_follow_up(env, connid, req, loopback, &f, &d, out);
	out->verdict = d.verdict;
	snprintf(out->text, sizeof out->text, "%s", d.text);
}

/*
 * A remote delivery Exim's router fragment asks about (ctx=route): an
 * address that a forwarder, filter or list of an account generated
 * (parent), or a local submission that reached delivery.  The account
 * suspended: policy.redirect_action decides (DEFER keeps it on the queue).
 */
static void
check_route(struct check_env *env, unsigned long long connid, const struct proto_request *req,
    struct check_reply *out)
{
	enum config_redirect_action action = env->cfg->policy_redirect_action_choice;
	struct identity_lookup lk;
	struct identity id;
	int acc, mbx;
	char err[128], rcpt[256], parent[256];

	check_lookup(env, &lk);
	out->verdict = VERDICT_PASS;
	/* the redirected address is a mailbox: its domain's owner set up the redirection */
	if ((req->parent[0] != '\0' ? identity_resolve(req->parent, "", "-",
	    (unsigned long)env->cfg->policy_system_uid_max, &lk, &id, err, sizeof err) :
	    check_identify(env, req, &id)) == -1) {
		log_warnx("conn %llu: cannot decide on a route, answering DEFER", connid);
		out->verdict = VERDICT_DEFER;
		decision_reply(REPLY_UNAVAILABLE, "", NULL, out->text, sizeof out->text);
		return;
	}
	if (id.kind != IDENTITY_ACCOUNT && id.kind != IDENTITY_MAILBOX)
		return;
	acc = view_target_suspended(env->view, id.account);
	mbx = view_target_suspended(env->view, id.mailbox);
	if (!acc && !mbx && !check_pending(env, id.account))
		return;
	proto_sanitize(req->rcpt, rcpt, sizeof rcpt);
	proto_sanitize(req->parent, parent, sizeof parent);
	log_info("conn %llu: route rcpt=<%s> parent=<%s> account=%s%s%s: %s suspended,"
	    " policy.redirect_action=%s", connid, rcpt, parent, id.account,
	    id.mailbox[0] ? " mailbox=" : "", id.mailbox, acc ? "account" : "mailbox",
	    env->cfg->policy_redirect_action);
	if (action == CONFIG_REDIRECT_PASS)
		return;
	out->verdict = action == CONFIG_REDIRECT_FAIL ? VERDICT_REFUSE : VERDICT_DEFER;
	decision_reply(action == CONFIG_REDIRECT_FAIL ? REPLY_ROUTE_REFUSE : REPLY_ROUTE_DEFER,
	    id.account, NULL, out->text, sizeof out->text);
}

/* The result of looking up who opened a loopback SMTP session. */
enum check_loopback {
	LOOPBACK_NOT,		/* not a loopback request */
	LOOPBACK_FOUND,		/* the uid found */
	LOOPBACK_UNKNOWN	/* the owner cannot be found: policy.loopback_unknown */
};

/*
 * An SMTP session from the server itself without AUTH (the fragments send
 * the client's and the server's address and port): the uid owning the
 * client's socket, into uid.
 */
static enum check_loopback
check_loopback(const struct check_env *env, unsigned long long connid,
    const struct proto_request *req, char *uid, size_t len)
{
	unsigned long cport, sport, owner;
	char err[256], ip[64], lip[64];
	char *end;
	int r = -1;

	if (req->lport[0] == '\0' || req->auth[0] != '\0' || strcmp(req->ctx, "smtp") != 0)
		return LOOPBACK_NOT;
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
		return LOOPBACK_FOUND;
	}
	log_info("conn %llu: loopback SMTP [%s]:%lu -> [%s]:%lu: owner not found (%s%s),"
	    " policy.loopback_unknown=%s", connid, ip, cport, lip, sport, err,
	    identity_address_local(req->ip, req->lip) ? "" : "; not a loopback address",
	    env->cfg->policy_loopback_unknown);
	return LOOPBACK_UNKNOWN;
}

/* The view in step with the database before an answer; -1: answer DEFER. */
static int
check_view_ready(struct check_env *env, unsigned long long connid)
{
	char err[512];
	long long now;

	if (view_refresh(env->view, env->sv, 0, err, sizeof err) == 0)
		return 0;
	/* once a second at most: every query fails alike */
	if ((now = clock_now()) != env->view_warned) {
		env->view_warned = now;
		log_warnx("conn %llu: cannot bring the view in step with the database,"
		    " answering DEFER: %s", connid, err);
	}
	return -1;
}

/* Decide on one CHECK request. */
void
check_request(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, struct check_reply *out)
{
	struct proto_request r = *req;
	char uid[32];
	enum check_loopback lo;

	out->text[0] = out->suspending[0] = '\0';
	out->verdict = VERDICT_PASS;
	lo = check_loopback(env, connid, req, uid, sizeof uid);
	if (lo == LOOPBACK_UNKNOWN) {
		switch (env->cfg->policy_loopback_unknown_choice) {
		case CONFIG_LOOPBACK_DEFER:
			out->verdict = VERDICT_DEFER;
			decision_reply(REPLY_LOOPBACK_DEFER, "", NULL, out->text, sizeof out->text);
			break;
		case CONFIG_LOOPBACK_REFUSE:
			out->verdict = VERDICT_REFUSE;
			decision_reply(REPLY_LOOPBACK_REFUSE, "", NULL, out->text, sizeof out->text);
			break;
		case CONFIG_LOOPBACK_PASS:
		default:
			break;
		}
		return;
	}
	if (lo == LOOPBACK_FOUND)
		r.uid = uid;
	if (check_view_ready(env, connid) == -1) {
		out->verdict = VERDICT_DEFER;
		decision_reply(REPLY_UNAVAILABLE, "", NULL, out->text, sizeof out->text);
		return;
	}
	if (strcmp(r.ctx, "route") == 0)
		check_route(env, connid, &r, out);
	else
		check_decide(env, connid, &r, lo == LOOPBACK_FOUND, out);
}

/* An outcome of a delivery, from Exim's event_action. */
void
check_event(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, struct check_reply *out)
{
	enum delivery_outcome outcome = decision_outcome_from_event(req->event);
	struct identity id;
	long long now, sent_at, age;
	uint64_t once = 0;
	char *end, pair[512];

	out->verdict = VERDICT_OK;
	out->suspending[0] = '\0';
	snprintf(out->text, sizeof out->text, "%s", decision_outcome_name(outcome));
	if (outcome == OUTCOME_NONE)
		return;
	if (check_view_ready(env, connid) == -1 || check_identify(env, req, &id) == -1) {
		log_warnx("conn %llu: event not counted", connid);
		snprintf(out->text, sizeof out->text, "not counted");
		return;
	}
	if (id.kind != IDENTITY_ACCOUNT && id.kind != IDENTITY_MAILBOX) {
		snprintf(out->text, sizeof out->text, "not ours");
		return;
	}
	now = clock_now();
	sent_at = now;
	if (req->age[0] != '\0' && (age = strtoll(req->age, &end, 10)) >= 0 && *end == '\0')
		sent_at = now - age;
	/* a deferral comes at every try: the pair of message and recipient counts once */
	if (outcome == OUTCOME_DEFERRED) {
		snprintf(pair, sizeof pair, "%s\n%s", req->msgid, req->rcpt);
		once = detect_hash(pair);
	}
	if (detect_outcome(env->det, id.account, outcome != OUTCOME_DELIVERED, once,
	    sent_at, now) == -1) {
		snprintf(out->text, sizeof out->text, "deferred again");
		return;
	}
	if (req->msgid[0] != '\0')
		recorder_outcome(env->rec, req->msgid, decision_outcome_name(outcome),
		    (size_t)env->cfg->history_queue_max);
}

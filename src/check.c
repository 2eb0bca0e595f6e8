/*
 * The hot path: one CHECK request becomes a verdict.  Identify the
 * sender, read its state from the store, apply the policy, log a
 * refusal, and remember the message for the account's history.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "identity.h"
#include "log.h"
#include "policy.h"
#include "server.h"


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

/* Whether every recipient of the list is in a local domain (and there is one). */
static int
check_rcpts_all_local(struct store *st, const char *rcpts)
{
	const char *cur = rcpts, *dom;
	char addr[ADDRESS_MAX], norm[256];
	int n = 0, r;

	while ((r = proto_rcpt_next(&cur, addr, sizeof addr)) != 0) {
		if (r == -1 || (dom = proto_addr_domain(addr)) == NULL)
			return 0;
		/* An address in angle brackets or with a trailing '>' is not ours to fix. */
		if (identity_domain_normalise(dom, norm, sizeof norm) == -1)
			return 0;
		if ((r = store_local_domain(st, norm)) != 1)
			return r;	/* 0: not local; -1: error */
		n++;
	}
	return n > 0;
}

/* Keep a record of the message for `mailabusectl history`. */
static void
check_history_add(struct server *srv, const struct proto_request *req,
    const struct identity *id, enum verdict v)
{
	struct message_record *m;
	char *end;

	if (srv->hist == NULL &&
	    (srv->hist = calloc(HISTORY_BUFFER_MAX, sizeof *srv->hist)) == NULL)
		return;
	if (srv->nhist == HISTORY_BUFFER_MAX) {
		if (srv->hist_dropped++ % 1000 == 0)
			log_warnx("history: buffer full, %llu records dropped", srv->hist_dropped);
		return;
	}
	m = &srv->hist[srv->nhist++];
	memset(m, 0, sizeof *m);
	m->at = clock_now();
	snprintf(m->account, sizeof m->account, "%s", id->account);
	snprintf(m->mailbox, sizeof m->mailbox, "%s", id->mailbox);
	snprintf(m->ctx, sizeof m->ctx, "%s", req->ctx);
	m->uid = req->uid[0] != '\0' ? strtoll(req->uid, &end, 10) : -1;
	if (req->uid[0] != '\0' && *end != '\0')
		m->uid = -1;
	proto_sanitize(req->script, m->script, sizeof m->script);
	proto_sanitize(req->ip, m->ip, sizeof m->ip);
	proto_sanitize(req->sender, m->sender, sizeof m->sender);
	proto_sanitize(req->rcpt, m->rcpt, sizeof m->rcpt);
	snprintf(m->verdict, sizeof m->verdict, "%s", proto_verdict_name(v));
}

/* Decide on one request; text receives the reply text. */
enum verdict
check_request(struct server *srv, unsigned long long connid,
    const struct proto_request *req, char *text, size_t len)
{
	const struct config *cfg = srv->cfg;
	struct identity_lookup lk = {
		check_domain_owner_cb, check_account_exists_cb, check_uid_name_cb, srv->st
	};
	struct policy_facts facts = { 0, 0, 0 };
	struct policy_decision d;
	struct identity id;
	char err[128];
	int r;

	if (identity_resolve(req->auth, req->uid, req->sender,
	    (unsigned long)cfg->policy_system_uid_max, &lk, &id, err, sizeof err) == -1)
		goto defer;
	if (id.kind == IDENTITY_ACCOUNT || id.kind == IDENTITY_MAILBOX) {
		if (store_suspension_flags(srv->st, id.account, id.mailbox,
		    &facts.account_suspended, &facts.mailbox_suspended) == -1)
			goto defer;
		if (policy_rcpts_matter(&id, &facts, cfg->policy_allow_local_delivery)) {
			if ((r = check_rcpts_all_local(srv->st, req->rcpt)) == -1)
				goto defer;
			facts.rcpts_all_local = r;
		}
	}
	policy_verdict(&id, &facts, cfg->policy_allow_local_delivery, &d);
	if (d.verdict == VERDICT_REFUSE || log_debug_enabled()) {
		char auth[128], sender[128], rcpt[256], ip[64];

		proto_sanitize(req->auth, auth, sizeof auth);
		proto_sanitize(req->sender, sender, sizeof sender);
		proto_sanitize(req->rcpt, rcpt, sizeof rcpt);
		proto_sanitize(req->ip, ip, sizeof ip);
		(d.verdict == VERDICT_REFUSE ? log_info : log_debug)(
		    "conn %llu: %s ctx=%s sender=<%s> account=%s mailbox=%s identified-by=%s"
		    " auth=%s uid=%s ip=%s rcpt=<%s> reason=%s", connid,
		    d.verdict == VERDICT_REFUSE ? "refused" : "passed", req->ctx, sender,
		    id.account[0] ? id.account : "-", id.mailbox[0] ? id.mailbox : "-",
		    id.how, auth[0] ? auth : "-", req->uid[0] ? req->uid : "-",
		    ip[0] ? ip : "-", rcpt, d.reason);
	}
	if (id.kind == IDENTITY_ACCOUNT || id.kind == IDENTITY_MAILBOX)
		check_history_add(srv, req, &id, d.verdict);
	snprintf(text, len, "%s", d.text);
	return d.verdict;

defer:
	log_warnx("conn %llu: cannot decide, answering DEFER: %s", connid,
	    store_error(srv->st));
	snprintf(text, len, "4.3.0 mail policy service temporarily unavailable");
	return VERDICT_DEFER;
}

/*
 * The abuse lifecycle over the store.  The rule itself is pure
 * (policy_unblock); this file gathers its facts, applies the owner's
 * unblock request in one audited transaction with its notice, and builds
 * the status and history reports as JSON, which mailabusectl prints as
 * text or JSON and the user socket sends as is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "history.h"
#include "lifecycle.h"
#include "notify.h"

/* ISO 8601 UTC, "-" for 0. */
void
lifecycle_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
lc_json_time(long long t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	lifecycle_time(t, buf, sizeof buf);
	return json_string(buf);
}

/* A text value; null when there is none (the JSON convention for absent values). */
static json_t *
lc_json_str(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

struct lc_windows {
	long long ends[LIFECYCLE_WINDOWS_MAX];
	size_t n;
};

/* The effective end of a complaint window: closed early, or its end. */
static long long
lc_window_end(const struct complaint *c)
{
	if (c->closed_at != 0 && c->closed_at < c->window_end)
		return c->closed_at;
	return c->window_end;
}

static int
lc_window_cb(void *arg, const struct complaint *c)
{
	struct lc_windows *w = arg;
	long long end = lc_window_end(c);

	if (w->n < LIFECYCLE_WINDOWS_MAX)
		w->ends[w->n++] = end;
	else {
		/* keep the latest ends: only the maximum matters */
		size_t min = 0;

		for (size_t i = 1; i < w->n; i++)
			if (w->ends[i] < w->ends[min])
				min = i;
		if (end > w->ends[min])
			w->ends[min] = end;
	}
	return 0;
}

/*
 * Gather the facts of the unblock rule and apply it.  active receives
 * the active account suspension, if any.  0, or -1 on a store error.
 */
int
lifecycle_decide(struct store *st, const struct config *cfg, const char *account,
    long long now, struct unblock_decision *d, struct suspension *active)
{
	struct lc_windows *w;
	struct unblock_facts f;
	struct unblock_rules r = {
		cfg->policy_unblock_cooldown,
		cfg->policy_repeat_offence_choice == CONFIG_REPEAT_PERMANENT
	};
	int s;

	memset(&f, 0, sizeof f);
	memset(active, 0, sizeof *active);
	if ((s = store_suspension_active(st, account, active)) == -1)
		return -1;
	f.suspended = s;
	f.suspended_at = active->created_at;
	if (store_last_unblock(st, account, &f.last_unblock) == -1)
		return -1;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	if (store_complaint_list(st, account, lc_window_cb, w) == -1) {
		free(w);
		return -1;
	}
	f.window_ends = w->ends;
	f.nwindows = w->n;
	policy_unblock(&f, &r, now, d);
	free(w);
	return 0;
}

/* A sentence saying why a request would be refused and from when it can succeed. */
void
lifecycle_explain(const struct unblock_decision *d, const struct config *cfg,
    char *buf, size_t len)
{
	char a[32], b[32], cd[32];
	size_t n;

	duration_format(cfg->policy_unblock_cooldown, cd, sizeof cd);
	switch (d->status) {
	case UNBLOCK_GRANTED:
		snprintf(buf, len, "an unblock request would be granted now");
		return;
	case UNBLOCK_NOT_SUSPENDED:
		snprintf(buf, len, "the account is not suspended");
		return;
	case UNBLOCK_ADMIN_ONLY:
		lifecycle_time(d->cooldown_end - cfg->policy_unblock_cooldown, a, sizeof a);
		snprintf(buf, len, "suspended again within %s of the unblock granted on %s:"
		    " only an administrator can lift this suspension", cd, a);
		return;
	case UNBLOCK_WAIT:
		break;
	}
	buf[0] = '\0';
	if (d->windows_open) {
		lifecycle_time(d->windows_end, a, sizeof a);
		snprintf(buf, len, "a complaint window is open until %s", a);
	}
	if (d->cooldown_active) {
		n = strlen(buf);
		lifecycle_time(d->cooldown_end - cfg->policy_unblock_cooldown, a, sizeof a);
		lifecycle_time(d->cooldown_end, b, sizeof b);
		snprintf(buf + n, len - n, "%san unblock was granted on %s and only one is"
		    " granted every %s%s: the account stays blocked until %s", n ? "; " : "",
		    a, cd, d->repeat ? " (suspended again within that time)" : "", b);
	}
	n = strlen(buf);
	lifecycle_time(d->from, a, sizeof a);
	snprintf(buf + n, len - n, "; an unblock request can succeed from %s", a);
}

/* The decision as JSON, for status and unblock replies. */
static json_t *
lc_decision_json(const struct unblock_decision *d, const struct config *cfg)
{
	char why[768], cd[32];

	lifecycle_explain(d, cfg, why, sizeof why);
	duration_format(cfg->policy_unblock_cooldown, cd, sizeof cd);
	return json_pack("{s:s, s:o, s:b, s:o, s:o, s:s, s:b, s:s}",
	    "unblock", policy_unblock_status_name(d->status),
	    "unblock_from", d->status == UNBLOCK_WAIT ? lc_json_time(d->from) :
	    d->status == UNBLOCK_GRANTED ? json_string("now") : json_null(),
	    "complaint_window_open", d->windows_open,
	    "complaint_window_end", lc_json_time(d->windows_end),
	    "cooldown_end", lc_json_time(d->cooldown_end),
	    "unblock_cooldown", cd,
	    "repeat_offence", d->repeat,
	    "explanation", why);
}

/* Queue the notice telling the owner of a suspension. */
int
lifecycle_notice_suspended(struct store *st, const struct config *cfg,
    const struct suspension *sp, long long now, char *err, size_t errlen)
{
	char since[32];
	struct notify_var v[] = {
		{ "target", sp->target }, { "reason", sp->reason }, { "source", sp->source },
		{ "since", since },
	};

	lifecycle_time(sp->created_at, since, sizeof since);
	return notify_queue(st, cfg, sp->account, "suspended", v, sizeof v / sizeof v[0],
	    now, err, errlen);
}

/*
 * The owner's unblock request, in one transaction: decide, audit the
 * request and its outcome, lift the suspension if granted, queue the
 * notice.  LC_OK granted, LC_REFUSED refused (result says why),
 * LC_NOT_FOUND no such account, LC_ERROR with err.
 */
int
lifecycle_unblock(struct store *st, const struct config *cfg, const char *account,
    const char *actor, long long now, json_t **result, char *err, size_t errlen)
{
	struct unblock_decision d;
	struct suspension active;
	struct account a;
	char why[768], from[32], detail[900];
	long long last_refusal = 0;
	int r, granted;

	*result = NULL;
	if (store_begin(st) == -1)
		goto dberr;
	if ((r = store_account_get(st, account, &a)) != 1) {
		store_rollback(st);
		if (r == 0)
			return LC_NOT_FOUND;
		goto dberr;
	}
	if (lifecycle_decide(st, cfg, account, now, &d, &active) == -1)
		goto dberr;
	granted = d.status == UNBLOCK_GRANTED;
	lifecycle_explain(&d, cfg, why, sizeof why);
	if (granted) {
		char since[32];

		lifecycle_time(active.created_at, since, sizeof since);
		snprintf(detail, sizeof detail, "granted: suspension since %s lifted", since);
		if (store_suspension_lift(st, active.id, now, actor, "unblock request granted",
		    "owner") == -1)
			goto dberr;
	} else
		snprintf(detail, sizeof detail, "refused: %s", why);
	/* A refusal is mailed at most once a day; a grant always. */
	if (!granted && store_last_audit(st, account, "unblock-refused", NULL, &last_refusal) == -1)
		goto dberr;
	if (d.status != UNBLOCK_NOT_SUSPENDED &&
	    (granted || last_refusal <= now - LIFECYCLE_REFUSAL_NOTICE_INTERVAL)) {
		struct notify_var v[] = {
			{ "why", why }, { "from", from }, { "reason", active.reason },
		};

		if (d.status == UNBLOCK_WAIT)
			lifecycle_time(d.from, from, sizeof from);
		else if (d.status == UNBLOCK_ADMIN_ONLY)
			snprintf(from, sizeof from, "never (only an administrator)");
		else
			lifecycle_time(now, from, sizeof from);
		if (notify_queue(st, cfg, account, granted ? "unblock-granted" :
		    "unblock-refused", v, sizeof v / sizeof v[0], now, err, errlen) == -1) {
			store_rollback(st);
			return LC_ERROR;
		}
	}
	if (store_audit_insert(st, now, actor, granted ? "unblock-granted" : "unblock-refused",
	    account, account, detail) == -1 || store_commit(st) == -1)
		goto dberr;
	*result = lc_decision_json(&d, cfg);
	json_object_set_new(*result, "account", json_string(account));
	json_object_set_new(*result, "granted", json_boolean(granted));
	return granted ? LC_OK : LC_REFUSED;
dberr:
	snprintf(err, errlen, "%s", store_error(st));
	store_rollback(st);
	return LC_ERROR;
}

struct lc_status {
	json_t *domains, *mailboxes, *complaints, *notices;
	int suspensions;
	long long now;
};

static int
lc_domain_cb(void *arg, const char *domain, const char *kind)
{
	struct lc_status *ls = arg;

	json_array_append_new(ls->domains, json_pack("{s:s, s:s}", "domain", domain,
	    "kind", kind));
	return 0;
}

static int
lc_suspension_cb(void *arg, const struct suspension *s)
{
	struct lc_status *ls = arg;

	ls->suspensions++;
	if (s->lifted_at == 0 && strcmp(s->kind, "mailbox") == 0)
		json_array_append_new(ls->mailboxes, json_pack("{s:s, s:o, s:s, s:s, s:s}",
		    "mailbox", s->target, "since", lc_json_time(s->created_at),
		    "reason", s->reason, "source", s->source, "by", s->created_by));
	return 0;
}

static int
lc_complaint_cb(void *arg, const struct complaint *c)
{
	struct lc_status *ls = arg;
	long long end = lc_window_end(c);

	json_array_append_new(ls->complaints, json_pack("{s:I, s:s, s:s, s:o, s:s, s:o, s:b}",
	    "id", (json_int_t)c->id, "source", c->source, "ref", c->ref,
	    "received", lc_json_time(c->created_at), "by", c->created_by,
	    "window_end", lc_json_time(end), "window_open", end > ls->now));
	return 0;
}

static int
lc_notice_failed_cb(void *arg, const struct notice *n)
{
	struct lc_status *ls = arg;

	json_array_append_new(ls->notices, json_pack("{s:I, s:s, s:s, s:o, s:o, s:i, s:s}",
	    "id", (json_int_t)n->id, "kind", n->kind, "rcpt", n->rcpt,
	    "queued", lc_json_time(n->created_at), "failed_at", lc_json_time(n->failed_at),
	    "attempts", n->attempts, "error", n->error));
	return 0;
}

/*
 * Everything status shows, as JSON.  *rc: 0, EX-style codes are the
 * caller's business: LC_NOT_FOUND or LC_ERROR.
 */
json_t *
lifecycle_status(struct store *st, const struct config *cfg, const char *account,
    long long now, int *rc)
{
	struct lc_status ls = { NULL, NULL, NULL, NULL, 0, now };
	struct unblock_decision d;
	struct suspension active;
	struct account a;
	long long last_unblock = 0, cp_since = 0;
	char cp_state[16] = "";
	json_t *j;
	int r, cp;

	if ((r = store_account_get(st, account, &a)) != 1) {
		*rc = r == 0 ? LC_NOT_FOUND : LC_ERROR;
		return NULL;
	}
	ls.domains = json_array();
	ls.mailboxes = json_array();
	ls.complaints = json_array();
	ls.notices = json_array();
	if (store_account_domains(st, a.name, lc_domain_cb, &ls) == -1 ||
	    store_outbox_failed_list(st, a.name, lc_notice_failed_cb, &ls) == -1 ||
	    store_suspension_list(st, a.name, lc_suspension_cb, &ls) == -1 ||
	    store_complaint_list(st, a.name, lc_complaint_cb, &ls) == -1 ||
	    store_last_unblock(st, a.name, &last_unblock) == -1 ||
	    (cp = store_outgoing_get(st, a.name, cp_state, sizeof cp_state, &cp_since)) == -1 ||
	    lifecycle_decide(st, cfg, a.name, now, &d, &active) == -1) {
		json_decref(ls.domains);
		json_decref(ls.mailboxes);
		json_decref(ls.complaints);
		json_decref(ls.notices);
		*rc = LC_ERROR;
		return NULL;
	}
	j = json_pack("{s:s, s:o, s:o, s:o, s:b, s:s}", "account", a.name,
	    "owner", lc_json_str(a.owner), "contact", lc_json_str(a.contact),
	    "main_domain", lc_json_str(a.main_domain),
	    "in_cpanel", a.present,
	    "state", active.id ? "suspended" : a.present ? "active" : "removed");
	json_object_set_new(j, "since", lc_json_time(active.created_at));
	json_object_set_new(j, "reason", active.id ? json_string(active.reason) : json_null());
	json_object_set_new(j, "source", active.id ? json_string(active.source) : json_null());
	json_object_set_new(j, "suspended_by", active.id ? json_string(active.created_by) :
	    json_null());
	json_object_set_new(j, "last_unblock", lc_json_time(last_unblock));
	/* cPanel's own outgoing suspension, as sync last read it: cPanel's Exim enforces it */
	json_object_set_new(j, "cpanel_outgoing", cp == 1 ? json_string(cp_state) : json_null());
	json_object_set_new(j, "cpanel_outgoing_since", cp == 1 ? lc_json_time(cp_since) :
	    json_null());
	{
		json_t *dj = lc_decision_json(&d, cfg);

		json_object_update(j, dj);
		json_decref(dj);
	}
	json_object_set_new(j, "complaints", ls.complaints);
	json_object_set_new(j, "domains", ls.domains);
	json_object_set_new(j, "mailboxes_suspended", ls.mailboxes);
	json_object_set_new(j, "suspensions_total", json_integer(ls.suspensions));
	/* notices given up after notify.give_up: the owner was not told */
	json_object_set_new(j, "notices_failed", ls.notices);
	*rc = LC_OK;
	return j;
}

static int
lc_audit_cb(void *arg, const struct audit_entry *e)
{
	json_array_append_new(arg, json_pack("{s:o, s:s, s:s, s:o, s:o}", "at",
	    lc_json_time(e->at), "actor", e->actor, "action", e->action,
	    "target", lc_json_str(e->target), "detail", lc_json_str(e->detail)));
	return 0;
}

/* The recipient and outcome counts a message and a source's sums share. */
static void
lc_json_counts(json_t *o, long long n_local, long long n_external, long long delivered,
    long long deferred, long long bounced)
{
	json_object_set_new(o, "rcpts_local", json_integer(n_local));
	json_object_set_new(o, "rcpts_external", json_integer(n_external));
	json_object_set_new(o, "delivered", json_integer(delivered));
	json_object_set_new(o, "deferred", json_integer(deferred));
	json_object_set_new(o, "bounced", json_integer(bounced));
}

static int
lc_message_cb(void *arg, const struct message_record *m)
{
	/* sender "" is the null sender (a bounce): a value, not an absent one */
	json_t *o = json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:s}",
	    "at", lc_json_time(m->at), "ctx", m->ctx, "mailbox", lc_json_str(m->mailbox),
	    "uid", m->uid >= 0 ? json_integer(m->uid) : json_null(),
	    "script", lc_json_str(m->script), "ip", lc_json_str(m->ip), "sender", m->sender,
	    "rcpt", lc_json_str(m->rcpt), "verdict", m->verdict);

	json_object_set_new(o, "msgid", lc_json_str(m->msgid));
	json_object_set_new(o, "source_kind", lc_json_str(m->source_kind));
	json_object_set_new(o, "source", lc_json_str(m->source));
	lc_json_counts(o, m->n_local, m->n_external, m->delivered, m->deferred, m->bounced);
	json_object_set_new(o, "reason", lc_json_str(m->reason));
	json_array_append_new(arg, o);
	return 0;
}

/* A source's counters as JSON. */
json_t *
lifecycle_source_json(const struct source_stats *x)
{
	json_t *o = json_object();

	if (x->kind[0] != '\0') {
		json_object_set_new(o, "kind", json_string(x->kind));
		json_object_set_new(o, "source", json_string(x->source));
	} else
		json_object_set_new(o, "account", json_string(x->account));
	json_object_set_new(o, "messages", json_integer(x->messages));
	lc_json_counts(o, x->n_local, x->n_external, x->delivered, x->deferred, x->bounced);
	json_object_set_new(o, "bounce_percent", json_integer(
	    x->delivered + x->deferred + x->bounced > 0 ? (x->deferred + x->bounced) * 100 /
	    (x->delivered + x->deferred + x->bounced) : 0));
	json_object_set_new(o, "refused", json_integer(x->refused));
	json_object_set_new(o, "held", json_integer(x->held));
	json_object_set_new(o, "limited", json_integer(x->limited));
	json_object_set_new(o, "first", lc_json_time(x->first_at));
	json_object_set_new(o, "last", lc_json_time(x->last_at));
	return o;
}

struct lc_sources {
	json_t *arr;		/* the sources, in the store's order */
	json_t *by_key;		/* "kind\nsource" -> the same objects */
	json_t *domains;	/* "kind\nsource" -> { domain: count } */
	long long since;
	long long rows;		/* messages summed up */
};

static void
lc_source_key(const char *kind, const char *source, char *buf, size_t len)
{
	snprintf(buf, len, "%s\n%s", kind != NULL ? kind : "", source != NULL ? source : "");
}

static int
lc_source_cb(void *arg, const struct source_stats *x)
{
	struct lc_sources *ls = arg;
	json_t *o = lifecycle_source_json(x);
	char key[300];

	ls->rows += x->messages;
	lc_source_key(x->kind, x->source, key, sizeof key);
	json_object_set_new(o, "top_domains", json_array());
	json_object_set_new(o, "hosts", json_array());
	json_object_set(ls->by_key, key, o);
	json_array_append_new(ls->arr, o);
	return 0;
}

/* Add up "domain:count,domain:count" of one message. */
static int
lc_domains_cb(void *arg, const char *kind, const char *source, const char *domains)
{
	struct lc_sources *ls = arg;
	char key[300], *copy, *tok, *save = NULL, *colon;
	json_t *d;

	lc_source_key(kind, source, key, sizeof key);
	if ((d = json_object_get(ls->domains, key)) == NULL) {
		d = json_object();
		json_object_set_new(ls->domains, key, d);
	}
	if (domains == NULL || (copy = strdup(domains)) == NULL)
		return 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		long long n = 1;

		if ((colon = strrchr(tok, ':')) != NULL) {
			*colon = '\0';
			n = strtoll(colon + 1, NULL, 10);
		}
		json_object_set_new(d, tok, json_integer(
		    json_integer_value(json_object_get(d, tok)) + n));
	}
	free(copy);
	return 0;
}

static int
lc_hosts_cb(void *arg, const char *kind, const char *source, const char *ip,
    long long messages, long long first_seen)
{
	struct lc_sources *ls = arg;
	char key[300];
	json_t *o;

	lc_source_key(kind, source, key, sizeof key);
	if ((o = json_object_get(ls->by_key, key)) == NULL)
		return 0;
	json_array_append_new(json_object_get(o, "hosts"), json_pack("{s:o, s:I, s:o, s:b}",
	    "ip", lc_json_str(ip), "messages", (json_int_t)messages,
	    "first_seen", lc_json_time(first_seen), "new", first_seen >= ls->since));
	return 0;
}

static int
lc_domain_cmp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "rcpts"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "rcpts"));

	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "domain")),
	    json_string_value(json_object_get(*(json_t *const *)b, "domain")));
}

/* Each source's five busiest recipient domains. */
static void
lc_top_domains(struct lc_sources *ls)
{
	const char *key, *dom;
	json_t *d, *n, *o;

	json_object_foreach(ls->domains, key, d) {
		size_t len = json_object_size(d), i = 0;
		json_t **v;

		if ((o = json_object_get(ls->by_key, key)) == NULL || len == 0 ||
		    (v = calloc(len, sizeof *v)) == NULL)
			continue;
		json_object_foreach(d, dom, n)
			v[i++] = json_pack("{s:s, s:I}", "domain", dom,
			    "rcpts", (json_int_t)json_integer_value(n));
		qsort(v, len, sizeof *v, lc_domain_cmp);
		for (i = 0; i < len; i++) {
			if (i < 5)
				json_array_append(json_object_get(o, "top_domains"), v[i]);
			json_decref(v[i]);
		}
		free(v);
	}
}

/*
 * The owner's view: what each source of the account (every script, every
 * mailbox) sent since `since`, with outcomes, top recipient domains and
 * client hosts (new in the period, or seen before); the account's
 * changes; the newest `limit` messages of the period.  The summary is of
 * the newest max_rows messages of the period at most (-1: all of them);
 * "truncated" says when there were more.
 */
json_t *
lifecycle_history(struct store *st, struct history *h, const char *account, long long since,
    long long now, long long limit, long long max_rows, int *rc)
{
	struct lc_sources ls = { NULL, NULL, NULL, since, 0 };
	struct account a;
	json_t *changes = NULL, *all = NULL;
	int r;

	if ((r = store_account_get(st, account, &a)) != 1) {
		*rc = r == 0 ? LC_NOT_FOUND : LC_ERROR;
		return NULL;
	}
	changes = json_array();
	all = json_array();
	ls.arr = json_array();
	ls.by_key = json_object();
	ls.domains = json_object();
	if (store_audit_list(st, a.name, limit, lc_audit_cb, changes) == -1 ||
	    history_message_list(h, a.name, since, limit, lc_message_cb, all) == -1 ||
	    history_sources(h, a.name, since, max_rows, 1000, lc_source_cb, &ls) == -1 ||
	    history_domains(h, a.name, since, max_rows, lc_domains_cb, &ls) == -1 ||
	    history_hosts(h, a.name, since, max_rows, lc_hosts_cb, &ls) == -1) {
		json_decref(changes);
		json_decref(all);
		json_decref(ls.arr);
		json_decref(ls.by_key);
		json_decref(ls.domains);
		*rc = LC_ERROR;
		return NULL;
	}
	lc_top_domains(&ls);
	json_decref(ls.by_key);
	json_decref(ls.domains);
	*rc = LC_OK;
	return json_pack("{s:s, s:o, s:o, s:o, s:b, s:o, s:o}", "account", a.name,
	    "since", lc_json_time(since), "until", lc_json_time(now), "sources", ls.arr,
	    "truncated", max_rows >= 0 && ls.rows >= max_rows, "changes", changes,
	    "messages", all);
}

/*
 * The decision on a message as a pure function of its facts (identity,
 * suspensions, recipients, the detectors' say, a suspension under way),
 * the reply texts, and the detectors' view of a message.
 */
#include <stdio.h>
#include <string.h>

#include "decision.h"
#include "str.h"

/* The text of a reply; why (may be NULL or "") is appended where it says why. */
void
decision_reply(enum reply_text which, const char *account, const char *why, char *buf,
    size_t len)
{
	int because = why != NULL && why[0] != '\0';

	switch (which) {
	case REPLY_SUSPENDING:
		snprintf(buf, len, "4.7.1 Outgoing mail of account %s is being suspended%s%s",
		    account, because ? ": " : "", because ? why : "");
		break;
	case REPLY_LIMIT:
		snprintf(buf, len, "4.7.1 Sending limit reached, try again later: %.400s",
		    because ? why : "");
		break;
	case REPLY_HELD:
		snprintf(buf, len, "held for review: %.400s", because ? why : "");
		break;
	case REPLY_WEB_HELD:
		snprintf(buf, len, "held for review: %.400s (named by X-PHP-Script)",
		    because ? why : "");
		break;
	case REPLY_ROUTE_REFUSE:
		snprintf(buf, len, "5.7.1 Outgoing mail of account %s is suspended", account);
		break;
	case REPLY_ROUTE_DEFER:
		snprintf(buf, len, "4.7.1 Outgoing mail of account %s is suspended: held until"
		    " it is lifted", account);
		break;
	case REPLY_LOOPBACK_DEFER:
		snprintf(buf, len, "4.7.0 Cannot tell which local user opened this connection");
		break;
	case REPLY_LOOPBACK_REFUSE:
		snprintf(buf, len, "5.7.1 Cannot tell which local user opened this connection");
		break;
	case REPLY_UNAVAILABLE:
	default:
		snprintf(buf, len, "4.3.0 mail policy service temporarily unavailable");
		break;
	}
}

/* A whole message policy lets through: the detectors and a suspension under way. */
static void
decision_detectors(const struct decision_facts *f, struct decision *d)
{
	const char *account = f->id->account;

	if (f->pending) {
		d->verdict = VERDICT_DEFER;
		decision_reply(REPLY_SUSPENDING, account, NULL, d->text, sizeof d->text);
		str_copy(d->why, sizeof d->why, "suspension under way");
		return;
	}
	if (!f->tripped) {
		d->count = 1;
		return;
	}
	str_copy(d->why, sizeof d->why, f->why);
	switch (f->trip->action) {
	case ACTION_HOLD:
		d->verdict = VERDICT_HOLD;
		decision_reply(REPLY_HELD, account, f->why, d->text, sizeof d->text);
		d->count = 1;
		break;
	case ACTION_SUSPEND:
		d->verdict = VERDICT_DEFER;
		decision_reply(REPLY_SUSPENDING, account, f->why, d->text, sizeof d->text);
		d->suspend = 1;
		break;
	case ACTION_DEFER:
	default:
		d->verdict = VERDICT_DEFER;
		decision_reply(REPLY_LIMIT, account, f->why, d->text, sizeof d->text);
		break;
	}
}

/*
 * The verdict on a message and what follows it.  An RCPT that passes is
 * recorded with its message at DATA; one that is refused never gets
 * there, so it is recorded now.  Only whole messages meet the detectors.
 */
void
decision_take(const struct decision_facts *f, struct decision *d)
{
	struct policy_decision pd;
	int ours = f->id->kind == IDENTITY_ACCOUNT || f->id->kind == IDENTITY_MAILBOX;

	memset(d, 0, sizeof *d);
	policy_verdict(f->id, &f->policy, f->allow_local_delivery, &pd);
	d->verdict = pd.verdict;
	d->reason = pd.reason;
	d->log_refusal = pd.verdict == VERDICT_REFUSE;
	str_copy(d->text, sizeof d->text, pd.text);
	/* the header that named the account can be forged: hold, if so configured */
	if (pd.verdict == VERDICT_REFUSE && f->whole && f->id->how == HOW_WEB_SCRIPT &&
	    f->web_hold) {
		d->verdict = VERDICT_HOLD;
		decision_reply(REPLY_WEB_HELD, f->id->account, pd.text, d->text, sizeof d->text);
	}
	if (!ours)
		return;
	if (!f->whole && d->verdict == VERDICT_PASS) {
		if (f->pending) {
			d->verdict = VERDICT_DEFER;
			decision_reply(REPLY_SUSPENDING, f->id->account, NULL, d->text,
			    sizeof d->text);
		}
		return;
	}
	d->record = 1;
	if (d->verdict == VERDICT_PASS)
		decision_detectors(f, d);
	else if (d->verdict == VERDICT_REFUSE)
		str_copy(d->why, sizeof d->why, pd.reason);
}

const char *
decision_source_name(enum source_kind k)
{
	static const char *const names[] = {
		[SOURCE_NONE] = "", [SOURCE_MAILBOX] = "mailbox", [SOURCE_SCRIPT] = "script",
		[SOURCE_LOOPBACK] = "loopback", [SOURCE_LOCAL] = "local",
	};

	return (size_t)k < sizeof names / sizeof names[0] ? names[k] : "";
}

enum source_kind
decision_source_from_name(const char *name)
{
	for (int k = SOURCE_MAILBOX; k <= SOURCE_LOCAL; k++)
		if (strcmp(name, decision_source_name((enum source_kind)k)) == 0)
			return (enum source_kind)k;
	return SOURCE_NONE;
}

/* The outcome an Exim event reports, OUTCOME_NONE for the events not counted. */
enum delivery_outcome
decision_outcome_from_event(const char *event)
{
	if (strcmp(event, "msg:delivery") == 0)
		return OUTCOME_DELIVERED;
	if (strcmp(event, "msg:defer") == 0 || strcmp(event, "msg:rcpt:defer") == 0)
		return OUTCOME_DEFERRED;
	if (strcmp(event, "msg:fail:delivery") == 0 || strcmp(event, "msg:fail:internal") == 0)
		return OUTCOME_BOUNCED;
	return OUTCOME_NONE;
}

const char *
decision_outcome_name(enum delivery_outcome o)
{
	switch (o) {
	case OUTCOME_DELIVERED:
		return "delivered";
	case OUTCOME_DEFERRED:
		return "deferred";
	case OUTCOME_BOUNCED:
		return "bounced";
	case OUTCOME_NONE:
	default:
		return "ignored";
	}
}

/* A recipient's hash, case-insensitively (lower-cases addr in place). */
uint64_t
decision_rcpt_hash(char *addr)
{
	for (size_t i = 0; addr[i] != '\0'; i++)
		if (addr[i] >= 'A' && addr[i] <= 'Z')
			addr[i] = (char)(addr[i] + 32);
	return detect_hash(addr);
}

/*
 * The detectors' view of a message.  A script's recipients are counted
 * under its uid, not under a header the sender writes; key receives
 * that key and must outlive m.
 */
void
decision_detect_msg(const struct decision_detect_in *in, struct detect_msg *m, char *key,
    size_t keylen)
{
	memset(m, 0, sizeof *m);
	m->account = in->account;
	m->mailbox = in->kind == SOURCE_MAILBOX ? in->source : "";
	if (in->kind == SOURCE_MAILBOX)
		snprintf(key, keylen, "%s", "");
	else if (in->uid >= 0)
		snprintf(key, keylen, "uid %lld", in->uid);
	else
		snprintf(key, keylen, "account");
	m->script = key;
	m->label = in->source;
	m->n_external = in->n_external;
	m->rcpt_hashes = in->rcpt_hashes;
	m->n_rcpt_hashes = in->n_rcpt_hashes;
	if (m->mailbox[0] != '\0' && in->ip[0] != '\0') {
		m->host = detect_hash(in->ip);
		m->host_new = in->host_new;
	}
}

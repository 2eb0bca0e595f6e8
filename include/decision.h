/*
 * decision.c: the verdict on a message from its facts (pure: no store,
 * no clock, no I/O), the words the replies say, and the detectors' view
 * of a message, built in one place for the daemon's answers and for the
 * rebuild of its windows at start.
 */
#ifndef MAILABUSE_DECISION_H
#define MAILABUSE_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "identity.h"
#include "policy.h"
#include "proto.h"

/* Which source sent a message (decision_source_name: the word the history keeps). */
enum source_kind {
	SOURCE_NONE,		/* "": records from before sources were kept */
	SOURCE_MAILBOX,		/* "mailbox": a mailbox, or the account's own SMTP login */
	SOURCE_SCRIPT,		/* "script": a script named by PHP's headers */
	SOURCE_LOOPBACK,	/* "loopback": an SMTP session from the server itself */
	SOURCE_LOCAL		/* "local": sendmail or local SMTP otherwise */
};

/* What Exim reports of a delivery (decision_outcome_name: "delivered", ...). */
enum delivery_outcome {
	OUTCOME_NONE,		/* an event not counted */
	OUTCOME_DELIVERED,
	OUTCOME_DEFERRED,
	OUTCOME_BOUNCED
};

/* Every reply text the daemon builds, each in one place. */
enum reply_text {
	REPLY_SUSPENDING,	/* an automatic suspension is being written */
	REPLY_LIMIT,		/* a detector's limit: try later */
	REPLY_HELD,		/* a detector holds the message */
	REPLY_WEB_HELD,		/* policy.web_action = hold */
	REPLY_UNAVAILABLE,	/* the store or the view cannot answer */
	REPLY_ROUTE_REFUSE,	/* policy.redirect_action = fail */
	REPLY_ROUTE_DEFER,	/* policy.redirect_action = defer */
	REPLY_LOOPBACK_DEFER,	/* policy.loopback_unknown = defer */
	REPLY_LOOPBACK_REFUSE	/* policy.loopback_unknown = refuse */
};

/* What the verdict on a message is taken from. */
struct decision_facts {
	const struct identity *id;
	struct policy_facts policy;
	int whole;			/* the whole message (DATA, local submission), not an RCPT */
	int allow_local_delivery;	/* policy.allow_local_delivery */
	int web_hold;			/* policy.web_action = hold */
	int pending;			/* the account's automatic suspension is being written */
	int tripped;			/* a detector's limit would be passed (trip, why) */
	const struct detect_trip *trip;
	const char *why;		/* the trip, in words */
};

/* The verdict and what is to follow it. */
struct decision {
	enum verdict verdict;
	char text[512];			/* the reply */
	const char *reason;		/* policy's token for the log ("account-suspended", ...) */
	char why[256];			/* the history record's reason */
	int log_refusal;		/* policy refused: logged at info */
	int record;			/* keep the message in the account's history */
	int count;			/* count it in the detectors' windows */
	int suspend;			/* hand an automatic suspension to the writer */
};

void decision_take(const struct decision_facts *f, struct decision *d);
void decision_reply(enum reply_text which, const char *account, const char *why, char *buf,
    size_t len);

const char *decision_source_name(enum source_kind k);
enum source_kind decision_source_from_name(const char *name);
enum delivery_outcome decision_outcome_from_event(const char *event);
const char *decision_outcome_name(enum delivery_outcome o);

/* A message as the detectors see it, from what is recorded of it. */
struct decision_detect_in {
	const char *account;
	enum source_kind kind;
	const char *source;		/* the mailbox, script or description */
	long long uid;			/* -1 unknown */
	const char *ip;			/* "" unknown */
	int host_new;			/* the mailbox's host was never seen before */
	unsigned long n_external;
	const uint64_t *rcpt_hashes;
	size_t n_rcpt_hashes;
};
void decision_detect_msg(const struct decision_detect_in *in, struct detect_msg *m,
    char *key, size_t keylen);
uint64_t decision_rcpt_hash(char *addr);

#endif

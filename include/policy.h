/* policy.c: pure decisions: the verdict on a message, unblock eligibility. */
#ifndef MAILABUSE_POLICY_H
#define MAILABUSE_POLICY_H

#include <stddef.h>

#include "identity.h"
#include "proto.h"

/* What the store says about the sender, as far as the verdict needs it. */
struct policy_facts {
	int account_suspended;
	int mailbox_suspended;
	int rcpts_all_local;	/* every recipient in a local domain */
};

struct policy_decision {
	enum verdict verdict;
	const char *reason;	/* short token for logs: "account-suspended", ... */
	char text[512];		/* the text of the reply */
};

int policy_rcpts_matter(const struct identity *id, const struct policy_facts *f,
    int allow_local_delivery);
void policy_verdict(const struct identity *id, const struct policy_facts *f,
    int allow_local_delivery, struct policy_decision *d);

/* What the unblock rule needs to know about an account. */
struct unblock_facts {
	int suspended;			/* an active account-level suspension */
	long long suspended_at;
	long long last_unblock;		/* last counted unblock, 0 if none */
	const long long *window_ends;	/* effective end of each complaint window */
	size_t nwindows;
};

struct unblock_rules {
	long long cooldown;		/* policy.unblock_cooldown, seconds */
	int repeat_permanent;		/* policy.repeat_offence = "permanent" */
};

enum unblock_status {
	UNBLOCK_GRANTED,		/* a request now would be granted */
	UNBLOCK_NOT_SUSPENDED,		/* nothing to unblock */
	UNBLOCK_WAIT,			/* not yet: possible from `from` */
	UNBLOCK_ADMIN_ONLY		/* repeat offence: never by the owner */
};

struct unblock_decision {
	enum unblock_status status;
	int windows_open;		/* a complaint window has not ended */
	long long windows_end;		/* when the last one ends */
	int cooldown_active;		/* an unblock was granted within the cooldown */
	long long cooldown_end;		/* last unblock + cooldown (0 if none) */
	int repeat;			/* suspended again within the cooldown */
	long long from;			/* UNBLOCK_WAIT: first second a request succeeds */
};

void policy_unblock(const struct unblock_facts *f, const struct unblock_rules *r,
    long long now, struct unblock_decision *d);
const char *policy_unblock_status_name(enum unblock_status s);

#endif

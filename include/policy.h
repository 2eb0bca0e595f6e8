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

#endif

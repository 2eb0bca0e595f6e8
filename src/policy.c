/*
 * Pure policy decisions.  No I/O and no clock of its own: every fact,
 * including the time, comes in as an argument.
 */
#include <stdio.h>
#include <string.h>

#include "policy.h"

/* Whether the verdict depends on where the recipients are. */
int
policy_rcpts_matter(const struct identity *id, const struct policy_facts *f,
    int allow_local_delivery)
{
	if (!allow_local_delivery)
		return 0;
	if (id->kind != IDENTITY_ACCOUNT && id->kind != IDENTITY_MAILBOX)
		return 0;
	return f->account_suspended || f->mailbox_suspended;
}

/*
 * The verdict on one message (or one recipient): refused when the
 * sending account or mailbox is suspended, unless every recipient is
 * local and local delivery is allowed.  Bounces, system users and
 * senders nobody knows pass.
 */
void
policy_verdict(const struct identity *id, const struct policy_facts *f,
    int allow_local_delivery, struct policy_decision *d)
{
	memset(d, 0, sizeof *d);
	d->verdict = VERDICT_PASS;

	switch (id->kind) {
	case IDENTITY_BOUNCE:
		d->reason = "bounce";
		return;
	case IDENTITY_SYSTEM:
		d->reason = "system-user";
		return;
	case IDENTITY_UNKNOWN:
		d->reason = "unknown-sender";
		return;
	case IDENTITY_ACCOUNT:
	case IDENTITY_MAILBOX:
		break;
	}
	if (!f->account_suspended && !f->mailbox_suspended) {
		d->reason = "active";
		return;
	}
	if (allow_local_delivery && f->rcpts_all_local) {
		d->reason = "local-delivery";
		return;
	}
	d->verdict = VERDICT_REFUSE;
	if (f->account_suspended) {
		d->reason = "account-suspended";
		snprintf(d->text, sizeof d->text,
		    "5.7.1 Outgoing mail of account %s is suspended",
		    id->account);
	} else {
		d->reason = "mailbox-suspended";
		snprintf(d->text, sizeof d->text,
		    "5.7.1 Outgoing mail of mailbox %s is suspended",
		    id->mailbox);
	}
}

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

/*
 * The unblock rule.  An owner's request is granted when the account is
 * suspended, every complaint window on it has ended (a window ending at
 * T has ended at T), and no unblock was granted within the cooldown
 * (an unblock at U allows the next one from U + cooldown).  An account
 * suspended again within the cooldown of its last unblock waits for the
 * cooldown to end, or with repeat_permanent can only be lifted by an
 * administrator.
 */
void
policy_unblock(const struct unblock_facts *f, const struct unblock_rules *r,
    long long now, struct unblock_decision *d)
{
	memset(d, 0, sizeof *d);
	if (!f->suspended) {
		d->status = UNBLOCK_NOT_SUSPENDED;
		return;
	}
	for (size_t i = 0; i < f->nwindows; i++)
		if (f->window_ends[i] > d->windows_end)
			d->windows_end = f->window_ends[i];
	d->windows_open = d->windows_end > now;
	if (f->last_unblock > 0) {
		d->cooldown_end = f->last_unblock + r->cooldown;
		d->cooldown_active = now < d->cooldown_end;
		d->repeat = f->suspended_at < d->cooldown_end;
	}
	if (d->repeat && r->repeat_permanent) {
		d->status = UNBLOCK_ADMIN_ONLY;
		return;
	}
	if (!d->windows_open && !d->cooldown_active) {
		d->status = UNBLOCK_GRANTED;
		return;
	}
	d->status = UNBLOCK_WAIT;
	d->from = d->windows_end > d->cooldown_end ? d->windows_end : d->cooldown_end;
}

/* A short name for JSON and logs. */
const char *
policy_unblock_status_name(enum unblock_status s)
{
	switch (s) {
	case UNBLOCK_GRANTED:
		return "possible";
	case UNBLOCK_NOT_SUSPENDED:
		return "not-suspended";
	case UNBLOCK_WAIT:
		return "wait";
	case UNBLOCK_ADMIN_ONLY:
	default:
		return "admin-only";
	}
}

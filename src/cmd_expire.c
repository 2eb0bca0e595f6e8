/*
 * mailabusectl expire, run from cron: close the complaint windows that
 * have ended, queue the notices of accounts that became eligible for an
 * unblock, send (and retry) due notices, and purge records older than
 * the retention periods.  Each step is its own short transaction and is
 * idempotent, so it is safe while the daemon serves and while another
 * expire runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "history.h"
#include "lifecycle.h"
#include "notify.h"

struct pending {
	struct suspension *s;
	size_t n, cap;
};

static int
expire_pending_cb(void *arg, const struct suspension *sp)
{
	struct pending *p = arg;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct suspension *ns = realloc(p->s, cap * sizeof *ns);

		if (ns == NULL)
			return 1;
		p->s = ns;
		p->cap = cap;
	}
	p->s[p->n++] = *sp;
	return 0;
}

/*
 * Queue the "you may now ask for an unblock" notice, once per
 * suspension, inside the caller's transaction.  0, 1 when the template
 * is broken (nothing queued), -1 on a store error.
 */
static int
expire_eligible(struct ctl *c, const struct suspension *sp, int *queued)
{
	struct unblock_decision d;
	struct suspension active;
	struct notify_var v[] = { { "reason", sp->reason } };
	char err[512];
	int r;

	if (lifecycle_decide(c->st, &c->cfg, sp->account, c->now, &d, &active) == -1)
		return -1;
	if (d.status != UNBLOCK_GRANTED || active.id != sp->id)
		return 0;
	if ((r = store_suspension_set_notified(c->st, sp->id, c->now)) != 0)
		return r == 1 ? 0 : -1;		/* 1: another run got there first */
	if (notify_queue(c->st, &c->cfg, sp->account, "eligible", v, 1, c->now, err,
	    sizeof err) == -1) {
		fprintf(stderr, "mailabusectl: expire: notice for %s: %s\n", sp->account,
		    ctl_esc(err));
		return 1;
	}
	if (store_audit_insert(c->st, c->now, c->actor, "eligible", sp->account, sp->account,
	    "an unblock request can now succeed; owner notified") == -1)
		return -1;
	(*queued)++;
	return 0;
}

#define EXPIRE_BATCH 500	/* suspensions looked at per transaction */

int
cmd_expire(struct ctl *c, const struct ctl_args *a)
{
	struct pending p = { NULL, 0, 0 };
	long long closed = 0, purged = 0, n = 0;
	int r, queued = 0, sent = 0, failed = 0, given_up = 0;

	(void)a;
	if ((r = ctl_store(c)) != 0)
		return r;
	/* 1. complaint windows that have ended */
	if (store_begin(c->st) == -1 ||
	    store_complaints_expire(c->st, c->now, c->actor, &closed) == -1 ||
	    store_commit(c->st) == -1)
		return ctl_db_error(c, "expire");
	/* 2. accounts that may now ask for an unblock */
	if (store_suspension_pending_eligible(c->st, expire_pending_cb, &p) == -1) {
		free(p.s);
		return ctl_db_error(c, "expire");
	}
	for (size_t i = 0; i < p.n; i += EXPIRE_BATCH) {
		int broken = 0, batch = 0;

		if (store_begin(c->st) == -1) {
			free(p.s);
			return ctl_db_error(c, "expire");
		}
		for (size_t k = i; k < p.n && k < i + EXPIRE_BATCH; k++) {
			if ((r = expire_eligible(c, &p.s[k], &batch)) == -1) {
				free(p.s);
				return ctl_db_error(c, "expire");
			}
			broken |= r;
		}
		if (broken) {
			/* a broken template: queue none of this batch, say so, go on */
			store_rollback(c->st);
			continue;
		}
		if (store_commit(c->st) == -1) {
			free(p.s);
			return ctl_db_error(c, "expire");
		}
		queued += batch;
	}
	free(p.s);
	/* 3. notices due, new and retried */
	if (notify_send_due(c->st, &c->cfg, NULL, c->now, &sent, &failed, &given_up) == -1)
		return ctl_db_error(c, "expire");
	/* 4. old records, never those the unblock rule needs */
	if (store_begin(c->st) == -1 ||
	    store_purge(c->st, c->now - c->cfg.retention_records, &purged) == -1 ||
	    store_commit(c->st) == -1)
		return ctl_db_error(c, "expire");
	if ((r = ctl_history(c)) != 0)
		return r;
	if (history_begin(c->hist) == -1 ||
	    history_purge(c->hist, c->now - c->cfg.retention_messages, &n) == -1 ||
	    history_commit(c->hist) == -1)
		return ctl_history_error(c, "expire");
	purged += n;
	if (c->json)
		return ctl_json_print(json_pack("{s:I, s:i, s:i, s:i, s:i, s:I}",
		    "complaint_windows_ended", (json_int_t)closed, "eligibility_notices_queued",
		    queued, "notices_sent", sent, "notices_failed", failed,
		    "notices_given_up", given_up, "records_purged", (json_int_t)purged));
	printf("expire: %lld complaint window%s ended, %d eligibility notice%s queued,"
	    " %d notice%s sent, %d failed, %d given up, %lld old record%s purged\n",
	    closed, closed == 1 ? "" : "s", queued, queued == 1 ? "" : "s",
	    sent, sent == 1 ? "" : "s", failed, given_up, purged, purged == 1 ? "" : "s");
	return 0;
}

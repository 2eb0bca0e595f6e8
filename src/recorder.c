/*
 * The daemon's writer thread.  The event loop answers Exim from reads
 * alone; everything the daemon itself writes goes through here, on a
 * connection of its own, so that no answer ever waits for a write, a
 * sync or a lock held by mailabusectl.
 *
 * Message records and outcomes go to the history file (history.c), the
 * suspensions to the policy database: a connection to each.
 *
 * The queue is a list under a mutex: the loop appends (a copy into a
 * slot), the writer takes the whole list at once and writes it in one
 * transaction, then gives the slots back.  The slots of records and
 * outcomes are kept for reuse in two sizes, a few thousand at most:
 * no malloc by the loop and free by the writer per record, whose
 * interleaving with the loop's own allocations fragmented the heap.  Under load the batches grow by themselves.  Message
 * records and outcomes beyond the configured bound are dropped and
 * counted, never waited for.  An automatic suspension is never dropped:
 * it goes before the records taken with it, is committed in a
 * transaction of its own with a full sync, and put on a done list that
 * a byte on a pipe tells the loop to take.
 */
#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "history.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "recorder.h"
#include "store.h"

#define RECORDER_ACTOR "mailabused (detection)"
#define RECORDER_RETRY_SECONDS 1
#define RECORDER_BATCH_MS 100	/* records wait this long at most for company */
#define RECORDER_TRIES 10		/* failures other than a lock before a batch is dropped */

enum rec_kind { REC_MESSAGE, REC_OUTCOME, REC_SUSPEND, REC_RELOAD };

/* Slots kept for reuse: most packed records fit a small one. */
#define REC_SLOT_SMALL 512
#define REC_SLOT_LARGE (sizeof(struct rec_item) + sizeof(struct message_record))
#define REC_POOL_SMALL 2048
#define REC_POOL_LARGE 128

struct rec_suspend {
	char account[ACCOUNT_NAME_MAX];
	char reason[REASON_MAX / 2];
	char ref[REASON_MAX / 2];
	long long at;
};

/*
 * A queued item.  A message record keeps its text fields packed after
 * the item, each NUL-terminated, in the order of rec_msg_fields: a few
 * hundred bytes instead of the record's fixed 3 KiB.
 */
struct rec_item {
	STAILQ_ENTRY(rec_item) entry;
	enum rec_kind kind;
	int slot;			/* its pool: 0 small, 1 large, -1 none */
	union {
		struct {
			char msgid[64];
			char outcome[16];
		} o;
		struct {
			long long at, uid, n_local, n_external;
		} m;
		struct rec_suspend *s;
		struct config *cfg;	/* a reload: the loop's new configuration, copied */
	} u;
	char strings[];
};
STAILQ_HEAD(rec_list, rec_item);

/* A finished suspension, for the event loop. */
struct rec_done {
	STAILQ_ENTRY(rec_done) entry;
	char account[ACCOUNT_NAME_MAX];
	int ok;
};
STAILQ_HEAD(rec_done_list, rec_done);

struct recorder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct rec_list queue;
	struct rec_list pool[2];	/* under lock: free slots, small and large */
	size_t npool[2];
	struct rec_done_list done;	/* under lock; done_fd wakes the loop */
	size_t queued;			/* records and outcomes in the queue or being written */
	int stop;
	int urgent;			/* a suspension or reload is queued */
	int done_fd;
	struct config cfg;		/* the writer's own copy */
	struct store *st;		/* suspensions */
	struct history *hist;		/* records and outcomes */
	struct message_record scratch;	/* the record being written */
	unsigned long long dropped;
	long long last_drop_log;
};

static struct rec_item *
rec_item_new(enum rec_kind kind, size_t extra)
{
	struct rec_item *it = calloc(1, sizeof *it + extra);

	if (it != NULL) {
		it->kind = kind;
		it->slot = -1;
	}
	return it;
}

/* A slot for a record or outcome with extra bytes of strings: from the pool, or new. */
static struct rec_item *
rec_slot_take(struct recorder *r, enum rec_kind kind, size_t extra)
{
	size_t need = sizeof(struct rec_item) + extra;
	int slot = need <= REC_SLOT_SMALL ? 0 : need <= REC_SLOT_LARGE ? 1 : -1;
	struct rec_item *it = NULL;

	if (slot == -1)
		return rec_item_new(kind, extra);
	pthread_mutex_lock(&r->lock);
	if ((it = STAILQ_FIRST(&r->pool[slot])) != NULL) {
		STAILQ_REMOVE_HEAD(&r->pool[slot], entry);
		r->npool[slot]--;
	}
	pthread_mutex_unlock(&r->lock);
	if (it == NULL && (it = malloc(slot == 0 ? REC_SLOT_SMALL : REC_SLOT_LARGE)) == NULL)
		return NULL;
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->slot = slot;
	return it;
}

static void
rec_item_free(struct rec_item *it)
{
	if (it->kind == REC_SUSPEND)
		free(it->u.s);
	else if (it->kind == REC_RELOAD && it->u.cfg != NULL) {
		config_free(it->u.cfg);
		free(it->u.cfg);
	}
	free(it);
}

#define RF(f) { offsetof(struct message_record, f), sizeof(((struct message_record *)0)->f) }
static const struct {
	size_t offset, size;
} rec_msg_fields[] = {
	RF(account), RF(mailbox), RF(ctx), RF(script), RF(ip), RF(sender), RF(rcpt),
	RF(verdict), RF(msgid), RF(source_kind), RF(source), RF(domains), RF(reason),
};
#define REC_NFIELDS (sizeof rec_msg_fields / sizeof rec_msg_fields[0])

static const char *
rec_msg_field(const struct message_record *m, size_t i)
{
	return (const char *)m + rec_msg_fields[i].offset;
}

/* Pack a record into a slot. */
static struct rec_item *
rec_msg_pack(struct recorder *r, const struct message_record *m)
{
	struct rec_item *it;
	size_t len = 0, n;
	char *p;

	for (size_t i = 0; i < REC_NFIELDS; i++)
		len += strlen(rec_msg_field(m, i)) + 1;
	if ((it = rec_slot_take(r, REC_MESSAGE, len)) == NULL)
		return NULL;
	it->u.m.at = m->at;
	it->u.m.uid = m->uid;
	it->u.m.n_local = m->n_local;
	it->u.m.n_external = m->n_external;
	for (size_t i = 0, off = 0; i < REC_NFIELDS; i++, off += n) {
		p = it->strings + off;
		n = strlen(rec_msg_field(m, i)) + 1;
		memcpy(p, rec_msg_field(m, i), n);
	}
	return it;
}

/* The record of a packed item, in m. */
static void
rec_msg_unpack(const struct rec_item *it, struct message_record *m)
{
	const char *p = it->strings;

	memset(m, 0, sizeof *m);
	m->at = it->u.m.at;
	m->uid = it->u.m.uid;
	m->n_local = it->u.m.n_local;
	m->n_external = it->u.m.n_external;
	for (size_t i = 0; i < REC_NFIELDS; i++) {
		snprintf((char *)m + rec_msg_fields[i].offset, rec_msg_fields[i].size, "%s", p);
		p += strlen(p) + 1;
	}
}

static void rec_done(struct recorder *r, const char *account, int ok);

/* Append; a record or outcome over the bound is dropped and counted. */
static int
rec_push(struct recorder *r, struct rec_item *it, size_t max)
{
	int bounded = it->kind == REC_MESSAGE || it->kind == REC_OUTCOME;
	long long now;

	pthread_mutex_lock(&r->lock);
	if (bounded && r->queued >= max) {
		r->dropped++;
		metrics_history_dropped(1, 0);
		now = clock_now();
		if (now != r->last_drop_log) {
			r->last_drop_log = now;
			pthread_mutex_unlock(&r->lock);
			log_warnx("history: the writer is behind (%zu queued), %llu records"
			    " dropped so far", max, r->dropped);
		} else
			pthread_mutex_unlock(&r->lock);
		rec_item_free(it);
		return -1;
	}
	/*
	 * Wake the writer for the first item (it sleeps on an empty queue),
	 * for a suspension or reload, and when a batch is big enough; else
	 * it collects for up to RECORDER_BATCH_MS: few wake-ups, big batches.
	 */
	if (!bounded)
		r->urgent = 1;
	if (!bounded || STAILQ_EMPTY(&r->queue) || r->queued + 1 == max / 4)
		pthread_cond_signal(&r->wake);
	if (bounded && STAILQ_EMPTY(&r->queue))
		metrics_history_wait_begin();
	if (bounded) {
		r->queued++;
		metrics_history_queued();
	}
	STAILQ_INSERT_TAIL(&r->queue, it, entry);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int
recorder_message(struct recorder *r, const struct message_record *m, size_t max)
{
	struct rec_item *it = rec_msg_pack(r, m);

	if (it == NULL)
		return -1;
	return rec_push(r, it, max);
}

int
recorder_outcome(struct recorder *r, const char *msgid, const char *outcome, size_t max)
{
	struct rec_item *it = rec_slot_take(r, REC_OUTCOME, 0);

	if (it == NULL)
		return -1;
	snprintf(it->u.o.msgid, sizeof it->u.o.msgid, "%s", msgid);
	snprintf(it->u.o.outcome, sizeof it->u.o.outcome, "%s", outcome);
	return rec_push(r, it, max);
}

void
recorder_suspend(struct recorder *r, const char *account, const char *reason, const char *ref)
{
	struct rec_item *it = rec_item_new(REC_SUSPEND, 0);

	if (it != NULL && (it->u.s = calloc(1, sizeof *it->u.s)) == NULL) {
		free(it);
		it = NULL;
	}
	if (it == NULL) {
		/* tell the loop at once, so that the account is not left pending */
		rec_done(r, account, 0);
		return;
	}
	snprintf(it->u.s->account, sizeof it->u.s->account, "%s", account);
	snprintf(it->u.s->reason, sizeof it->u.s->reason, "%s", reason);
	snprintf(it->u.s->ref, sizeof it->u.s->ref, "%s", ref);
	it->u.s->at = clock_now();
	rec_push(r, it, 0);
}

/* The loop took a new configuration: the writer takes a copy of it, in turn. */
void
recorder_reload(struct recorder *r, const struct config *cfg)
{
	struct rec_item *it = rec_item_new(REC_RELOAD, 0);

	if (it != NULL && ((it->u.cfg = calloc(1, sizeof *it->u.cfg)) == NULL ||
	    config_copy(it->u.cfg, cfg) == -1)) {
		free(it->u.cfg);
		free(it);
		it = NULL;
	}
	if (it == NULL) {
		log_warnx("history: out of memory: the writer keeps its configuration");
		return;
	}
	rec_push(r, it, 0);
}

/*
 * Suspend the account for what a detector saw, in one durable
 * transaction: a complaint from "detection" (so the owner waits out its
 * window), the suspension, both audited, the owner's notice queued.
 * 0 done (or already suspended), -1 failed.
 */
static int
rec_suspend(struct recorder *r, const struct rec_item *it)
{
	struct complaint cp;
	struct suspension sp, cur;
	char detail[REASON_MAX + 64], err[256];
	int rc;

	/* durable before the loop is told: a sync of its own (set outside the transaction) */
	if (store_set_synchronous(r->st, 1) == -1 || store_begin(r->st) == -1)
		goto fail;
	if ((rc = store_suspension_active(r->st, it->u.s->account, &cur)) == -1)
		goto fail;
	if (rc == 1) {
		store_rollback(r->st);
		store_set_synchronous(r->st, 0);
		log_info("detection: account %s is already suspended", it->u.s->account);
		return 0;
	}
	memset(&cp, 0, sizeof cp);
	snprintf(cp.account, sizeof cp.account, "%s", it->u.s->account);
	snprintf(cp.source, sizeof cp.source, "detection");
	snprintf(cp.ref, sizeof cp.ref, "%s", it->u.s->ref);
	snprintf(cp.created_by, sizeof cp.created_by, RECORDER_ACTOR);
	cp.created_at = it->u.s->at;
	cp.window_end = it->u.s->at + r->cfg.policy_complaint_window;
	if (store_complaint_insert(r->st, &cp) == -1)
		goto fail;
	snprintf(detail, sizeof detail, "complaint #%lld (detection: %s)", cp.id, cp.ref);
	if (store_audit_insert(r->st, it->u.s->at, RECORDER_ACTOR, "complaint", cp.account,
	    cp.account, detail) == -1)
		goto fail;
	memset(&sp, 0, sizeof sp);
	snprintf(sp.target, sizeof sp.target, "%s", cp.account);
	snprintf(sp.account, sizeof sp.account, "%s", cp.account);
	snprintf(sp.kind, sizeof sp.kind, "account");
	snprintf(sp.reason, sizeof sp.reason, "complaint #%lld (detection): %s", cp.id,
	    it->u.s->reason);
	snprintf(sp.source, sizeof sp.source, "detection");
	snprintf(sp.created_by, sizeof sp.created_by, RECORDER_ACTOR);
	sp.created_at = it->u.s->at;
	sp.complaint_id = cp.id;
	if (store_suspension_insert(r->st, &sp) == -1 ||
	    store_audit_insert(r->st, it->u.s->at, RECORDER_ACTOR, "suspend", sp.account,
	    sp.target, sp.reason) == -1)
		goto fail;
	/* a broken template must not keep the account unsuspended: say so, go on */
	if (lifecycle_notice_suspended(r->st, &r->cfg, &sp, it->u.s->at, err, sizeof err) == -1) {
		log_warnx("detection: the owner of %s is not told, the notice cannot be"
		    " queued: %s", sp.account, err);
		if (store_audit_insert(r->st, it->u.s->at, RECORDER_ACTOR, "notice-failed",
		    sp.account, sp.target, err) == -1)
			goto fail;
	}
	if (store_commit(r->st) == -1)
		goto fail;
	store_set_synchronous(r->st, 0);
	log_info("detection: suspended account %s: %s", sp.account, sp.reason);
	return 0;

fail:
	log_warnx("detection: cannot suspend account %s: %s", it->u.s->account,
	    store_error(r->st));
	store_rollback(r->st);
	store_set_synchronous(r->st, 0);
	return -1;
}

/* Tell the loop a suspension is done: a list under the lock, and a byte to wake it. */
static void
rec_done(struct recorder *r, const char *account, int ok)
{
	struct rec_done *d = calloc(1, sizeof *d);
	char byte = 1;

	if (d != NULL) {
		snprintf(d->account, sizeof d->account, "%s", account);
		d->ok = ok;
		pthread_mutex_lock(&r->lock);
		STAILQ_INSERT_TAIL(&r->done, d, entry);
		pthread_mutex_unlock(&r->lock);
	} else
		log_warnx("recorder: out of memory: the loop is not told about %s", account);
	/* a full pipe already holds a wake-up: EAGAIN loses nothing */
	while (write(r->done_fd, &byte, 1) == -1 && errno == EINTR)
		;
}

/* The loop takes the finished suspensions: cb for each. */
void
recorder_done_take(struct recorder *r, recorder_done_cb cb, void *arg)
{
	struct rec_done_list list;
	struct rec_done *d;

	STAILQ_INIT(&list);
	pthread_mutex_lock(&r->lock);
	STAILQ_CONCAT(&list, &r->done);
	pthread_mutex_unlock(&r->lock);
	while ((d = STAILQ_FIRST(&list)) != NULL) {
		STAILQ_REMOVE_HEAD(&list, entry);
		cb(arg, d->account, d->ok);
		free(d);
	}
}

/* Write records and outcomes in one transaction; 0 or -1 (retry). */
static int
rec_write_batch(struct recorder *r, struct rec_item *first)
{
	struct rec_item *it;

	if (history_begin(r->hist) == -1)
		return -1;
	for (it = first; it != NULL; it = STAILQ_NEXT(it, entry)) {
		int rc;

		if (it->kind == REC_MESSAGE) {
			rec_msg_unpack(it, &r->scratch);
			rc = history_message_insert(r->hist, &r->scratch);
		} else
			rc = history_message_outcome(r->hist, it->u.o.msgid, it->u.o.outcome);

		if (rc == -1) {
			if (history_busy(r->hist)) {
				history_rollback(r->hist);
				return -1;
			}
			/* a bad record is not worth the others: skip it */
			log_warnx("history: record not written: %s", history_error(r->hist));
		}
	}
	if (history_commit(r->hist) == -1) {
		history_rollback(r->hist);
		return -1;
	}
	return 0;
}

/* Give the slots of a written list back to the pool (up to its bound), free the rest. */
static void
rec_slots_give(struct recorder *r, struct rec_list *list)
{
	static const size_t max[2] = { REC_POOL_SMALL, REC_POOL_LARGE };
	struct rec_list spare;
	struct rec_item *it;

	STAILQ_INIT(&spare);
	pthread_mutex_lock(&r->lock);
	while ((it = STAILQ_FIRST(list)) != NULL) {
		STAILQ_REMOVE_HEAD(list, entry);
		if (it->slot >= 0 && r->npool[it->slot] < max[it->slot]) {
			STAILQ_INSERT_HEAD(&r->pool[it->slot], it, entry);
			r->npool[it->slot]++;
		} else
			STAILQ_INSERT_TAIL(&spare, it, entry);
	}
	pthread_mutex_unlock(&r->lock);
	while ((it = STAILQ_FIRST(&spare)) != NULL) {
		STAILQ_REMOVE_HEAD(&spare, entry);
		rec_item_free(it);
	}
}

/* Apply the suspensions and reloads of the work list first, each on its own. */
static void
rec_drain_controls(struct recorder *r, struct rec_list *work)
{
	struct rec_list records;
	struct rec_item *it;

	STAILQ_INIT(&records);
	while ((it = STAILQ_FIRST(work)) != NULL) {
		STAILQ_REMOVE_HEAD(work, entry);
		if (it->kind == REC_MESSAGE || it->kind == REC_OUTCOME) {
			STAILQ_INSERT_TAIL(&records, it, entry);
			continue;
		}
		if (it->kind == REC_SUSPEND)
			rec_done(r, it->u.s->account, rec_suspend(r, it) == 0);
		else {
			config_free(&r->cfg);
			r->cfg = *it->u.cfg;
			free(it->u.cfg);
			it->u.cfg = NULL;
		}
		rec_item_free(it);
	}
	STAILQ_CONCAT(work, &records);
}

/*
 * Write the records and outcomes of the work list in one transaction.
 * A lock held by another is waited out; any other failure is retried a
 * few times, then the batch is dropped and counted, so that the writer
 * never stops for good.
 */
static void
rec_drain(struct recorder *r, struct rec_list *work, size_t n_records, int stop)
{
	int tries = 0;

	rec_drain_controls(r, work);
	if (STAILQ_EMPTY(work))
		return;
	while (rec_write_batch(r, STAILQ_FIRST(work)) == -1) {
		if (stop || (!history_busy(r->hist) && ++tries >= RECORDER_TRIES)) {
			log_warnx("history: %zu records dropped: %s", n_records,
			    history_error(r->hist));
			pthread_mutex_lock(&r->lock);
			r->dropped += n_records;
			pthread_mutex_unlock(&r->lock);
			metrics_history_dropped(n_records, 1);
			n_records = 0;
			break;
		}
		if (history_busy(r->hist))
			log_debug("history: database busy, retrying: %s", history_error(r->hist));
		else
			log_warnx("history: cannot write, retrying: %s", history_error(r->hist));
		sleep(RECORDER_RETRY_SECONDS);
	}
	metrics_history_written(n_records);
	rec_slots_give(r, work);
}

static void *
rec_main(void *arg)
{
	struct recorder *r = arg;
	struct rec_list work;
	struct rec_item *it;
	size_t taken;
	int stop;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (STAILQ_EMPTY(&r->queue) && !r->stop)
			pthread_cond_wait(&r->wake, &r->lock);
		if (!r->stop && !r->urgent) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += RECORDER_BATCH_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			/* woken early by a suspension, a full batch or stop */
			(void)pthread_cond_timedwait(&r->wake, &r->lock, &until);
		}
		r->urgent = 0;
		stop = r->stop;
		STAILQ_INIT(&work);
		STAILQ_CONCAT(&work, &r->queue);
		metrics_history_batch_begin();
		pthread_mutex_unlock(&r->lock);
		if (STAILQ_EMPTY(&work) && stop)
			break;
		taken = 0;
		STAILQ_FOREACH(it, &work, entry)
			if (it->kind == REC_MESSAGE || it->kind == REC_OUTCOME)
				taken++;
		rec_drain(r, &work, taken, stop);
		metrics_history_batch_end();
		pthread_mutex_lock(&r->lock);
		r->queued -= taken;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

/*
 * Take a copy of the loop's configuration, open the writer's own
 * connections and start the thread.  done_fd gets a byte when
 * suspensions are done.
 */
struct recorder *
recorder_start(const struct config *cfg, int done_fd, char *err, size_t errlen)
{
	struct recorder *r = calloc(1, sizeof *r);
	char hpath[4096];
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	STAILQ_INIT(&r->queue);
	STAILQ_INIT(&r->pool[0]);
	STAILQ_INIT(&r->pool[1]);
	STAILQ_INIT(&r->done);
	r->done_fd = done_fd;
	if (config_copy(&r->cfg, cfg) == -1) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	history_path(&r->cfg, hpath, sizeof hpath);
	if ((r->st = store_open(r->cfg.database_path, r->cfg.database_busy_timeout * 1000,
	    err, errlen)) == NULL ||
	    (r->hist = history_open(hpath, r->cfg.database_path,
	    r->cfg.database_busy_timeout * 1000, err, errlen)) == NULL)
		goto fail;
	if (store_set_synchronous(r->st, 0) == -1) {
		snprintf(err, errlen, "%s", store_error(r->st));
		goto fail;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	if ((rc = pthread_create(&r->thread, NULL, rec_main, r)) != 0) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->wake);
		goto fail;
	}
	return r;

fail:
	history_close(r->hist);
	store_close(r->st);
	config_free(&r->cfg);
	free(r);
	return NULL;
}

/*
 * Write what is queued, stop the thread, hand the suspensions it finished
 * meanwhile to cb, and free it all.
 */
void
recorder_stop(struct recorder *r, recorder_done_cb cb, void *arg)
{
	struct rec_item *it;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	recorder_done_take(r, cb, arg);
	if (r->dropped > 0)
		log_warnx("history: %llu records were dropped while the writer was behind",
		    r->dropped);
	for (int i = 0; i < 2; i++)
		while ((it = STAILQ_FIRST(&r->pool[i])) != NULL) {
			STAILQ_REMOVE_HEAD(&r->pool[i], entry);
			free(it);
		}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	history_close(r->hist);
	store_close(r->st);
	config_free(&r->cfg);
	free(r);
}

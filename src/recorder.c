/*
 * The daemon's writer thread.  The event loop answers Exim from reads
 * alone; everything the daemon itself writes goes through here, on a
 * connection of its own, so that no answer ever waits for a write, a
 * sync or a lock held by mailabusectl.
 *
 * The queue is a list under a mutex: the loop appends (a malloc and a
 * copy), the writer takes the whole list at once and writes it in one
 * transaction.  Under load the batches grow by themselves.  Message
 * records and outcomes beyond the configured bound are dropped and
 * counted, never waited for.  An automatic suspension is never dropped:
 * it is committed in a transaction of its own, with a full sync, and the
 * loop is told on a pipe when it is done.
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
#include "lifecycle.h"
#include "log.h"
#include "recorder.h"
#include "store.h"

#define RECORDER_ACTOR "mailabused (detection)"
#define RECORDER_RETRY_SECONDS 1

enum rec_kind { REC_MESSAGE, REC_OUTCOME, REC_SUSPEND, REC_RELOAD };

struct rec_item {
	STAILQ_ENTRY(rec_item) entry;
	enum rec_kind kind;
	union {
		struct message_record m;
		struct {
			char msgid[64];
			char outcome[16];
		} o;
		struct {
			char account[ACCOUNT_NAME_MAX];
			char reason[REASON_MAX / 2];
			char ref[REASON_MAX / 2];
			long long at;
		} s;
	} u;
};
STAILQ_HEAD(rec_list, rec_item);

struct recorder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct rec_list queue;
	size_t queued;			/* records and outcomes in the queue or being written */
	int stop;
	int done_fd;
	char *conf_path;
	struct config cfg;		/* the writer's own copy */
	struct store *st;
	unsigned long long dropped;
	long long last_drop_log;
};

static struct rec_item *
rec_item_new(enum rec_kind kind)
{
	struct rec_item *it = calloc(1, sizeof *it);

	if (it != NULL)
		it->kind = kind;
	return it;
}

/* Append; a record or outcome over the bound is dropped and counted. */
static int
rec_push(struct recorder *r, struct rec_item *it, size_t max)
{
	int bounded = it->kind == REC_MESSAGE || it->kind == REC_OUTCOME;
	long long now;

	pthread_mutex_lock(&r->lock);
	if (bounded && r->queued >= max) {
		r->dropped++;
		now = clock_now();
		if (now != r->last_drop_log) {
			r->last_drop_log = now;
			pthread_mutex_unlock(&r->lock);
			log_warnx("history: the writer is behind (%zu queued), %llu records"
			    " dropped so far", max, r->dropped);
		} else
			pthread_mutex_unlock(&r->lock);
		free(it);
		return -1;
	}
	if (bounded)
		r->queued++;
	STAILQ_INSERT_TAIL(&r->queue, it, entry);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int
recorder_message(struct recorder *r, const struct message_record *m, size_t max)
{
	struct rec_item *it = rec_item_new(REC_MESSAGE);

	if (it == NULL)
		return -1;
	memcpy(&it->u.m, m, sizeof *m);
	return rec_push(r, it, max);
}

int
recorder_outcome(struct recorder *r, const char *msgid, const char *outcome, size_t max)
{
	struct rec_item *it = rec_item_new(REC_OUTCOME);

	if (it == NULL)
		return -1;
	snprintf(it->u.o.msgid, sizeof it->u.o.msgid, "%s", msgid);
	snprintf(it->u.o.outcome, sizeof it->u.o.outcome, "%s", outcome);
	return rec_push(r, it, max);
}

void
recorder_suspend(struct recorder *r, const char *account, const char *reason, const char *ref)
{
	struct rec_item *it = rec_item_new(REC_SUSPEND);
	char line[ACCOUNT_NAME_MAX + 16];

	if (it == NULL) {
		/* tell the loop at once, so that the account is not left pending */
		snprintf(line, sizeof line, RECORDER_DONE_FAIL " %s\n", account);
		if (write(r->done_fd, line, strlen(line)) == -1)
			log_warn("recorder: cannot report a failed suspension");
		return;
	}
	snprintf(it->u.s.account, sizeof it->u.s.account, "%s", account);
	snprintf(it->u.s.reason, sizeof it->u.s.reason, "%s", reason);
	snprintf(it->u.s.ref, sizeof it->u.s.ref, "%s", ref);
	it->u.s.at = clock_now();
	rec_push(r, it, 0);
}

void
recorder_reload(struct recorder *r)
{
	struct rec_item *it = rec_item_new(REC_RELOAD);

	if (it != NULL)
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
	if ((rc = store_suspension_active(r->st, it->u.s.account, &cur)) == -1)
		goto fail;
	if (rc == 1) {
		store_rollback(r->st);
		store_set_synchronous(r->st, 0);
		log_info("detection: account %s is already suspended", it->u.s.account);
		return 0;
	}
	memset(&cp, 0, sizeof cp);
	snprintf(cp.account, sizeof cp.account, "%s", it->u.s.account);
	snprintf(cp.source, sizeof cp.source, "detection");
	snprintf(cp.ref, sizeof cp.ref, "%s", it->u.s.ref);
	snprintf(cp.created_by, sizeof cp.created_by, RECORDER_ACTOR);
	cp.created_at = it->u.s.at;
	cp.window_end = it->u.s.at + r->cfg.policy_complaint_window;
	if (store_complaint_insert(r->st, &cp) == -1)
		goto fail;
	snprintf(detail, sizeof detail, "complaint #%lld (detection: %s)", cp.id, cp.ref);
	if (store_audit_insert(r->st, it->u.s.at, RECORDER_ACTOR, "complaint", cp.account,
	    cp.account, detail) == -1)
		goto fail;
	memset(&sp, 0, sizeof sp);
	snprintf(sp.target, sizeof sp.target, "%s", cp.account);
	snprintf(sp.account, sizeof sp.account, "%s", cp.account);
	snprintf(sp.kind, sizeof sp.kind, "account");
	snprintf(sp.reason, sizeof sp.reason, "complaint #%lld (detection): %s", cp.id,
	    it->u.s.reason);
	snprintf(sp.source, sizeof sp.source, "detection");
	snprintf(sp.created_by, sizeof sp.created_by, RECORDER_ACTOR);
	sp.created_at = it->u.s.at;
	sp.complaint_id = cp.id;
	if (store_suspension_insert(r->st, &sp) == -1 ||
	    store_audit_insert(r->st, it->u.s.at, RECORDER_ACTOR, "suspend", sp.account,
	    sp.target, sp.reason) == -1)
		goto fail;
	if (lifecycle_notice_suspended(r->st, &r->cfg, &sp, it->u.s.at, err, sizeof err) == -1) {
		log_warnx("detection: cannot queue the notice to the owner of %s: %s",
		    sp.account, err);
		store_rollback(r->st);
		store_set_synchronous(r->st, 0);
		return -1;
	}
	if (store_commit(r->st) == -1)
		goto fail;
	store_set_synchronous(r->st, 0);
	log_info("detection: suspended account %s: %s", sp.account, sp.reason);
	return 0;

fail:
	log_warnx("detection: cannot suspend account %s: %s", it->u.s.account,
	    store_error(r->st));
	store_rollback(r->st);
	store_set_synchronous(r->st, 0);
	return -1;
}

static void
rec_done(struct recorder *r, const char *account, int ok)
{
	char line[ACCOUNT_NAME_MAX + 16];
	int n = snprintf(line, sizeof line, "%s %s\n", ok ? RECORDER_DONE_OK : RECORDER_DONE_FAIL,
	    account);

	/* a line shorter than PIPE_BUF is written whole or not at all */
	while (write(r->done_fd, line, (size_t)n) == -1 && errno == EINTR)
		;
}

/* Write a run of records and outcomes in one transaction; 0 or -1 (retry). */
static int
rec_write_batch(struct recorder *r, struct rec_item *first, struct rec_item *end,
    size_t *n)
{
	struct rec_item *it;

	*n = 0;
	if (store_begin(r->st) == -1)
		return -1;
	for (it = first; it != end; it = STAILQ_NEXT(it, entry)) {
		int rc = it->kind == REC_MESSAGE ? store_message_insert(r->st, &it->u.m) :
		    store_message_outcome(r->st, it->u.o.msgid, it->u.o.outcome);

		if (rc == -1) {
			if (store_busy(r->st)) {
				store_rollback(r->st);
				return -1;
			}
			/* a bad record is not worth the others: skip it */
			log_warnx("history: record not written: %s", store_error(r->st));
			continue;
		}
		(*n)++;
	}
	if (store_commit(r->st) == -1) {
		store_rollback(r->st);
		return -1;
	}
	return 0;
}

/* Take what is queued and write it; suspensions one by one, in order. */
static void
rec_drain(struct recorder *r, struct rec_list *work)
{
	struct rec_item *it, *run;
	struct config next;
	char err[512];
	size_t n, run_len;

	while ((run = STAILQ_FIRST(work)) != NULL) {
		if (run->kind == REC_SUSPEND) {
			STAILQ_REMOVE_HEAD(work, entry);
			rec_done(r, run->u.s.account, rec_suspend(r, run) == 0);
			free(run);
			continue;
		}
		if (run->kind == REC_RELOAD) {
			STAILQ_REMOVE_HEAD(work, entry);
			memset(&next, 0, sizeof next);
			if (config_load_file(r->conf_path, &next, err, sizeof err) == 0) {
				config_free(&r->cfg);
				r->cfg = next;
			} else
				config_free(&next);
			free(run);
			continue;
		}
		/* the run of records up to the next suspension or reload */
		run_len = 0;
		for (it = run; it != NULL && (it->kind == REC_MESSAGE || it->kind == REC_OUTCOME);
		    it = STAILQ_NEXT(it, entry))
			run_len++;
		while (rec_write_batch(r, run, it, &n) == -1) {
			if (r->stop) {
				log_warnx("history: %zu records not written at exit: %s",
				    run_len, store_error(r->st));
				break;
			}
			if (store_busy(r->st))
				log_debug("history: database busy, retrying: %s",
				    store_error(r->st));
			else
				log_warnx("history: cannot write, retrying: %s",
				    store_error(r->st));
			sleep(RECORDER_RETRY_SECONDS);
		}
		while (run_len-- > 0) {
			struct rec_item *done = STAILQ_FIRST(work);

			STAILQ_REMOVE_HEAD(work, entry);
			free(done);
		}
	}
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
		stop = r->stop;
		STAILQ_INIT(&work);
		STAILQ_CONCAT(&work, &r->queue);
		pthread_mutex_unlock(&r->lock);
		if (STAILQ_EMPTY(&work) && stop)
			break;
		taken = 0;
		STAILQ_FOREACH(it, &work, entry)
			if (it->kind == REC_MESSAGE || it->kind == REC_OUTCOME)
				taken++;
		rec_drain(r, &work);
		pthread_mutex_lock(&r->lock);
		r->queued -= taken;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

/*
 * Open the writer's own connection and configuration and start the
 * thread.  done_fd receives "ok ACCOUNT" or "fail ACCOUNT" per suspension.
 */
struct recorder *
recorder_start(const char *conf_path, int done_fd, char *err, size_t errlen)
{
	struct recorder *r = calloc(1, sizeof *r);
	int rc;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	STAILQ_INIT(&r->queue);
	r->done_fd = done_fd;
	if ((r->conf_path = strdup(conf_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(r);
		return NULL;
	}
	if (config_load_file(conf_path, &r->cfg, err, errlen) == -1)
		goto fail;
	if ((r->st = store_open(r->cfg.database_path, r->cfg.database_busy_timeout * 1000,
	    err, errlen)) == NULL)
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
	store_close(r->st);
	config_free(&r->cfg);
	free(r->conf_path);
	free(r);
	return NULL;
}

/* Write what is queued, then stop the thread. */
void
recorder_stop(struct recorder *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	if (r->dropped > 0)
		log_warnx("history: %llu records were dropped while the writer was behind",
		    r->dropped);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	store_close(r->st);
	config_free(&r->cfg);
	free(r->conf_path);
	free(r);
}

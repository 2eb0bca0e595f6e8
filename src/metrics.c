/*
 * The daemon's counters and their Prometheus text exposition.  Counting
 * is an atomic add with relaxed ordering on a process-wide array: the
 * policy loop, the user socket's thread and the writer thread count
 * without a lock and without waiting for each other.  A scrape reads
 * each counter once; the figures of one scrape need not be taken at
 * the same instant, as Prometheus expects of counters.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "detect.h"
#include "metrics.h"

typedef _Atomic unsigned long long metrics_counter;

/* Where a policy-socket reply went, as the label context says it. */
enum metrics_context {
	MCTX_RCPT, MCTX_DATA, MCTX_LOCAL, MCTX_ROUTE, MCTX_EVENT, MCTX_INVALID, MCTX_COUNT
};
static const char *const metrics_contexts[MCTX_COUNT] = {
	"rcpt", "data", "local", "route", "event", "invalid"
};

/* The policy socket's verdicts (PASS ... HOLD), by enum verdict. */
#define METRICS_NVERDICTS (VERDICT_HOLD + 1)
static const char *const metrics_verdicts[METRICS_NVERDICTS] = {
	"pass", "refuse", "defer", "error", "ok", "refused", "hold"
};
/* Those a policy answer can be: the others are the user socket's. */
static const int metrics_policy_verdicts[] = {
	VERDICT_PASS, VERDICT_REFUSE, VERDICT_HOLD, VERDICT_DEFER, VERDICT_ERROR
};

#define METRICS_NACTIONS (ACTION_SUSPEND + 1)

/* The user socket's verbs, by enum proto_verb, then malformed requests. */
#define METRICS_NVERBS (PROTO_EVENT + 2)
static const char *const metrics_verbs[METRICS_NVERBS] = {
	"check", "ping", "status", "history", "unblock", "event", "invalid"
};

static const char *const metrics_sockets[METRICS_NSOCKETS] = { "policy", "user" };
static const char *const metrics_refusals[METRICS_NREFUSALS] = { "cap", "uid", "emfile" };

static struct {
	metrics_counter verdicts[MCTX_COUNT][METRICS_NVERDICTS];
	metrics_counter detect[DET_COUNT][METRICS_NACTIONS];
	metrics_counter accepted[METRICS_NSOCKETS];
	metrics_counter refused[METRICS_NSOCKETS][METRICS_NREFUSALS];
	metrics_counter timed_out[METRICS_NSOCKETS];
	metrics_counter user_requests[METRICS_NVERBS];
	metrics_counter hist_queued, hist_written, hist_dropped_full, hist_dropped_write;
	/* CLOCK_MONOTONIC milliseconds, 0 none: the oldest record waiting, the batch's */
	_Atomic long long hist_wait_since, hist_batch_since;
	_Atomic long long started;
} metrics;

#define ADD(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)
#define GET(c) atomic_load_explicit(&(c), memory_order_relaxed)

/* When the daemon started (wall clock, seconds). */
void
metrics_started(long long at)
{
	atomic_store_explicit(&metrics.started, at, memory_order_relaxed);
}

/* A policy-socket reply; req NULL for a line that was no request. */
void
metrics_verdict_add(const struct proto_request *req, enum verdict v)
{
	enum metrics_context c = MCTX_INVALID;

	if (req != NULL && req->verb == PROTO_EVENT)
		c = MCTX_EVENT;
	else if (req != NULL && req->verb == PROTO_CHECK && req->ctx != NULL) {
		if (strcmp(req->ctx, "smtp") == 0)
			c = req->stage != NULL && strcmp(req->stage, "data") == 0 ? MCTX_DATA :
			    MCTX_RCPT;
		else if (strcmp(req->ctx, "local") == 0)
			c = MCTX_LOCAL;
		else if (strcmp(req->ctx, "route") == 0)
			c = MCTX_ROUTE;
	}
	if ((unsigned)v < METRICS_NVERDICTS)
		ADD(metrics.verdicts[c][v], 1);
}

/* A detector tripped and its action was taken. */
void
metrics_detect_add(int detector, int action)
{
	if ((unsigned)detector < DET_COUNT && (unsigned)action < METRICS_NACTIONS)
		ADD(metrics.detect[detector][action], 1);
}

void
metrics_conn_accepted(enum metrics_socket s)
{
	ADD(metrics.accepted[s], 1);
}

void
metrics_conn_refused(enum metrics_socket s, enum metrics_refusal why)
{
	ADD(metrics.refused[s][why], 1);
}

void
metrics_conn_timed_out(enum metrics_socket s)
{
	ADD(metrics.timed_out[s], 1);
}

/* A user-socket request: its verb, or -1 for a malformed line. */
void
metrics_user_request(int verb)
{
	ADD(metrics.user_requests[(unsigned)verb <= PROTO_EVENT ? verb : METRICS_NVERBS - 1], 1);
}

/* Milliseconds of CLOCK_MONOTONIC, never 0. */
static long long
metrics_mono_ms(void)
{
	return clock_mono_ms() + 1;
}

void
metrics_history_queued(void)
{
	ADD(metrics.hist_queued, 1);
}

void
metrics_history_written(size_t n)
{
	ADD(metrics.hist_written, n);
}

/* Records dropped: at a full queue (written 0), or a batch the writer gave up on. */
void
metrics_history_dropped(size_t n, int written)
{
	if (written)
		ADD(metrics.hist_dropped_write, n);
	else
		ADD(metrics.hist_dropped_full, n);
}

/* A record went into an empty queue: the writer's lag counts from now. */
void
metrics_history_wait_begin(void)
{
	long long none = 0;

	atomic_compare_exchange_strong(&metrics.hist_wait_since, &none, metrics_mono_ms());
}

/* The writer took the queue: its oldest record's wait goes with the batch. */
void
metrics_history_batch_begin(void)
{
	atomic_store(&metrics.hist_batch_since, atomic_exchange(&metrics.hist_wait_since, 0));
}

/* The batch is written (or given up on). */
void
metrics_history_batch_end(void)
{
	atomic_store(&metrics.hist_batch_since, 0);
}

/* "# HELP" and "# TYPE" of a family. */
static void
metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: backslash, quote and newline escaped. */
static void
metrics_label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* One account's sample of a family, for one detector. */
static void
metrics_account_sample(FILE *f, const char *family, const char *account, const char *detector,
    long long v)
{
	fprintf(f, "%s{account=\"", family);
	metrics_label_value(f, account);
	fprintf(f, "\",detector=\"%s\"} %lld\n", detector, v);
}

/* Each top sender's samples of a family: what it sent, or (limits) its limits. */
static void
metrics_top_samples(FILE *f, const char *family, const struct metrics_db *db, int limits)
{
	for (size_t i = 0; i < db->ntop; i++) {
		const struct metrics_top *t = &db->top[i];

		metrics_account_sample(f, family, t->account, "account_messages",
		    limits ? t->messages_limit : t->messages);
		metrics_account_sample(f, family, t->account, "account_rcpts",
		    limits ? t->rcpts_limit : t->rcpts);
	}
}

/* The daemon's own counters. */
static void
metrics_render_daemon(FILE *f)
{
	long long since, lag = 0, now = metrics_mono_ms();
	unsigned long long waiting;

	metrics_family(f, "mailabuse_verdicts_total", "counter",
	    "Policy-socket replies by verdict and context (invalid: a line that was no request).");
	for (int c = 0; c < MCTX_COUNT; c++)
		for (size_t i = 0; i < sizeof metrics_policy_verdicts / sizeof(int); i++) {
			int v = metrics_policy_verdicts[i];

			fprintf(f, "mailabuse_verdicts_total{context=\"%s\",verdict=\"%s\"} %llu\n",
			    metrics_contexts[c], metrics_verdicts[v], GET(metrics.verdicts[c][v]));
		}
	metrics_family(f, "mailabuse_detector_actions_total", "counter",
	    "Messages over a detector's limit, by detector and the action taken.");
	for (int d = 0; d < DET_COUNT; d++)
		for (int a = 0; a < METRICS_NACTIONS; a++)
			fprintf(f, "mailabuse_detector_actions_total{detector=\"%s\",action=\"%s\"}"
			    " %llu\n", detect_name((enum detector)d),
			    detect_action_name((enum detect_action)a), GET(metrics.detect[d][a]));
	metrics_family(f, "mailabuse_connections_accepted_total", "counter",
	    "Connections accepted, by socket.");
	for (int s = 0; s < METRICS_NSOCKETS; s++)
		fprintf(f, "mailabuse_connections_accepted_total{socket=\"%s\"} %llu\n",
		    metrics_sockets[s], GET(metrics.accepted[s]));
	metrics_family(f, "mailabuse_connections_refused_total", "counter",
	    "Connections turned away, by socket and reason (cap: max_connections,"
	    " uid: user_socket.max_per_uid; emfile: accept() failed for lack of descriptors"
	    " or memory, and accepting paused for 100ms).");
	for (int s = 0; s < METRICS_NSOCKETS; s++)
		for (int r = 0; r < METRICS_NREFUSALS; r++) {
			if (s == METRICS_POLICY && r == METRICS_REFUSED_UID)
				continue;
			fprintf(f, "mailabuse_connections_refused_total{socket=\"%s\",reason=\"%s\"}"
			    " %llu\n", metrics_sockets[s], metrics_refusals[r],
			    GET(metrics.refused[s][r]));
		}
	metrics_family(f, "mailabuse_connections_timed_out_total", "counter",
	    "Connections closed at their deadline (no complete request, or a reply not taken).");
	for (int s = 0; s < METRICS_NSOCKETS; s++)
		fprintf(f, "mailabuse_connections_timed_out_total{socket=\"%s\"} %llu\n",
		    metrics_sockets[s], GET(metrics.timed_out[s]));
	metrics_family(f, "mailabuse_user_requests_total", "counter",
	    "User-socket requests by verb (invalid: malformed).");
	for (int v = 0; v < METRICS_NVERBS; v++)
		fprintf(f, "mailabuse_user_requests_total{verb=\"%s\"} %llu\n", metrics_verbs[v],
		    GET(metrics.user_requests[v]));

	metrics_family(f, "mailabuse_history_records_queued_total", "counter",
	    "Message records and delivery outcomes handed to the history writer.");
	fprintf(f, "mailabuse_history_records_queued_total %llu\n", GET(metrics.hist_queued));
	metrics_family(f, "mailabuse_history_records_written_total", "counter",
	    "Records the history writer committed to the database.");
	fprintf(f, "mailabuse_history_records_written_total %llu\n", GET(metrics.hist_written));
	metrics_family(f, "mailabuse_history_records_dropped_total", "counter",
	    "Records dropped, by reason (queue_full: history.queue_max reached,"
	    " write_failed: the writer gave up on a batch).");
	fprintf(f, "mailabuse_history_records_dropped_total{reason=\"queue_full\"} %llu\n",
	    GET(metrics.hist_dropped_full));
	fprintf(f, "mailabuse_history_records_dropped_total{reason=\"write_failed\"} %llu\n",
	    GET(metrics.hist_dropped_write));
	waiting = GET(metrics.hist_queued) - GET(metrics.hist_written) -
	    GET(metrics.hist_dropped_write);
	metrics_family(f, "mailabuse_history_queue_records", "gauge",
	    "Records waiting for the history writer or being written.");
	fprintf(f, "mailabuse_history_queue_records %lld\n", (long long)waiting);
	since = atomic_load(&metrics.hist_batch_since);
	if (since == 0)
		since = atomic_load(&metrics.hist_wait_since);
	if (since != 0 && now > since)
		lag = now - since;
	metrics_family(f, "mailabuse_history_lag_seconds", "gauge",
	    "How long the oldest record not yet written has waited (0: the writer is idle).");
	fprintf(f, "mailabuse_history_lag_seconds %.3f\n", (double)lag / 1000.0);

	metrics_family(f, "mailabuse_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the epoch.");
	fprintf(f, "mailabuse_start_time_seconds %lld\n", GET(metrics.started));
}

/* What the database says. */
static void
metrics_render_db(FILE *f, const struct metrics_db *db)
{
	metrics_family(f, "mailabuse_database_ok", "gauge",
	    "1 when the figures read from the database below are current, 0 when it could"
	    " not be read.");
	fprintf(f, "mailabuse_database_ok %d\n", db->ok ? 1 : 0);
	if (!db->ok)
		return;
	metrics_family(f, "mailabuse_accounts", "gauge",
	    "Accounts by state (suspended: the whole account; removed: gone from cPanel).");
	fprintf(f, "mailabuse_accounts{state=\"active\"} %lld\n", db->accounts_active);
	fprintf(f, "mailabuse_accounts{state=\"suspended\"} %lld\n", db->accounts_suspended);
	fprintf(f, "mailabuse_accounts{state=\"removed\"} %lld\n", db->accounts_removed);
	metrics_family(f, "mailabuse_notices", "gauge",
	    "Notices in the outbox by state (sent and failed ones until retention.records"
	    " purges them).");
	fprintf(f, "mailabuse_notices{state=\"queued\"} %lld\n", db->notices_queued);
	fprintf(f, "mailabuse_notices{state=\"sent\"} %lld\n", db->notices_sent);
	fprintf(f, "mailabuse_notices{state=\"failed\"} %lld\n", db->notices_failed);
	metrics_family(f, "mailabuse_account_usage", "gauge",
	    "What the accounts that sent most in the last hour sent, per detector.");
	metrics_top_samples(f, "mailabuse_account_usage", db, 0);
	metrics_family(f, "mailabuse_account_limit", "gauge",
	    "Those accounts' limits per hour, per detector (0: no limit).");
	metrics_top_samples(f, "mailabuse_account_limit", db, 1);
}

/* The exposition: the daemon's counters (if daemon), the database's figures, build info. */
char *
metrics_render(const struct metrics_db *db, int daemon, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &n)) == NULL)
		return NULL;
	if (daemon)
		metrics_render_daemon(f);
	metrics_render_db(f, db);
	metrics_family(f, "mailabuse_build_info", "gauge", "The version of mailabuse, as a label.");
	fprintf(f, "mailabuse_build_info{version=\"%s\"} 1\n", MAILABUSE_VERSION);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}

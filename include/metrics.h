/*
 * metrics.c: the daemon's counters, for Prometheus and `mailabusectl
 * stats`.  A lower layer: the loops and threads that count call it, it
 * calls none of them.  Every counter is a C11 atomic added to with
 * relaxed ordering (a few nanoseconds, no lock), so that counting never
 * slows an answer; metrics_render writes them out in Prometheus's text
 * format with what the caller read from the database.
 */
#ifndef MAILABUSE_METRICS_H
#define MAILABUSE_METRICS_H

#include <stddef.h>

#include "identity.h"
#include "proto.h"

enum metrics_socket { METRICS_POLICY, METRICS_USER, METRICS_NSOCKETS };

/* Why a connection was turned away. */
enum metrics_refusal {
	METRICS_REFUSED_CAP,		/* the socket's max_connections */
	METRICS_REFUSED_UID,		/* user_socket.max_per_uid */
	METRICS_REFUSED_EMFILE,		/* accept(): out of descriptors or memory */
	METRICS_NREFUSALS
};

#define METRICS_TOP_MAX 10		/* accounts shown against their limits */

/* What the database says, read by whoever renders (cached by the daemon). */
struct metrics_db {
	int ok;				/* 0: the read failed, nothing below is valid */
	long long accounts_active, accounts_suspended, accounts_removed;
	long long notices_queued, notices_sent, notices_failed;
	/* the accounts that sent most in the last hour, with their limits (0 off) */
	struct metrics_top {
		char account[ACCOUNT_NAME_MAX];
		long long messages, rcpts;
		long long messages_limit, rcpts_limit;
	} top[METRICS_TOP_MAX];
	size_t ntop;
};

void metrics_started(long long at);

/* The policy socket: a reply sent; req NULL for a line that was no request. */
void metrics_verdict_add(const struct proto_request *req, enum verdict v);
/* A detector over its limit: its action taken (enum detector, enum detect_action). */
void metrics_detect_add(int detector, int action);

void metrics_conn_accepted(enum metrics_socket s);
void metrics_conn_refused(enum metrics_socket s, enum metrics_refusal why);
void metrics_conn_timed_out(enum metrics_socket s);
/* The user socket: a request of this verb (enum proto_verb), or -1 malformed. */
void metrics_user_request(int verb);

/* The history writer. */
void metrics_history_queued(void);
void metrics_history_written(size_t n);
void metrics_history_dropped(size_t n, int written);
void metrics_history_wait_begin(void);
void metrics_history_batch_begin(void);
void metrics_history_batch_end(void);

/*
 * The exposition (Prometheus text format 0.0.4) as a NUL-terminated
 * string the caller frees, or NULL out of memory.  daemon: include the
 * daemon's own counters (0: the database's figures only, for the CLI
 * without a daemon to ask).
 */
char *metrics_render(const struct metrics_db *db, int daemon, size_t *len);

#endif

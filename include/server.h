/*
 * The daemon: listener, limits, timers and server state (server.c),
 * connections (conn.c).  They call down into the decision (check.h),
 * never the other way.
 */
#ifndef MAILABUSE_SERVER_H
#define MAILABUSE_SERVER_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "check.h"
#include "config.h"
#include "detect.h"
#include "proto.h"
#include "store.h"

struct recorder;
struct scrape;
struct store_view;
struct usersock;
struct view;

#define CONN_INBUF 2048		/* most request lines fit: no allocation */
#define CONN_OUTBUF 640		/* every reply the policy socket gives fits */
#define CONN_IDLE_MAX 256	/* freed connections kept for the next ones */

struct conn {
	unsigned long long id;
	struct server *srv;
	evutil_socket_t fd;
	struct event *ev;		/* read, then write if the reply did not fit at once */
	struct timeval deadline;	/* read_timeout from accept, not from the last byte */
	char *in;			/* inbuf, or allocated for a longer line */
	size_t inlen, incap;
	char *out;			/* the reply: outbuf, or allocated when longer */
	size_t outlen, outoff;
	int replied;
	int dead;
	TAILQ_ENTRY(conn) entry;
	char inbuf[CONN_INBUF];
	char outbuf[CONN_OUTBUF];
};
TAILQ_HEAD(conn_list, conn);

struct server {
	struct event_base *base;
	struct config *cfg;
	const char *conf_path;
	struct store *st;
	struct history *hist;		/* the loop's connection to the history (hosts, rebuild) */
	struct recorder *rec;		/* the writer thread: history, outcomes, suspensions */
	struct detect *det;		/* the detectors' windows */
	struct detect_limits rebuild_lim;	/* what to keep when rebuilding them */
	struct pending_account *pending;	/* suspensions being written */
	struct view *view;		/* the policy tables in memory (view.c) */
	struct store_view *sv;		/* its statements on st */
	struct event *view_timer;	/* once a second: changes made without mailabusectl */
	struct check_env chk;		/* what the decision works with */
	int done_pipe[2];		/* the writer says a suspension is done */
	struct event *done_ev;
	pid_t notify_pid;		/* the child sending notices, or 0 */
	struct evconnlistener *listener;
	int user_fd;			/* the user socket, until its thread takes it */
	struct usersock *us;		/* the user socket's thread */
	int metrics_fd;			/* metrics.listen, until its thread takes it */
	struct scrape *scrape;		/* the metrics endpoint's thread, or NULL */
	struct event *sig_chld;
	struct event *accept_retry;
	struct event *sig_hup, *sig_term, *sig_int;
	struct event *tick_timer;	/* once a minute: free idle detector state */
	struct event *stop_timer;
	struct event *reap;
	struct conn_list conns;
	struct conn_list dead;
	struct conn_list idle;		/* freed, kept for reuse: no allocation per query */
	int nidle;
	int nconns;
	int stopping;
	unsigned long long next_id;
	unsigned long long refused_conns;
	long long last_limit_warn;
};

/* server.c */
int server_listen(struct server *srv, char *err, size_t errlen);
void server_init_events(struct server *srv);
void server_shutdown(struct server *srv);
int server_detect_rebuild(struct server *srv);
void server_conn_closed(struct server *srv);

void server_pending_add(struct server *srv, const char *account);
void server_pending_done(struct server *srv, const char *account, int ok);

/* conn.c */
void conn_accept(struct server *srv, evutil_socket_t fd);
void conn_close(struct conn *c);
void conn_reap_cb(evutil_socket_t fd, short what, void *arg);
void conn_idle_free(struct server *srv);

#endif

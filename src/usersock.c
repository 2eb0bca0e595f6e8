/*
 * The user socket, on a thread of its own.  Account owners (anyone on
 * the machine) ask for their status, their history and their unblock
 * here; none of it may ever delay an answer to Exim.  So the thread has
 * its own event base, listener, connections, configuration copy and
 * database connection, and the policy loop does nothing for it but
 * reap the notice senders it forks.  The loop tells it (sidethread.c)
 * to reload the configuration or to stop.
 *
 * Connections are capped in total (user_socket.max_connections) and per
 * uid (user_socket.max_per_uid, root exempt), so that one owner holding
 * connections cannot lock the others out.  A request runs to its end on
 * this thread, one per turn of the loop, the uid served least recently
 * first: an owner with many requests waiting delays another owner's by
 * one request at most.  HISTORY is bounded in rows and time
 * (selfservice.c), and the thread runs at a lower CPU priority than the
 * policy loop.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "sidethread.h"
#include "usersock.h"

#define USERSOCK_STOP_SECONDS 2		/* in-flight requests get this long at SIGTERM */
#define USERSOCK_NICE 10		/* owners' work yields the CPU to Exim's answers */
#define USERSOCK_BUSY_TIMEOUT_MS 100	/* a lock is not waited for long: DEFER, retry */
#define USERSOCK_TURNS 64		/* uids whose last turn is remembered */

static const char too_many[] = "DEFER 4.3.2 too many connections\n";
static const char too_many_uid[] = "DEFER 4.3.2 too many connections from your uid\n";

struct uconn {
	unsigned long long id;
	struct usersock *us;
	struct bufferevent *bev;
	struct event *timer;		/* the request's deadline, then the reply's */
	struct selfservice_peer peer;
	char *line;			/* the request line, parsed into req */
	struct proto_request req;
	int queued;			/* on the ready list, waiting for its turn */
	int replied;
	int dead;
	TAILQ_ENTRY(uconn) entry;
	TAILQ_ENTRY(uconn) ready_entry;	/* while line waits */
};
TAILQ_HEAD(uconn_list, uconn);

/* When a uid was last served, for taking turns. */
struct uturn {
	int known;
	unsigned long uid;
	unsigned long long served;
};

struct usersock {
	struct sidethread *side;	/* the thread, its event base and pipe */
	int fd;				/* the listening socket, until the listener has it */
	char *conf_path;
	struct config cfg;		/* the thread's own copy */
	struct store *st;		/* the thread's own connections */
	struct history *hist;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *reap, *retry, *stop_timer;
	struct event *work;		/* a zero timer: the next request's turn */
	struct uconn_list conns, dead, ready;
	struct uturn turns[USERSOCK_TURNS];
	size_t nturns;
	unsigned long long served;	/* requests served so far */
	int nconns;
	int stopping;
	unsigned long long next_id;
	unsigned long long refused_total, refused_uid;
	long long last_warn;
	pid_t notify_pid;		/* the last notice sender forked here */
};

static void uconn_close(struct uconn *c);

/* Free the connections closed since the last run; finish a pending stop. */
static void
usersock_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct usersock *us = arg;
	struct uconn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&us->dead)) != NULL) {
		TAILQ_REMOVE(&us->dead, c, entry);
		bufferevent_free(c->bev);
		event_free(c->timer);
		free(c->line);
		free(c);
	}
	if (us->stopping && us->nconns == 0)
		event_base_loopexit(us->base, NULL);
}

/* Close at once; the connection is freed from the reap event. */
static void
uconn_close(struct uconn *c)
{
	struct usersock *us = c->us;

	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->timer);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (c->queued)
		TAILQ_REMOVE(&us->ready, c, ready_entry);
	TAILQ_REMOVE(&us->conns, c, entry);
	TAILQ_INSERT_TAIL(&us->dead, c, entry);
	us->nconns--;
	event_active(us->reap, EV_TIMEOUT, 0);
}

/* (Re)arm the connection's deadline: read_timeout from now. */
static void
uconn_deadline(struct uconn *c)
{
	struct timeval tv = { (time_t)c->us->cfg.policy_socket_read_timeout, 0 };

	event_add(c->timer, &tv);
}

/* The reply is out: close. */
static void
uconn_written_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	uconn_close(arg);
}

/* Answer and stop reading; the reply gets read_timeout again to be written. */
static void
uconn_reply(struct uconn *c, enum verdict v, const char *text)
{
	size_t len = (text != NULL ? strlen(text) : 0) + 16;
	char *out;
	int n;

	if (c->replied || c->dead)
		return;
	c->replied = 1;
	bufferevent_disable(c->bev, EV_READ);
	if ((out = malloc(len)) == NULL || (n = proto_reply_format(v, text, out, len)) < 0 ||
	    bufferevent_write(c->bev, out, (size_t)n) == -1) {
		free(out);
		uconn_close(c);
		return;
	}
	free(out);
	uconn_deadline(c);
	bufferevent_setcb(c->bev, NULL, uconn_written_cb, NULL, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* Fork "mailabused -N ACCOUNT" to send the account's notices; one at a time. */
static void
usersock_notify_spawn(struct usersock *us, const char *account)
{
	pid_t pid;

	/* the policy loop reaps it (SIGCHLD): until then, it is still there */
	if (us->notify_pid != 0 && kill(us->notify_pid, 0) == 0)
		return;		/* expire sends what it leaves */
	us->notify_pid = 0;
	if ((pid = fork()) == -1) {
		log_warn("fork for notices of %s; they stay queued", account);
		return;
	}
	if (pid > 0) {
		us->notify_pid = pid;
		return;
	}
	closefrom(3);
	execl("/proc/self/exe", "mailabused", "-c", us->conf_path, "-N", account, (char *)NULL);
	_exit(127);
}

/* Serve a STATUS, HISTORY or UNBLOCK request, its turn come. */
static void
uconn_serve(struct uconn *c)
{
	char notify[ACCOUNT_NAME_MAX], *reply = NULL;
	enum verdict v;

	v = selfservice_request(c->us->st, c->us->hist, &c->us->cfg, &c->peer, &c->req, &reply, notify,
	    sizeof notify);
	uconn_reply(c, v, reply);
	free(reply);
	if (notify[0] != '\0')
		usersock_notify_spawn(c->us, notify);
}

/* The last turn of the peer's uid: 0 never (or long ago). */
static struct uturn *
usersock_turn(struct usersock *us, const struct selfservice_peer *p)
{
	for (size_t i = 0; i < us->nturns; i++)
		if (us->turns[i].known == p->known && us->turns[i].uid == p->uid)
			return &us->turns[i];
	return NULL;
}

/* The peer's uid had its turn: remember it, forgetting the oldest if full. */
static void
usersock_turn_taken(struct usersock *us, const struct selfservice_peer *p)
{
	struct uturn *t = usersock_turn(us, p);

	if (t == NULL && us->nturns < USERSOCK_TURNS)
		t = &us->turns[us->nturns++];
	if (t == NULL) {
		t = &us->turns[0];
		for (size_t i = 1; i < us->nturns; i++)
			if (us->turns[i].served < t->served)
				t = &us->turns[i];
	}
	t->known = p->known;
	t->uid = p->uid;
	t->served = ++us->served;
}

/*
 * One request, then back to the loop: of those waiting, the one whose
 * uid was served least recently (the oldest of its uid).
 */
static void
usersock_work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct usersock *us = arg;
	struct timeval now = { 0, 0 };
	struct uconn *c, *best = NULL;
	unsigned long long best_turn = 0, turn;
	struct uturn *t;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &us->ready, ready_entry) {
		turn = (t = usersock_turn(us, &c->peer)) != NULL ? t->served : 0;
		if (best == NULL || turn < best_turn) {
			best = c;
			best_turn = turn;
		}
	}
	if (best == NULL)
		return;
	TAILQ_REMOVE(&us->ready, best, ready_entry);
	best->queued = 0;
	usersock_turn_taken(us, &best->peer);
	uconn_serve(best);
	/* the others after the loop has looked at the sockets again */
	if (!TAILQ_EMPTY(&us->ready))
		evtimer_add(us->work, &now);
}

/*
 * A line of len bytes (without its newline) at line: PING and errors
 * are answered at once, the owners' requests wait for their turn.
 */
static void
uconn_take(struct uconn *c, char *line, size_t len)
{
	struct usersock *us = c->us;
	struct timeval now = { 0, 0 };
	char err[128], clean[160];

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (memchr(line, '\0', len) != NULL) {
		uconn_reply(c, VERDICT_ERROR, "5.5.2 NUL byte in request");
		return;
	}
	if ((c->line = strdup(line)) == NULL) {
		uconn_reply(c, VERDICT_DEFER, "4.3.0 out of memory");
		return;
	}
	if (proto_request_parse(c->line, &c->req, err, sizeof err) == -1) {
		log_info("user conn %llu: bad request: %s", c->id, err);
		metrics_user_request(-1);
		snprintf(clean, sizeof clean, "5.5.2 %s", err);
		uconn_reply(c, VERDICT_ERROR, clean);
		return;
	}
	metrics_user_request((int)c->req.verb);
	if (c->req.verb == PROTO_PING) {
		uconn_reply(c, VERDICT_OK, "mailabused " MAILABUSE_VERSION);
		return;
	}
	if (c->req.verb == PROTO_CHECK || c->req.verb == PROTO_EVENT) {
		log_info("user conn %llu: verb not allowed on the user socket", c->id);
		uconn_reply(c, VERDICT_ERROR, "5.5.2 verb not allowed on this socket");
		return;
	}
	/* complete: no more reading, no read deadline while it waits */
	bufferevent_disable(c->bev, EV_READ);
	event_del(c->timer);
	c->queued = 1;
	TAILQ_INSERT_TAIL(&us->ready, c, ready_entry);
	if (!evtimer_pending(us->work, NULL))
		evtimer_add(us->work, &now);
}

/* Bytes arrived: act on the first line, bounded by policy_socket.max_line. */
static void
uconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct uconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max = (size_t)c->us->cfg.policy_socket_max_line, len;
	char *line;

	if (c->replied || c->dead || c->queued)
		return;
	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL) {
		if (evbuffer_get_length(in) > max) {
			log_info("user conn %llu: request line longer than %zu bytes", c->id, max);
			uconn_reply(c, VERDICT_ERROR, "5.5.2 request line too long");
		}
		return;
	}
	if (len > max) {
		log_info("user conn %llu: request line longer than %zu bytes", c->id, max);
		uconn_reply(c, VERDICT_ERROR, "5.5.2 request line too long");
	} else
		uconn_take(c, line, len);
	free(line);
}

/* End of file (a last line without its newline is taken), or an error. */
static void
uconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct uconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	char *line;

	if (c->dead || c->queued)
		return;		/* a request waiting for its turn is answered all the same */
	if ((what & BEV_EVENT_EOF) && !c->replied && len > 0 &&
	    len <= (size_t)c->us->cfg.policy_socket_max_line &&
	    (line = malloc(len + 1)) != NULL) {
		evbuffer_remove(in, line, len);
		line[len] = '\0';
		uconn_take(c, line, len);
		free(line);
		return;
	}
	if (!c->replied || (what & BEV_EVENT_ERROR))
		log_debug("user conn %llu: closed by the client", c->id);
	uconn_close(c);
}

/* The deadline passed: a request never completed, or a reply never taken. */
static void
uconn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uconn *c = arg;

	(void)fd;
	(void)what;
	if (c->dead)
		return;
	metrics_conn_timed_out(METRICS_USER);
	if (c->replied) {
		log_debug("user conn %llu: the client did not take its reply in time", c->id);
		uconn_close(c);
		return;
	}
	log_info("user conn %llu: no complete request within the read timeout", c->id);
	uconn_reply(c, VERDICT_ERROR, "4.4.2 timeout waiting for the request");
}

/* Turn a client away with a one-line reason; say so once a second at most. */
static void
usersock_refuse(struct usersock *us, evutil_socket_t fd, const char *reply, size_t len,
    const struct selfservice_peer *p, int per_uid)
{
	long long now = clock_now();

	metrics_conn_refused(METRICS_USER, per_uid ? METRICS_REFUSED_UID : METRICS_REFUSED_CAP);
	if (per_uid)
		us->refused_uid++;
	else
		us->refused_total++;
	if (now != us->last_warn) {
		us->last_warn = now;
		if (per_uid)
			log_warnx("user socket: uid %ld over user_socket.max_per_uid (%lld):"
			    " %llu connections turned away for their uid so far",
			    p->known ? (long)p->uid : -1L, us->cfg.user_socket_max_per_uid,
			    us->refused_uid);
		else
			log_warnx("user socket: connection limit of %lld reached: %llu"
			    " connections turned away so far", us->cfg.user_socket_max_connections,
			    us->refused_total);
	}
	(void)!write(fd, reply, len);
	evutil_closesocket(fd);
}

/* A new client: who it is (SO_PEERCRED), the caps, then its connection. */
static void
usersock_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct usersock *us = arg;
	struct selfservice_peer p = { 0, 0, 0 };
	struct ucred cred;
	socklen_t credlen = sizeof cred;
	struct uconn *c, *o;
	int same = 0;

	(void)l;
	(void)sa;
	(void)salen;
	/* who is on the other end is the kernel's word, never the client's */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0 &&
	    credlen == sizeof cred) {
		p.known = 1;
		p.uid = (unsigned long)cred.uid;
	}
	if (us->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (us->nconns >= us->cfg.user_socket_max_connections) {
		usersock_refuse(us, fd, too_many, sizeof too_many - 1, &p, 0);
		return;
	}
	/* root (the administrator, the control panel) is not an owner: no per-uid cap */
	if (!p.known || p.uid != 0) {
		TAILQ_FOREACH(o, &us->conns, entry)
			if (o->peer.known == p.known && o->peer.uid == p.uid)
				same++;
		if (same >= us->cfg.user_socket_max_per_uid) {
			usersock_refuse(us, fd, too_many_uid, sizeof too_many_uid - 1, &p, 1);
			return;
		}
	}
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->timer = evtimer_new(us->base, uconn_timeout_cb, c)) == NULL ||
	    (c->bev = bufferevent_socket_new(us->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		if (c != NULL && c->timer != NULL)
			event_free(c->timer);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->us = us;
	c->id = ++us->next_id;
	c->peer = p;
	c->peer.id = c->id;
	TAILQ_INSERT_TAIL(&us->conns, c, entry);
	us->nconns++;
	metrics_conn_accepted(METRICS_USER);
	log_debug("user conn %llu: accepted, peer uid %ld", c->id, p.known ? (long)p.uid : -1L);
	/* read no more than a line of max_line bytes and its CR LF */
	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)us->cfg.policy_socket_max_line + 2);
	bufferevent_setcb(c->bev, uconn_read_cb, NULL, uconn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ);
	/* one deadline for the whole request, however slowly it trickles in */
	uconn_deadline(c);
}

/* Re-enable accept after an EMFILE pause. */
static void
usersock_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct usersock *us = arg;

	(void)fd;
	(void)what;
	if (us->listener != NULL)
		evconnlistener_enable(us->listener);
}

/* accept() failed: on descriptor exhaustion pause instead of spinning. */
static void
usersock_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct usersock *us = arg;
	struct timeval tv = { 0, 100000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		metrics_conn_refused(METRICS_USER, METRICS_REFUSED_EMFILE);
		evconnlistener_disable(l);
		evtimer_add(us->retry, &tv);
	}
	log_warnx("user socket: accept: %s", strerror(e));
}

/* SIGHUP, as the policy loop passes it on: the loop's new configuration, ours now. */
static void
usersock_reload_cb(void *arg, struct config *cfg)
{
	struct usersock *us = arg;

	config_free(&us->cfg);
	us->cfg = *cfg;
	free(cfg);
}

/* Stop listening; leave when the last connection is done or the deadline passes. */
static void
usersock_begin_stop_cb(void *arg)
{
	struct usersock *us = arg;
	struct timeval tv = { USERSOCK_STOP_SECONDS, 0 };

	if (us->stopping)
		return;
	us->stopping = 1;
	if (us->listener != NULL) {
		evconnlistener_free(us->listener);
		us->listener = NULL;
	}
	if (us->nconns == 0)
		event_base_loopexit(us->base, NULL);
	else
		evtimer_add(us->stop_timer, &tv);
}

static void
usersock_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct usersock *us = arg;

	(void)fd;
	(void)what;
	log_warnx("user socket: %d connection%s still open at the deadline", us->nconns,
	    us->nconns == 1 ? "" : "s");
	event_base_loopexit(us->base, NULL);
}

/* The loop has left: close what is still open, say what was turned away. */
static void
usersock_done_cb(void *arg)
{
	struct usersock *us = arg;
	struct uconn *c;

	while ((c = TAILQ_FIRST(&us->conns)) != NULL)
		uconn_close(c);
	usersock_reap_cb(-1, 0, us);
	if (us->refused_total + us->refused_uid > 0)
		log_info("user socket: %llu connections turned away at the total cap, %llu at"
		    " the per-uid cap", us->refused_total, us->refused_uid);
}

static const struct sidethread_ops usersock_ops = {
	.name = "user socket",
	.nice = USERSOCK_NICE,
	.reload = usersock_reload_cb,
	.stop = usersock_begin_stop_cb,
	.done = usersock_done_cb,
};

/* Free what usersock_start made (the thread is not running). */
static void
usersock_free(struct usersock *us)
{
	if (us->listener != NULL)
		evconnlistener_free(us->listener);
	else if (us->fd != -1)
		close(us->fd);
	if (us->reap != NULL)
		event_free(us->reap);
	if (us->retry != NULL)
		event_free(us->retry);
	if (us->stop_timer != NULL)
		event_free(us->stop_timer);
	if (us->work != NULL)
		event_free(us->work);
	sidethread_free(us->side);
	history_close(us->hist);
	store_close(us->st);
	config_free(&us->cfg);
	free(us->conf_path);
	free(us);
}

/*
 * Load the thread's own configuration, open its own database
 * connection, make its event base and listener on fd, and start it.
 * The thread takes no signals: they are the policy loop's.
 */
struct usersock *
usersock_start(const char *conf_path, const struct config *cfg, int fd, char *err,
    size_t errlen)
{
	struct usersock *us = calloc(1, sizeof *us);
	char hpath[PATH_MAX];

	if (us == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	us->fd = fd;
	TAILQ_INIT(&us->conns);
	TAILQ_INIT(&us->dead);
	TAILQ_INIT(&us->ready);
	if ((us->conf_path = strdup(conf_path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (config_copy(&us->cfg, cfg) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	history_path(&us->cfg, hpath, sizeof hpath);
	if ((us->st = store_open(us->cfg.database_path, USERSOCK_BUSY_TIMEOUT_MS, err,
	    errlen)) == NULL || (us->hist = history_open(hpath, us->cfg.database_path,
	    USERSOCK_BUSY_TIMEOUT_MS, err, errlen)) == NULL)
		goto fail;
	if ((us->side = sidethread_new(&usersock_ops, us, err, errlen)) == NULL)
		goto fail;
	us->base = sidethread_base(us->side);
	if ((us->reap = event_new(us->base, -1, 0, usersock_reap_cb, us)) == NULL ||
	    (us->retry = evtimer_new(us->base, usersock_retry_cb, us)) == NULL ||
	    (us->stop_timer = evtimer_new(us->base, usersock_stop_timer_cb, us)) == NULL ||
	    (us->work = evtimer_new(us->base, usersock_work_cb, us)) == NULL) {
		snprintf(err, errlen, "cannot create the user socket's events");
		goto fail;
	}
	/* backlog 0: the socket is listening already */
	if ((us->listener = evconnlistener_new(us->base, usersock_accept_cb, us,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd)) == NULL) {
		snprintf(err, errlen, "cannot listen on the user socket");
		goto fail;
	}
	us->fd = -1;
	evconnlistener_set_error_cb(us->listener, usersock_accept_error_cb);
	if (sidethread_start(us->side, err, errlen) == -1)
		goto fail;
	return us;
fail:
	usersock_free(us);
	return NULL;
}

/* SIGHUP: the thread takes a copy of the policy loop's new configuration. */
void
usersock_reload(struct usersock *us, const struct config *cfg)
{
	if (us != NULL)
		sidethread_reload(us->side, cfg);
}

/* SIGTERM: stop taking connections; those in flight get a deadline. */
void
usersock_unlisten(struct usersock *us)
{
	if (us != NULL)
		sidethread_ask_stop(us->side);
}

/* Stop the thread, wait for it, and free everything. */
void
usersock_stop(struct usersock *us)
{
	if (us == NULL)
		return;
	sidethread_join(us->side);
	usersock_free(us);
}

/*
 * One client connection: read one bounded request line, answer it,
 * close.  Plain read(2) and write(2) on the socket, one event per
 * connection: a query as Exim makes it (connect, one line, half-close,
 * read to EOF) is usually read and answered as soon as it is accepted,
 * without the event loop ever watching the socket.  A connection is freed
 * from the reap event, never inside one of its own callbacks, and kept
 * for the next client: a query allocates nothing.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);

/* Wait for the socket (what: EV_READ or EV_WRITE) until the deadline. */
static void
conn_wait(struct conn *c, short what)
{
	struct timeval now, left;

	gettimeofday(&now, NULL);
	timersub(&c->deadline, &now, &left);
	if (left.tv_sec < 0)
		left.tv_sec = left.tv_usec = 0;
	if (c->ev == NULL || event_assign(c->ev, c->srv->base, c->fd, what, conn_io_cb, c) == -1 ||
	    event_add(c->ev, &left) == -1) {
		log_warnx("conn %llu: cannot wait for the socket", c->id);
		conn_close(c);
	}
}

/* Write what is left of the reply; close when it is all out. */
static void
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_wait(c, EV_WRITE);
			return;
		}
		log_debug("conn %llu: cannot write the reply", c->id);
		break;
	}
	conn_close(c);
}

/* Answer and stop reading; the reply gets read_timeout again to be written. */
static void
conn_reply_send(struct conn *c, enum verdict v, const char *text)
{
	size_t len = (text != NULL ? strlen(text) : 0) + 16;
	int n;

	if (c->replied)
		return;
	c->replied = 1;
	gettimeofday(&c->deadline, NULL);
	c->deadline.tv_sec += (time_t)c->srv->cfg->policy_socket_read_timeout;
	c->out = len <= sizeof c->outbuf ? c->outbuf : malloc(len);
	if (c->out == NULL || (n = proto_reply_format(v, text, c->out, len)) < 0) {
		conn_close(c);
		return;
	}
	c->outlen = (size_t)n;
	conn_flush(c);
}

/* Decide on one complete request line. */
static void
conn_line_handle(struct conn *c, char *line)
{
	struct proto_request req;
	struct check_reply reply;
	char err[128], text[512];

	if (proto_request_parse(line, &req, err, sizeof err) == -1) {
		char clean[160];

		log_info("conn %llu: bad request: %s", c->id, err);
		snprintf(clean, sizeof clean, "5.5.2 %s", err);
		metrics_verdict_add(NULL, VERDICT_ERROR);
		conn_reply_send(c, VERDICT_ERROR, clean);
		return;
	}
	if (req.verb == PROTO_PING) {
		snprintf(text, sizeof text, "mailabused " MAILABUSE_VERSION);
		conn_reply_send(c, VERDICT_OK, text);
		return;
	}
	/* the user socket's verbs are served by its own thread (usersock.c) */
	if (req.verb != PROTO_CHECK && req.verb != PROTO_EVENT) {
		log_info("conn %llu: verb not allowed on the policy socket", c->id);
		conn_reply_send(c, VERDICT_ERROR, "5.5.2 verb not allowed on this socket");
		return;
	}
	if (req.verb == PROTO_EVENT)
		check_event(&c->srv->chk, c->id, &req, &reply);
	else
		check_request(&c->srv->chk, c->id, &req, &reply);
	/* an automatic suspension handed to the writer: under way until it is written */
	if (reply.suspending[0] != '\0')
		server_pending_add(c->srv, reply.suspending);
	metrics_verdict_add(&req, reply.verdict);
	conn_reply_send(c, reply.verdict, reply.text);
}

/* A whole line (without its newline) of len bytes at c->in. */
static void
conn_line(struct conn *c, size_t len)
{
	if (len > 0 && c->in[len - 1] == '\r')
		len--;
	c->in[len] = '\0';
	if (memchr(c->in, '\0', len) != NULL) {
		metrics_verdict_add(NULL, VERDICT_ERROR);
		conn_reply_send(c, VERDICT_ERROR, "5.5.2 NUL byte in request");
	} else
		conn_line_handle(c, c->in);
}

static void
conn_too_long(struct conn *c, size_t max)
{
	log_info("conn %llu: request line longer than %zu bytes", c->id, max);
	metrics_verdict_add(NULL, VERDICT_ERROR);
	conn_reply_send(c, VERDICT_ERROR, "5.5.2 request line too long");
}

/*
 * Read what the client sent, up to policy_socket.max_line bytes and its
 * newline; a last line without one is taken at end of file.
 */
static void
conn_read(struct conn *c)
{
	size_t max = (size_t)c->srv->cfg->policy_socket_max_line;
	char *nl, *bigger;
	ssize_t n;

	for (;;) {
		if (c->inlen + 1 >= c->incap) {
			/* room for max_line, its newline and a NUL; no more */
			size_t cap = c->incap * 4 < max + 2 ? c->incap * 4 : max + 2;

			if (cap <= c->incap) {
				conn_too_long(c, max);
				return;
			}
			if ((bigger = malloc(cap)) == NULL) {
				conn_reply_send(c, VERDICT_DEFER, "4.3.0 out of memory");
				return;
			}
			memcpy(bigger, c->in, c->inlen);
			if (c->in != c->inbuf)
				free(c->in);
			c->in = bigger;
			c->incap = cap;
		}
		/* keep a byte for the NUL */
		n = read(c->fd, c->in + c->inlen, c->incap - 1 - c->inlen);
		if (n > 0) {
			nl = memchr(c->in + c->inlen, '\n', (size_t)n);
			c->inlen += (size_t)n;
			if (nl != NULL) {
				if ((size_t)(nl - c->in) > max)
					conn_too_long(c, max);
				else
					conn_line(c, (size_t)(nl - c->in));
				return;
			}
			if (c->inlen > max) {
				conn_too_long(c, max);
				return;
			}
			continue;
		}
		if (n == 0) {
			/* half-closed after a last line without its newline: take it */
			if (c->inlen > 0)
				conn_line(c, c->inlen);
			else
				conn_close(c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			conn_wait(c, EV_READ);
			return;
		}
		log_debug("conn %llu: connection error", c->id);
		conn_close(c);
		return;
	}
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (c->dead)
		return;
	if (what & EV_TIMEOUT) {
		metrics_conn_timed_out(METRICS_POLICY);
		if (c->replied) {
			log_debug("conn %llu: the client did not take its reply in time", c->id);
			conn_close(c);
			return;
		}
		log_info("conn %llu: no complete request within the read timeout", c->id);
		conn_reply_send(c, VERDICT_ERROR, "4.4.2 timeout waiting for the request");
		return;
	}
	if (c->replied)
		conn_flush(c);
	else
		conn_read(c);
}

/* Take a new client; the caller has checked the connection limit. */
void
conn_accept(struct server *srv, evutil_socket_t fd)
{
	struct conn *c;

	if ((c = TAILQ_FIRST(&srv->idle)) != NULL) {
		TAILQ_REMOVE(&srv->idle, c, entry);
		srv->nidle--;
		c->inlen = c->outlen = c->outoff = 0;
		c->out = NULL;
		c->replied = c->dead = 0;
	} else if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->ev = event_new(srv->base, -1, 0, conn_io_cb, c)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->id = ++srv->next_id;
	c->in = c->inbuf;
	c->incap = sizeof c->inbuf;
	/*
	 * One deadline for the whole request, however slowly it trickles in;
	 * the reply gets as long again to be written.
	 */
	gettimeofday(&c->deadline, NULL);
	c->deadline.tv_sec += (time_t)srv->cfg->policy_socket_read_timeout;
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	log_debug("conn %llu: accepted", c->id);
	/* the request is usually there already: no need to wait for it */
	conn_read(c);
}

/* Close the socket at once; the connection is freed from the reap event. */
void
conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->dead)
		return;
	c->dead = 1;
	event_del(c->ev);
	evutil_closesocket(c->fd);
	c->fd = -1;
	TAILQ_REMOVE(&srv->conns, c, entry);
	TAILQ_INSERT_TAIL(&srv->dead, c, entry);
	srv->nconns--;
	event_active(srv->reap, EV_TIMEOUT, 0);
}

/* Free the connections closed since the last run. */
void
conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, entry);
		if (c->in != c->inbuf)
			free(c->in);
		if (c->out != c->outbuf)
			free(c->out);
		c->in = c->out = NULL;
		if (srv->nidle < CONN_IDLE_MAX && !srv->stopping) {
			TAILQ_INSERT_HEAD(&srv->idle, c, entry);
			srv->nidle++;
			continue;
		}
		event_free(c->ev);
		free(c);
	}
	server_conn_closed(srv);
}

/* Free the connections kept for reuse (at shutdown). */
void
conn_idle_free(struct server *srv)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv->idle)) != NULL) {
		TAILQ_REMOVE(&srv->idle, c, entry);
		event_free(c->ev);
		free(c);
	}
	srv->nidle = 0;
}

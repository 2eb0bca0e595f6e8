/*
 * One client connection: read one bounded request line, answer it,
 * close.  A connection is freed from the reap event, never inside one
 * of its own callbacks.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "server.h"

#ifndef MAILABUSE_VERSION
#define MAILABUSE_VERSION "0"
#endif

/* Queue the reply and stop reading; the write callback closes. */
static void
conn_reply_send(struct conn *c, enum verdict v, const char *text)
{
	size_t len = (text != NULL ? strlen(text) : 0) + 16;
	char *line;
	int n;

	if (c->replied)
		return;
	c->replied = 1;
	bufferevent_disable(c->bev, EV_READ);
	{
		struct timeval tv = { (time_t)c->srv->cfg->policy_socket_read_timeout, 0 };

		evtimer_add(c->deadline, &tv);	/* now the deadline of the write */
	}
	if ((line = malloc(len)) == NULL ||
	    (n = proto_reply_format(v, text, line, len)) < 0 ||
	    bufferevent_write(c->bev, line, (size_t)n) == -1)
		conn_close(c);
	free(line);
}

/* Decide on one complete request line. */
static void
conn_line_handle(struct conn *c, char *line)
{
	struct proto_request req;
	char err[128], text[512];
	enum verdict v;

	if (proto_request_parse(line, &req, err, sizeof err) == -1) {
		char clean[160];

		log_info("conn %llu: bad request: %s", c->id, err);
		snprintf(clean, sizeof clean, "5.5.2 %s", err);
		conn_reply_send(c, VERDICT_ERROR, clean);
		return;
	}
	if (req.verb == PROTO_PING) {
		snprintf(text, sizeof text, "mailabused " MAILABUSE_VERSION);
		conn_reply_send(c, VERDICT_OK, text);
		return;
	}
	if (c->user != (req.verb != PROTO_CHECK && req.verb != PROTO_EVENT)) {
		log_info("conn %llu: verb not allowed on the %s socket", c->id,
		    c->user ? "user" : "policy");
		conn_reply_send(c, VERDICT_ERROR, "5.5.2 verb not allowed on this socket");
		return;
	}
	if (c->user) {
		char *reply = NULL;

		v = selfservice_request(c->srv, c, &req, &reply);
		conn_reply_send(c, v, reply);
		free(reply);
		return;
	}
	text[0] = '\0';
	if (req.verb == PROTO_EVENT)
		v = check_event(c->srv, c->id, &req, text, sizeof text);
	else
		v = check_request(c->srv, c->id, &req, text, sizeof text);
	conn_reply_send(c, v, text);
}

/* Look for a complete line, bounded by policy_socket.max_line. */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t max = (size_t)c->srv->cfg->policy_socket_max_line, eol_len;
	struct evbuffer_ptr p;
	char *line;

	if (c->replied)
		return;
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > max) {
			log_info("conn %llu: request line longer than %zu bytes", c->id, max);
			conn_reply_send(c, VERDICT_ERROR, "5.5.2 request line too long");
		}
		return;
	}
	if ((size_t)p.pos > max) {
		log_info("conn %llu: request line longer than %zu bytes", c->id, max);
		conn_reply_send(c, VERDICT_ERROR, "5.5.2 request line too long");
		return;
	}
	if ((line = malloc((size_t)p.pos + 1)) == NULL) {
		conn_reply_send(c, VERDICT_DEFER, "4.3.0 out of memory");
		return;
	}
	evbuffer_remove(in, line, (size_t)p.pos);
	line[p.pos] = '\0';
	evbuffer_drain(in, eol_len);
	if (memchr(line, '\0', (size_t)p.pos) != NULL)
		conn_reply_send(c, VERDICT_ERROR, "5.5.2 NUL byte in request");
	else
		conn_line_handle(c, line);
	free(line);
}

/* The reply has been written: done with this client. */
static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (c->replied && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c);
}

/* The request did not arrive in time (or the reply could not be written). */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->replied) {
		conn_close(c);
		return;
	}
	log_info("conn %llu: no complete request within the read timeout", c->id);
	conn_reply_send(c, VERDICT_ERROR, "4.4.2 timeout waiting for the request");
}

/* EOF, timeout or error. */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->replied) {
		conn_close(c);
		return;
	}
	if ((what & BEV_EVENT_EOF) && evbuffer_get_length(in) > 0 &&
	    evbuffer_get_length(in) <= (size_t)c->srv->cfg->policy_socket_max_line) {
		/* Half-closed after a last line without its newline: take it. */
		size_t n = evbuffer_get_length(in);
		char *line = malloc(n + 1);

		if (line != NULL) {
			evbuffer_remove(in, line, n);
			line[n] = '\0';
			if (memchr(line, '\0', n) != NULL) {
				conn_reply_send(c, VERDICT_ERROR, "5.5.2 NUL byte in request");
			} else
				conn_line_handle(c, line);
			free(line);
			return;
		}
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("conn %llu: connection error", c->id);
	conn_close(c);
}

/* Take a new client; the caller has checked the connection limit. */
void
conn_accept(struct server *srv, evutil_socket_t fd, int user)
{
	struct conn *c;
	struct timeval tv;
	struct ucred cred;
	socklen_t credlen = sizeof cred;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->id = ++srv->next_id;
	c->user = user;
	/* Who is on the other end is the kernel's word, never the client's. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0 &&
	    credlen == sizeof cred) {
		c->peer_known = 1;
		c->peer_uid = (unsigned long)cred.uid;
	}
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	/*
	 * One deadline for the whole request, however slowly it trickles in;
	 * the reply gets as long again to be written.
	 */
	tv.tv_sec = (time_t)srv->cfg->policy_socket_read_timeout;
	tv.tv_usec = 0;
	if ((c->deadline = evtimer_new(srv->base, conn_deadline_cb, c)) == NULL) {
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	evtimer_add(c->deadline, &tv);
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	/* Stop reading once a line cannot be valid any more. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    (size_t)srv->cfg->policy_socket_max_line + 2);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	srv->nconns++;
	srv->nuser += user;
	log_debug("conn %llu: accepted on the %s socket, peer uid %ld", c->id,
	    user ? "user" : "policy", c->peer_known ? (long)c->peer_uid : -1L);
}

/* Mark a connection finished; it is freed from the reap event. */
void
conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->dead)
		return;
	c->dead = 1;
	evtimer_del(c->deadline);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	TAILQ_REMOVE(&srv->conns, c, entry);
	TAILQ_INSERT_TAIL(&srv->dead, c, entry);
	srv->nconns--;
	srv->nuser -= c->user;
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
		bufferevent_free(c->bev);
		event_free(c->deadline);
		free(c);
	}
	server_conn_closed(srv);
}

/*
 * The metrics endpoint.  Prometheus (or anyone the socket's mode or the
 * loopback address lets in) asks GET /metrics; the answer is the
 * daemon's counters (metrics.c) and what the database says (stats.c),
 * the latter read at most every SCRAPE_DB_CACHE_SECONDS on this
 * thread's own connection.  The thread (sidethread.c) has its own event
 * base and runs at a lower CPU priority than the policy loop, like the
 * user socket's; the policy loop only tells it to reload or to stop.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "clock.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "scrape.h"
#include "sidethread.h"
#include "stats.h"
#include "store.h"

#define SCRAPE_DB_CACHE_SECONDS 5	/* the database is read at most this often */
#define SCRAPE_NICE 10			/* scrapes yield the CPU to Exim's answers */
#define SCRAPE_BUSY_TIMEOUT_MS 100
#define SCRAPE_TIMEOUT_SECONDS 5	/* a client gets this long for its request */
#define SCRAPE_MAX_HEADERS 8192
#define SCRAPE_MAX_BODY 4096		/* GET has none; more is not even read */

struct scrape {
	struct sidethread *side;	/* the thread, its event base and pipe */
	int fd;				/* the listening socket, until evhttp has it */
	struct config cfg;		/* the thread's own copy */
	struct store *st;		/* the thread's own connections */
	struct history *hist;
	struct event_base *base;
	struct evhttp *http;
	struct metrics_db db;		/* the last read of the database */
	struct timespec db_at;		/* when (CLOCK_MONOTONIC), 0 never */
	unsigned long long served;
};

/* Bind and listen on a loopback address:port (config_metrics_inet); its fd or -1. */
int
scrape_inet_listen(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned sslen;
	char why[256];
	int fd, on = 1;

	if (config_metrics_inet(addr, &ss, &sslen, why, sizeof why) == -1) {
		snprintf(err, errlen, "metrics.listen: %s", why);
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "metrics.listen: socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1 || listen(fd, 64) == -1) {
		snprintf(err, errlen, "metrics.listen: cannot listen on %s: %s", addr,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The database's figures, read again if the last read is old or failed. */
static const struct metrics_db *
scrape_db(struct scrape *sc)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (sc->db.ok && sc->db_at.tv_sec != 0 &&
	    now.tv_sec - sc->db_at.tv_sec < SCRAPE_DB_CACHE_SECONDS)
		return &sc->db;
	if (stats_db_read(sc->st, sc->hist, &sc->cfg, clock_now(), &sc->db) == -1)
		log_warnx("metrics: cannot read the database: %s", store_error(sc->st));
	sc->db_at = now;
	return &sc->db;
}

/* GET /metrics: the exposition; anything else 404, other methods 501 (evhttp). */
static void
scrape_request_cb(struct evhttp_request *req, void *arg)
{
	struct scrape *sc = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out;
	char *text;
	size_t len;

	sc->served++;
	if (uri == NULL || (strcmp(uri, "/metrics") != 0 && strncmp(uri, "/metrics?", 9) != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, "the metrics are at /metrics");
		return;
	}
	if ((text = metrics_render(scrape_db(sc), 1, &len)) == NULL ||
	    (out = evbuffer_new()) == NULL) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add(out, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* SIGHUP, as the policy loop passes it on: a new configuration (the limits). */
static void
scrape_reload_cb(void *arg, struct config *cfg)
{
	struct scrape *sc = arg;

	config_free(&sc->cfg);
	sc->cfg = *cfg;
	free(cfg);
	sc->db_at.tv_sec = 0;
}

/* SIGTERM, passed on: leave the loop. */
static void
scrape_stop_cb(void *arg)
{
	struct scrape *sc = arg;

	event_base_loopexit(sc->base, NULL);
}

static const struct sidethread_ops scrape_ops = {
	.name = "metrics endpoint",
	.nice = SCRAPE_NICE,
	.reload = scrape_reload_cb,
	.stop = scrape_stop_cb,
	.done = NULL,
};

/* Free what scrape_start made (the thread is not running). */
static void
scrape_free(struct scrape *sc)
{
	if (sc->http != NULL)
		evhttp_free(sc->http);
	else if (sc->fd != -1)
		close(sc->fd);
	sidethread_free(sc->side);
	history_close(sc->hist);
	store_close(sc->st);
	config_free(&sc->cfg);
	free(sc);
}

/*
 * Load the thread's own configuration, open its own database
 * connection, serve HTTP on fd, and start the thread (no signals: they
 * are the policy loop's).
 */
struct scrape *
scrape_start(const struct config *cfg, int fd, char *err, size_t errlen)
{
	struct scrape *sc = calloc(1, sizeof *sc);
	char hpath[PATH_MAX];

	if (sc == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	sc->fd = fd;
	if (config_copy(&sc->cfg, cfg) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	history_path(&sc->cfg, hpath, sizeof hpath);
	if ((sc->st = store_open(sc->cfg.database_path, SCRAPE_BUSY_TIMEOUT_MS, err,
	    errlen)) == NULL || (sc->hist = history_open(hpath, sc->cfg.database_path,
	    SCRAPE_BUSY_TIMEOUT_MS, err, errlen)) == NULL)
		goto fail;
	if ((sc->side = sidethread_new(&scrape_ops, sc, err, errlen)) == NULL)
		goto fail;
	sc->base = sidethread_base(sc->side);
	if ((sc->http = evhttp_new(sc->base)) == NULL) {
		snprintf(err, errlen, "cannot create the metrics endpoint's events");
		goto fail;
	}
	evhttp_set_allowed_methods(sc->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(sc->http, SCRAPE_TIMEOUT_SECONDS);
	evhttp_set_max_headers_size(sc->http, SCRAPE_MAX_HEADERS);
	evhttp_set_max_body_size(sc->http, SCRAPE_MAX_BODY);
	evhttp_set_gencb(sc->http, scrape_request_cb, sc);
	if (evhttp_accept_socket_with_handle(sc->http, fd) == NULL) {
		snprintf(err, errlen, "cannot serve HTTP on metrics.listen");
		goto fail;
	}
	sc->fd = -1;
	if (sidethread_start(sc->side, err, errlen) == -1)
		goto fail;
	return sc;
fail:
	scrape_free(sc);
	return NULL;
}

/* SIGHUP: the thread takes a copy of the policy loop's new configuration. */
void
scrape_reload(struct scrape *sc, const struct config *cfg)
{
	if (sc != NULL)
		sidethread_reload(sc->side, cfg);
}

/* Stop the thread, wait for it, free everything, remove a socket path. */
void
scrape_stop(struct scrape *sc)
{
	if (sc == NULL)
		return;
	sidethread_join(sc->side);
	if (sc->cfg.metrics_listen[0] == '/')
		unlink(sc->cfg.metrics_listen);
	scrape_free(sc);
}

/*
 * The listener and the server's state: socket set-up, accept with a
 * connection cap, EMFILE back-off, signals and reload, the in-memory
 * view's timer, and the automatic suspensions being written.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "decision.h"
#include "detect.h"
#include "history.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "priv.h"
#include "recorder.h"
#include "scrape.h"
#include "server.h"
#include "store_view.h"
#include "usersock.h"
#include "view.h"

static const char too_many[] = "DEFER 4.3.2 too many connections\n";

/*
 * Make sure the socket's directory exists and is safe: created for the
 * user if missing, else owned by root or the user and writable by no one
 * else (priv.c).
 */
static int
server_socket_dir_check(const char *path, char *err, size_t errlen)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof copy, "%s", path);
	return priv_rundir_make(dirname(copy), err, errlen) == 0 ? 0 : -1;
}

/*
 * Remove a left-over socket, but only a socket and only if nobody
 * answers on it.
 */
static int
server_stale_socket_remove(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat sb;
	int fd, r;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path,
		    strerror(errno)), -1);
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -1;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (struct sockaddr *)&sun, sizeof sun);
	close(fd);
	if (r == 0) {
		snprintf(err, errlen, "%s: another daemon is listening there", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Take new clients, or turn them away when at the cap.  The user socket
 * is not served here at all (usersock.c): its clients, anyone on the
 * machine, cannot crowd out or slow down Exim's queries.
 */
static void
server_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server *srv = arg;
	long long cap = srv->cfg->policy_socket_max_connections;

	(void)l;
	(void)sa;
	(void)salen;
	if (srv->nconns >= cap) {
		long long now = clock_now();

		srv->refused_conns++;
		metrics_conn_refused(METRICS_POLICY, METRICS_REFUSED_CAP);
		if (now != srv->last_limit_warn) {
			srv->last_limit_warn = now;
			log_warnx("policy socket: connection limit of %lld reached: %llu connections"
			    " turned away so far", cap, srv->refused_conns);
		}
		(void)!write(fd, too_many, sizeof too_many - 1);
		evutil_closesocket(fd);
		return;
	}
	metrics_conn_accepted(METRICS_POLICY);
	conn_accept(srv, fd);
}

/* Re-enable accept after an EMFILE pause. */
static void
server_accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (srv->listener != NULL)
		evconnlistener_enable(srv->listener);
}

/* accept() failed: on descriptor exhaustion pause instead of spinning. */
static void
server_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 0, 100000 };
	int e = EVUTIL_SOCKET_ERROR();
	long long now = clock_now();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		(void)l;
		metrics_conn_refused(METRICS_POLICY, METRICS_REFUSED_EMFILE);
		if (srv->listener != NULL)
			evconnlistener_disable(srv->listener);
		evtimer_add(srv->accept_retry, &tv);
		if (now != srv->last_limit_warn) {
			srv->last_limit_warn = now;
			log_warnx("accept: %s; pausing accept for 100ms", strerror(e));
		}
		return;
	}
	log_warnx("accept: %s", strerror(e));
}

/* Bind and listen on one socket with a mode and (if not "") a group; its fd. */
static int
server_listen_one(const char *path, mode_t mode, const char *group, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	if (server_socket_dir_check(path, err, errlen) == -1 ||
	    server_stale_socket_remove(path, err, errlen) == -1)
		return -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/*
	 * Owner-only at bind; the group and then the mode are set on the
	 * name without following a link: the socket is never more open
	 * than configured, not even for a moment.
	 */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		snprintf(err, errlen, "bind %s: %s", sun.sun_path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (group[0] != '\0') {
		struct group *gr = getgrnam(group);

		if (gr == NULL || fchownat(AT_FDCWD, sun.sun_path, (uid_t)-1, gr->gr_gid,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			snprintf(err, errlen, "chown %s to group %s: %s", sun.sun_path, group,
			    gr == NULL ? "no such group" : strerror(errno));
			goto fail;
		}
	}
	if (fchmodat(AT_FDCWD, sun.sun_path, mode, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(err, errlen, "chmod %s: %s", sun.sun_path, strerror(errno));
		goto fail;
	}
	if (listen(fd, 1024) == -1) {
		snprintf(err, errlen, "listen %s: %s", sun.sun_path, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	unlink(sun.sun_path);
	close(fd);
	return -1;
}

/* metrics.listen, if set: a socket path (mode, group) or a loopback port. */
static int
server_metrics_listen(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;

	if (cfg->metrics_listen[0] == '/')
		srv->metrics_fd = server_listen_one(cfg->metrics_listen, cfg->metrics_mode_bits,
		    cfg->metrics_group, err, errlen);
	else if (cfg->metrics_listen[0] != '\0')
		srv->metrics_fd = scrape_inet_listen(cfg->metrics_listen, err, errlen);
	return cfg->metrics_listen[0] != '\0' && srv->metrics_fd == -1 ? -1 : 0;
}

/*
 * Bind the policy socket (for Exim, with the configured mode and group)
 * and the user socket (for everyone: the peer's uid decides what it may
 * do).  The user socket is served by its own thread (server_init_events).
 */
int
server_listen(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	int fd;

	srv->user_fd = -1;
	srv->metrics_fd = -1;
	if ((fd = server_listen_one(cfg->policy_socket_path, cfg->policy_socket_mode_bits,
	    cfg->policy_socket_group, err, errlen)) == -1)
		return -1;
	/* backlog 0: listening already */
	srv->listener = evconnlistener_new(srv->base, server_accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (srv->listener == NULL) {
		snprintf(err, errlen, "listen %s: %s", cfg->policy_socket_path, strerror(errno));
		close(fd);
		unlink(cfg->policy_socket_path);
		return -1;
	}
	evconnlistener_set_error_cb(srv->listener, server_accept_error_cb);
	srv->user_fd = server_listen_one(cfg->user_socket_path, 0666, "", err, errlen);
	if (srv->user_fd == -1) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
		unlink(cfg->policy_socket_path);
		return -1;
	}
	if (server_metrics_listen(srv, err, errlen) == -1) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
		unlink(cfg->policy_socket_path);
		close(srv->user_fd);
		srv->user_fd = -1;
		unlink(cfg->user_socket_path);
		return -1;
	}
	return 0;
}

/* Stop listening on both sockets and remove them. */
static void
server_unlisten(struct server *srv)
{
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
		unlink(srv->cfg->policy_socket_path);
	}
	if (srv->us != NULL || srv->user_fd != -1) {
		usersock_unlisten(srv->us);
		if (srv->user_fd != -1)
			close(srv->user_fd);
		srv->user_fd = -1;
		unlink(srv->cfg->user_socket_path);
	}
}

/*
 * Send an account's queued notices from a child process, so that the
 * event loop never waits on notify.sendmail.  What the child cannot
 * send stays queued for `mailabusectl expire`.
 */
static void
server_notify_spawn(struct server *srv, const char *account)
{
	pid_t pid;

	if (srv->notify_pid != 0)
		return;		/* one at a time; expire sends what it leaves */
	if ((pid = fork()) == -1) {
		log_warn("fork for notices of %s; they stay queued", account);
		return;
	}
	if (pid > 0) {
		srv->notify_pid = pid;
		return;
	}
	/*
	 * The child keeps none of the parent's sockets (a client waits for
	 * their EOF) and none of its SQLite state (unusable across fork):
	 * it becomes a fresh "mailabused -N ACCOUNT".
	 */
	closefrom(3);
	execl("/proc/self/exe", "mailabused", "-c", srv->conf_path, "-N", account, (char *)NULL);
	/* nothing else here: another thread may have held a lock at fork */
	_exit(127);
}

static void
server_chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	pid_t pid;
	int status;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != srv->notify_pid)
			continue;
		srv->notify_pid = 0;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			log_warnx("cannot run /proc/self/exe to send notices; they stay queued");
	}
}

/* Once a minute: free the detectors' state that has nothing left in its window. */
static void
server_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t n;

	(void)fd;
	(void)what;
	if ((n = detect_expire(srv->det, clock_now())) > 0)
		log_debug("detection: %zu idle entries freed, %zu left", n,
		    detect_size(srv->det));
}

/* An automatic suspension handed to the writer: answers DEFER until it is written. */
void
server_pending_add(struct server *srv, const char *account)
{
	struct pending_account *p = calloc(1, sizeof *p);

	if (p == NULL)
		return;
	snprintf(p->account, sizeof p->account, "%s", account);
	p->next = srv->pending;
	srv->pending = p;
}

/* The writer is done with an account's suspension: start it afresh, tell its owner. */
void
server_pending_done(struct server *srv, const char *account, int ok)
{
	struct pending_account **pp, *p;

	for (pp = &srv->pending; (p = *pp) != NULL; pp = &p->next) {
		if (strcmp(p->account, account) != 0)
			continue;
		*pp = p->next;
		free(p);
		break;
	}
	if (!ok)
		return;
	if (srv->det != NULL)
		detect_forget(srv->det, account);
	if (!srv->stopping)
		server_notify_spawn(srv, account);
}

static void
server_done_one(void *arg, const char *account, int ok)
{
	server_pending_done(arg, account, ok);
}

/* The writer finished suspensions: empty the wake-up pipe, take them all. */
static void
server_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof buf) > 0)
		;
	recorder_done_take(srv->rec, server_done_one, srv);
}

/* Fill the detectors' windows with the last hour from the database. */
static int
server_rebuild_cb(void *arg, const struct recent_message *r)
{
	struct server *srv = arg;
	struct decision_detect_in in;
	uint64_t hashes[256];
	struct detect_msg m;
	const char *cur = r->rcpt;
	char addr[ADDRESS_MAX], key[64];
	size_t n = 0;
	int rc;

	detect_reset_before(srv->det, r->account, r->last_change);
	memset(&in, 0, sizeof in);
	in.account = r->account;
	in.kind = decision_source_from_name(r->kind);
	in.source = r->source;
	in.uid = r->uid;
	in.ip = r->ip;
	in.host_new = r->host_first_seen >= r->at - DETECT_WINDOW;
	in.n_external = (unsigned long)r->n_external;
	/* the recipients as recorded (a script's only): local ones count too, a small
	   overestimate */
	while (in.kind != SOURCE_MAILBOX && r->n_external > 0 &&
	    n < sizeof hashes / sizeof hashes[0] && cur != NULL &&
	    (rc = proto_rcpt_next(&cur, addr, sizeof addr)) != 0) {
		if (rc == 1)
			hashes[n++] = decision_rcpt_hash(addr);
	}
	in.rcpt_hashes = hashes;
	in.n_rcpt_hashes = n;
	decision_detect_msg(&in, &m, key, sizeof key);
	detect_count(srv->det, &m, &srv->rebuild_lim, r->at);
	for (long long i = 0; i < r->ok; i++)
		detect_outcome(srv->det, r->account, 0, 0, r->at, r->at);
	for (long long i = 0; i < r->failed; i++)
		detect_outcome(srv->det, r->account, 1, 0, r->at, r->at);
	return 0;
}

int
server_detect_rebuild(struct server *srv)
{
	long long now = clock_now();

	/* the configuration's limits: what an account's own allow is kept at the next message */
	config_detect_limits(srv->cfg, &srv->rebuild_lim);
	for (int i = 0; i < DET_COUNT; i++)
		if (srv->rebuild_lim.l[i].value > 0)
			srv->rebuild_lim.l[i].value = 100000000;	/* keep all: own limits may be higher */
	if (history_recent_messages(srv->hist, now - DETECT_WINDOW, server_rebuild_cb, srv) == -1)
		return -1;
	log_info("detection: %zu senders active in the last hour", detect_size(srv->det));
	return 0;
}

/* SIGHUP: load and check the whole new file; keep the old one on any error. */
static void
server_reload(struct server *srv)
{
	struct config *next, *old = srv->cfg;
	char err[1024], changed[512];
	size_t n;

	if ((next = calloc(1, sizeof *next)) == NULL) {
		log_warnx("reload: out of memory; keeping the current configuration");
		return;
	}
	if (config_load_file(srv->conf_path, next, err, sizeof err) == -1) {
		log_warnx("reload failed, keeping the current configuration: %s", err);
		free(next);
		return;
	}
	if ((n = config_restart_keys_changed(next, old, changed, sizeof changed)) > 0)
		log_warnx("reload: %s take%s effect at the next restart", changed,
		    n == 1 ? "s" : "");
	/* What needs a restart keeps its running value, so that stop cleans up right. */
	config_keep_restart_keys(next, old);
	config_web_uids_resolve(next);
	log_level_set(next->log_level_choice);
	srv->cfg = next;
	check_env_config(&srv->chk, next);
	config_free(old);
	free(old);
	recorder_reload(srv->rec, srv->cfg);
	usersock_reload(srv->us, srv->cfg);
	scrape_reload(srv->scrape, srv->cfg);
	log_info("configuration reloaded from %s", srv->conf_path);
}

/* Stop accepting; leave when the last connection is done or the deadline passes. */
static void
server_stop(struct server *srv)
{
	struct timeval tv = { 2, 0 };

	if (srv->stopping)
		return;
	srv->stopping = 1;
	log_info("stopping: %d connection%s in flight", srv->nconns,
	    srv->nconns == 1 ? "" : "s");
	server_unlisten(srv);
	if (srv->nconns == 0)
		event_base_loopexit(srv->base, NULL);
	else
		evtimer_add(srv->stop_timer, &tv);
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)what;
	if (sig == SIGHUP)
		server_reload(srv);
	else
		server_stop(srv);
}

static void
server_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_warnx("stopping: %d connection%s still open at the deadline", srv->nconns,
	    srv->nconns == 1 ? "" : "s");
	event_base_loopexit(srv->base, NULL);
}

/* Called after connections were freed: finish a pending stop. */
void
server_conn_closed(struct server *srv)
{
	if (srv->stopping && srv->nconns == 0)
		event_base_loopexit(srv->base, NULL);
}

/* Once a second: changes made without mailabusectl (PRAGMA data_version). */
static void
server_view_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char err[512];
	int was = view_ok(srv->view);

	(void)fd;
	(void)what;
	if (view_data_version_check(srv->view, srv->sv, err, sizeof err) == -1) {
		if (was)
			log_warnx("view: cannot read the database, answering DEFER: %s", err);
	} else if (!was)
		log_info("view: in step with the database again");
}

/*
 * The policy tables in memory: the generation file (made here, as the
 * daemon's user, when missing), the view's statements and its first load.
 * A first load that fails leaves the view stale: DEFER until it works.
 */
static void
server_view_start(struct server *srv)
{
	char err[512];

	if (store_gen_attach(srv->cfg->database_path, 1, err, sizeof err) == -1)
		log_warnx("view: %s: changes are seen within a second, not at once", err);
	if ((srv->view = view_new()) == NULL ||
	    (srv->sv = store_view_open(srv->st, err, sizeof err)) == NULL)
		fatalx("cannot make the view: out of memory");
	if (view_data_version_check(srv->view, srv->sv, err, sizeof err) == -1)
		log_warnx("view: cannot load it, answering DEFER until it loads: %s", err);
	else
		log_info("view: loaded, %zu KiB", view_memory(srv->view) / 1024);
	memset(&srv->chk, 0, sizeof srv->chk);
	srv->chk.st = srv->st;
	srv->chk.hist = srv->hist;
	srv->chk.sv = srv->sv;
	srv->chk.view = srv->view;
	srv->chk.det = srv->det;
	srv->chk.rec = srv->rec;
	srv->chk.pending = &srv->pending;
	check_env_config(&srv->chk, srv->cfg);
}

/* Create the signal, timer and reap events; start the user socket's thread. */
void
server_init_events(struct server *srv)
{
	struct timeval minute = { 60, 0 }, second = { 1, 0 };
	char err[1024];

	server_view_start(srv);
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->dead);
	TAILQ_INIT(&srv->idle);
	signal(SIGPIPE, SIG_IGN);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, server_signal_cb, srv);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, server_signal_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, server_signal_cb, srv);
	srv->sig_chld = evsignal_new(srv->base, SIGCHLD, server_chld_cb, srv);
	srv->accept_retry = evtimer_new(srv->base, server_accept_retry_cb, srv);
	srv->stop_timer = evtimer_new(srv->base, server_stop_timer_cb, srv);
	srv->reap = event_new(srv->base, -1, 0, conn_reap_cb, srv);
	srv->tick_timer = event_new(srv->base, -1, EV_PERSIST, server_tick_cb, srv);
	srv->view_timer = event_new(srv->base, -1, EV_PERSIST, server_view_timer_cb, srv);
	srv->done_ev = event_new(srv->base, srv->done_pipe[0], EV_READ | EV_PERSIST,
	    server_done_cb, srv);
	if (srv->sig_hup == NULL || srv->sig_term == NULL || srv->sig_int == NULL ||
	    srv->accept_retry == NULL || srv->stop_timer == NULL || srv->reap == NULL ||
	    srv->tick_timer == NULL || srv->sig_chld == NULL || srv->done_ev == NULL ||
	    srv->view_timer == NULL)
		fatalx("cannot create events");
	event_add(srv->done_ev, NULL);
	evsignal_add(srv->sig_chld, NULL);
	evsignal_add(srv->sig_hup, NULL);
	evsignal_add(srv->sig_term, NULL);
	evsignal_add(srv->sig_int, NULL);
	evtimer_add(srv->tick_timer, &minute);
	evtimer_add(srv->view_timer, &second);
	/* after daemon(): a thread does not survive fork */
	if ((srv->us = usersock_start(srv->conf_path, srv->cfg, srv->user_fd, err,
	    sizeof err)) == NULL)
		fatalx("cannot serve the user socket: %s", err);
	srv->user_fd = -1;
	if (srv->metrics_fd != -1 && (srv->scrape = scrape_start(srv->cfg, srv->metrics_fd,
	    err, sizeof err)) == NULL)
		fatalx("cannot serve metrics.listen: %s", err);
	srv->metrics_fd = -1;
}

/* After the loop: free what is left; the writer writes what is queued. */
void
server_shutdown(struct server *srv)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv->conns)) != NULL)
		conn_close(c);
	conn_reap_cb(-1, 0, srv);
	conn_idle_free(srv);
	usersock_stop(srv->us);
	srv->us = NULL;
	scrape_stop(srv->scrape);
	srv->scrape = NULL;
	recorder_stop(srv->rec, server_done_one, srv);
	srv->rec = NULL;
	while (srv->pending != NULL)
		server_pending_done(srv, srv->pending->account, 0);
	detect_free(srv->det);
	srv->det = NULL;
	server_unlisten(srv);
	event_free(srv->sig_chld);
	event_free(srv->sig_hup);
	event_free(srv->sig_term);
	event_free(srv->sig_int);
	event_free(srv->accept_retry);
	event_free(srv->stop_timer);
	event_free(srv->reap);
	event_free(srv->tick_timer);
	event_free(srv->view_timer);
	store_view_close(srv->sv);
	srv->sv = NULL;
	view_free(srv->view);
	srv->view = NULL;
	event_free(srv->done_ev);
	close(srv->done_pipe[0]);
	close(srv->done_pipe[1]);
}

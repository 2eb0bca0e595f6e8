/*
 * mailabused: the policy daemon Exim asks, for every outgoing message,
 * whether the sending cPanel account may send.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "detect.h"
#include "history.h"
#include "notify.h"
#include "log.h"
#include "metrics.h"
#include "priv.h"
#include "recorder.h"
#include "server.h"
#include "store.h"

/* The daemon's queries must never wait long on a writer. */
#define DAEMON_BUSY_TIMEOUT_MS 100

static void
usage(FILE *f)
{
	fprintf(f, "usage: mailabused [-fnv] [-c FILE]\n"
	    "       mailabused [-c FILE] -N ACCOUNT\n"
	    "       mailabused --help | --version\n");
	exit(f == stdout ? 0 : EX_USAGE);
}

/* Free the listeners and remove their sockets: a start that failed late. */
static void
listen_undo(struct server *srv)
{
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
		unlink(srv->cfg->policy_socket_path);
	}
	if (srv->user_fd != -1) {
		close(srv->user_fd);	/* its thread is not started yet */
		srv->user_fd = -1;
		unlink(srv->cfg->user_socket_path);
	}
	if (srv->metrics_fd != -1) {
		close(srv->metrics_fd);
		srv->metrics_fd = -1;
		if (srv->cfg->metrics_listen[0] == '/')
			unlink(srv->cfg->metrics_listen);
	}
}

/*
 * The privileged part of the start, short and before the first request:
 * the pid file (locked: a second daemon stops here), the database
 * directory and files for the user, the sockets with their mode and
 * group; then the drop to the user.  0, or an exit status with err.
 */
static int
privileged_start(struct server *srv, int *pidfd, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	char hpath[PATH_MAX];
	int r;

	if ((r = priv_pidfile_open(cfg->pid_file, pidfd, err, errlen)) != 0)
		return r;
	history_path(cfg, hpath, sizeof hpath);
	if ((r = priv_db_prepare(cfg->database_path, err, errlen)) != 0 ||
	    (r = priv_db_prepare(hpath, err, errlen)) != 0)
		return r;
	if ((srv->base = event_base_new()) == NULL) {
		snprintf(err, errlen, "cannot create the event base");
		return EX_OSERR;
	}
	if (server_listen(srv, err, errlen) == -1)
		return EX_UNAVAILABLE;
	if ((r = priv_drop(err, errlen)) != 0) {
		listen_undo(srv);
		return r;
	}
	return 0;
}

/*
 * -N ACCOUNT: send the account's queued notices and exit.  The daemon
 * runs this in a child after a self-service unblock, so that its event
 * loop never waits on notify.sendmail.
 */
static int
notify_only(struct config *cfg, const char *account)
{
	struct store *st;
	char err[1024];
	int sent, failed, given_up, r = 0;

	if ((st = store_open(cfg->database_path, cfg->database_busy_timeout * 1000, err,
	    sizeof err)) == NULL) {
		log_warnx("notices of %s stay queued: %s", account, err);
		r = EX_UNAVAILABLE;
	} else if (notify_send_due(st, cfg, account, clock_now(), &sent, &failed,
	    &given_up) == -1) {
		log_warnx("notices of %s stay queued: %s", account, store_error(st));
		r = EX_UNAVAILABLE;
	}
	store_close(st);
	config_free(cfg);
	free(cfg);
	return r;
}

int
main(int argc, char **argv)
{
	struct server srv;
	struct config *cfg;
	const char *conf = MAILABUSE_CONF;
	char err[1024], abspath[PATH_MAX], hpath[PATH_MAX];
	int ch, foreground = 0, check_only = 0, verbose = 0, pidfd = -1, r;
	const char *notify_account = NULL;

	/* Nothing we create is for other users: the database least of all. */
	umask(077);
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};

	opterr = 0;	/* our messages name the program, not argv[0] */
	while ((ch = getopt_long(argc, argv, ":c:fnvN:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			break;
		case 'V':
			printf("mailabused %s\n", MAILABUSE_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "mailabused: option %s needs a value\n", argv[optind - 1]);
			usage(stderr);
			break;
		case '?':
			if (optopt != 0)
				fprintf(stderr, "mailabused: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "mailabused: unknown option %s\n", argv[optind - 1]);
			usage(stderr);
			break;
		case 'c':
			conf = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'N':
			notify_account = optarg;
			break;
		default:
			usage(stderr);
		}
	}
	if (optind != argc)
		usage(stderr);
	/* SIGHUP re-reads this path after the daemon has moved to "/". */
	if (realpath(conf, abspath) != NULL)
		conf = abspath;

	log_init("mailabused", 1, LOG_LEVEL_INFO);
	if ((cfg = calloc(1, sizeof *cfg)) == NULL)
		fatal("calloc");
	if (config_load_file(conf, cfg, err, sizeof err) == -1) {
		fprintf(stderr, "mailabused: %s\n", err);
		free(cfg);
		return EX_CONFIG;
	}
	if ((r = priv_user_init(cfg->user, err, sizeof err)) != 0) {
		fprintf(stderr, "mailabused: %s: %s\n", conf, err);
		config_free(cfg);
		free(cfg);
		return r;
	}
	if (check_only) {
		if (verbose)
			config_print(cfg);
		printf("configuration OK\n");
		config_free(cfg);
		free(cfg);
		return 0;
	}
	log_init("mailabused", 1, cfg->log_level_choice);
	/* Not root: already the user (systemd User=), or refused right here. */
	if ((!priv_is_root() || notify_account != NULL) &&
	    (r = priv_drop(err, sizeof err)) != 0) {
		fprintf(stderr, "mailabused: %s\n", err);
		config_free(cfg);
		free(cfg);
		return r;
	}
	if (notify_account != NULL)
		return notify_only(cfg, notify_account);

	memset(&srv, 0, sizeof srv);
	config_web_uids_resolve(cfg);
	srv.cfg = cfg;
	srv.conf_path = conf;
	if ((r = privileged_start(&srv, &pidfd, err, sizeof err)) != 0) {
		fprintf(stderr, "mailabused: %s\n", err);
		priv_pidfile_remove(pidfd, cfg->pid_file);
		if (srv.base != NULL)
			event_base_free(srv.base);
		config_free(cfg);
		free(cfg);
		return r;
	}
	/*
	 * From here on we are the user.  Open once so that errors reach the
	 * terminal (and the records of before the history file are moved to it).
	 */
	history_path(cfg, hpath, sizeof hpath);
	if ((srv.st = store_open(cfg->database_path, cfg->database_busy_timeout * 1000,
	    err, sizeof err)) == NULL || (srv.hist = history_open(hpath, cfg->database_path,
	    cfg->database_busy_timeout * 1000, err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabused: cannot open database as user %s (uid %lu; its"
		    " directory and files must belong to %s): %s\n", priv_user_name(),
		    (unsigned long)priv_uid(), priv_user_name(), err);
		store_close(srv.st);
		listen_undo(&srv);
		priv_pidfile_remove(pidfd, cfg->pid_file);
		event_base_free(srv.base);
		config_free(cfg);
		free(cfg);
		return EX_CANTCREAT;
	}
	history_close(srv.hist);
	store_close(srv.st);
	srv.hist = NULL;
	srv.st = NULL;

	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("mailabused", 0, cfg->log_level_choice);
		if (event_reinit(srv.base) == -1)
			fatalx("event_reinit");
	}
	if (priv_pidfile_write(pidfd, err, sizeof err) != 0)
		fatalx("%s: %s", cfg->pid_file, err);
	if ((srv.st = store_open(cfg->database_path, DAEMON_BUSY_TIMEOUT_MS, err,
	    sizeof err)) == NULL)
		fatalx("cannot open database: %s", err);
	if ((srv.hist = history_open(hpath, cfg->database_path, DAEMON_BUSY_TIMEOUT_MS, err,
	    sizeof err)) == NULL)
		fatalx("cannot open the history: %s", err);
	if (pipe2(srv.done_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	if ((srv.det = detect_new()) == NULL)
		fatalx("out of memory");
	if (server_detect_rebuild(&srv) == -1)
		log_warnx("detection: cannot read the last hour, windows start empty: %s",
		    history_error(srv.hist));
	/* after daemon(): a thread does not survive fork */
	if ((srv.rec = recorder_start(cfg, srv.done_pipe[1], err, sizeof err)) == NULL)
		fatalx("cannot start the writer: %s", err);
	metrics_started(clock_now());
	server_init_events(&srv);
	log_info("mailabused %s listening on %s, database %s, as user %s", MAILABUSE_VERSION,
	    cfg->policy_socket_path, cfg->database_path, priv_user_name());

	event_base_dispatch(srv.base);

	server_shutdown(&srv);
	priv_pidfile_remove(pidfd, srv.cfg->pid_file);
	history_close(srv.hist);
	store_close(srv.st);
	event_base_free(srv.base);
	log_info("stopped");
	config_free(srv.cfg);
	free(srv.cfg);
	return 0;
}

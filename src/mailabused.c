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
#include "notify.h"
#include "log.h"
#include "recorder.h"
#include "server.h"
#include "store.h"

#ifndef MAILABUSE_CONF
#define MAILABUSE_CONF "/etc/mailabuse/mailabused.conf"
#endif
#ifndef MAILABUSE_VERSION
#define MAILABUSE_VERSION "0"
#endif

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

/* Write the pid file, if configured. */
static void
pidfile_write(const char *path)
{
	char buf[32];
	int fd, n;

	if (path[0] == '\0')
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) == -1)
		fatal("%s", path);
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n)
		fatal("%s", path);
	close(fd);
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
	char err[1024], abspath[PATH_MAX];
	enum log_level lvl = LOG_LEVEL_INFO;
	int ch, foreground = 0, check_only = 0, verbose = 0;
	const char *notify_account = NULL;

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
	if (check_only) {
		if (verbose)
			config_print(cfg);
		printf("configuration OK\n");
		config_free(cfg);
		free(cfg);
		return 0;
	}
	(void)log_level_parse(cfg->log_level, &lvl);
	log_init("mailabused", 1, lvl);
	if (notify_account != NULL)
		return notify_only(cfg, notify_account);

	memset(&srv, 0, sizeof srv);
	srv.cfg = cfg;
	srv.conf_path = conf;
	/* Open once in the parent so that errors reach the terminal. */
	if ((srv.st = store_open(cfg->database_path, cfg->database_busy_timeout * 1000,
	    err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabused: cannot open database: %s\n", err);
		config_free(cfg);
		free(cfg);
		return EX_UNAVAILABLE;
	}
	store_close(srv.st);
	srv.st = NULL;

	if ((srv.base = event_base_new()) == NULL)
		fatalx("cannot create the event base");
	if (server_listen(&srv, err, sizeof err) == -1) {
		fprintf(stderr, "mailabused: %s\n", err);
		event_base_free(srv.base);
		config_free(cfg);
		free(cfg);
		return EX_UNAVAILABLE;
	}
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init("mailabused", 0, lvl);
		if (event_reinit(srv.base) == -1)
			fatalx("event_reinit");
	}
	if ((srv.st = store_open(cfg->database_path, DAEMON_BUSY_TIMEOUT_MS, err,
	    sizeof err)) == NULL)
		fatalx("cannot open database: %s", err);
	if (pipe2(srv.done_pipe, O_CLOEXEC | O_NONBLOCK) == -1)
		fatal("pipe");
	if ((srv.det = detect_new()) == NULL)
		fatalx("out of memory");
	if (server_detect_rebuild(&srv) == -1)
		log_warnx("detection: cannot read the last hour, windows start empty: %s",
		    store_error(srv.st));
	/* after daemon(): a thread does not survive fork */
	if ((srv.rec = recorder_start(conf, srv.done_pipe[1], err, sizeof err)) == NULL)
		fatalx("cannot start the writer: %s", err);
	server_init_events(&srv);
	pidfile_write(cfg->pid_file);
	log_info("mailabused %s listening on %s, database %s", MAILABUSE_VERSION,
	    cfg->policy_socket_path, cfg->database_path);

	event_base_dispatch(srv.base);

	server_shutdown(&srv);
	if (srv.cfg->pid_file[0] != '\0')
		unlink(srv.cfg->pid_file);
	store_close(srv.st);
	event_base_free(srv.base);
	log_info("stopped");
	config_free(srv.cfg);
	free(srv.cfg);
	return 0;
}

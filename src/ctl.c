/*
 * mailabusectl: the administrator's command line.  It works on the
 * database directly, whether or not the daemon runs; the daemon reads
 * every change on its next query.
 */
#include <ctype.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "identity.h"
#include "log.h"

#ifndef MAILABUSE_CONF
#define MAILABUSE_CONF "/etc/mailabuse/mailabused.conf"
#endif

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	const char *usage;
} ctl_commands[] = {
	{ "sync", cmd_sync, "sync" },
	{ "suspend", cmd_suspend, "suspend TARGET --reason TEXT [--source SOURCE]" },
	{ "unsuspend", cmd_unsuspend, "unsuspend TARGET --reason TEXT" },
	{ "status", cmd_status, "status ACCOUNT [--json]" },
	{ "list", cmd_list, "list [--state active|suspended|removed] [--json]" },
	{ "history", cmd_history, "history ACCOUNT [--limit N] [--json]" },
};
#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])

static void
ctl_usage(FILE *f)
{
	fprintf(f, "usage: mailabusectl [-c FILE] COMMAND [ARGS]\n");
	for (size_t i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(f, "       mailabusectl [-c FILE] %s\n", ctl_commands[i].usage);
}

/* Report a usage error on stderr; returns EX_USAGE. */
int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mailabusectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return EX_USAGE;
}

/* Report a database failure; returns EX_UNAVAILABLE. */
int
ctl_db_error(struct ctl *c, const char *what)
{
	fprintf(stderr, "mailabusectl: %s: database error: %s\n", what,
	    c->st != NULL ? store_error(c->st) : "not open");
	if (c->st != NULL)
		store_rollback(c->st);
	return EX_UNAVAILABLE;
}

/* Open the database on first use; 0 or an exit status. */
int
ctl_store(struct ctl *c)
{
	char err[1024];

	if (c->st != NULL)
		return 0;
	if ((c->st = store_open(c->cfg.database_path, c->cfg.database_busy_timeout * 1000,
	    err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabusectl: cannot open database: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* ISO 8601 in UTC; "-" for 0. */
void
ctl_time_format(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Print a JSON document on stdout and release it. */
int
ctl_json_print(json_t *j)
{
	if (j == NULL) {
		fprintf(stderr, "mailabusectl: out of memory\n");
		return EX_SOFTWARE;
	}
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return 0;
}

/* Lookups identity_domain_owner needs, answered from the store. */
static int
ctl_domain_owner_cb(void *ctx, const char *domain, char *account, size_t len)
{
	return store_domain_owner(ctx, domain, account, len);
}

/*
 * A suspension target: an account name, or a mailbox local@domain
 * whose domain an account owns.  Returns 0, or an exit status after
 * saying what is wrong.
 */
int
ctl_target_resolve(struct ctl *c, const char *target, char *norm, size_t normlen,
    char *account, size_t acclen, int *is_mailbox)
{
	const char *at = strrchr(target, '@');
	struct identity_lookup lk = { ctl_domain_owner_cb, NULL, NULL, c->st };
	int r;

	if (strlen(target) >= normlen) {
		fprintf(stderr, "mailabusectl: %s: target too long\n", target);
		return EX_USAGE;
	}
	for (size_t i = 0; i == 0 || target[i - 1] != '\0'; i++)
		norm[i] = (char)tolower((unsigned char)target[i]);
	if (at != NULL) {
		*is_mailbox = 1;
		if (at == target || at[1] == '\0') {
			fprintf(stderr, "mailabusectl: %s: not a mailbox address\n", target);
			return EX_USAGE;
		}
		if ((r = identity_domain_owner(&lk, at + 1, account, acclen)) == -1)
			return ctl_db_error(c, "domain lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no account owns domain %s"
			    " (run 'mailabusectl sync'?)\n", target, at + 1);
			return EX_NOINPUT;
		}
		return 0;
	}
	*is_mailbox = 0;
	if (!identity_account_name_valid(norm)) {
		fprintf(stderr, "mailabusectl: %s: not a valid account name\n", target);
		return EX_USAGE;
	}
	{
		struct account a;

		if ((r = store_account_get(c->st, norm, &a)) == -1)
			return ctl_db_error(c, "account lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no such account"
			    " (run 'mailabusectl sync'?)\n", target);
			return EX_NOINPUT;
		}
	}
	snprintf(account, acclen, "%s", norm);
	return 0;
}

/* Who is acting, for the audit log: the login name, and who used sudo. */
static void
ctl_actor_init(struct ctl *c)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char name[64];

	if (pw != NULL)
		snprintf(name, sizeof name, "%s", pw->pw_name);
	else
		snprintf(name, sizeof name, "uid %lu", (unsigned long)getuid());
	if (getuid() == 0 && sudo != NULL && *sudo != '\0')
		snprintf(c->actor, sizeof c->actor, "%.40s (sudo by %.40s)", name, sudo);
	else
		snprintf(c->actor, sizeof c->actor, "%s", name);
}

int
main(int argc, char **argv)
{
	struct ctl c;
	const char *conf = MAILABUSE_CONF;
	char err[1024];
	int ch, r;

	memset(&c, 0, sizeof c);
	log_init("mailabusectl", 1, LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		default:
			ctl_usage(stderr);
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
		if (strcmp(argv[0], ctl_commands[i].name) != 0)
			continue;
		if (config_load_file(conf, &c.cfg, err, sizeof err) == -1) {
			fprintf(stderr, "mailabusectl: %s\n", err);
			return EX_CONFIG;
		}
		c.now = clock_now();
		ctl_actor_init(&c);
		optind = 0;	/* glibc: rescan from argv[1] */
		r = ctl_commands[i].fn(&c, argc, argv);
		store_close(c.st);
		config_free(&c.cfg);
		if (fflush(stdout) != 0 && r == 0)
			r = EX_IOERR;
		return r;
	}
	fprintf(stderr, "mailabusectl: unknown command '%s'\n", argv[0]);
	ctl_usage(stderr);
	return EX_USAGE;
}

/*
 * mailabusectl: the administrator's command line.  It works on the
 * database directly, whether or not the daemon runs; the daemon reads
 * every change on its next query.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
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
#include "duration.h"
#include "history.h"
#include "identity.h"
#include "log.h"
#include "notify.h"
#include "priv.h"
#include "proto.h"
#include "str.h"

#ifndef MAILABUSE_CONF
#define MAILABUSE_CONF "/etc/mailabuse/mailabused.conf"
#endif
#ifndef MAILABUSE_VERSION
#define MAILABUSE_VERSION "0"
#endif

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	int owner;		/* account owners may run it (through the user socket) */
	const char *usage;
} ctl_commands[] = {
	{ "sync", cmd_sync, 0, "sync [--account USER] [--force] [--json]" },
	{ "suspend", cmd_suspend, 0, "suspend TARGET --reason TEXT [--source SOURCE] [--json]" },
	{ "unsuspend", cmd_unsuspend, 0, "unsuspend TARGET --reason TEXT [--no-count] [--json]" },
	{ "complaint", cmd_complaint, 0, "complaint add ACCOUNT --ref TEXT [--source SOURCE]"
	    " [--window DURATION] [--suspend] [--json]\n"
	    "       mailabusectl [-c FILE] complaint list ACCOUNT [--json]\n"
	    "       mailabusectl [-c FILE] complaint close ID --reason TEXT [--json]" },
	{ "unblock", cmd_unblock, 1, "unblock [ACCOUNT] [--json]" },
	{ "status", cmd_status, 1, "status [ACCOUNT] [--json]" },
	{ "list", cmd_list, 0, "list [--state active|suspended|removed] [--json]" },
	{ "history", cmd_history, 1, "history [ACCOUNT] [--since DURATION] [--messages]"
	    " [--limit N] [--json]" },
	{ "top", cmd_top, 0, "top [--since DURATION] [--limit N] [--json]" },
	{ "limits", cmd_limits, 0, "limits ACCOUNT [DETECTOR=LIMIT[/ACTION]|DETECTOR=off"
	    "|DETECTOR=default ...] [--reason TEXT] [--json]" },
	{ "expire", cmd_expire, 0, "expire [--json]" },
	{ "export", cmd_export, 0, "export ACCOUNT [--with-history] [--output FILE] [--json]" },
	{ "import", cmd_import, 0, "import FILE [--as USER] [--force] [--with-history] [--json]" },
	{ "doctor", cmd_doctor, 0, "doctor [--exim-user USER] [--exim PATH] [--exim-config FILE]"
	    " [--cron-file FILE] [--json]" },
	{ "frozen", cmd_frozen, 0, "frozen [--release] [--json] [--exim PATH] [--exim-config FILE]" },
};
#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])

static void
ctl_usage(FILE *f)
{
	fprintf(f, "usage: mailabusectl [-c FILE] COMMAND [ARGS]\n");
	for (size_t i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(f, "       mailabusectl [-c FILE] %s\n", ctl_commands[i].usage);
	fprintf(f, "       mailabusectl --help | --version\n"
	    "As root, --actor NAME before COMMAND records NAME as who acts in the audit.\n"
	    "The configuration is -c FILE, else $MAILABUSE_CONF, else %s.\n", MAILABUSE_CONF);
}

/*
 * getopt_long for a command's options, with errors that name the program
 * and the command ("mailabusectl: limits: unknown option --x") instead of
 * getopt's own, which would name argv[0], the command.  Returns the
 * option, -1 at the end, or '?' after a message.
 */
int
ctl_getopt(int argc, char **argv, const struct option *opts)
{
	int ch, saved = opterr;

	opterr = 0;
	ch = getopt_long(argc, argv, ":", opts, NULL);
	opterr = saved;
	if (ch == '?' || ch == ':') {
		const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		if (optopt != 0 && ch == '?')
			fprintf(stderr, "mailabusectl: %s: unknown option -%c\n", argv[0], optopt);
		else if (ch == '?')
			fprintf(stderr, "mailabusectl: %s: unknown option %s\n", argv[0], arg);
		else
			fprintf(stderr, "mailabusectl: %s: option %s needs a value\n", argv[0], arg);
		return '?';
	}
	return ch;
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

/* A history error: say it, roll back what was begun; the exit status. */
int
ctl_history_error(struct ctl *c, const char *what)
{
	fprintf(stderr, "mailabusectl: %s: history error: %s\n", what,
	    c->hist != NULL ? history_error(c->hist) : "not open");
	if (c->hist != NULL)
		history_rollback(c->hist);
	if (c->st != NULL)
		store_rollback(c->st);
	return EX_UNAVAILABLE;
}

/* Open the database on first use; 0 or an exit status. */
int
ctl_store(struct ctl *c)
{
	char err[1024];
	int r;

	if (c->st != NULL)
		return 0;
	/* root creates the database for the daemon's user: private, and the daemon's */
	if (priv_is_root() && ((r = priv_user_init(c->cfg.user, err, sizeof err)) != 0 ||
	    (r = priv_db_prepare(c->cfg.database_path, err, sizeof err)) != 0)) {
		fprintf(stderr, "mailabusectl: cannot open database: %s\n", err);
		return r == EX_NOUSER ? r : EX_UNAVAILABLE;
	}
	if ((c->st = store_open(c->cfg.database_path, c->cfg.database_busy_timeout * 1000,
	    err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabusectl: cannot open database: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* Open the database and the history on first use; 0 or an exit status. */
int
ctl_history(struct ctl *c)
{
	char err[1024], path[PATH_MAX];
	int r;

	if (c->hist != NULL)
		return 0;
	/* the policy database first: its migrations hand the old records over */
	if ((r = ctl_store(c)) != 0)
		return r;
	history_path(&c->cfg, path, sizeof path);
	if (priv_is_root() && (r = priv_db_prepare(path, err, sizeof err)) != 0) {
		fprintf(stderr, "mailabusectl: cannot open the history: %s\n", err);
		return r == EX_NOUSER ? r : EX_UNAVAILABLE;
	}
	if ((c->hist = history_open(path, c->cfg.database_path,
	    c->cfg.database_busy_timeout * 1000, err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabusectl: cannot open the history: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}


#define CTL_ESC_RING 16
#define CTL_ESC_LEN 8192

/*
 * A value from outside, escaped for the terminal (str_escape): every
 * text printer passes such values through here.  The result stays valid
 * for the next CTL_ESC_RING - 1 calls, enough for one printf.
 */
const char *
ctl_esc(const char *s)
{
	static char ring[CTL_ESC_RING][CTL_ESC_LEN];
	static unsigned next;
	char *b = ring[next++ % CTL_ESC_RING];

	return str_escape(s, b, CTL_ESC_LEN);
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
		fprintf(stderr, "mailabusectl: %s: target too long\n", ctl_esc(target));
		return EX_USAGE;
	}
	for (size_t i = 0; i == 0 || target[i - 1] != '\0'; i++)
		norm[i] = (char)tolower((unsigned char)target[i]);
	if (at != NULL) {
		char dom[256];
		size_t ll = (size_t)(at - target);

		*is_mailbox = 1;
		/* The normal form the daemon matches: local part and domain lower case. */
		if (ll == 0 || identity_domain_normalise(at + 1, dom, sizeof dom) == -1) {
			fprintf(stderr, "mailabusectl: %s: not a mailbox address\n",
			    ctl_esc(target));
			return EX_USAGE;
		}
		for (size_t i = 0; i < ll; i++) {
			unsigned char ch = (unsigned char)target[i];

			if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '"' || ch == '\\') {
				fprintf(stderr, "mailabusectl: %s: not a mailbox address\n",
				    ctl_esc(target));
				return EX_USAGE;
			}
		}
		snprintf(norm + ll, normlen - ll, "@%s", dom);
		if ((r = identity_domain_owner(&lk, dom, account, acclen)) == -1)
			return ctl_db_error(c, "domain lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no account owns domain %s"
			    " (run 'mailabusectl sync'?)\n", ctl_esc(target), dom);
			return EX_NOINPUT;
		}
		return 0;
	}
	*is_mailbox = 0;
	if (!identity_account_name_valid(norm)) {
		fprintf(stderr, "mailabusectl: %s: not a valid account name\n", ctl_esc(target));
		return EX_USAGE;
	}
	{
		struct account a;

		if ((r = store_account_get(c->st, norm, &a)) == -1)
			return ctl_db_error(c, "account lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no such account"
			    " (run 'mailabusectl sync'?)\n", ctl_esc(target));
			return EX_NOINPUT;
		}
	}
	snprintf(account, acclen, "%s", norm);
	return 0;
}

/* An account named on the command line, lower-cased as cPanel's are. */
const char *
ctl_account_arg(const char *name, char *buf, size_t len)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

/* A complaint or suspension source: a short word. */
int
ctl_source_valid(const char *source)
{
	size_t n = strlen(source);

	if (n == 0 || n > 31)
		return 0;
	for (const char *p = source; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

/* Whether we act on the database directly (root) or through the user socket. */
int
ctl_is_root(void)
{
	return getuid() == 0;
}

/* Send an account's queued notices now; what fails stays queued for expire. */
void
ctl_notices_send(struct ctl *c, const char *account)
{
	int sent, failed, given_up;

	if (notify_send_due(c->st, &c->cfg, account, c->now, &sent, &failed, &given_up) == -1)
		fprintf(stderr, "mailabusectl: notices stay queued: %s\n", store_error(c->st));
	else {
		if (failed > 0)
			fprintf(stderr, "mailabusectl: %d notice%s not sent yet; 'mailabusectl"
			    " expire' retries\n", failed, failed == 1 ? "" : "s");
		if (given_up > 0)
			fprintf(stderr, "mailabusectl: %d notice%s given up after failing for"
			    " notify.give_up\n", given_up, given_up == 1 ? "" : "s");
	}
}

/*
 * The daemon's user-socket errors start with an enhanced status code
 * ("5.7.1 permission denied ..."): meant for programs, not for the
 * owner reading the message.  The text after it.
 */
static const char *
ctl_plain_words(const char *text)
{
	const char *p = text;

	if (*p < '2' || *p > '5' || p[1] != '.')
		return text;
	p += 2;
	for (int part = 0; part < 2; part++) {
		const char *q = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q || p - q > 3 || *p != (part == 0 ? '.' : ' '))
			return text;
		p++;
	}
	return p;
}

/*
 * Ask the daemon's user socket (for a user other than root): the daemon
 * decides from our uid which account we may see.  Returns 0 with *out,
 * CTL_REFUSED with *out (a refused unblock), or an exit status after a
 * message.
 */
int
ctl_user_request(struct ctl *c, const char *verb, const char *account,
    const char *limit, const char *since, json_t **out)
{
	struct sockaddr_un sun;
	char req[512], enc[256], *reply = NULL, *sp;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	ssize_t n;
	int fd, r;

	*out = NULL;
	r = snprintf(req, sizeof req, "%s %s", PROTO_VERSION, verb);
	if (account != NULL && proto_base64_encode(account, strlen(account), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " account=%s", enc);
	if (limit != NULL && proto_base64_encode(limit, strlen(limit), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " limit=%s", enc);
	if (since != NULL && proto_base64_encode(since, strlen(since), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " since=%s", enc);
	snprintf(req + r, sizeof req - (size_t)r, "\n");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", c->cfg.user_socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s (is mailabused running?)\n",
		    c->cfg.user_socket_path, strerror(errno));
		if (fd != -1)
			close(fd);
		return EX_UNAVAILABLE;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || shutdown(fd, SHUT_WR) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s\n", c->cfg.user_socket_path, strerror(errno));
		close(fd);
		return EX_UNAVAILABLE;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nr;

			cap = cap ? cap * 2 : 16384;
			if (cap > 16 * 1024 * 1024 || (nr = realloc(reply, cap)) == NULL) {
				free(reply);
				close(fd);
				fprintf(stderr, "mailabusectl: reply too large\n");
				return EX_PROTOCOL;
			}
			reply = nr;
		}
		if ((n = read(fd, reply + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (reply == NULL || len == 0) {
		free(reply);
		fprintf(stderr, "mailabusectl: no answer from %s\n", c->cfg.user_socket_path);
		return EX_UNAVAILABLE;
	}
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	sp = strchr(reply, ' ');
	if (sp != NULL)
		*sp++ = '\0';
	if (strcmp(reply, "OK") == 0 || strcmp(reply, "REFUSED") == 0) {
		r = strcmp(reply, "OK") == 0 ? 0 : CTL_REFUSED;
		if (sp == NULL || (*out = json_loads(sp, 0, &jerr)) == NULL) {
			free(reply);
			fprintf(stderr, "mailabusectl: malformed answer from the daemon\n");
			return EX_PROTOCOL;
		}
		free(reply);
		return r;
	}
	fprintf(stderr, "mailabusectl: %s\n", ctl_esc(sp != NULL ? ctl_plain_words(sp) : reply));
	r = strcmp(reply, "DEFER") == 0 ? EX_TEMPFAIL :
	    sp != NULL && strncmp(sp, "5.7.1", 5) == 0 ? EX_NOPERM :
	    sp != NULL && strncmp(sp, "5.1.1", 5) == 0 ? EX_NOINPUT : EX_PROTOCOL;
	free(reply);
	return r;
}

/* An --actor name: 1 to 64 characters of a user name (letters, digits, ._@+-). */
static int
ctl_actor_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("._@+-", *s) == NULL)
			return 0;
	return 1;
}

/* Who is acting, for the audit log: the login name, and who used sudo or
 * whom root acts for (--actor, e.g. the WHM user of the abuse desk's page). */
static void
ctl_actor_init(struct ctl *c, const char *for_whom)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char name[64];

	if (pw != NULL)
		snprintf(name, sizeof name, "%s", pw->pw_name);
	else
		snprintf(name, sizeof name, "uid %lu", (unsigned long)getuid());
	if (for_whom != NULL)
		snprintf(c->actor, sizeof c->actor, "%.64s (via %.40s)", for_whom, name);
	else if (getuid() == 0 && sudo != NULL && *sudo != '\0')
		snprintf(c->actor, sizeof c->actor, "%.40s (sudo by %.40s)", name, sudo);
	else
		snprintf(c->actor, sizeof c->actor, "%s", name);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "actor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c;
	const char *conf = getenv("MAILABUSE_CONF"), *for_whom = NULL;
	char err[1024];
	int ch, r;

	memset(&c, 0, sizeof c);
	umask(077);		/* the database is private to the daemon's user */
	log_init("mailabusectl", 1, LOG_LEVEL_WARN);
	/* -c FILE, else $MAILABUSE_CONF, else the compiled-in path */
	if (conf == NULL || *conf == '\0')
		conf = MAILABUSE_CONF;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'a':
			if (!ctl_is_root()) {
				fprintf(stderr, "mailabusectl: --actor is for root\n");
				return EX_NOPERM;
			}
			if (!ctl_actor_valid(optarg)) {
				fprintf(stderr, "mailabusectl: --actor: '%s' is not a user name"
				    " (1 to 64 of A-Z a-z 0-9 . _ @ + -)\n", ctl_esc(optarg));
				return EX_USAGE;
			}
			for_whom = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		case 'V':
			printf("mailabusectl %s\n", MAILABUSE_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "mailabusectl: option %s needs a value\n", argv[optind - 1]);
			ctl_usage(stderr);
			return EX_USAGE;
		default:
			if (optopt != 0)
				fprintf(stderr, "mailabusectl: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "mailabusectl: unknown option %s\n", argv[optind - 1]);
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
		if (!ctl_commands[i].owner && !ctl_is_root()) {
			fprintf(stderr, "mailabusectl: %s is for administrators (root); account"
			    " owners can use status, history and unblock\n", argv[0]);
			return EX_NOPERM;
		}
		c.conf_path = conf;
		if (config_load_file(conf, &c.cfg, err, sizeof err) == -1) {
			/* doctor says so among its other checks */
			if (ctl_commands[i].fn != cmd_doctor) {
				fprintf(stderr, "mailabusectl: %s\n", err);
				return EX_CONFIG;
			}
			c.conf_error = err;
		}
		c.now = clock_now();
		ctl_actor_init(&c, for_whom);
		optind = 0;	/* glibc: rescan from argv[1] */
		r = ctl_commands[i].fn(&c, argc, argv);
		history_close(c.hist);
		store_close(c.st);
		config_free(&c.cfg);
		if (fflush(stdout) != 0 && r == 0)
			r = EX_IOERR;
		return r;
	}
	fprintf(stderr, "mailabusectl: unknown command '%s'\n", ctl_esc(argv[0]));
	ctl_usage(stderr);
	return EX_USAGE;
}

/* A --since argument: a positive duration; 0, or EX_USAGE after a message. */
int
ctl_since_arg(const char *cmd, const char *arg, long long *since)
{
	char err[128] = "";

	if (duration_parse(arg, since, err, sizeof err) == -1 || *since < 1)
		return ctl_usage_error("%s: --since: %s", cmd, err[0] != '\0' ? err :
		    "must be positive");
	return 0;
}

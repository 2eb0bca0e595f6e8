/*
 * mailabusectl: the administrator's command line.  It works on the
 * database directly, whether or not the daemon runs; the daemon reads
 * every change on its next query.  This file holds the table of
 * commands with the options each takes (parsed by ctl_args.c) and main;
 * each command is in its cmd_<verb>.c.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "history.h"
#include "log.h"

#define FLAG(n)		{ n, CTL_OPT_FLAG, 0, 0 }
#define TEXT(n)		{ n, CTL_OPT_TEXT, 0, 0 }
#define NUMBER(n, lo, hi) { n, CTL_OPT_NUMBER, lo, hi }

/* Every command, in the order --help lists them. */
static const struct cmd_entry ctl_commands[] = {
	{ "sync", "sync [--account USER] [--force] [--json]",
	    { TEXT("account"), FLAG("force") }, 0, 0,
	    "usage: sync [--account USER] [--force] [--json]", 0, cmd_sync },
	{ "suspend", "suspend TARGET --reason TEXT [--source SOURCE] [--json]",
	    { TEXT("reason"), TEXT("source") }, 1, 1,
	    "usage: suspend TARGET --reason TEXT", 0, cmd_suspend },
	{ "unsuspend", "unsuspend TARGET --reason TEXT [--no-count] [--json]",
	    { TEXT("reason"), FLAG("no-count") }, 1, 1,
	    "usage: unsuspend TARGET --reason TEXT", 0, cmd_unsuspend },
	{ "complaint add", "complaint add ACCOUNT --ref TEXT [--source SOURCE]"
	    " [--window DURATION] [--suspend] [--json]",
	    { TEXT("ref"), TEXT("source"), TEXT("window"), FLAG("suspend") }, 1, 1,
	    "usage: complaint add ACCOUNT --ref TEXT [--source SOURCE]"
	    " [--window DURATION] [--suspend]", 0, cmd_complaint_add },
	{ "complaint list", "complaint list ACCOUNT [--json]", { { NULL, 0, 0, 0 } }, 1, 1,
	    "usage: complaint list ACCOUNT [--json]", 0, cmd_complaint_list },
	{ "complaint close", "complaint close ID --reason TEXT [--json]",
	    { TEXT("reason") }, 1, 1,
	    "usage: complaint close ID --reason TEXT", 0, cmd_complaint_close },
	{ "unblock", "unblock [ACCOUNT] [--json]", { { NULL, 0, 0, 0 } }, 0, 1,
	    "usage: unblock [ACCOUNT] [--json]", 1, cmd_unblock },
	{ "status", "status [ACCOUNT] [--json]", { { NULL, 0, 0, 0 } }, 0, 1,
	    "status: expected at most one account", 1, cmd_status },
	{ "list", "list [--state active|suspended|removed] [--json]",
	    { TEXT("state") }, 0, 0,
	    "list: expected 0 arguments", 0, cmd_list },
	{ "history", "history [ACCOUNT] [--since DURATION] [--messages] [--limit N] [--json]",
	    { TEXT("since"), FLAG("messages"), NUMBER("limit", 1, 1000000) }, 0, 1,
	    "history: expected at most one account", 1, cmd_history },
	{ "top", "top [--since DURATION] [--limit N] [--json]",
	    { TEXT("since"), NUMBER("limit", 1, 100000) }, 0, 0,
	    "top: no arguments expected", 0, cmd_top },
	{ "limits", "limits ACCOUNT [DETECTOR=LIMIT[/ACTION]|DETECTOR=off"
	    "|DETECTOR=default ...] [--reason TEXT] [--json]",
	    { TEXT("reason") }, 1, -1,
	    "limits: name the account", 0, cmd_limits },
	{ "expire", "expire [--json]", { { NULL, 0, 0, 0 } }, 0, 0,
	    "usage: expire [--json]", 0, cmd_expire },
	{ "export", "export ACCOUNT [--with-history] [--output FILE] [--json]",
	    { FLAG("with-history"), TEXT("output") }, 1, 1,
	    "usage: export ACCOUNT [--with-history] [--output FILE] [--json]", 0, cmd_export },
	{ "import", "import FILE [--as USER] [--force] [--with-history] [--json]",
	    { TEXT("as"), FLAG("force"), FLAG("with-history") }, 1, 1,
	    "usage: import FILE [--as USER] [--force] [--with-history] [--json]", 0, cmd_import },
	{ "doctor", "doctor [--exim-user USER] [--exim PATH] [--exim-config FILE]"
	    " [--cron-file FILE] [--json]",
	    { TEXT("exim-user"), TEXT("exim"), TEXT("exim-config"), TEXT("cron-file") }, 0, 0,
	    "doctor: no arguments expected", 0, cmd_doctor },
	{ "frozen", "frozen [--release] [--json] [--exim PATH] [--exim-config FILE]",
	    { FLAG("release"), TEXT("exim"), TEXT("exim-config") }, 0, 0,
	    NULL, 0, cmd_frozen },
	{ "stats", "stats [--json]", { { NULL, 0, 0, 0 } }, 0, 0,
	    "usage: stats [--json]", 0, cmd_stats },
};
#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])

/* The usage, on stdout for --help, on stderr after an error. */
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
 * The entry for the command line: argv[0], and argv[1] for a command
 * with subcommands ("complaint add"), when *sub is set on return.  NULL
 * after a usage error; *first is the first entry of the command's name.
 */
static const struct cmd_entry *
ctl_command_find(int argc, char **argv, const struct cmd_entry **first, int *sub)
{
	size_t len = strlen(argv[0]);
	char subs[128] = "";

	*first = NULL;
	*sub = 0;
	for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
		const char *name = ctl_commands[i].name;

		if (strncmp(name, argv[0], len) != 0 || (name[len] != '\0' && name[len] != ' '))
			continue;
		if (*first == NULL)
			*first = &ctl_commands[i];
		if (name[len] == '\0')
			return &ctl_commands[i];
		*sub = 1;
		if (argc > 1 && strcmp(name + len + 1, argv[1]) == 0)
			return &ctl_commands[i];
		snprintf(subs + strlen(subs), sizeof subs - strlen(subs), "%s%s",
		    subs[0] != '\0' ? "|" : "", name + len + 1);
	}
	if (*first == NULL)
		return NULL;
	if (argc < 2)
		ctl_usage_error("usage: %s %s ...", argv[0], subs);
	else
		ctl_usage_error("%s: unknown subcommand '%s'", argv[0], argv[1]);
	return NULL;
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

/* Whatever went to stdout reached it: 0, or EX_IOERR after a message. */
static int
ctl_stdout_flush(int r)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return r;
	fprintf(stderr, "mailabusectl: standard output: %s\n", strerror(errno));
	return r == 0 ? EX_IOERR : r;
}

/*
 * The options before the command: -c, --actor, --help, --version.
 * Returns -1 to go on to the command, else the exit status.
 */
static int
ctl_main_options(int argc, char **argv, const char **conf, const char **for_whom)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "actor", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*conf = optarg;
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
			*for_whom = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return ctl_stdout_flush(0);
		case 'V':
			printf("mailabusectl %s\n", MAILABUSE_VERSION);
			return ctl_stdout_flush(0);
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
	return -1;
}

/* Run one command: its configuration, its arguments, its function. */
static int
ctl_command_run(struct ctl *c, const struct cmd_entry *e, int argc, char **argv)
{
	struct ctl_args a;
	char err[1024];
	int r;

	if (config_load_file(c->conf_path, &c->cfg, err, sizeof err) == -1) {
		/* doctor says so among its other checks */
		if (e->exec != cmd_doctor) {
			fprintf(stderr, "mailabusectl: %s\n", err);
			return EX_CONFIG;
		}
		c->conf_error = err;
	}
	if ((r = ctl_args_parse(c, e, argc, argv, &a)) == 0)
		r = e->exec(c, &a);
	c->conf_error = NULL;
	history_close(c->hist);
	store_close(c->st);
	config_free(&c->cfg);
	return ctl_stdout_flush(r);
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *e, *first;
	struct ctl c;
	const char *conf = getenv("MAILABUSE_CONF"), *for_whom = NULL;
	int r, sub;

	memset(&c, 0, sizeof c);
	umask(077);		/* the database is private to the daemon's user */
	log_init("mailabusectl", 1, LOG_LEVEL_WARN);
	/* -c FILE, else $MAILABUSE_CONF, else the compiled-in path */
	if (conf == NULL || *conf == '\0')
		conf = MAILABUSE_CONF;
	if ((r = ctl_main_options(argc, argv, &conf, &for_whom)) != -1)
		return r;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		ctl_usage(stderr);
		return EX_USAGE;
	}
	e = ctl_command_find(argc, argv, &first, &sub);
	if (first == NULL) {
		fprintf(stderr, "mailabusectl: unknown command '%s'\n", ctl_esc(argv[0]));
		ctl_usage(stderr);
		return EX_USAGE;
	}
	if (!first->owner && !ctl_is_root()) {
		fprintf(stderr, "mailabusectl: %s is for administrators (root); account"
		    " owners can use status, history and unblock\n", argv[0]);
		return EX_NOPERM;
	}
	if (e == NULL)
		return EX_USAGE;
	c.conf_path = conf;
	c.now = clock_now();
	ctl_actor_init(&c, for_whom);
	return ctl_command_run(&c, e, argc - sub, argv + sub);
}

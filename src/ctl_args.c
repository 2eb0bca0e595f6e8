/*
 * The one parser of mailabusectl's command lines: a command's options
 * and arguments read against its entry in the table (ctl.c), with the
 * errors in the CLI's words, and the accessors the commands use.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/*
 * getopt_long for a command's options, with errors that name the program
 * and the command ("mailabusectl: limits: unknown option --x") instead of
 * getopt's own, which would name argv[0].  Returns the option's index
 * in opts, -1 at the end, or '?' after a message.
 */
static int
ctl_getopt(const char *cmd, int argc, char **argv, const struct option *opts)
{
	int ch, saved = opterr;

	opterr = 0;
	ch = getopt_long(argc, argv, ":", opts, NULL);
	opterr = saved;
	if (ch == '?' || ch == ':') {
		const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";

		if (optopt != 0 && optopt < 256 && ch == '?')
			fprintf(stderr, "mailabusectl: %s: unknown option -%c\n", cmd, optopt);
		else if (ch == '?')
			fprintf(stderr, "mailabusectl: %s: unknown option %s\n", cmd, arg);
		else
			fprintf(stderr, "mailabusectl: %s: option %s needs a value\n", cmd, arg);
		return '?';
	}
	return ch == -1 ? -1 : ch - 256;
}

/*
 * A whole number from min to max, the whole of text or up to the first
 * of the characters in stops; 0, or -1 when it is not.
 */
int
ctl_number_parse(const char *text, const char *stops, long long min, long long max,
    long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(text, &end, 10);
	if (end == text || errno != 0 || (*end != '\0' && strchr(stops, *end) == NULL))
		return -1;
	return *v < min || *v > max ? -1 : 0;
}

/* Record option i's value (a number checked against its range); 0 or EX_USAGE. */
static int
ctl_args_set(const struct cmd_entry *e, struct ctl_args *a, int i, const char *value)
{
	const struct ctl_opt *o = &e->opts[i];

	a->value[i] = value != NULL ? value : "";
	if (o->kind == CTL_OPT_NUMBER &&
	    ctl_number_parse(value, "", o->min, o->max, &a->number[i]) == -1)
		return ctl_usage_error("%s: --%s must be %lld to %lld", e->name, o->name,
		    o->min, o->max);
	return 0;
}

/*
 * Parse a command's options and arguments against its entry: argv[0] is
 * the command (or subcommand).  Fills a; 0, or EX_USAGE after a message.
 */
int
ctl_args_parse(struct ctl *c, const struct cmd_entry *e, int argc, char **argv,
    struct ctl_args *a)
{
	struct option lo[CTL_OPTS_MAX + 2];
	int n = 0, ch, r;

	memset(a, 0, sizeof *a);
	a->entry = e;
	for (; n < CTL_OPTS_MAX && e->opts[n].name != NULL; n++)
		lo[n] = (struct option){ e->opts[n].name, e->opts[n].kind == CTL_OPT_FLAG ?
		    no_argument : required_argument, NULL, 256 + n };
	lo[n] = (struct option){ "json", no_argument, NULL, 256 + CTL_OPTS_MAX };
	lo[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;	/* glibc: rescan from argv[1] */
	while ((ch = ctl_getopt(e->name, argc, argv, lo)) != -1) {
		if (ch == '?')
			return EX_USAGE;
		if (ch == CTL_OPTS_MAX)
			c->json = 1;
		else if ((r = ctl_args_set(e, a, ch, optarg)) != 0)
			return r;
	}
	a->argc = argc - optind;
	a->argv = argv + optind;
	if (a->argc >= e->min_args && (e->max_args < 0 || a->argc <= e->max_args))
		return 0;
	if (e->args_error != NULL)
		return ctl_usage_error("%s", e->args_error);
	return ctl_usage_error("%s: unexpected argument '%s'", e->name, a->argv[e->max_args]);
}

/* The index of a declared option (a misspelt name is a bug: abort). */
static int
ctl_args_index(const struct ctl_args *a, const char *name)
{
	for (int i = 0; i < CTL_OPTS_MAX && a->entry->opts[i].name != NULL; i++)
		if (strcmp(a->entry->opts[i].name, name) == 0)
			return i;
	fprintf(stderr, "mailabusectl: %s: no option --%s in its entry\n", a->entry->name, name);
	abort();
}

/* Whether the option was given. */
int
ctl_args_has(const struct ctl_args *a, const char *name)
{
	return a->value[ctl_args_index(a, name)] != NULL;
}

/* The option's value, or NULL when it was not given. */
const char *
ctl_args_get(const struct ctl_args *a, const char *name)
{
	return a->value[ctl_args_index(a, name)];
}

/* The option's value, or dflt when it was not given. */
const char *
ctl_args_text(const struct ctl_args *a, const char *name, const char *dflt)
{
	const char *v = ctl_args_get(a, name);

	return v != NULL ? v : dflt;
}

/* A CTL_OPT_NUMBER option's value, or dflt when it was not given. */
long long
ctl_args_number(const struct ctl_args *a, const char *name, long long dflt)
{
	int i = ctl_args_index(a, name);

	return a->value[i] != NULL ? a->number[i] : dflt;
}

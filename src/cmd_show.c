/*
 * mailabusectl status / list / history: the read-only commands, each
 * with --json for scripts and control-panel plugins.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "history.h"
#include "lifecycle.h"

/* Parse [--json] [--state S] [--limit N] and the positional arguments. */
static int
show_args(struct ctl *c, int argc, char **argv, int npos, const char **pos,
    const char **state, long long *limit)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int ch;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'j':
			c->json = 1;
			break;
		case 's':
			if (state == NULL)
				return ctl_usage_error("%s: --state is not an option here", argv[0]);
			if (strcmp(optarg, "active") != 0 && strcmp(optarg, "suspended") != 0 &&
			    strcmp(optarg, "removed") != 0)
				return ctl_usage_error("%s: --state must be active, suspended"
				    " or removed", argv[0]);
			*state = optarg;
			break;
		case 'l':
			if (limit == NULL)
				return ctl_usage_error("%s: --limit is not an option here", argv[0]);
			*limit = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || *limit < 1 || *limit > 1000000)
				return ctl_usage_error("%s: --limit must be 1 to 1000000", argv[0]);
			break;
		default:
			return EX_USAGE;
		}
	}
	if (npos == -1) {
		/* an optional account: an owner's own is the default */
		if (argc - optind > 1)
			return ctl_usage_error("%s: expected at most one account", argv[0]);
		if (argc - optind == 1)
			pos[0] = argv[optind];
		return 0;
	}
	if (argc - optind != npos)
		return ctl_usage_error("%s: expected %d argument%s", argv[0], npos,
		    npos == 1 ? "" : "s");
	for (int i = 0; i < npos; i++)
		pos[i] = argv[optind + i];
	return 0;
}



/* Get the status or history report: from the database as root, else from the daemon. */
static int
show_fetch(struct ctl *c, const char *verb, const char *name, long long limit,
    const char *since_text, long long since, json_t **j)
{
	char lim[32], lower[ACCOUNT_NAME_MAX];
	int r, rc;

	name = ctl_account_arg(name, lower, sizeof lower);
	if (!ctl_is_root()) {
		if (limit > 1000)
			return ctl_usage_error("history: --limit is at most 1000 for account owners");
		snprintf(lim, sizeof lim, "%lld", limit);
		if (strcmp(verb, "HISTORY") == 0)
			return ctl_user_request(c, verb, name, lim, since_text, j);
		return ctl_user_request(c, verb, name, NULL, NULL, j);
	}
	if (name == NULL)
		return ctl_usage_error("%s: name the account", verb);
	if ((r = strcmp(verb, "STATUS") == 0 ? ctl_store(c) : ctl_history(c)) != 0)
		return r;
	if (strcmp(verb, "STATUS") == 0)
		*j = lifecycle_status(c->st, &c->cfg, name, c->now, &rc);
	else
		*j = lifecycle_history(c->st, c->hist, name, c->now - since, c->now, limit, -1,
		    &rc);
	if (rc == LC_NOT_FOUND) {
		fprintf(stderr, "mailabusectl: %s: no such account\n", ctl_esc(name));
		return EX_NOINPUT;
	}
	if (rc != LC_OK && c->hist != NULL && history_error(c->hist)[0] != '\0')
		return ctl_history_error(c, verb);
	if (rc != LC_OK)
		return ctl_db_error(c, verb);
	return 0;
}

/* A string member, escaped for the terminal, or "-". */
static const char *
js(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL && *v != '\0' ? ctl_esc(v) : "-";
}

/* An integer member. */
static long long
ji(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	const char *name = NULL;
	json_t *j, *v;
	size_t i;
	int r;

	if ((r = show_args(c, argc, argv, -1, &name, NULL, NULL)) != 0)
		return r;
	if ((r = show_fetch(c, "STATUS", name, 0, NULL, 0, &j)) != 0)
		return r;
	if (c->json)
		return ctl_json_print(j);

	printf("account:      %s%s\n", js(j, "account"),
	    json_is_true(json_object_get(j, "in_cpanel")) ? "" : " (removed from cPanel)");
	printf("owner:        %s\n", js(j, "owner"));
	printf("contact:      %s\n", js(j, "contact"));
	printf("state:        %s\n", js(j, "state"));
	if (strcmp(js(j, "state"), "suspended") == 0) {
		printf("since:        %s\n", js(j, "since"));
		printf("reason:       %s\n", js(j, "reason"));
		printf("source:       %s (by %s)\n", js(j, "source"), js(j, "suspended_by"));
	}
	/* cPanel's own state, beside mailabuse's: cPanel's Exim enforces it, not mailabuse */
	if (json_is_string(json_object_get(j, "cpanel_outgoing")))
		printf("cpanel:       outgoing email %s in cPanel since %s (cPanel's own;"
		    " lifted in cPanel, not by unblock)\n", js(j, "cpanel_outgoing"),
		    js(j, "cpanel_outgoing_since"));
	else
		printf("cpanel:       outgoing email not suspended or held in cPanel\n");
	json_array_foreach(json_object_get(j, "complaints"), i, v)
		printf("complaint:    #%lld %s \"%s\" received %s, window %s %s\n",
		    (long long)json_integer_value(json_object_get(v, "id")), js(v, "source"),
		    js(v, "ref"), js(v, "received"),
		    json_is_true(json_object_get(v, "window_open")) ? "open until" : "ended",
		    js(v, "window_end"));
	printf("last unblock: %s\n", js(j, "last_unblock"));
	if (strcmp(js(j, "unblock"), "not-suspended") != 0)
		printf("unblock:      %s\n", js(j, "explanation"));
	printf("domains:     ");
	json_array_foreach(json_object_get(j, "domains"), i, v)
		printf(" %s (%s)", js(v, "domain"), js(v, "kind"));
	printf("%s\n", json_array_size(json_object_get(j, "domains")) == 0 ? " -" : "");
	json_array_foreach(json_object_get(j, "mailboxes_suspended"), i, v)
		printf("mailbox:      %s suspended since %s: %s\n", js(v, "mailbox"),
		    js(v, "since"), js(v, "reason"));
	printf("suspensions:  %lld in all\n",
	    (long long)json_integer_value(json_object_get(j, "suspensions_total")));
	json_array_foreach(json_object_get(j, "notices_failed"), i, v)
		printf("notice:       #%lld %s to %s FAILED: given up %s after %lld attempts"
		    " since %s: %s\n", ji(v, "id"), js(v, "kind"), js(v, "rcpt"),
		    js(v, "failed_at"), ji(v, "attempts"), js(v, "queued"), js(v, "error"));
	json_decref(j);
	return 0;
}

struct list_ctx {
	struct ctl *c;
	json_t *arr;
	int failed;
};

static int
list_cb(void *arg, const struct account *a, int suspended)
{
	struct list_ctx *lc = arg;
	const char *state = suspended ? "suspended" : a->present ? "active" : "removed";
	char cp[16];
	long long since;
	int r;

	/* cPanel's own outgoing state beside mailabuse's */
	if ((r = store_outgoing_get(lc->c->st, a->name, cp, sizeof cp, &since)) == -1) {
		lc->failed = 1;
		return 1;
	}
	if (lc->c->json)
		json_array_append_new(lc->arr, json_pack("{s:s, s:o, s:o, s:s, s:o}",
		    "account", a->name,
		    "owner", a->owner[0] ? json_string(a->owner) : json_null(),
		    "contact", a->contact[0] ? json_string(a->contact) : json_null(),
		    "state", state, "cpanel_outgoing", r == 1 ? json_string(cp) : json_null()));
	else
		printf("%-16s %-10s %-10s %-16s %s\n", ctl_esc(a->name), state, r == 1 ? cp : "-",
		    a->owner[0] ? ctl_esc(a->owner) : "-", a->contact[0] ? ctl_esc(a->contact) : "-");
	return 0;
}

int
cmd_list(struct ctl *c, int argc, char **argv)
{
	struct list_ctx lc = { c, NULL, 0 };
	const char *state = NULL;
	int r;

	if ((r = show_args(c, argc, argv, 0, NULL, &state, NULL)) != 0)
		return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (c->json)
		lc.arr = json_array();
	else
		printf("%-16s %-10s %-10s %-16s %s\n", "ACCOUNT", "STATE", "CPANEL", "OWNER",
		    "CONTACT");
	if (store_account_list(c->st, state, list_cb, &lc) == -1 || lc.failed) {
		json_decref(lc.arr);
		return ctl_db_error(c, "list");
	}
	return c->json ? ctl_json_print(lc.arr) : 0;
}


/* One source of `history`: its counters, top domains, client hosts. */
static void
history_source_print(json_t *v)
{
	const char *kind = js(v, "kind");
	json_t *h, *d;
	size_t i, nnew = 0, nhosts = json_array_size(json_object_get(v, "hosts"));

	printf("%-7s %-38s %6lld %6lld %8lld %9lld %8lld %7lld %7lld %5lld %7lld\n", kind,
	    js(v, "source"), ji(v, "messages"), ji(v, "rcpts_local"), ji(v, "rcpts_external"),
	    ji(v, "delivered"), ji(v, "deferred"), ji(v, "bounced"), ji(v, "refused"),
	    ji(v, "held"), ji(v, "limited"));
	if (json_array_size(json_object_get(v, "top_domains")) > 0) {
		printf("        top domains:");
		json_array_foreach(json_object_get(v, "top_domains"), i, d)
			printf("%s %s %lld", i > 0 ? "," : "", js(d, "domain"), ji(d, "rcpts"));
		printf("\n");
	}
	if (nhosts == 0)
		return;
	json_array_foreach(json_object_get(v, "hosts"), i, h)
		nnew += json_is_true(json_object_get(h, "new"));
	printf("        %s: %zu, %zu new in the period:",
	    strcmp(kind, "mailbox") == 0 ? "client hosts" : "web clients", nhosts, nnew);
	json_array_foreach(json_object_get(v, "hosts"), i, h) {
		if (i == 8) {
			printf(", ...");
			break;
		}
		printf("%s %s %lld%s", i > 0 ? "," : "", js(h, "ip"), ji(h, "messages"),
		    json_is_true(json_object_get(h, "new")) ? " NEW" : " seen before");
	}
	printf("\n");
}

int
cmd_history(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "since", required_argument, NULL, 's' },
		{ "messages", no_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL, *since_text = "7d";
	long long limit = 50, since = 7 * 86400LL;
	char *end;
	int ch, r, messages = 0;
	json_t *j, *v;
	size_t i;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'j':
			c->json = 1;
			break;
		case 'l':
			limit = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1 || limit > 1000000)
				return ctl_usage_error("history: --limit must be 1 to 1000000");
			break;
		case 's':
			if ((r = ctl_since_arg("history", optarg, &since)) != 0)
				return r;
			since_text = optarg;
			break;
		case 'm':
			messages = 1;
			break;
		default:
			return EX_USAGE;
		}
	}
	if (argc - optind > 1)
		return ctl_usage_error("history: expected at most one account");
	if (argc - optind == 1)
		name = argv[optind];
	if ((r = show_fetch(c, "HISTORY", name, limit, since_text, since, &j)) != 0)
		return r;
	if (c->json)
		return ctl_json_print(j);
	printf("# %s: what each source sent, %s to %s\n", js(j, "account"), js(j, "since"),
	    js(j, "until"));
	if (json_is_true(json_object_get(j, "truncated")))
		printf("# (the newest messages of the period only: ask for a shorter --since)\n");
	if (json_array_size(json_object_get(j, "sources")) == 0)
		printf("nothing sent in the period\n");
	else
		printf("%-7s %-38s %6s %6s %8s %9s %8s %7s %7s %5s %7s\n", "KIND", "SOURCE",
		    "MSGS", "LOCAL", "EXTERNAL", "DELIVERED", "DEFERRED", "BOUNCED", "REFUSED",
		    "HELD", "LIMITED");
	json_array_foreach(json_object_get(j, "sources"), i, v)
		history_source_print(v);
	printf("# changes of %s (newest %lld)\n", js(j, "account"), limit);
	json_array_foreach(json_object_get(j, "changes"), i, v)
		printf("%s  %-18s %-24s by %s: %s\n", js(v, "at"), js(v, "action"),
		    js(v, "target"), js(v, "actor"), js(v, "detail"));
	if (!messages) {
		json_decref(j);
		return 0;
	}
	printf("# messages (newest %lld of the period)\n", limit);
	json_array_foreach(json_object_get(j, "messages"), i, v) {
		printf("%s  %-6s %-5s %s %s", js(v, "at"), js(v, "verdict"), js(v, "ctx"),
		    js(v, "source_kind"), js(v, "source"));
		if (strcmp(js(v, "ip"), "-") != 0)
			printf(" from %s", js(v, "ip"));
		printf(" <%s> to %s (%lld local, %lld external", ctl_esc(json_string_value(
		    json_object_get(v, "sender"))), js(v, "rcpt"), ji(v, "rcpts_local"), ji(v, "rcpts_external"));
		if (ji(v, "delivered") + ji(v, "deferred") + ji(v, "bounced") > 0)
			printf("; %lld delivered, %lld deferred, %lld bounced", ji(v, "delivered"),
			    ji(v, "deferred"), ji(v, "bounced"));
		printf(")");
		if (strcmp(js(v, "msgid"), "-") != 0)
			printf(" id %s", js(v, "msgid"));
		if (strcmp(js(v, "reason"), "-") != 0)
			printf(": %s", js(v, "reason"));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

/*
 * mailabusectl status / list / history: the read-only commands, each
 * with --json for scripts and control-panel plugins.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

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

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
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
	if (argc - optind != npos)
		return ctl_usage_error("%s: expected %d argument%s", argv[0], npos,
		    npos == 1 ? "" : "s");
	for (int i = 0; i < npos; i++)
		pos[i] = argv[optind + i];
	return 0;
}

/* Time as ISO 8601 JSON string, or null. */
static json_t *
show_json_time(long long t)
{
	char buf[32];

	if (t == 0)
		return json_null();
	ctl_time_format(t, buf, sizeof buf);
	return json_string(buf);
}

/* Look up an account for the show commands; 0 or an exit status. */
static int
show_account(struct ctl *c, const char *name, struct account *a)
{
	int r;

	if ((r = ctl_store(c)) != 0)
		return r;
	if ((r = store_account_get(c->st, name, a)) == -1)
		return ctl_db_error(c, "account lookup");
	if (r == 0) {
		fprintf(stderr, "mailabusectl: %s: no such account\n", name);
		return EX_NOINPUT;
	}
	return 0;
}

struct status_ctx {
	json_t *domains;
	json_t *mailboxes;
	int suspensions;
	int has_active;
	struct suspension active;
};

static int
status_domain_cb(void *arg, const char *domain, const char *kind)
{
	struct status_ctx *sc = arg;

	json_array_append_new(sc->domains, json_pack("{s:s, s:s}", "domain", domain,
	    "kind", kind));
	return 0;
}

static int
status_suspension_cb(void *arg, const struct suspension *s)
{
	struct status_ctx *sc = arg;
	char ts[32];

	sc->suspensions++;
	if (s->lifted_at != 0)
		return 0;
	if (strcmp(s->kind, "account") == 0) {
		sc->has_active = 1;
		sc->active = *s;
		return 0;
	}
	ctl_time_format(s->created_at, ts, sizeof ts);
	json_array_append_new(sc->mailboxes, json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "mailbox", s->target, "since", ts, "reason", s->reason, "source", s->source,
	    "by", s->created_by));
	return 0;
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	struct status_ctx sc;
	struct account a;
	const char *name;
	const char *state;
	json_t *j;
	size_t i;
	json_t *v;
	int r;

	if ((r = show_args(c, argc, argv, 1, &name, NULL, NULL)) != 0)
		return r;
	if ((r = show_account(c, name, &a)) != 0)
		return r;
	memset(&sc, 0, sizeof sc);
	sc.domains = json_array();
	sc.mailboxes = json_array();
	if (store_account_domains(c->st, a.name, status_domain_cb, &sc) == -1 ||
	    store_suspension_list(c->st, a.name, status_suspension_cb, &sc) == -1) {
		json_decref(sc.domains);
		json_decref(sc.mailboxes);
		return ctl_db_error(c, "status");
	}
	state = sc.has_active ? "suspended" : a.present ? "active" : "removed";
	j = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "account", a.name,
	    "owner", a.owner, "contact", a.contact, "main_domain", a.main_domain,
	    "in_cpanel", a.present, "state", state);
	if (sc.has_active) {
		json_object_set_new(j, "since", show_json_time(sc.active.created_at));
		json_object_set_new(j, "reason", json_string(sc.active.reason));
		json_object_set_new(j, "source", json_string(sc.active.source));
		json_object_set_new(j, "suspended_by", json_string(sc.active.created_by));
	}
	json_object_set_new(j, "domains", sc.domains);
	json_object_set_new(j, "mailboxes_suspended", sc.mailboxes);
	json_object_set_new(j, "suspensions_total", json_integer(sc.suspensions));
	if (c->json)
		return ctl_json_print(j);

	printf("account:      %s%s\n", a.name, a.present ? "" : " (removed from cPanel)");
	printf("owner:        %s\n", a.owner[0] ? a.owner : "-");
	printf("contact:      %s\n", a.contact[0] ? a.contact : "-");
	printf("state:        %s\n", state);
	if (sc.has_active) {
		char ts[32];

		ctl_time_format(sc.active.created_at, ts, sizeof ts);
		printf("since:        %s\n", ts);
		printf("reason:       %s\n", sc.active.reason);
		printf("source:       %s (by %s)\n", sc.active.source, sc.active.created_by);
	}
	printf("domains:     ");
	json_array_foreach(json_object_get(j, "domains"), i, v)
		printf(" %s (%s)", json_string_value(json_object_get(v, "domain")),
		    json_string_value(json_object_get(v, "kind")));
	printf("%s\n", json_array_size(json_object_get(j, "domains")) == 0 ? " -" : "");
	json_array_foreach(json_object_get(j, "mailboxes_suspended"), i, v)
		printf("mailbox:      %s suspended since %s: %s\n",
		    json_string_value(json_object_get(v, "mailbox")),
		    json_string_value(json_object_get(v, "since")),
		    json_string_value(json_object_get(v, "reason")));
	printf("suspensions:  %d in all\n", sc.suspensions);
	json_decref(j);
	return 0;
}

struct list_ctx {
	struct ctl *c;
	json_t *arr;
};

static int
list_cb(void *arg, const struct account *a, int suspended)
{
	struct list_ctx *lc = arg;
	const char *state = suspended ? "suspended" : a->present ? "active" : "removed";

	if (lc->c->json)
		json_array_append_new(lc->arr, json_pack("{s:s, s:s, s:s, s:s}",
		    "account", a->name, "owner", a->owner, "contact", a->contact,
		    "state", state));
	else
		printf("%-16s %-10s %-16s %s\n", a->name, state, a->owner[0] ? a->owner : "-",
		    a->contact[0] ? a->contact : "-");
	return 0;
}

int
cmd_list(struct ctl *c, int argc, char **argv)
{
	struct list_ctx lc = { c, NULL };
	const char *state = NULL;
	int r;

	if ((r = show_args(c, argc, argv, 0, NULL, &state, NULL)) != 0)
		return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (c->json)
		lc.arr = json_array();
	else
		printf("%-16s %-10s %-16s %s\n", "ACCOUNT", "STATE", "OWNER", "CONTACT");
	if (store_account_list(c->st, state, list_cb, &lc) == -1) {
		json_decref(lc.arr);
		return ctl_db_error(c, "list");
	}
	return c->json ? ctl_json_print(lc.arr) : 0;
}

struct history_ctx {
	struct ctl *c;
	json_t *audit;
	json_t *messages;
};

static int
history_audit_cb(void *arg, const struct audit_entry *e)
{
	struct history_ctx *hc = arg;
	char ts[32];

	ctl_time_format(e->at, ts, sizeof ts);
	if (hc->c->json)
		json_array_append_new(hc->audit, json_pack("{s:s, s:s, s:s, s:s, s:s}",
		    "at", ts, "actor", e->actor, "action", e->action, "target", e->target,
		    "detail", e->detail));
	else
		printf("%s  %-16s %-24s by %s: %s\n", ts, e->action, e->target, e->actor,
		    e->detail);
	return 0;
}

static int
history_message_cb(void *arg, const struct message_record *m)
{
	struct history_ctx *hc = arg;
	char ts[32];

	ctl_time_format(m->at, ts, sizeof ts);
	if (hc->c->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "at", ts,
		    "ctx", m->ctx, "mailbox", m->mailbox, "script", m->script, "ip", m->ip,
		    "sender", m->sender, "rcpt", m->rcpt, "verdict", m->verdict);

		json_object_set_new(o, "uid", m->uid >= 0 ? json_integer(m->uid) : json_null());
		json_array_append_new(hc->messages, o);
	} else {
		printf("%s  %-6s %-5s from %s", ts, m->verdict, m->ctx,
		    m->sender[0] ? m->sender : "<>");
		if (m->mailbox[0])
			printf(" mailbox %s", m->mailbox);
		if (m->uid >= 0)
			printf(" uid %lld", m->uid);
		if (m->script[0])
			printf(" script %s", m->script);
		if (m->ip[0])
			printf(" ip %s", m->ip);
		printf(" to %s\n", m->rcpt);
	}
	return 0;
}

int
cmd_history(struct ctl *c, int argc, char **argv)
{
	struct history_ctx hc = { c, NULL, NULL };
	struct account a;
	const char *name;
	long long limit = 50;
	int r;

	if ((r = show_args(c, argc, argv, 1, &name, NULL, &limit)) != 0)
		return r;
	if ((r = show_account(c, name, &a)) != 0)
		return r;
	if (c->json) {
		hc.audit = json_array();
		hc.messages = json_array();
	} else
		printf("# changes\n");
	if (store_audit_list(c->st, a.name, limit, history_audit_cb, &hc) == -1)
		goto fail;
	if (!c->json)
		printf("# messages (newest %lld)\n", limit);
	if (store_message_list(c->st, a.name, limit, history_message_cb, &hc) == -1)
		goto fail;
	if (c->json)
		return ctl_json_print(json_pack("{s:s, s:o, s:o}", "account", a.name,
		    "changes", hc.audit, "messages", hc.messages));
	return 0;
fail:
	json_decref(hc.audit);
	json_decref(hc.messages);
	return ctl_db_error(c, "history");
}

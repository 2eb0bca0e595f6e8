/*
 * mailabusectl top: the accounts sending the most, and how close they
 * are to their limits.  mailabusectl limits: an account's own limits
 * for the detectors, over the configuration's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "detect.h"
#include "history.h"
#include "lifecycle.h"

struct limits_view {
	struct detect_limits lim;
	int own[DET_COUNT];		/* set for the account, not the configuration's */
	char set_by[DET_COUNT][ACTOR_MAX];
	long long set_at[DET_COUNT];
};

static int
limits_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	struct limits_view *lv = arg;
	int d = detect_from_name(detector), a = detect_action_from_name(action);

	if (d < 0)
		return 0;
	lv->lim.l[d].value = value;
	if (a >= 0)
		lv->lim.l[d].action = (enum detect_action)a;
	lv->own[d] = 1;
	lv->set_at[d] = set_at;
	snprintf(lv->set_by[d], sizeof lv->set_by[d], "%s", set_by);
	return 0;
}

/* The limits that apply to an account: the configuration's, then its own. */
static int
limits_load(struct ctl *c, const char *account, struct limits_view *lv)
{
	memset(lv, 0, sizeof *lv);
	config_detect_limits(&c->cfg, &lv->lim);
	return store_limits_get(c->st, account, limits_cb, lv);
}

struct hour_use {
	long long messages, n_external;
};

static int
hour_cb(void *arg, const struct source_stats *x)
{
	struct hour_use *u = arg;

	u->messages += x->messages - x->refused - x->limited;
	u->n_external += x->n_external;
	return 0;
}

/* "2000/hold", "off" */
static void
limit_text(const struct detect_limit *l, enum detector d, char *buf, size_t len)
{
	if (l->value == 0)
		snprintf(buf, len, "off");
	else
		snprintf(buf, len, "%lld%s/%s", l->value, d == DET_BOUNCE ? "%" : "",
		    detect_action_name(l->action));
}

/* Parse DETECTOR=LIMIT[/ACTION], DETECTOR=off or DETECTOR=default. */
static int
limits_spec(const char *spec, int *det, long long *value, int *action, int *reset)
{
	char name[64], *eq, *slash, *end;
	const char *v;

	if ((eq = strchr(spec, '=')) == NULL || (size_t)(eq - spec) >= sizeof name)
		return ctl_usage_error("limits: %s: expected DETECTOR=LIMIT[/ACTION]", spec);
	snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
	if ((*det = detect_from_name(name)) < 0)
		return ctl_usage_error("limits: unknown detector %s (account_messages,"
		    " account_rcpts, mailbox_messages, mailbox_rcpts, mailbox_new_hosts,"
		    " script_rcpts, bounce)", name);
	v = eq + 1;
	*reset = 0;
	*action = -1;
	if (strcmp(v, "default") == 0) {
		*reset = 1;
		return 0;
	}
	if ((slash = strchr(v, '/')) != NULL &&
	    (*action = detect_action_from_name(slash + 1)) < 0)
		return ctl_usage_error("limits: %s: the action is defer, hold or suspend", spec);
	if (strncmp(v, "off", 3) == 0 && (v[3] == '\0' || v[3] == '/')) {
		*value = 0;
		return 0;
	}
	*value = strtoll(v, &end, 10);
	if (end == v || (*end != '\0' && *end != '/') || *value < 1 ||
	    *value > (*det == DET_BOUNCE ? 100 : 100000000))
		return ctl_usage_error("limits: %s: the limit is a number from 1 to %s, or off",
		    spec, *det == DET_BOUNCE ? "100 (percent)" : "100000000");
	return 0;
}

int
cmd_limits(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	char lower[ACCOUNT_NAME_MAX], was[64], now_text[64], detail[768], at[32];
	const char *reason = NULL;
	struct limits_view lv;
	struct hour_use use = { 0, 0 };
	struct account a;
	const char *name;
	json_t *arr, *changes;
	int ch, r, det, action, reset;
	long long value;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'r') {
			reason = optarg;
			continue;
		}
		if (ch != 'j')
			return EX_USAGE;
		c->json = 1;
	}
	if (argc - optind < 1)
		return ctl_usage_error("limits: name the account");
	if (reason != NULL && (*reason == '\0' || strlen(reason) > 400))
		return ctl_usage_error("limits: --reason must be 1 to 400 characters");
	name = ctl_account_arg(argv[optind++], lower, sizeof lower);
	/* check every change before making any */
	for (int i = optind; i < argc; i++)
		if ((r = limits_spec(argv[i], &det, &value, &action, &reset)) != 0)
			return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "limits");
	if ((r = store_account_get(c->st, name, &a)) != 1) {
		store_rollback(c->st);
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no such account\n", ctl_esc(name));
			return EX_NOINPUT;
		}
		return ctl_db_error(c, "limits");
	}
	changes = json_array();
	for (int i = optind; i < argc; i++) {
		limits_spec(argv[i], &det, &value, &action, &reset);
		if (limits_load(c, a.name, &lv) == -1)
			goto dberr;
		limit_text(&lv.lim.l[det], (enum detector)det, was, sizeof was);
		if (reset) {
			if (store_limit_delete(c->st, a.name, detect_name((enum detector)det)) == -1)
				goto dberr;
			snprintf(detail, sizeof detail, "%s back to the configuration's (was %s)",
			    detect_name((enum detector)det), was);
			now_text[0] = '\0';
		} else {
			struct detect_limit l = { value, action >= 0 ? (enum detect_action)action :
			    lv.lim.l[det].action };

			if (store_limit_set(c->st, a.name, detect_name((enum detector)det), l.value,
			    detect_action_name(l.action), c->now, c->actor) == -1)
				goto dberr;
			limit_text(&l, (enum detector)det, now_text, sizeof now_text);
			snprintf(detail, sizeof detail, "%s = %s (was %s)",
			    detect_name((enum detector)det), now_text, was);
		}
		if (reason != NULL) {
			size_t n = strlen(detail);

			snprintf(detail + n, sizeof detail - n, ": %s", reason);
		}
		if (store_audit_insert(c->st, c->now, c->actor, "limits", a.name, a.name,
		    detail) == -1)
			goto dberr;
		/* "now" is null for a reset: the configuration's value shows in "limits" */
		json_array_append_new(changes, json_pack("{s:s, s:s, s:o}", "detector",
		    detect_name((enum detector)det), "was", was,
		    "now", reset ? json_null() : json_string(now_text)));
		if (!c->json)
			printf("%s: %s\n", a.name, ctl_esc(detail));
	}
	if (store_commit(c->st) == -1 || limits_load(c, a.name, &lv) == -1)
		goto dberr;
	if ((r = ctl_history(c)) != 0 || history_sources(c->hist, a.name,
	    c->now - DETECT_WINDOW, -1, 1000, hour_cb, &use) == -1) {
		json_decref(changes);
		return r != 0 ? r : ctl_history_error(c, "limits");
	}
	arr = json_array();
	if (!c->json)
		printf("%-18s %-16s %-8s %s\n", "DETECTOR", "LIMIT", "FROM", "LAST HOUR");
	for (int d = 0; d < DET_COUNT; d++) {
		long long used = d == DET_ACCOUNT_MESSAGES ? use.messages :
		    d == DET_ACCOUNT_RCPTS ? use.n_external : -1;

		limit_text(&lv.lim.l[d], (enum detector)d, now_text, sizeof now_text);
		lifecycle_time(lv.set_at[d], at, sizeof at);
		if (c->json) {
			/* limit 0: the detector is off; last_hour, set_by, set_at null when none */
			json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:s, s:o, s:o, s:o}",
			    "detector", detect_name((enum detector)d),
			    "limit", (json_int_t)lv.lim.l[d].value,
			    "action", detect_action_name(lv.lim.l[d].action),
			    "from", lv.own[d] ? "account" : "configuration",
			    "last_hour", used >= 0 ? json_integer(used) : json_null(),
			    "set_by", lv.own[d] ? json_string(lv.set_by[d]) : json_null(),
			    "set_at", lv.own[d] ? json_string(at) : json_null()));
			continue;
		}
		printf("%-18s %-16s %-8s", detect_name((enum detector)d), now_text,
		    lv.own[d] ? "account" : "config");
		if (used >= 0)
			printf(" %lld", used);
		printf("\n");
	}
	if (c->json)
		return ctl_json_print(json_pack("{s:s, s:o, s:I, s:o}", "account", a.name,
		    "changes", changes, "bounce_min", (json_int_t)lv.lim.bounce_min,
		    "limits", arr));
	json_decref(arr);
	json_decref(changes);
	return 0;
dberr:
	json_decref(changes);
	return ctl_db_error(c, "limits");
}

struct top_ctx {
	struct ctl *c;
	json_t *arr;
};

static int
top_busiest_cb(void *arg, const struct source_stats *x)
{
	json_t **o = arg;

	*o = lifecycle_source_json(x);
	return 1;	/* the first is the busiest */
}

static int
top_cb(void *arg, const struct source_stats *x)
{
	struct top_ctx *tc = arg;
	json_t *o = lifecycle_source_json(x), *busiest = NULL;
	struct limits_view lv;
	struct hour_use use = { 0, 0 };
	long long pm = 0, pr = 0;

	if (limits_load(tc->c, x->account, &lv) == -1 ||
	    history_sources(tc->c->hist, x->account, tc->c->now - DETECT_WINDOW, -1, 1000,
	    hour_cb, &use) == -1 ||
	    history_sources(tc->c->hist, x->account, x->first_at, -1, 1, top_busiest_cb,
	    &busiest) == -1) {
		json_decref(o);
		return -1;
	}
	if (lv.lim.l[DET_ACCOUNT_MESSAGES].value > 0)
		pm = use.messages * 100 / lv.lim.l[DET_ACCOUNT_MESSAGES].value;
	if (lv.lim.l[DET_ACCOUNT_RCPTS].value > 0)
		pr = use.n_external * 100 / lv.lim.l[DET_ACCOUNT_RCPTS].value;
	json_object_set_new(o, "last_hour_messages", json_integer(use.messages));
	json_object_set_new(o, "last_hour_rcpts_external", json_integer(use.n_external));
	json_object_set_new(o, "percent_of_limit", json_integer(pm > pr ? pm : pr));
	json_object_set_new(o, "busiest_source", busiest != NULL ? busiest : json_null());
	json_array_append_new(tc->arr, o);
	return 0;
}

int
cmd_top(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct top_ctx tc = { c, NULL };
	long long since = 3600, limit = 20;
	char *end, from[32];
	int ch, r;
	json_t *v, *b;
	size_t i;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'j':
			c->json = 1;
			break;
		case 's':
			if ((r = ctl_since_arg("top", optarg, &since)) != 0)
				return r;
			break;
		case 'l':
			limit = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || limit < 1 || limit > 100000)
				return ctl_usage_error("top: --limit must be 1 to 100000");
			break;
		default:
			return EX_USAGE;
		}
	}
	if (argc != optind)
		return ctl_usage_error("top: no arguments expected");
	if ((r = ctl_history(c)) != 0)
		return r;
	tc.arr = json_array();
	if (history_top_accounts(c->hist, c->now - since, limit, top_cb, &tc) == -1) {
		json_decref(tc.arr);
		return ctl_history_error(c, "top");
	}
	if (c->json)
		return ctl_json_print(tc.arr);
	lifecycle_time(c->now - since, from, sizeof from);
	printf("# accounts sending the most since %s (external recipients first)\n", from);
	printf("%-16s %7s %9s %8s %7s %5s %7s %10s  %s\n", "ACCOUNT", "MSGS", "EXTERNAL",
	    "BOUNCED%", "REFUSED", "HELD", "LIMITED", "HOUR/LIMIT", "BUSIEST SOURCE");
	json_array_foreach(tc.arr, i, v) {
		b = json_object_get(v, "busiest_source");
		printf("%-16s %7lld %9lld %7lld%% %7lld %5lld %7lld %9lld%%  %s %s (%lld external)\n",
		    ctl_esc(json_string_value(json_object_get(v, "account"))),
		    (long long)json_integer_value(json_object_get(v, "messages")),
		    (long long)json_integer_value(json_object_get(v, "rcpts_external")),
		    (long long)json_integer_value(json_object_get(v, "bounce_percent")),
		    (long long)json_integer_value(json_object_get(v, "refused")),
		    (long long)json_integer_value(json_object_get(v, "held")),
		    (long long)json_integer_value(json_object_get(v, "limited")),
		    (long long)json_integer_value(json_object_get(v, "percent_of_limit")),
		    b != NULL ? ctl_esc(json_string_value(json_object_get(b, "kind"))) : "-",
		    b != NULL ? ctl_esc(json_string_value(json_object_get(b, "source"))) : "-",
		    b != NULL ? (long long)json_integer_value(json_object_get(b,
		    "rcpts_external")) : 0LL);
	}
	json_decref(tc.arr);
	return 0;
}

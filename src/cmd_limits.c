/*
 * mailabusectl limits: an account's own limits for the detectors, over
 * the configuration's: shown, set, or reset to the configuration's.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "detect.h"
#include "history.h"
#include "lifecycle.h"

static int
limits_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	struct ctl_limits *lv = arg;
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
int
ctl_limits_load(struct ctl *c, const char *account, struct ctl_limits *lv)
{
	memset(lv, 0, sizeof *lv);
	config_detect_limits(&c->cfg, &lv->lim);
	return store_limits_get(c->st, account, limits_cb, lv);
}

static int
limits_hour_cb(void *arg, const struct source_stats *x)
{
	struct ctl_hour_use *u = arg;

	u->messages += x->messages - x->refused - x->limited;
	u->n_external += x->n_external;
	return 0;
}

/* What an account sent in the detectors' window (the last hour); 0 or -1. */
int
ctl_hour_use_get(struct ctl *c, const char *account, struct ctl_hour_use *u)
{
	u->messages = u->n_external = 0;
	if (ctl_history(c) != 0)
		return -1;
	return history_sources(c->hist, account, c->now - DETECT_WINDOW, -1, 1000,
	    limits_hour_cb, u);
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
	char name[64], *eq, *slash;
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
	if (ctl_number_parse(v, "/", 1, *det == DET_BOUNCE ? 100 : 100000000, value) == -1)
		return ctl_usage_error("limits: %s: the limit is a number from 1 to %s, or off",
		    spec, *det == DET_BOUNCE ? "100 (percent)" : "100000000");
	return 0;
}

/*
 * Make one change (a checked DETECTOR=... spec) inside the caller's
 * transaction, audited; added to changes and printed.  0 or -1.
 */
static int
limits_change(struct ctl *c, const char *account, const char *spec, const char *reason,
    json_t *changes)
{
	char was[64], now_text[64], detail[768];
	struct ctl_limits lv;
	long long value;
	int det, action, reset;

	limits_spec(spec, &det, &value, &action, &reset);
	if (ctl_limits_load(c, account, &lv) == -1)
		return -1;
	limit_text(&lv.lim.l[det], (enum detector)det, was, sizeof was);
	if (reset) {
		if (store_limit_delete(c->st, account, detect_name((enum detector)det)) == -1)
			return -1;
		snprintf(detail, sizeof detail, "%s back to the configuration's (was %s)",
		    detect_name((enum detector)det), was);
		now_text[0] = '\0';
	} else {
		struct detect_limit l = { value, action >= 0 ? (enum detect_action)action :
		    lv.lim.l[det].action };

		if (store_limit_set(c->st, account, detect_name((enum detector)det), l.value,
		    detect_action_name(l.action), c->now, c->actor) == -1)
			return -1;
		limit_text(&l, (enum detector)det, now_text, sizeof now_text);
		snprintf(detail, sizeof detail, "%s = %s (was %s)",
		    detect_name((enum detector)det), now_text, was);
	}
	if (reason != NULL) {
		size_t n = strlen(detail);

		snprintf(detail + n, sizeof detail - n, ": %s", reason);
	}
	if (store_audit_insert(c->st, c->now, c->actor, "limits", account, account,
	    detail) == -1)
		return -1;
	/* "now" is null for a reset: the configuration's value shows in "limits" */
	json_array_append_new(changes, json_pack("{s:s, s:s, s:o}", "detector",
	    detect_name((enum detector)det), "was", was,
	    "now", reset ? json_null() : json_string(now_text)));
	if (!c->json)
		printf("%s: %s\n", account, ctl_esc(detail));
	return 0;
}

/* The limits that now apply, as a table or a JSON document; 0 or -1. */
static int
limits_show(struct ctl *c, const char *account, json_t *changes)
{
	char now_text[64], at[32];
	struct ctl_limits lv;
	struct ctl_hour_use use;
	json_t *arr;

	if (ctl_limits_load(c, account, &lv) == -1 || ctl_hour_use_get(c, account, &use) == -1)
		return -1;
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
		return ctl_json_print(json_pack("{s:s, s:O, s:I, s:o}", "account", account,
		    "changes", changes, "bounce_min", (json_int_t)lv.lim.bounce_min,
		    "limits", arr));
	json_decref(arr);
	return 0;
}

/* mailabusectl limits ACCOUNT [DETECTOR=LIMIT[/ACTION] ...] */
int
cmd_limits(struct ctl *c, const struct ctl_args *a)
{
	const char *reason = ctl_args_get(a, "reason");
	char lower[ACCOUNT_NAME_MAX];
	struct account acc;
	json_t *changes;
	int r, det, action, reset;
	long long value;

	if (reason != NULL && (*reason == '\0' || strlen(reason) > 400))
		return ctl_usage_error("limits: --reason must be 1 to 400 characters");
	/* check every change before making any */
	for (int i = 1; i < a->argc; i++)
		if ((r = limits_spec(a->argv[i], &det, &value, &action, &reset)) != 0)
			return r;
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "limits");
	if ((r = store_account_get(c->st, ctl_account_arg(a->argv[0], lower, sizeof lower),
	    &acc)) != 1) {
		store_rollback(c->st);
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no such account\n", ctl_esc(lower));
			return EX_NOINPUT;
		}
		return ctl_db_error(c, "limits");
	}
	changes = json_array();
	for (int i = 1; i < a->argc; i++)
		if (limits_change(c, acc.name, a->argv[i], reason, changes) == -1)
			goto dberr;
	if (store_commit(c->st) == -1 || limits_show(c, acc.name, changes) == -1)
		goto dberr;
	json_decref(changes);
	return 0;
dberr:
	json_decref(changes);
	return ctl_db_error(c, "limits");
}

/*
 * mailabusectl top: the accounts sending the most, and how close they
 * are to their limits.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "detect.h"
#include "history.h"
#include "lifecycle.h"

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
	struct ctl_limits lv;
	struct ctl_hour_use use;
	long long pm = 0, pr = 0;

	if (ctl_limits_load(tc->c, x->account, &lv) == -1 ||
	    ctl_hour_use_get(tc->c, x->account, &use) == -1 ||
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
cmd_top(struct ctl *c, const struct ctl_args *a)
{
	struct top_ctx tc = { c, NULL };
	long long since = 3600, limit = ctl_args_number(a, "limit", 20);
	char from[32];
	int r;
	json_t *v, *b;
	size_t i;

	if (ctl_args_has(a, "since") &&
	    (r = ctl_since_arg("top", ctl_args_get(a, "since"), &since)) != 0)
		return r;
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

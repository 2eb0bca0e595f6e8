/*
 * mailabusectl list [--state S]: the accounts, their state in mailabuse
 * and cPanel's outgoing state, owner and contact.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "lifecycle.h"

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
cmd_list(struct ctl *c, const struct ctl_args *a)
{
	struct list_ctx lc = { c, NULL, 0 };
	const char *state = ctl_args_get(a, "state");
	int r;

	if (state != NULL && strcmp(state, "active") != 0 && strcmp(state, "suspended") != 0 &&
	    strcmp(state, "removed") != 0)
		return ctl_usage_error("list: --state must be active, suspended or removed");
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

/*
 * mailabusectl history [ACCOUNT]: what each source of an account sent
 * over a period, and the account's changes.  Owners ask the daemon for
 * their own account.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "lifecycle.h"

/* One source of `history`: its counters, top domains, client hosts. */
static void
history_source_print(json_t *v)
{
	const char *kind = ctl_json_text(v, "kind");
	json_t *h, *d;
	size_t i, nnew = 0, nhosts = json_array_size(json_object_get(v, "hosts"));

	printf("%-7s %-38s %6lld %6lld %8lld %9lld %8lld %7lld %7lld %5lld %7lld\n", kind,
	    ctl_json_text(v, "source"), ctl_json_int(v, "messages"), ctl_json_int(v, "rcpts_local"), ctl_json_int(v, "rcpts_external"),
	    ctl_json_int(v, "delivered"), ctl_json_int(v, "deferred"), ctl_json_int(v, "bounced"), ctl_json_int(v, "refused"),
	    ctl_json_int(v, "held"), ctl_json_int(v, "limited"));
	if (json_array_size(json_object_get(v, "top_domains")) > 0) {
		printf("        top domains:");
		json_array_foreach(json_object_get(v, "top_domains"), i, d)
			printf("%s %s %lld", i > 0 ? "," : "", ctl_json_text(d, "domain"), ctl_json_int(d, "rcpts"));
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
		printf("%s %s %lld%s", i > 0 ? "," : "", ctl_json_text(h, "ip"), ctl_json_int(h, "messages"),
		    json_is_true(json_object_get(h, "new")) ? " NEW" : " seen before");
	}
	printf("\n");
}

int
cmd_history(struct ctl *c, const struct ctl_args *a)
{
	const char *name = a->argv[0], *since_text = "7d";
	long long limit = ctl_args_number(a, "limit", 50), since = 7 * 86400LL;
	int r, messages = ctl_args_has(a, "messages");
	json_t *j, *v;
	size_t i;

	if (ctl_args_has(a, "since")) {
		since_text = ctl_args_get(a, "since");
		if ((r = ctl_since_arg("history", since_text, &since)) != 0)
			return r;
	}
	if ((r = ctl_report_fetch(c, "HISTORY", name, limit, since_text, since, &j)) != 0)
		return r;
	if (c->json)
		return ctl_json_print(j);
	printf("# %s: what each source sent, %s to %s\n", ctl_json_text(j, "account"), ctl_json_text(j, "since"),
	    ctl_json_text(j, "until"));
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
	printf("# changes of %s (newest %lld)\n", ctl_json_text(j, "account"), limit);
	json_array_foreach(json_object_get(j, "changes"), i, v)
		printf("%s  %-18s %-24s by %s: %s\n", ctl_json_text(v, "at"), ctl_json_text(v, "action"),
		    ctl_json_text(v, "target"), ctl_json_text(v, "actor"), ctl_json_text(v, "detail"));
	if (!messages) {
		json_decref(j);
		return 0;
	}
	printf("# messages (newest %lld of the period)\n", limit);
	json_array_foreach(json_object_get(j, "messages"), i, v) {
		printf("%s  %-6s %-5s %s %s", ctl_json_text(v, "at"), ctl_json_text(v, "verdict"), ctl_json_text(v, "ctx"),
		    ctl_json_text(v, "source_kind"), ctl_json_text(v, "source"));
		if (strcmp(ctl_json_text(v, "ip"), "-") != 0)
			printf(" from %s", ctl_json_text(v, "ip"));
		printf(" <%s> to %s (%lld local, %lld external", ctl_esc(json_string_value(
		    json_object_get(v, "sender"))), ctl_json_text(v, "rcpt"), ctl_json_int(v, "rcpts_local"), ctl_json_int(v, "rcpts_external"));
		if (ctl_json_int(v, "delivered") + ctl_json_int(v, "deferred") + ctl_json_int(v, "bounced") > 0)
			printf("; %lld delivered, %lld deferred, %lld bounced", ctl_json_int(v, "delivered"),
			    ctl_json_int(v, "deferred"), ctl_json_int(v, "bounced"));
		printf(")");
		if (strcmp(ctl_json_text(v, "msgid"), "-") != 0)
			printf(" id %s", ctl_json_text(v, "msgid"));
		if (strcmp(ctl_json_text(v, "reason"), "-") != 0)
			printf(": %s", ctl_json_text(v, "reason"));
		printf("\n");
	}
	json_decref(j);
	return 0;
}

/*
 * mailabusectl status [ACCOUNT]: an account's state, its complaint
 * windows and what an unblock request would answer.  Owners ask the
 * daemon for their own account.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "lifecycle.h"

int
cmd_status(struct ctl *c, const struct ctl_args *a)
{
	const char *name = a->argv[0];
	json_t *j, *v;
	size_t i;
	int r;

	if ((r = ctl_report_fetch(c, "STATUS", name, 0, NULL, 0, &j)) != 0)
		return r;
	if (c->json)
		return ctl_json_print(j);

	printf("account:      %s%s\n", ctl_json_text(j, "account"),
	    json_is_true(json_object_get(j, "in_cpanel")) ? "" : " (removed from cPanel)");
	printf("owner:        %s\n", ctl_json_text(j, "owner"));
	printf("contact:      %s\n", ctl_json_text(j, "contact"));
	printf("state:        %s\n", ctl_json_text(j, "state"));
	if (strcmp(ctl_json_text(j, "state"), "suspended") == 0) {
		printf("since:        %s\n", ctl_json_text(j, "since"));
		printf("reason:       %s\n", ctl_json_text(j, "reason"));
		printf("source:       %s (by %s)\n", ctl_json_text(j, "source"), ctl_json_text(j, "suspended_by"));
	}
	/* cPanel's own state, beside mailabuse's: cPanel's Exim enforces it, not mailabuse */
	if (json_is_string(json_object_get(j, "cpanel_outgoing")))
		printf("cpanel:       outgoing email %s in cPanel since %s (cPanel's own;"
		    " lifted in cPanel, not by unblock)\n", ctl_json_text(j, "cpanel_outgoing"),
		    ctl_json_text(j, "cpanel_outgoing_since"));
	else
		printf("cpanel:       outgoing email not suspended or held in cPanel\n");
	json_array_foreach(json_object_get(j, "complaints"), i, v)
		printf("complaint:    #%lld %s \"%s\" received %s, window %s %s\n",
		    (long long)json_integer_value(json_object_get(v, "id")), ctl_json_text(v, "source"),
		    ctl_json_text(v, "ref"), ctl_json_text(v, "received"),
		    json_is_true(json_object_get(v, "window_open")) ? "open until" : "ended",
		    ctl_json_text(v, "window_end"));
	printf("last unblock: %s\n", ctl_json_text(j, "last_unblock"));
	if (strcmp(ctl_json_text(j, "unblock"), "not-suspended") != 0)
		printf("unblock:      %s\n", ctl_json_text(j, "explanation"));
	printf("domains:     ");
	json_array_foreach(json_object_get(j, "domains"), i, v)
		printf(" %s (%s)", ctl_json_text(v, "domain"), ctl_json_text(v, "kind"));
	printf("%s\n", json_array_size(json_object_get(j, "domains")) == 0 ? " -" : "");
	json_array_foreach(json_object_get(j, "mailboxes_suspended"), i, v)
		printf("mailbox:      %s suspended since %s: %s\n", ctl_json_text(v, "mailbox"),
		    ctl_json_text(v, "since"), ctl_json_text(v, "reason"));
	printf("suspensions:  %lld in all\n",
	    (long long)json_integer_value(json_object_get(j, "suspensions_total")));
	json_array_foreach(json_object_get(j, "notices_failed"), i, v)
		printf("notice:       #%lld %s to %s FAILED: given up %s after %lld attempts"
		    " since %s: %s\n", ctl_json_int(v, "id"), ctl_json_text(v, "kind"), ctl_json_text(v, "rcpt"),
		    ctl_json_text(v, "failed_at"), ctl_json_int(v, "attempts"), ctl_json_text(v, "queued"), ctl_json_text(v, "error"));
	json_decref(j);
	return 0;
}

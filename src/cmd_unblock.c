/*
 * mailabusectl unblock: the account owner's request to lift a
 * suspension.  Granted only when every complaint window has ended and no
 * unblock was granted within policy.unblock_cooldown; otherwise refused
 * with the reason and the date from which a request can succeed.  Run by
 * root it acts on the database; run by anyone else it asks the daemon's
 * user socket, which acts for the caller's own account only.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "lifecycle.h"

int
cmd_unblock(struct ctl *c, const struct ctl_args *a)
{
	const char *name;
	char err[512], lower[ACCOUNT_NAME_MAX];
	json_t *j = NULL;
	int r;

	name = ctl_account_arg(a->argv[0], lower, sizeof lower);
	if (!ctl_is_root())
		r = ctl_user_request(c, "UNBLOCK", name, NULL, NULL, &j);
	else {
		if (name == NULL)
			return ctl_usage_error("unblock: name the account");
		if ((r = ctl_store(c)) != 0)
			return r;
		r = lifecycle_unblock(c->st, &c->cfg, name, c->actor, c->now, &j, err, sizeof err);
		if (r == LC_NOT_FOUND) {
			fprintf(stderr, "mailabusectl: %s: no such account\n", ctl_esc(name));
			return EX_NOINPUT;
		}
		if (r == LC_ERROR) {
			fprintf(stderr, "mailabusectl: unblock: %s\n", err);
			return EX_UNAVAILABLE;
		}
		r = r == LC_OK ? 0 : CTL_REFUSED;
		ctl_notices_send(c, name);
	}
	if (j == NULL)
		return r;
	if (c->json) {
		ctl_json_print(j);
		return r;
	}
	if (r == 0)
		printf("unblock granted: outgoing mail of %s flows again\n",
		    ctl_esc(json_string_value(json_object_get(j, "account"))));
	else
		printf("unblock refused: %s\n",
		    ctl_esc(json_string_value(json_object_get(j, "explanation"))));
	json_decref(j);
	return r;
}

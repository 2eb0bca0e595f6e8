/*
 * The user socket: account owners read their own status and history and
 * request their own unblock.  Which account a client acts for is decided
 * by its uid (SO_PEERCRED), never by what it says: only root may name
 * an account.
 */
#include <sys/types.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "clock.h"
#include "duration.h"
#include "history.h"
#include "identity.h"
#include "lifecycle.h"
#include "log.h"
#include "usersock.h"

#define SELF_HISTORY_DEFAULT 50
#define SELF_HISTORY_MAX 1000
#define SELF_HISTORY_SINCE (7 * 86400LL)	/* as mailabusectl history */
#define SELF_HISTORY_ROWS 20000			/* messages summed up at most */
#define SELF_HISTORY_MS 5000			/* and for this long at most */
#define SELF_UNBLOCK_INTERVAL 60	/* seconds between an owner's unblock requests */

/* Reply text: an allocated copy. */
static char *
self_text(const char *text)
{
	return strdup(text);
}

/* Compact, ASCII-only JSON: one line, safe on the wire. */
static char *
self_json(json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);

	json_decref(j);
	return t;
}

/* The account this peer may act for, or -1 with *text set. */
static int
self_account(const struct selfservice_peer *c, const struct proto_request *req,
    char *account, size_t len, char **text)
{
	struct passwd pw, *res = NULL;
	char buf[2048];

	if (!c->known) {
		*text = self_text("5.7.1 cannot tell who you are");
		return -1;
	}
	if (c->uid == 0) {
		if (req->account[0] == '\0') {
			*text = self_text("5.5.2 root must name the account");
			return -1;
		}
		snprintf(account, len, "%s", req->account);
		for (char *p = account; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		return 0;
	}
	if (getpwuid_r((uid_t)c->uid, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
		*text = self_text("5.7.1 your uid has no user name");
		return -1;
	}
	if (req->account[0] != '\0' && strcasecmp(req->account, pw.pw_name) != 0) {
		*text = self_text("5.7.1 permission denied: you may act only for your own"
		    " account");
		return -1;
	}
	snprintf(account, len, "%s", pw.pw_name);
	return 0;
}

/* What self_history and self_unblock return when the caller's common ending answers. */
#define SELF_GO_ON (-1)

/* HISTORY: the account's sources over since, bounded in rows and in time. */
static int
self_history(struct store *st, struct history *h, const struct selfservice_peer *c,
    const struct proto_request *req, const char *account, json_t **j, int *rc, char **text)
{
	long long limit = SELF_HISTORY_DEFAULT, since = SELF_HISTORY_SINCE;
	char err[512], *end;

	if (req->limit[0] != '\0') {
		limit = strtoll(req->limit, &end, 10);
		if (*end != '\0' || limit < 1 || limit > SELF_HISTORY_MAX) {
			*text = self_text("5.5.2 limit must be 1 to 1000");
			return VERDICT_ERROR;
		}
	}
	if (req->since[0] != '\0' &&
	    (duration_parse(req->since, &since, err, sizeof err) == -1 || since < 1)) {
		*text = self_text("5.5.2 since must be a duration such as 24h or 7d");
		return VERDICT_ERROR;
	}
	/* off the policy loop, but bounded: it delays this thread's other owners */
	store_time_limit(st, SELF_HISTORY_MS);
	history_time_limit(h, SELF_HISTORY_MS);
	*j = lifecycle_history(st, h, account, clock_now() - since, clock_now(), limit,
	    SELF_HISTORY_ROWS, rc);
	store_time_limit(st, 0);
	history_time_limit(h, 0);
	if (*j == NULL && (store_timed_out(st) || history_timed_out(h))) {
		log_info("user conn %llu: history of %s not summed up within %d ms",
		    c->id, account, SELF_HISTORY_MS);
		*text = self_text("4.3.0 the history is too long to sum up now; try a"
		    " shorter since");
		return VERDICT_DEFER;
	}
	return SELF_GO_ON;
}

/* UNBLOCK: the owner's request, one a minute, decided and audited by the lifecycle. */
static int
self_unblock(struct store *st, const struct config *cfg, const struct selfservice_peer *c,
    const char *account, json_t **j, int *rc, char **text, char *err, size_t errlen)
{
	char actor[ACTOR_MAX];
	long long last;

	/* One request a minute per account: each is a durable, audited write. */
	if (store_last_audit(st, account, "unblock-granted", "unblock-refused", &last) == -1)
		return SELF_GO_ON;
	if (last > clock_now() - SELF_UNBLOCK_INTERVAL) {
		*text = self_text("4.7.1 one unblock request a minute; try again later");
		return VERDICT_DEFER;
	}
	snprintf(actor, sizeof actor, "%s (self-service, uid %lu)",
	    c->uid == 0 ? "root" : account, c->uid);
	*rc = lifecycle_unblock(st, cfg, account, actor, clock_now(), j, err, errlen);
	if (*rc != LC_OK && *rc != LC_REFUSED)
		return SELF_GO_ON;
	log_info("user conn %llu: unblock request for %s by uid %lu %s", c->id,
	    account, c->uid, *rc == LC_OK ? "granted" : "refused");
	*text = self_json(*j);
	return *rc == LC_OK ? VERDICT_OK : VERDICT_REFUSED;
}

/*
 * Answer STATUS, HISTORY or UNBLOCK for the peer's own account, on the
 * user socket's thread and database connection.
 */
enum verdict
selfservice_request(struct store *st, struct history *h, const struct config *cfg,
    const struct selfservice_peer *c, const struct proto_request *req, char **text,
    char *notify, size_t notify_len)
{
	char account[ACCOUNT_NAME_MAX], err[512] = "";
	json_t *j = NULL;
	int rc = LC_ERROR, v = SELF_GO_ON;

	*text = NULL;
	notify[0] = '\0';
	if (self_account(c, req, account, sizeof account, text) == -1) {
		log_info("user conn %llu: uid %lu refused: %s", c->id, c->uid,
		    *text != NULL ? *text : "");
		return VERDICT_ERROR;
	}
	if (!identity_account_name_valid(account)) {
		*text = self_text("5.5.2 not a valid account name");
		return VERDICT_ERROR;
	}
	if (req->verb == PROTO_STATUS)
		j = lifecycle_status(st, cfg, account, clock_now(), &rc);
	else if (req->verb == PROTO_HISTORY)
		v = self_history(st, h, c, req, account, &j, &rc, text);
	else if (req->verb == PROTO_UNBLOCK)
		v = self_unblock(st, cfg, c, account, &j, &rc, text, err, sizeof err);
	else {
		*text = self_text("5.5.2 verb not allowed on this socket");
		return VERDICT_ERROR;
	}
	if (v != SELF_GO_ON) {
		if (req->verb == PROTO_UNBLOCK && (v == VERDICT_OK || v == VERDICT_REFUSED))
			snprintf(notify, notify_len, "%s", account);
		return (enum verdict)v;
	}
	if (rc == LC_NOT_FOUND) {
		if (asprintf(text, "5.1.1 no such account: %s", account) == -1)
			*text = NULL;
		return VERDICT_ERROR;
	}
	if (rc != LC_OK || j == NULL) {
		log_warnx("user conn %llu: %s", c->id,
		    req->verb == PROTO_UNBLOCK ? err : store_error(st));
		*text = self_text("4.3.0 cannot complete the request now, try again later");
		return VERDICT_DEFER;
	}
	*text = self_json(j);
	return VERDICT_OK;
}

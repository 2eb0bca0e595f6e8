/*
 * What the commands of mailabusectl share: the database opened on first
 * use, errors in the CLI's words, terminal escaping, JSON output, and the
 * arguments that name an account, a suspension target or a source.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "duration.h"
#include "history.h"
#include "identity.h"
#include "lifecycle.h"
#include "notify.h"
#include "priv.h"
#include "str.h"


/* Report a usage error on stderr; returns EX_USAGE. */
int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mailabusectl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return EX_USAGE;
}

/* Report a database failure; returns EX_UNAVAILABLE. */
int
ctl_db_error(struct ctl *c, const char *what)
{
	fprintf(stderr, "mailabusectl: %s: database error: %s\n", what,
	    c->st != NULL ? store_error(c->st) : "not open");
	if (c->st != NULL)
		store_rollback(c->st);
	return EX_UNAVAILABLE;
}

/* A history error: say it, roll back what was begun; the exit status. */
int
ctl_history_error(struct ctl *c, const char *what)
{
	fprintf(stderr, "mailabusectl: %s: history error: %s\n", what,
	    c->hist != NULL ? history_error(c->hist) : "not open");
	if (c->hist != NULL)
		history_rollback(c->hist);
	if (c->st != NULL)
		store_rollback(c->st);
	return EX_UNAVAILABLE;
}

/* Open the database on first use; 0 or an exit status. */
int
ctl_store(struct ctl *c)
{
	char err[1024];
	int r;

	if (c->st != NULL)
		return 0;
	/* root creates the database for the daemon's user: private, and the daemon's */
	if (priv_is_root() && ((r = priv_user_init(c->cfg.user, err, sizeof err)) != 0 ||
	    (r = priv_db_prepare(c->cfg.database_path, err, sizeof err)) != 0)) {
		fprintf(stderr, "mailabusectl: cannot open database: %s\n", err);
		return r == EX_NOUSER ? r : EX_UNAVAILABLE;
	}
	if ((c->st = store_open(c->cfg.database_path, c->cfg.database_busy_timeout * 1000,
	    err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabusectl: cannot open database: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}

/* Open the database and the history on first use; 0 or an exit status. */
int
ctl_history(struct ctl *c)
{
	char err[1024], path[PATH_MAX];
	int r;

	if (c->hist != NULL)
		return 0;
	/* the policy database first: its migrations hand the old records over */
	if ((r = ctl_store(c)) != 0)
		return r;
	history_path(&c->cfg, path, sizeof path);
	if (priv_is_root() && (r = priv_db_prepare(path, err, sizeof err)) != 0) {
		fprintf(stderr, "mailabusectl: cannot open the history: %s\n", err);
		return r == EX_NOUSER ? r : EX_UNAVAILABLE;
	}
	if ((c->hist = history_open(path, c->cfg.database_path,
	    c->cfg.database_busy_timeout * 1000, err, sizeof err)) == NULL) {
		fprintf(stderr, "mailabusectl: cannot open the history: %s\n", err);
		return EX_UNAVAILABLE;
	}
	return 0;
}

#define CTL_ESC_RING 16
#define CTL_ESC_LEN 8192

/*
 * A value from outside, escaped for the terminal (str_escape): every
 * text printer passes such values through here.  The result stays valid
 * for the next CTL_ESC_RING - 1 calls, enough for one printf.
 */
const char *
ctl_esc(const char *s)
{
	static char ring[CTL_ESC_RING][CTL_ESC_LEN];
	static unsigned next;
	char *b = ring[next++ % CTL_ESC_RING];

	return str_escape(s, b, CTL_ESC_LEN);
}

/* Print a JSON document on stdout and release it. */
int
ctl_json_print(json_t *j)
{
	if (j == NULL) {
		fprintf(stderr, "mailabusectl: out of memory\n");
		return EX_SOFTWARE;
	}
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(j);
	return 0;
}

/* Lookups identity_domain_owner needs, answered from the store. */
static int
ctl_domain_owner_cb(void *ctx, const char *domain, char *account, size_t len)
{
	return store_domain_owner(ctx, domain, account, len);
}

/*
 * A suspension target: an account name, or a mailbox local@domain
 * whose domain an account owns.  Returns 0, or an exit status after
 * saying what is wrong.
 */
int
ctl_target_resolve(struct ctl *c, const char *target, char *norm, size_t normlen,
    char *account, size_t acclen, int *is_mailbox)
{
	const char *at = strrchr(target, '@');
	struct identity_lookup lk = { ctl_domain_owner_cb, NULL, NULL, c->st };
	int r;

	if (strlen(target) >= normlen) {
		fprintf(stderr, "mailabusectl: %s: target too long\n", ctl_esc(target));
		return EX_USAGE;
	}
	for (size_t i = 0; i == 0 || target[i - 1] != '\0'; i++)
		norm[i] = (char)tolower((unsigned char)target[i]);
	if (at != NULL) {
		char dom[256];
		size_t ll = (size_t)(at - target);

		*is_mailbox = 1;
		/* The normal form the daemon matches: local part and domain lower case. */
		if (ll == 0 || identity_domain_normalise(at + 1, dom, sizeof dom) == -1) {
			fprintf(stderr, "mailabusectl: %s: not a mailbox address\n",
			    ctl_esc(target));
			return EX_USAGE;
		}
		for (size_t i = 0; i < ll; i++) {
			unsigned char ch = (unsigned char)target[i];

			if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '"' || ch == '\\') {
				fprintf(stderr, "mailabusectl: %s: not a mailbox address\n",
				    ctl_esc(target));
				return EX_USAGE;
			}
		}
		snprintf(norm + ll, normlen - ll, "@%s", dom);
		if ((r = identity_domain_owner(&lk, dom, account, acclen)) == -1)
			return ctl_db_error(c, "domain lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no account owns domain %s"
			    " (run 'mailabusectl sync'?)\n", ctl_esc(target), dom);
			return EX_NOINPUT;
		}
		return 0;
	}
	*is_mailbox = 0;
	if (!identity_account_name_valid(norm)) {
		fprintf(stderr, "mailabusectl: %s: not a valid account name\n", ctl_esc(target));
		return EX_USAGE;
	}
	{
		struct account a;

		if ((r = store_account_get(c->st, norm, &a)) == -1)
			return ctl_db_error(c, "account lookup");
		if (r == 0) {
			fprintf(stderr, "mailabusectl: %s: no such account"
			    " (run 'mailabusectl sync'?)\n", ctl_esc(target));
			return EX_NOINPUT;
		}
	}
	snprintf(account, acclen, "%s", norm);
	return 0;
}

/* An account named on the command line, lower-cased as cPanel's are. */
const char *
ctl_account_arg(const char *name, char *buf, size_t len)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return buf;
}

/* A complaint or suspension source: a short word. */
int
ctl_source_valid(const char *source)
{
	size_t n = strlen(source);

	if (n == 0 || n > 31)
		return 0;
	for (const char *p = source; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

/* Whether we act on the database directly (root) or through the user socket. */
int
ctl_is_root(void)
{
	return getuid() == 0;
}

/* Send an account's queued notices now; what fails stays queued for expire. */
void
ctl_notices_send(struct ctl *c, const char *account)
{
	int sent, failed, given_up;

	if (notify_send_due(c->st, &c->cfg, account, c->now, &sent, &failed, &given_up) == -1)
		fprintf(stderr, "mailabusectl: notices stay queued: %s\n", store_error(c->st));
	else {
		if (failed > 0)
			fprintf(stderr, "mailabusectl: %d notice%s not sent yet; 'mailabusectl"
			    " expire' retries\n", failed, failed == 1 ? "" : "s");
		if (given_up > 0)
			fprintf(stderr, "mailabusectl: %d notice%s given up after failing for"
			    " notify.give_up\n", given_up, given_up == 1 ? "" : "s");
	}
}

/* A --since argument: a positive duration; 0, or EX_USAGE after a message. */
int
ctl_since_arg(const char *cmd, const char *arg, long long *since)
{
	char err[128] = "";

	if (duration_parse(arg, since, err, sizeof err) == -1 || *since < 1)
		return ctl_usage_error("%s: --since: %s", cmd, err[0] != '\0' ? err :
		    "must be positive");
	return 0;
}

/* Get the status or history report: from the database as root, else from the daemon. */
int
ctl_report_fetch(struct ctl *c, const char *verb, const char *name, long long limit,
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
const char *
ctl_json_text(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL && *v != '\0' ? ctl_esc(v) : "-";
}

/* An integer member. */
long long
ctl_json_int(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

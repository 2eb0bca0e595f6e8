/*
 * Notices to account owners.  A notice is rendered from a plain-text
 * template (the built-in one, or its override in notify.templates; a
 * missing or broken override falls back to the built-in text with a
 * warning, so that a notice never stops a suspension) and queued in the
 * outbox in the same transaction as the change it tells about, so it
 * is never lost; it is then handed to notify.sendmail (notify_exec.c),
 * and retried with back-off until that command succeeds or
 * notify.give_up has passed.
 */
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "duration.h"
#include "log.h"
#include "notify.h"
#include "str.h"

#define NOTIFY_TEMPLATE_MAX 65536
#define NOTIFY_RETRY_MIN 300		/* first retry after 5 minutes ... */
#define NOTIFY_RETRY_MAX 21600		/* ... doubling up to 6 hours */
#define NOTIFY_SENDER_NICE 10

/*
 * ${name} is replaced by the variable's value; "$$" is a literal "$".
 * CR and LF in values become spaces, so a value cannot add a header.
 */
char *
notify_render(const char *tmpl, const struct notify_var *vars, size_t nvars,
    char *err, size_t errlen)
{
	size_t cap = strlen(tmpl) + 256, len = 0;
	char *out = malloc(cap);
	const char *p = tmpl;

	if (out == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (*p != '\0') {
		const char *val = NULL, *end;
		size_t vlen, i;
		char one[2] = { 0, 0 };

		if (p[0] == '$' && p[1] == '$') {
			val = "$";
			p += 2;
		} else if (p[0] == '$' && p[1] == '{') {
			if ((end = strchr(p + 2, '}')) == NULL) {
				snprintf(err, errlen, "unterminated ${ in template");
				free(out);
				return NULL;
			}
			for (i = 0; i < nvars; i++)
				if (strlen(vars[i].name) == (size_t)(end - p - 2) &&
				    strncmp(vars[i].name, p + 2, (size_t)(end - p - 2)) == 0)
					break;
			if (i == nvars) {
				snprintf(err, errlen, "unknown variable ${%.*s} in template",
				    (int)(end - p - 2 > 64 ? 64 : end - p - 2), p + 2);
				free(out);
				return NULL;
			}
			val = vars[i].value != NULL ? vars[i].value : "";
			p = end + 1;
		} else {
			one[0] = *p++;
			val = one;
		}
		vlen = strlen(val);
		if (len + vlen + 1 > cap) {
			char *n;

			cap = (len + vlen + 1) * 2;
			if ((n = realloc(out, cap)) == NULL) {
				free(out);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			out = n;
		}
		for (i = 0; i < vlen; i++)
			out[len++] = (val != one && (val[i] == '\r' || val[i] == '\n')) ? ' ' : val[i];
	}
	out[len] = '\0';
	return out;
}

/* The built-in template of a kind of notice, or NULL. */
const char *
notify_builtin_get(const char *kind)
{
	for (const struct notify_builtin *b = notify_builtins; b->kind != NULL; b++)
		if (strcmp(b->kind, kind) == 0)
			return b->text;
	return NULL;
}

/* Read a whole (small) file. */
static char *
notify_file_read(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if ((buf = malloc(NOTIFY_TEMPLATE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = fread(buf, 1, NOTIFY_TEMPLATE_MAX + 1, f);
	fclose(f);
	if (n > NOTIFY_TEMPLATE_MAX) {
		snprintf(err, errlen, "larger than %d bytes", NOTIFY_TEMPLATE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Render the template for kind and queue the message for the account's
 * contact address (or notify.fallback).  Call inside the transaction of
 * the change the notice is about.
 */
int
notify_queue(struct store *st, const struct config *cfg, const char *account,
    const char *kind, const struct notify_var *vars, size_t nvars, long long now,
    char *err, size_t errlen)
{
	struct notify_var all[24];
	struct account a;
	char path[PATH_MAX], date[64], host[256], cooldown[32], *tmpl, *body, *msg;
	const char *rcpt;
	time_t t = (time_t)now;
	struct tm tm;
	size_t n = 0;
	int r;

	if (nvars > sizeof all / sizeof all[0] - 5) {
		snprintf(err, errlen, "too many template variables");
		return -1;
	}
	if ((r = store_account_get(st, account, &a)) != 1) {
		snprintf(err, errlen, "%s", r == 0 ? "no such account" : store_error(st));
		return -1;
	}
	/* one plain address, else notify.fallback: nothing from outside reaches To: */
	rcpt = a.contact[0] != '\0' && str_address_valid(a.contact, 1) ? a.contact :
	    cfg->notify_fallback;
	if (a.contact[0] != '\0' && rcpt != a.contact)
		log_warnx("notice %s for %s: contact \"%s\" is not one plain address;"
		    " sent to notify.fallback", kind, account, a.contact);
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	all[n++] = (struct notify_var){ "account", account };
	all[n++] = (struct notify_var){ "contact", rcpt };
	all[n++] = (struct notify_var){ "hostname", host };
	all[n++] = (struct notify_var){ "owner", a.owner };
	duration_format(cfg->policy_unblock_cooldown, cooldown, sizeof cooldown);
	all[n++] = (struct notify_var){ "cooldown", cooldown };
	memcpy(all + n, vars, nvars * sizeof *vars);
	n += nvars;

	/* the override, if it is there and renders; else the built-in text */
	body = NULL;
	snprintf(path, sizeof path, "%s/%s.txt", cfg->notify_templates, kind);
	if ((tmpl = notify_file_read(path, err, errlen)) != NULL) {
		body = notify_render(tmpl, all, n, err, errlen);
		free(tmpl);
	}
	if (body == NULL) {
		const char *builtin = notify_builtin_get(kind);
		char e2[512];

		snprintf(e2, sizeof e2, "%s", err);
		if (builtin == NULL) {
			snprintf(err, errlen, "no template for notice \"%s\": %s", kind, e2);
			return -1;
		}
		log_warnx("notice template %s: %s; the built-in text is used instead", path, e2);
		if ((body = notify_render(builtin, all, n, err, errlen)) == NULL)
			return -1;
	}
	if (asprintf(&msg, "From: %s\nTo: %s\nDate: %s\nAuto-Submitted: auto-generated\n"
	    "X-Mailabuse-Notice: %s\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=utf-8\n%s", cfg->notify_from, rcpt, date,
	    kind, body) == -1) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(body);
	r = store_outbox_insert(st, account, kind, rcpt, msg, now);
	free(msg);
	if (r == -1) {
		snprintf(err, errlen, "%s", store_error(st));
		return -1;
	}
	return 0;
}

/*
 * A notice that has failed since notify.give_up ago: marked failed, never
 * retried, logged and audited.  0, or -1 on a store error.
 */
static int
notify_give_up(struct store *st, const struct notice *nt, const char *err, long long now)
{
	char since[32], detail[2048];
	time_t t = (time_t)nt->created_at;
	struct tm tm;
	int r;

	gmtime_r(&t, &tm);
	strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(detail, sizeof detail, "notice #%lld (%s) to %s given up after %d attempt%s"
	    " since %s (notify.give_up): %s", nt->id, nt->kind, nt->rcpt, nt->attempts,
	    nt->attempts == 1 ? "" : "s", since, err);
	if (store_begin(st) == -1)
		return -1;
	if ((r = store_outbox_give_up(st, nt->id, err, now)) == -1 ||
	    (r == 1 && store_audit_insert(st, now, "mailabuse (notify)", "notice-failed",
	    nt->account, nt->account, detail) == -1) || store_commit(st) == -1) {
		store_rollback(st);
		return -1;
	}
	if (r == 1)
		log_warnx("%s: %s", nt->account, detail);
	return 0;
}

/* The notices due, in batches: notify_send_due without the priority. */
static int
notify_send_batches(struct store *st, const struct config *cfg, const char *account,
    long long now, int *sent, int *failed, int *given_up)
{
	long long ids[1000];
	size_t n;

	*sent = *failed = *given_up = 0;
	/* In batches; a claimed notice is not due again, so each batch is new. */
again:
	if (store_outbox_due(st, now, account, ids, sizeof ids / sizeof ids[0], &n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct notice nt;
		char err[600];
		long long retry;
		int r;

		memset(&nt, 0, sizeof nt);
		/* a long run must not lease with a start time long past */
		now = clock_now() > now ? clock_now() : now;
		r = store_outbox_claim(st, ids[i], now, now + cfg->notify_timeout + 60, &nt);
		if (r == -1)
			return -1;
		if (r == 0)
			continue;	/* another run took it */
		if (notify_exec(cfg->notify_sendmail, nt.message, cfg->notify_timeout, err,
		    sizeof err) == 0) {
			free(nt.message);
			if (store_outbox_sent(st, nt.id, now) == -1)
				return -1;
			(*sent)++;
			continue;
		}
		free(nt.message);
		if (now >= nt.created_at + cfg->notify_give_up) {
			if (notify_give_up(st, &nt, err, now) == -1)
				return -1;
			(*given_up)++;
			continue;
		}
		retry = NOTIFY_RETRY_MIN;
		for (int k = 1; k < nt.attempts && retry < NOTIFY_RETRY_MAX; k++)
			retry *= 2;
		if (retry > NOTIFY_RETRY_MAX)
			retry = NOTIFY_RETRY_MAX;
		log_warnx("notice %lld (%s) to %s for %s not sent, retry in %llds: %s", nt.id,
		    nt.kind, nt.rcpt, nt.account, retry, err);
		if (store_outbox_failed(st, nt.id, err, now + retry) == -1)
			return -1;
		(*failed)++;
	}
	if (n == sizeof ids / sizeof ids[0])
		goto again;
	return 0;
}

/*
 * Send the notices that are due (of one account, or all): claim each,
 * run notify.sendmail, record the outcome; one still failing
 * notify.give_up after it was queued is given up.  Safe to run
 * concurrently.  Background work: the calling thread runs at nice
 * NOTIFY_SENDER_NICE meanwhile (its own scheduling priority, restored
 * after where the system allows), so that sending never takes the CPU
 * from the policy daemon.
 */
int
notify_send_due(struct store *st, const struct config *cfg, const char *account,
    long long now, int *sent, int *failed, int *given_up)
{
	int before, r;

	errno = 0;
	before = getpriority(PRIO_PROCESS, 0);
	if (errno != 0 || before >= NOTIFY_SENDER_NICE)
		return notify_send_batches(st, cfg, account, now, sent, failed, given_up);
	(void)setpriority(PRIO_PROCESS, 0, NOTIFY_SENDER_NICE);
	r = notify_send_batches(st, cfg, account, now, sent, failed, given_up);
	(void)setpriority(PRIO_PROCESS, 0, before);
	return r;
}

/*
 * Notices to account owners.  A notice is rendered from a plain-text
 * template (the built-in one, or its override in notify.templates; a
 * missing or broken override falls back to the built-in text with a
 * warning, so that a notice never stops a suspension) and queued in the
 * outbox in the same transaction as the change it tells about, so it
 * is never lost; it is then handed to notify.sendmail, and retried with
 * back-off until that command succeeds or notify.give_up has passed.
 */
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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
#define NOTIFY_ARGV_MAX 32
#define NOTIFY_RETRY_MIN 300		/* first retry after 5 minutes ... */
#define NOTIFY_RETRY_MAX 21600		/* ... doubling up to 6 hours */

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

/* Seconds on the monotonic clock: a deadline that wall-clock jumps do not move. */
static long long
notify_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

/*
 * Run notify.sendmail (split on white space, no shell) with the message
 * on its standard input.  0 on exit status 0, else -1 with err.
 */
static int
notify_exec(const struct config *cfg, const char *msg, char *err, size_t errlen)
{
	char *copy, *argv[NOTIFY_ARGV_MAX + 1], *save = NULL, *tok;
	int in[2], out[2], argc = 0, status, timed_out = 0, short_write = 0;
	size_t len = strlen(msg), off = 0, got = 0;
	long long deadline;
	int pidfd;
	pid_t pid;
	ssize_t w;
	char ebuf[512];

	if ((copy = strdup(cfg->notify_sendmail)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && argc < NOTIFY_ARGV_MAX;
	    tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (argc == 0 || pipe2(in, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot run notify.sendmail");
		free(copy);
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		free(copy);
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		free(copy);
		return -1;
	}
	if (pid == 0) {
		/* Its own process group, so that a timeout kills all it started. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 || dup2(out[1], 2) == -1)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	free(copy);
	close(in[0]);
	close(out[1]);
	signal(SIGPIPE, SIG_IGN);
	deadline = notify_mono() + cfg->notify_timeout;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	/*
	 * Feed the message and collect what the command says, then wait for
	 * it to exit, all within one deadline; past it the whole process
	 * group is killed.
	 */
	while (in[1] != -1 || out[0] != -1) {
		struct pollfd p[2];
		nfds_t np = 0;
		long long left = deadline - notify_mono();
		int pr;

		if (off == len && in[1] != -1) {
			close(in[1]);
			in[1] = -1;
			continue;
		}
		if (out[0] != -1)
			p[np++] = (struct pollfd){ out[0], POLLIN, 0 };
		if (in[1] != -1)
			p[np++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (left <= 0 || (pr = poll(p, np, (int)left * 1000)) == 0) {
			timed_out = 1;
			break;
		}
		if (pr == -1) {
			if (errno == EINTR)
				continue;
			timed_out = 1;
			break;
		}
		for (nfds_t k = 0; k < np; k++) {
			if (p[k].revents == 0)
				continue;
			if (p[k].fd == in[1]) {
				w = write(in[1], msg + off, len - off);
				if (w > 0)
					off += (size_t)w;
				else if (w == -1 && errno != EAGAIN) {
					/* it stopped reading: the message is not sent */
					close(in[1]);
					in[1] = -1;
					short_write = 1;
				}
			} else {
				ssize_t n = read(out[0], ebuf + got, sizeof ebuf - 1 - got);

				if (n <= 0) {
					close(out[0]);
					out[0] = -1;
					continue;
				}
				got += (size_t)n;
				if (got == sizeof ebuf - 1)
					got = 0;	/* keep the last of a chatty command */
			}
		}
	}
	if (in[1] != -1)
		close(in[1]);
	if (out[0] != -1)
		close(out[0]);
	ebuf[got] = '\0';
	/* Wait for it to exit, up to the deadline: on a pidfd, else in 10 ms steps. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		pid_t r = timed_out ? 0 : waitpid(pid, &status, WNOHANG);
		long long left = deadline - notify_mono();

		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			if (pidfd != -1)
				close(pidfd);
			return -1;
		}
		if (timed_out || left <= 0) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			break;
		}
		if (pidfd != -1) {
			struct pollfd pp = { pidfd, POLLIN, 0 };

			(void)poll(&pp, 1, (int)left * 1000);
		} else {
			struct timespec ten_ms = { 0, 10000000 };

			nanosleep(&ten_ms, NULL);
		}
	}
	if (pidfd != -1)
		close(pidfd);
	if (timed_out) {
		snprintf(err, errlen, "notify.sendmail did not finish within %llds; killed",
		    cfg->notify_timeout);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !short_write && off == len)
		return 0;
	ebuf[strcspn(ebuf, "\n")] = '\0';
	if (WIFSIGNALED(status))
		snprintf(err, errlen, "%s killed by signal %d%s%s", argv[0] ? "notify.sendmail" : "",
		    WTERMSIG(status), got ? ": " : "", ebuf);
	else
		snprintf(err, errlen, "notify.sendmail exited with status %d%s%s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1, got ? ": " : "", ebuf);
	return -1;
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

/*
 * Send the notices that are due (of one account, or all): claim each,
 * run notify.sendmail, record the outcome; one still failing
 * notify.give_up after it was queued is given up.  Safe to run
 * concurrently.
 */
int
notify_send_due(struct store *st, const struct config *cfg, const char *account,
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
		if (notify_exec(cfg, nt.message, err, sizeof err) == 0) {
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

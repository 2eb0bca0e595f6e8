/*
 * mailabusectl frozen: the messages on Exim's queue that mailabuse's
 * not-SMTP ACL froze, and, with --release, the release of those frozen
 * because the daemon did not answer.
 *
 * The ACL keeps why it froze a message in the ACL variable
 * acl_m_mailabuse_frozen, which Exim writes into the message's -H spool
 * file ("-aclm _mailabuse_frozen LEN" and the value): unreachable, defer,
 * error or hold.  Only "unreachable" is released, only once the daemon
 * answers PING, and only after the daemon has been asked about the
 * message again exactly as the ACL would have asked (CHECK ctx=local with
 * the uid, sender, recipients and script kept in the spool): what it
 * passes is thawed (exim -Mt) and delivered at once (exim -M, detached),
 * what it refuses, holds or defers stays frozen.  A thaw does not run the
 * ACLs again, so without this second question a suspended account's
 * messages frozen during an outage would escape.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "lifecycle.h"
#include "proto.h"

#define FROZEN_OUT_MAX	(64u * 1024 * 1024)	/* exim -bp of a huge queue */
#define FROZEN_RCPT_MAX	32768			/* as the ACL: ${length_32768:...} */
#define FROZEN_REPLY_MAX 4096
#define FROZEN_TIMEOUT	10			/* seconds for the daemon to answer */

struct frozen_msg {
	char id[32];
	long long frozen_at;
	long long uid;
	char *sender;
	char *auth;
	char *reason;		/* acl_m_mailabuse_frozen; NULL: not mailabuse's */
	char *reply;		/* acl_m_mailabuse: what the ACL got */
	char *script;
	char *rcpt;		/* "a@x, b@y", as $recipients */
	int nrcpt;
	const char *action;	/* with --release: released, kept, refused, failed */
	char *verdict;		/* with --release: the daemon's answer now */
};

struct frozen_run {
	const char *exim;
	const char *exim_conf;
};

/*
 * Run exim with ARGS (after the program and -C), stdout into *out (NUL
 * terminated, may be NULL on failure), stderr to ours.  Returns the exit
 * status, or -1 with err filled when it could not be run.
 */
static int
frozen_exim_run(const struct frozen_run *fr, const char *const *args, char **out,
    char *err, size_t errlen)
{
	const char *argv[16];
	size_t n = 0, len = 0, cap = 0;
	char *buf = NULL;
	int p[2], status;
	pid_t pid;
	ssize_t r;

	argv[n++] = fr->exim;
	if (fr->exim_conf != NULL) {
		argv[n++] = "-C";
		argv[n++] = fr->exim_conf;
	}
	for (; *args != NULL && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (out != NULL)
		*out = NULL;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull != -1)
			dup2(devnull, 0);
		dup2(p[1], 1);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		fprintf(stderr, "mailabusectl: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			if (cap > FROZEN_OUT_MAX || (nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		if ((r = read(p[0], buf + len, cap - len - 1)) < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			free(buf);
			return -1;
		}
	}
	if (buf != NULL)
		buf[len] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		snprintf(err, errlen, "%s failed", fr->exim);
		free(buf);
		return -1;
	}
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WEXITSTATUS(status);
}

/* Whether S looks like an Exim message id (old 16 or new 23 characters). */
static int
frozen_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 16 || n >= sizeof ((struct frozen_msg *)0)->id)
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return 0;
	return s[6] == '-';
}

/* Release what a parsed message holds. */
static void
frozen_msg_free(struct frozen_msg *m)
{
	free(m->sender);
	free(m->auth);
	free(m->reason);
	free(m->reply);
	free(m->script);
	free(m->rcpt);
	free(m->verdict);
}

/* Append "a@x" to the ", "-separated list, up to FROZEN_RCPT_MAX bytes. */
static int
frozen_rcpt_add(struct frozen_msg *m, const char *addr, size_t alen)
{
	size_t have = m->rcpt != NULL ? strlen(m->rcpt) : 0;
	char *nr;

	m->nrcpt++;
	if (have + 2 + alen + 1 > FROZEN_RCPT_MAX + 1)
		return 0;
	if ((nr = realloc(m->rcpt, have + 2 + alen + 1)) == NULL)
		return -1;
	m->rcpt = nr;
	snprintf(nr + have, 2 + alen + 1, "%s%.*s", have ? ", " : "", (int)alen, addr);
	return 0;
}

/* A header's value when LINE ("NNNc Name: value") is header NAME, else NULL. */
static const char *
frozen_header_value(const char *line, const char *name)
{
	const char *p = line;
	size_t n = strlen(name);

	while (isdigit((unsigned char)*p))
		p++;
	if (p == line || *p == '*' || *p == '\0')
		return NULL;		/* '*': a deleted header */
	p++;
	if (*p != ' ' || strncasecmp(p + 1, name, n) != 0 || p[1 + n] != ':')
		return NULL;
	p += 2 + n;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The -H file's first four lines: id, "login uid gid", <sender>, time and warnings. */
static int
frozen_preamble(int lineno, char *line, struct frozen_msg *m)
{
	if (lineno == 2) {
		char *sp = strrchr(line, ' ');

		if (sp == NULL)
			return -1;
		*sp = '\0';
		if ((sp = strrchr(line, ' ')) == NULL)
			return -1;
		m->uid = strtoll(sp + 1, NULL, 10);
	} else if (lineno == 3) {
		size_t l = strlen(line);

		if (l < 2 || line[0] != '<' || line[l - 1] != '>')
			return -1;
		line[l - 1] = '\0';
		if ((m->sender = strdup(line + 1)) == NULL)
			return -1;
	}
	return 0;
}

/*
 * One "-name value" line of the -H file; an ACL variable's value follows
 * on the next lines ("-aclm _name LEN", then LEN bytes and "\n"), so
 * *next is moved past it.
 */
static int
frozen_option(char *line, char **next, struct frozen_msg *m)
{
	char name[64], **dst = NULL;
	long long n;
	size_t vlen;

	if (strncmp(line, "-frozen ", 8) == 0) {
		m->frozen_at = strtoll(line + 8, NULL, 10);
		return 0;
	}
	if (strncmp(line, "-auth_id ", 9) == 0)
		return (m->auth = strdup(line + 9)) == NULL ? -1 : 0;
	if (strncmp(line, "-aclm ", 6) != 0 && strncmp(line, "-aclc ", 6) != 0)
		return 0;
	if (sscanf(line + 6, "%63s %lld", name, &n) != 2 || n < 0 ||
	    *next == NULL || (size_t)n > strlen(*next))
		return -1;
	vlen = (size_t)n;
	if (strcmp(name, "_mailabuse_frozen") == 0 && line[4] == 'm')
		dst = &m->reason;
	else if (strcmp(name, "_mailabuse") == 0 && line[4] == 'm')
		dst = &m->reply;
	if (dst != NULL && (*dst = strndup(*next, vlen)) == NULL)
		return -1;
	*next += vlen;
	if (**next == '\n')
		(*next)++;
	return 0;
}

/* A recipient line; "addr ... pno#3" for the long form. */
static int
frozen_recipient(const char *line, struct frozen_msg *m)
{
	size_t alen = strlen(line);
	const char *hash = strrchr(line, '#');

	if (hash != NULL && hash[1] != '\0' && strspn(hash + 1, "0123456789") ==
	    strlen(hash + 1) && strchr(line, ' ') != NULL)
		alen = (size_t)(strchr(line, ' ') - line);
	return frozen_rcpt_add(m, line, alen);
}

/*
 * Parse the -H spool file Exim prints for "exim -Mvh ID" into M: line 2
 * "login uid gid", line 3 "<sender>", "-frozen T", "-auth_id X", the
 * ACL variables, the recipients, the script headers.  0, or -1 when it
 * is not what we know.
 */
static int
frozen_spool_parse(char *text, struct frozen_msg *m)
{
	char *line, *next, *v;
	int lineno = 0, state = 0, nrcpt = 0;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (++lineno <= 4) {
			if (frozen_preamble(lineno, line, m) == -1)
				return -1;
			continue;
		}
		if (state == 0 && line[0] == '-') {
			if (frozen_option(line, &next, m) == -1)
				return -1;
			continue;
		}
		if (state == 0) {	/* the non-recipients tree: "XX" or "YY ..." lines */
			if (strncmp(line, "XX", 2) == 0 || strncmp(line, "YY", 2) == 0 ||
			    strncmp(line, "YN", 2) == 0 || strncmp(line, "NY", 2) == 0 ||
			    strncmp(line, "NN", 2) == 0)
				continue;
			nrcpt = atoi(line);
			state = nrcpt > 0 ? 1 : 2;
			continue;
		}
		if (state == 1) {
			if (frozen_recipient(line, m) == -1)
				return -1;
			if (--nrcpt == 0)
				state = 2;
			continue;
		}
		if (m->script == NULL &&
		    ((v = (char *)(uintptr_t)frozen_header_value(line, "X-PHP-Script")) != NULL ||
		    (v = (char *)(uintptr_t)frozen_header_value(line,
		    "X-PHP-Originating-Script")) != NULL) &&
		    (m->script = strdup(v)) == NULL)
			return -1;
	}
	return 0;
}

/* Connect to the policy socket with a deadline for the answer; fd or -1. */
static int
frozen_socket_connect(struct ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = { FROZEN_TIMEOUT, 0 };
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", c->cfg.policy_socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		snprintf(err, errlen, "%s: %s", c->cfg.policy_socket_path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * One request on the policy socket, as Exim's ${readsocket} makes it;
 * the first line of the reply in REPLY.  0, or -1 with err filled.
 */
static int
frozen_ask(struct ctl *c, const char *req, char *reply, size_t replylen, char *err,
    size_t errlen)
{
	size_t len = 0, reqlen = strlen(req);
	ssize_t n;
	int fd;

	if ((fd = frozen_socket_connect(c, err, errlen)) == -1)
		return -1;
	if (write(fd, req, reqlen) != (ssize_t)reqlen || shutdown(fd, SHUT_WR) == -1) {
		snprintf(err, errlen, "%s: %s", c->cfg.policy_socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	while (len + 1 < replylen && (n = read(fd, reply + len, replylen - len - 1)) > 0)
		len += (size_t)n;
	close(fd);
	reply[len] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "%s: no answer", c->cfg.policy_socket_path);
		return -1;
	}
	return 0;
}

/* Append " name=BASE64(value)" to the request; -1 when it does not fit. */
static int
frozen_field(char *req, size_t reqlen, const char *name, const char *value)
{
	size_t have = strlen(req), vlen = value != NULL ? strlen(value) : 0;
	long n;

	if (have + strlen(name) + 2 >= reqlen)
		return -1;
	have += (size_t)snprintf(req + have, reqlen - have, " %s=", name);
	if (vlen == 0)
		return 0;
	if ((n = proto_base64_encode(value, vlen, req + have, reqlen - have)) < 0)
		return -1;
	req[have + (size_t)n] = '\0';
	return 0;
}

/* Ask the daemon about M again, as the not-SMTP ACL would; its answer in M. */
static int
frozen_recheck(struct ctl *c, struct frozen_msg *m, char *err, size_t errlen)
{
	size_t reqlen = FROZEN_RCPT_MAX * 2 + 8192;
	char *req = malloc(reqlen), reply[FROZEN_REPLY_MAX], uid[32], nrcpt[32];
	int r = -1;

	if (req == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(uid, sizeof uid, "%lld", m->uid);
	snprintf(nrcpt, sizeof nrcpt, "%d", m->nrcpt);
	snprintf(req, reqlen, "%s CHECK", PROTO_VERSION);
	if (frozen_field(req, reqlen, "ctx", "local") == -1 ||
	    frozen_field(req, reqlen, "auth", m->auth) == -1 ||
	    frozen_field(req, reqlen, "uid", uid) == -1 ||
	    frozen_field(req, reqlen, "sender", m->sender) == -1 ||
	    frozen_field(req, reqlen, "rcpt", m->rcpt) == -1 ||
	    frozen_field(req, reqlen, "nrcpt", nrcpt) == -1 ||
	    frozen_field(req, reqlen, "msgid", m->id) == -1 ||
	    frozen_field(req, reqlen, "script", m->script) == -1 ||
	    strlen(req) + 2 > reqlen) {
		snprintf(err, errlen, "%s: request too long", m->id);
		goto out;
	}
	strcat(req, "\n");
	if (frozen_ask(c, req, reply, sizeof reply, err, errlen) == -1)
		goto out;
	if ((m->verdict = strdup(reply)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	r = 0;
out:
	free(req);
	return r;
}

/* Deliver the thawed messages now, in a detached "exim -M ID..." */
static void
frozen_deliver(const struct frozen_run *fr, struct frozen_msg *msgs, size_t n)
{
	const char **argv;
	size_t k = 0;
	pid_t pid = -1;
	int status;

	if ((argv = calloc(n + 5, sizeof *argv)) == NULL)
		return;
	argv[k++] = fr->exim;
	if (fr->exim_conf != NULL) {
		argv[k++] = "-C";
		argv[k++] = fr->exim_conf;
	}
	argv[k++] = "-M";
	for (size_t i = 0; i < n; i++)
		if (msgs[i].action != NULL && strcmp(msgs[i].action, "released") == 0)
			argv[k++] = msgs[i].id;
	argv[k] = NULL;
	if (k > (fr->exim_conf != NULL ? 4u : 2u))
		pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		setsid();
		if (devnull != -1) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		if (fork() == 0) {
			execvp(argv[0], (char *const *)(uintptr_t)argv);
			_exit(127);
		}
		_exit(0);
	} else if (pid > 0)
		waitpid(pid, &status, 0);
	free(argv);
}

/* Thaw M once the daemon passes it; M's action says what was done. */
static int
frozen_release_one(struct ctl *c, const struct frozen_run *fr, struct frozen_msg *m)
{
	const char *args[] = { "-Mt", m->id, NULL };
	char err[512], detail[REASON_MAX], word[16];

	if (frozen_recheck(c, m, err, sizeof err) == -1) {
		fprintf(stderr, "mailabusectl: frozen: %s: %s\n", m->id, err);
		m->action = "failed";
		return -1;
	}
	snprintf(word, sizeof word, "%.*s", (int)strcspn(m->verdict, " "), m->verdict);
	if (strcmp(word, "PASS") != 0) {
		m->action = strcmp(word, "REFUSE") == 0 ? "refused" : "kept";
		return 0;
	}
	if (frozen_exim_run(fr, args, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "mailabusectl: frozen: exim -Mt %s failed\n", m->id);
		m->action = "failed";
		return -1;
	}
	m->action = "released";
	snprintf(detail, sizeof detail, "released message %s frozen while mailabused was"
	    " unreachable (uid %lld, sender <%.200s>)", m->id, m->uid,
	    m->sender != NULL ? m->sender : "");
	if (store_begin(c->st) == -1 ||
	    store_audit_insert(c->st, c->now, c->actor, "frozen-released", NULL, m->id,
	    detail) == -1 || store_commit(c->st) == -1)
		return ctl_db_error(c, "frozen");
	return 0;
}

/*
 * The frozen messages mailabuse froze, from "exim -bp" (lines "AGE SIZE ID
 * <sender> *** frozen ***"; SIZE may be "2.5K") and "exim -Mvh ID".
 */
static int
frozen_collect(const struct frozen_run *fr, struct frozen_msg **out, size_t *nout)
{
	const char *bp[] = { "-bp", NULL };
	char *queue, *line, *next, err[512];
	struct frozen_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	int r;

	if ((r = frozen_exim_run(fr, bp, &queue, err, sizeof err)) != 0 || queue == NULL) {
		fprintf(stderr, "mailabusectl: frozen: cannot list Exim's queue (%s -bp):"
		    " %s\n", fr->exim, r == -1 ? err : "it failed");
		free(queue);
		return EX_UNAVAILABLE;
	}
	for (line = queue; line != NULL && *line != '\0'; line = next) {
		char age[16], size[16], id[64], *hdr;
		const char *mvh[] = { "-Mvh", id, NULL };
		struct frozen_msg m;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, "*** frozen ***") == NULL ||
		    sscanf(line, "%15s %15s %63s", age, size, id) != 3 || !frozen_id_valid(id))
			continue;
		memset(&m, 0, sizeof m);
		snprintf(m.id, sizeof m.id, "%s", id);
		if (frozen_exim_run(fr, mvh, &hdr, err, sizeof err) != 0 || hdr == NULL) {
			free(hdr);
			continue;		/* delivered or removed meanwhile */
		}
		if (frozen_spool_parse(hdr, &m) == -1 || m.reason == NULL) {
			frozen_msg_free(&m);
			free(hdr);
			continue;		/* not ours */
		}
		free(hdr);
		if (n == cap) {
			struct frozen_msg *nm;

			cap = cap ? cap * 2 : 16;
			if ((nm = realloc(msgs, cap * sizeof *nm)) == NULL) {
				frozen_msg_free(&m);
				break;
			}
			msgs = nm;
		}
		msgs[n++] = m;
	}
	free(queue);
	*out = msgs;
	*nout = n;
	return 0;
}

/* The --json document: the messages, and with --release how many went. */
static json_t *
frozen_json(const struct frozen_msg *msgs, size_t n, int release, size_t released)
{
	json_t *arr = json_array(), *o;
	char t[32];

	for (size_t i = 0; i < n; i++) {
		const struct frozen_msg *m = &msgs[i];
		json_t *rc = json_array();

		lifecycle_time(m->frozen_at, t, sizeof t);
		if (m->rcpt != NULL) {
			const char *p = m->rcpt, *e;

			for (; (e = strstr(p, ", ")) != NULL; p = e + 2)
				json_array_append_new(rc, json_stringn(p, (size_t)(e - p)));
			json_array_append_new(rc, json_string(p));
		}
		json_array_append_new(arr, json_pack("{s:s, s:s?, s:s, s:s?, s:I, s:s, s:s?,"
		    " s:o, s:i, s:s?, s:s?}",
		    "id", m->id, "frozen_at", m->frozen_at ? t : NULL,
		    "reason", m->reason, "reply", m->reply,
		    "uid", (json_int_t)m->uid, "sender", m->sender != NULL ? m->sender : "",
		    "script", m->script, "recipients", rc,
		    "nrcpt", m->nrcpt, "action", m->action, "verdict", m->verdict));
	}
	o = json_pack("{s:o}", "messages", arr);
	if (o != NULL && release)
		json_object_set_new(o, "released", json_integer((json_int_t)released));
	return o;
}

/* mailabusectl frozen [--release] [--json] [--exim PATH] [--exim-config FILE] */
int
cmd_frozen(struct ctl *c, const struct ctl_args *a)
{
	struct frozen_run fr = { "exim", NULL };
	struct frozen_msg *msgs = NULL;
	size_t n = 0, released = 0, failed = 0;
	int release = ctl_args_has(a, "release"), r;

	fr.exim = ctl_args_text(a, "exim", "exim");
	fr.exim_conf = ctl_args_get(a, "exim-config");
	if (release) {
		char reply[256], err[512];

		if (frozen_ask(c, PROTO_VERSION " PING\n", reply, sizeof reply, err,
		    sizeof err) == -1 || strncmp(reply, "OK", 2) != 0) {
			fprintf(stderr, "mailabusectl: frozen: mailabused does not answer"
			    " (%s); nothing released\n", err[0] != '\0' ? err : reply);
			return EX_UNAVAILABLE;
		}
		if ((r = ctl_store(c)) != 0)
			return r;
	}
	if ((r = frozen_collect(&fr, &msgs, &n)) != 0)
		return r;
	for (size_t i = 0; release && i < n; i++) {
		if (strcmp(msgs[i].reason, "unreachable") != 0)
			continue;
		if ((r = frozen_release_one(c, &fr, &msgs[i])) > 0)
			break;			/* the database failed: stop */
		if (r == -1)
			failed++;
		else if (strcmp(msgs[i].action, "released") == 0)
			released++;
	}
	if (released > 0)
		frozen_deliver(&fr, msgs, n);
	if (c->json)
		ctl_json_print(frozen_json(msgs, n, release, released));
	else {
		if (n > 0)
			printf("%-23s %-20s %-11s %-8s %s\n", "ID", "FROZEN", "REASON",
			    release ? "ACTION" : "UID", "SENDER -> RECIPIENTS");
		for (size_t i = 0; i < n; i++) {
			struct frozen_msg *m = &msgs[i];
			char t[32], uid[24];

			lifecycle_time(m->frozen_at, t, sizeof t);
			snprintf(uid, sizeof uid, "%lld", m->uid);
			printf("%-23s %-20s %-11s %-8s <%s> -> %s\n", m->id, t, m->reason,
			    release ? (m->action != NULL ? m->action : "-") : uid,
			    m->sender != NULL ? m->sender : "", m->rcpt != NULL ? m->rcpt : "");
			if (release && m->verdict != NULL && strcmp(m->action, "released") != 0)
				printf("    mailabused now answers: %s\n", m->verdict);
		}
		if (release)
			printf("%zu released%s\n", released, released > 0 ?
			    " (thawed, delivery started)" : "");
		else
			printf("%zu frozen by mailabuse\n", n);
	}
	for (size_t i = 0; i < n; i++)
		frozen_msg_free(&msgs[i]);
	free(msgs);
	if (r > 0)
		return r;
	return failed > 0 ? EX_TEMPFAIL : 0;
}

/*
 * mailabusectl doctor: check a deployment as an administrator would, one
 * thing after another: the configuration, the daemon's user, the
 * database's owner and modes, a PING on the policy socket made as Exim's
 * user and one on the user socket as an ordinary user, the notice templates, cPanel's files, the Exim configuration in
 * use (exim -bP config) and the cron job.  One line per check: OK, or
 * what is wrong and what to do.  Exit 0 only when every check passes.
 * Changes nothing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "history.h"
#include "notify.h"

#define DOCTOR_OUTPUT_MAX (4 * 1024 * 1024)	/* exim -bP config, at most */
#define DOCTOR_CRON_FILE "/etc/cron.d/mailabuse"

struct doctor {
	struct ctl *c;
	json_t *checks;
	int failed;
	const char *exim;		/* the exim binary */
	const char *exim_config;	/* exim -C FILE, or NULL for the one in use */
	const char *exim_user;		/* --exim-user, or NULL: ask exim */
	const char *cron_file;
	char *exim_bp;			/* exim -bP config, or NULL if it failed */
	char exim_err[256];
};

/* Report one check: ok with what was found, or what is wrong and what to do. */
static void __attribute__((format(printf, 4, 5)))
doctor_report(struct doctor *d, const char *check, int ok, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (!ok)
		d->failed++;
	if (d->c->json)
		json_array_append_new(d->checks, json_pack("{s:s, s:b, s:s}", "check", check,
		    "ok", ok, "detail", text));
	else
		printf("%-4s  %-18s %s\n", ok ? "OK" : "FAIL", check, ctl_esc(text));
}

/*
 * Run a program (no shell) and collect its standard output; its
 * standard error is dropped.  Returns the output (NUL-terminated, caller
 * frees) or NULL with err filled.
 */
static char *
doctor_run(char *const argv[], char *err, size_t errlen)
{
	int fds[2], status, devnull;
	size_t len = 0, cap = 65536;
	char *out;
	ssize_t n;
	pid_t pid;

	if ((out = malloc(cap)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(out);
		return NULL;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		dup2(fds[1], STDOUT_FILENO);
		if (devnull != -1) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		if (len + 1 == cap) {
			char *nr;

			if (cap >= DOCTOR_OUTPUT_MAX || (nr = realloc(out, cap * 2)) == NULL)
				break;
			out = nr;
			cap *= 2;
		}
		if ((n = read(fds[0], out + len, cap - len - 1)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			snprintf(err, errlen, "cannot run %s", argv[0]);
		else
			snprintf(err, errlen, "%s failed (status %d)", argv[0],
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		free(out);
		return NULL;
	}
	return out;
}

/* exim [-C FILE] -bP ARG...; the output or NULL with err. */
static char *
doctor_exim_bp(struct doctor *d, const char *a1, const char *a2, char *err, size_t errlen)
{
	const char *argv[8];
	int n = 0;

	argv[n++] = d->exim;
	if (d->exim_config != NULL) {
		argv[n++] = "-C";
		argv[n++] = d->exim_config;
	}
	argv[n++] = "-bP";
	argv[n++] = a1;
	if (a2 != NULL)
		argv[n++] = a2;
	argv[n] = NULL;
	return doctor_run((char *const *)(void *)argv, err, errlen);
}

/* The configuration: main() loaded it, or kept why it could not. */
static int
doctor_config(struct doctor *d)
{
	if (d->c->conf_error != NULL) {
		doctor_report(d, "configuration", 0, "%s: correct it ('mailabused -n -c %s'"
		    " checks it); nothing else can be checked before", d->c->conf_error,
		    d->c->conf_path);
		return -1;
	}
	doctor_report(d, "configuration", 1, "%s is valid", d->c->conf_path);
	return 0;
}

/* The daemon's user (config key user); 0 with its ids, or -1. */
static int
doctor_user(struct doctor *d, uid_t *uid, gid_t *gid)
{
	const char *user = d->c->cfg.user != NULL ? d->c->cfg.user : "mailabuse";
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL) {
		doctor_report(d, "daemon user", 0, "no user \"%s\" (key user): create it:"
		    " useradd --system --home-dir /var/lib/mailabuse --shell /usr/sbin/nologin %s",
		    user, user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	doctor_report(d, "daemon user", 1, "%s (uid %lu)", user, (unsigned long)pw->pw_uid);
	return 0;
}

/*
 * In a child running as uid:gid (groups: gid alone, as Exim sets them),
 * call fn and pass its one-line answer back.  0 with the answer, -1 if
 * the child could not run.
 */
static int
doctor_as(uid_t uid, gid_t gid, void (*fn)(void *, char *, size_t), void *arg,
    char *answer, size_t len)
{
	int fds[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		snprintf(answer, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char buf[512];

		close(fds[0]);
		if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1)
			snprintf(buf, sizeof buf, "cannot switch to uid %lu: %s",
			    (unsigned long)uid, strerror(errno));
		else
			fn(arg, buf, sizeof buf);
		if (write(fds[1], buf, strlen(buf)) == -1)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	while (got + 1 < len && ((n = read(fds[0], answer + got, len - got - 1)) > 0 ||
	    (n == -1 && errno == EINTR)))
		if (n > 0)
			got += (size_t)n;
	answer[got] = '\0';
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return 0;
}

struct doctor_paths {
	const char *dir;
	const char *file;
};

/* As the daemon's user: can it create files in the directory and write the database? */
static void
doctor_writable_cb(void *arg, char *out, size_t len)
{
	const struct doctor_paths *p = arg;

	if (access(p->dir, W_OK | X_OK) == -1)
		snprintf(out, len, "%s: %s", p->dir, strerror(errno));
	else if (access(p->file, R_OK | W_OK) == -1)
		snprintf(out, len, "%s: %s", p->file, strerror(errno));
	else
		snprintf(out, len, "ok");
}

/* The directory of a file, in dir. */
static void
doctor_dirname(const char *file, char *dir, size_t len)
{
	char *slash;

	snprintf(dir, len, "%s", file);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
}

/*
 * A database file's directory 0700 and its files (and their -wal, -shm,
 * -journal and -gen companions) 0600, all owned by the daemon's user.
 * 0, or -1 once it has reported what is wrong.
 */
static int
doctor_private(struct doctor *d, const char *db, const char *user, int have_user, uid_t uid)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal", "-gen" };
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct stat sb;

	doctor_dirname(db, dir, sizeof dir);
	if (stat(dir, &sb) == -1) {
		doctor_report(d, "database", 0, "%s: %s: install -d -o %s -m 0700 %s", dir,
		    strerror(errno), user, dir);
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		doctor_report(d, "database", 0, "%s is mode %04o, readable by others: chmod 0700 %s",
		    dir, (unsigned)(sb.st_mode & 07777), dir);
		return -1;
	}
	if (have_user && sb.st_uid != uid) {
		doctor_report(d, "database", 0, "%s belongs to uid %lu, not to %s: chown %s %s",
		    dir, (unsigned long)sb.st_uid, user, user, dir);
		return -1;
	}
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
		if (stat(path, &sb) == -1)
			continue;
		if (!S_ISREG(sb.st_mode)) {
			doctor_report(d, "database", 0, "%s is not a regular file", path);
			return -1;
		}
		if ((sb.st_mode & 077) != 0) {
			doctor_report(d, "database", 0, "%s is mode %04o, readable by others:"
			    " chmod 0600 %s", path, (unsigned)(sb.st_mode & 07777), path);
			return -1;
		}
		if (have_user && sb.st_uid != uid) {
			doctor_report(d, "database", 0, "%s belongs to uid %lu, not to %s:"
			    " chown %s %s", path, (unsigned long)sb.st_uid, user, user, path);
			return -1;
		}
	}
	return 0;
}

/*
 * The database and the history file: private to the daemon's user
 * (doctor_private), and the database writable by that user.
 */
static void
doctor_database(struct doctor *d, int have_user, uid_t uid, gid_t gid)
{
	const char *db = d->c->cfg.database_path;
	const char *user = d->c->cfg.user != NULL ? d->c->cfg.user : "mailabuse";
	char dir[PATH_MAX], hist[PATH_MAX], answer[600];
	struct doctor_paths p;
	struct stat sb;

	doctor_dirname(db, dir, sizeof dir);
	if (doctor_private(d, db, user, have_user, uid) == -1)
		return;
	if (stat(db, &sb) == -1) {
		doctor_report(d, "database", 0, "%s: %s: start mailabused, which creates it", db,
		    strerror(errno));
		return;
	}
	/* the history: who sent what to whom, no less private than the database */
	history_path(&d->c->cfg, hist, sizeof hist);
	if (doctor_private(d, hist, user, have_user, uid) == -1)
		return;
	if (have_user) {
		p.dir = dir;
		p.file = db;
		doctor_as(uid, gid, doctor_writable_cb, &p, answer, sizeof answer);
		if (strcmp(answer, "ok") != 0) {
			doctor_report(d, "database", 0, "%s cannot write %s: chown -R %s %s", user,
			    answer, user, dir);
			return;
		}
	}
	doctor_report(d, "database", 1, "%s: private (0700/0600) and writable by %s;"
	    " the history %s private too", db, user, hist);
}

/* As Exim's user: connect to the policy socket and PING. */
static void
doctor_ping_cb(void *arg, char *out, size_t len)
{
	const char *path = arg;
	struct sockaddr_un sun;
	struct timeval tv = { 5, 0 };
	const char req[] = "MAILABUSE/1 PING\n";
	char reply[256];
	size_t got = 0;
	ssize_t n;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		snprintf(out, len, "connect: %s", strerror(errno));
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		snprintf(out, len, "write: %s", strerror(errno));
		close(fd);
		return;
	}
	while (got + 1 < sizeof reply && (n = read(fd, reply + got, sizeof reply - got - 1)) > 0) {
		got += (size_t)n;
		if (memchr(reply, '\n', got) != NULL)
			break;
	}
	close(fd);
	reply[got] = '\0';
	reply[strcspn(reply, "\r\n")] = '\0';
	snprintf(out, len, "reply: %s", got > 0 ? reply : "(none within 5s)");
}

/* Exim's user and group: --exim-user, else what exim -bP says. */
static int
doctor_exim_ids(struct doctor *d, char *name, size_t namelen, uid_t *uid, gid_t *gid)
{
	char err[256], *out, *end;
	const char *who = d->exim_user;
	struct passwd *pw;
	struct group *gr;
	unsigned long v;

	out = NULL;
	if (who == NULL) {
		if ((out = doctor_exim_bp(d, "-n", "exim_user", err, sizeof err)) == NULL) {
			doctor_report(d, "policy socket", 0, "cannot tell Exim's user (exim -bP"
			    " exim_user: %s): name it with --exim-user", err);
			return -1;
		}
		out[strcspn(out, "\r\n")] = '\0';
		who = out;
	}
	errno = 0;
	v = strtoul(who, &end, 10);
	pw = *who != '\0' && *end == '\0' && errno == 0 ? getpwuid((uid_t)v) : getpwnam(who);
	if (pw == NULL && !(*who != '\0' && *end == '\0')) {
		doctor_report(d, "policy socket", 0, "Exim's user \"%s\" does not exist:"
		    " name it with --exim-user", who);
		free(out);
		return -1;
	}
	*uid = pw != NULL ? pw->pw_uid : (uid_t)v;
	*gid = pw != NULL ? pw->pw_gid : (gid_t)v;
	snprintf(name, namelen, "%s", pw != NULL ? pw->pw_name : who);
	free(out);
	/* exim_group, when exim says one: the group Exim's ACLs run with */
	if (d->exim_user == NULL &&
	    (out = doctor_exim_bp(d, "-n", "exim_group", err, sizeof err)) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
		errno = 0;
		v = strtoul(out, &end, 10);
		if (*out != '\0' && *end == '\0' && errno == 0)
			*gid = (gid_t)v;
		else if ((gr = getgrnam(out)) != NULL)
			*gid = gr->gr_gid;
		free(out);
	}
	return 0;
}

/* The policy socket answers a PING made as Exim's user. */
static void
doctor_policy_socket(struct doctor *d)
{
	const char *sock = d->c->cfg.policy_socket_path;
	char name[64], answer[512];
	struct group *gr;
	uid_t uid;
	gid_t gid;

	if (doctor_exim_ids(d, name, sizeof name, &uid, &gid) == -1)
		return;
	doctor_as(uid, gid, doctor_ping_cb, (void *)(uintptr_t)sock, answer, sizeof answer);
	if (strncmp(answer, "reply: OK mailabused", 20) == 0) {
		doctor_report(d, "policy socket", 1, "%s answers Exim's user %s: %s", sock, name,
		    answer + 7);
		return;
	}
	gr = getgrgid(gid);
	if (strstr(answer, strerror(ENOENT)) != NULL || strstr(answer, strerror(ECONNREFUSED)))
		doctor_report(d, "policy socket", 0, "%s: %s: mailabused is not running: start"
		    " it (systemctl start mailabused)", sock, answer);
	else if (strstr(answer, strerror(EACCES)) != NULL)
		doctor_report(d, "policy socket", 0, "%s: Exim's user %s may not connect (%s):"
		    " set policy_socket.group = \"%s\" and restart mailabused; every directory"
		    " above the socket must be searchable", sock, name, answer,
		    gr != NULL ? gr->gr_name : "Exim's group");
	else
		doctor_report(d, "policy socket", 0, "%s as %s: %s: look at mailabused's log",
		    sock, name, answer);
}

/* The user socket answers a PING made as an ordinary user, as owners' commands do. */
static void
doctor_user_socket(struct doctor *d)
{
	const char *sock = d->c->cfg.user_socket_path;
	struct passwd *pw = getpwnam("nobody");
	uid_t uid = pw != NULL ? pw->pw_uid : 65534;
	gid_t gid = pw != NULL ? pw->pw_gid : 65534;
	char answer[512];

	doctor_as(uid, gid, doctor_ping_cb, (void *)(uintptr_t)sock, answer, sizeof answer);
	if (strncmp(answer, "reply: OK mailabused", 20) == 0)
		doctor_report(d, "user socket", 1, "%s answers an ordinary user (nobody)", sock);
	else if (strstr(answer, strerror(EACCES)) != NULL)
		doctor_report(d, "user socket", 0, "%s: %s: account owners cannot reach it:"
		    " every directory above it must be searchable by all", sock, answer);
	else
		doctor_report(d, "user socket", 0, "%s: %s: account owners' status, history and"
		    " unblock need it: start mailabused", sock, answer);
}

/*
 * Each notice template renders with the variables the daemon gives it:
 * the override in notify.templates, or the built-in text where there is
 * none.  A broken override fails: notices fall back to the built-in text
 * until it is corrected.
 */
static void
doctor_templates(struct doctor *d)
{
	static const struct {
		const char *kind;
		struct notify_var v[4];
	} kinds[] = {
		{ "suspended", { { "target", "bob" }, { "reason", "spam run" },
		    { "source", "admin" }, { "since", "2026-01-01T00:00:00Z" } } },
		{ "unblock-granted", { { "why", "granted" }, { "from", "2026-01-01T00:00:00Z" },
		    { "reason", "spam run" }, { NULL, NULL } } },
		{ "unblock-refused", { { "why", "a complaint window is open" },
		    { "from", "2026-01-01T00:00:00Z" }, { "reason", "spam run" }, { NULL, NULL } } },
		{ "eligible", { { "reason", "spam run" }, { NULL, NULL }, { NULL, NULL },
		    { NULL, NULL } } },
	};
	char path[PATH_MAX], err[512], *tmpl, *body;
	struct notify_var all[9];
	size_t n, got;
	FILE *f;
	int ok = 0, builtin = 0;

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		n = 0;
		all[n++] = (struct notify_var){ "account", "bob" };
		all[n++] = (struct notify_var){ "contact", "owner@example.com" };
		all[n++] = (struct notify_var){ "hostname", "server.example.com" };
		all[n++] = (struct notify_var){ "owner", "root" };
		all[n++] = (struct notify_var){ "cooldown", "90d" };
		for (size_t i = 0; i < 4 && kinds[k].v[i].name != NULL; i++)
			all[n++] = kinds[k].v[i];
		snprintf(path, sizeof path, "%s/%s.txt", d->c->cfg.notify_templates, kinds[k].kind);
		if ((f = fopen(path, "r")) == NULL && errno != ENOENT) {
			doctor_report(d, "notice templates", 0, "%s: %s: make it readable, or"
			    " remove it to use the built-in text", path, strerror(errno));
			return;
		}
		if ((tmpl = malloc(65537)) == NULL) {
			if (f != NULL)
				fclose(f);
			doctor_report(d, "notice templates", 0, "out of memory");
			return;
		}
		if (f == NULL) {
			/* no override: the built-in text */
			snprintf(tmpl, 65537, "%s", notify_builtin_get(kinds[k].kind) != NULL ?
			    notify_builtin_get(kinds[k].kind) : "");
			snprintf(path, sizeof path, "built-in %s", kinds[k].kind);
			builtin++;
		} else {
			got = fread(tmpl, 1, 65536, f);
			fclose(f);
			tmpl[got] = '\0';
		}
		body = notify_render(tmpl, all, n, err, sizeof err);
		free(tmpl);
		if (body == NULL) {
			doctor_report(d, "notice templates", 0, "%s: %s: correct the template", path,
			    err);
			return;
		}
		if (strncmp(body, "Subject:", 8) != 0 || strstr(body, "\n\n") == NULL) {
			free(body);
			doctor_report(d, "notice templates", 0, "%s: does not start with a"
			    " Subject: header and a blank line: correct the template", path);
			return;
		}
		free(body);
		ok++;
	}
	if (builtin == 0)
		doctor_report(d, "notice templates", 1, "%d render from %s", ok,
		    d->c->cfg.notify_templates);
	else
		doctor_report(d, "notice templates", 1, "%d render, %d from %s, %d built in", ok,
		    ok - builtin, d->c->cfg.notify_templates, builtin);
}

/* cPanel's files that sync reads, under cpanel.root. */
static void
doctor_cpanel(struct doctor *d)
{
	static const char *const files[] = { "etc/userdomains", "etc/trueuserowners",
	    "etc/localdomains", "var/cpanel/users/" };
	const char *root = d->c->cfg.cpanel_root;
	size_t rl = strlen(root);
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s%s%s", root, rl > 0 && root[rl - 1] == '/' ? "" :
		    "/", files[i]);
		if (access(path, R_OK | (path[strlen(path) - 1] == '/' ? X_OK : 0)) == -1) {
			doctor_report(d, "cpanel files", 0, "%s: %s: is this a cPanel server?"
			    " (else set cpanel.root to where the files are)", path, strerror(errno));
			return;
		}
	}
	doctor_report(d, "cpanel files", 1, "etc/userdomains, etc/trueuserowners,"
	    " etc/localdomains and var/cpanel/users/ readable under %s", root);
}

/* The value of a main-section option in exim -bP config output ("" if unset). */
static void
doctor_exim_option(const char *conf, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);

	buf[0] = '\0';
	for (const char *p = conf; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, "begin ", 6) == 0)
			return;
		if (strncmp(p, name, nl) == 0 && strncmp(p + nl, " = ", 3) == 0) {
			snprintf(buf, len, "%.*s", (int)strcspn(p + nl + 3, "\n"), p + nl + 3);
			return;
		}
	}
}

/*
 * The text of the named ACL in exim -bP config output: from "  NAME:"
 * in the acl section to the next ACL or section.  A pointer into conf
 * and its length, or NULL.
 */
static const char *
doctor_exim_acl(const char *conf, const char *name, size_t *len)
{
	const char *p = strstr(conf, "\nbegin acl\n"), *start = NULL, *q;
	size_t nl = strlen(name);

	for (p = p != NULL ? p + 1 : NULL; p != NULL && *p != '\0';
	    p = strchr(p, '\n'), p = p ? p + 1 : p) {
		const char *t = p + strspn(p, " \t");
		size_t w = strcspn(t, " \t\n");

		if (start != NULL && ((w > 1 && *t != '#' && t[w - 1] == ':' && t[w] == '\n' &&
		    t != p) || strncmp(p, "begin ", 6) == 0))
			break;
		if (start == NULL && t != p && w == nl + 1 && strncmp(t, name, nl) == 0 &&
		    t[nl] == ':')
			start = p;
	}
	if (start == NULL)
		return NULL;
	q = p != NULL && *p != '\0' ? p : start + strlen(start);
	*len = (size_t)(q - start);
	return start;
}

/* An ACL of the Exim configuration in use asks mailabused, on the right socket. */
static void
doctor_exim_acl_check(struct doctor *d, const char *check, const char *option,
    const char *fragment)
{
	char name[128], sock[PATH_MAX], *acl;
	const char *text, *s;
	size_t len;

	if (d->exim_bp == NULL) {
		doctor_report(d, check, 0, "cannot read Exim's configuration (%s -bP config:"
		    " %s)%s", d->exim, d->exim_err, d->exim_config == NULL ? "; is Exim installed?"
		    : "");
		return;
	}
	doctor_exim_option(d->exim_bp, option, name, sizeof name);
	if (name[0] == '\0') {
		doctor_report(d, check, 0, "Exim has no %s ACL: define one that includes %s"
		    " (see the README)", option, fragment);
		return;
	}
	if ((text = doctor_exim_acl(d->exim_bp, name, &len)) == NULL) {
		doctor_report(d, check, 0, "ACL %s (%s) not found in Exim's configuration",
		    name, option);
		return;
	}
	if ((acl = strndup(text, len)) == NULL) {
		doctor_report(d, check, 0, "out of memory");
		return;
	}
	if (strstr(acl, "MAILABUSE/1 CHECK") == NULL) {
		doctor_report(d, check, 0, "ACL %s (%s) does not include %s: add"
		    " \".include /usr/share/mailabuse/exim/%s\" at its top and reload Exim",
		    name, option, fragment, fragment);
		free(acl);
		return;
	}
	/* the socket the fragment was given (MAILABUSE_SOCKET, expanded by -bP) */
	if ((s = strstr(acl, "acl_m_mailabuse_socket = ")) != NULL) {
		s += strlen("acl_m_mailabuse_socket = ");
		snprintf(sock, sizeof sock, "%.*s", (int)strcspn(s, " \t\n"), s);
		if (strcmp(sock, d->c->cfg.policy_socket_path) != 0) {
			doctor_report(d, check, 0, "ACL %s asks %s, but mailabused listens on %s:"
			    " set MAILABUSE_SOCKET = %s in Exim's main section", name, sock,
			    d->c->cfg.policy_socket_path, d->c->cfg.policy_socket_path);
			free(acl);
			return;
		}
	}
	free(acl);
	doctor_report(d, check, 1, "ACL %s (%s) includes %s", name, option, fragment);
}

/* The bounce detector needs Exim's delivery events. */
static void
doctor_exim_events(struct doctor *d)
{
	char action[4096];

	if (d->c->cfg.detect_limit[DET_BOUNCE] == 0)
		return;		/* detect.bounce_percent = 0: not needed */
	if (d->exim_bp == NULL) {
		doctor_report(d, "exim events", 0, "cannot read Exim's configuration (%s)",
		    d->exim_err);
		return;
	}
	doctor_exim_option(d->exim_bp, "event_action", action, sizeof action);
	if (strstr(action, "MAILABUSE/1 EVENT") == NULL)
		doctor_report(d, "exim events", 0, "event_action does not tell mailabused of"
		    " deliveries, so detect.bounce_percent cannot work: include"
		    " mailabuse-events.conf in Exim's main section, or set"
		    " detect.bounce_percent = 0");
	else
		doctor_report(d, "exim events", 1, "event_action tells mailabused of deliveries");
}

/* The cron job: installed, and in a form cron reads. */
static void
doctor_cron(struct doctor *d)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat sb;
	int found = 0;
	FILE *f;

	if ((f = fopen(d->cron_file, "r")) == NULL) {
		doctor_report(d, "cron", 0, "%s: %s: install it (make install does, from"
		    " contrib/cron/mailabuse)", d->cron_file, strerror(errno));
		return;
	}
	if (fstat(fileno(f), &sb) == 0 && (sb.st_uid != 0 || (sb.st_mode & 022) != 0)) {
		fclose(f);
		doctor_report(d, "cron", 0, "%s: cron ignores a file not owned by root or"
		    " writable by others: chown root %s; chmod 0644 %s", d->cron_file,
		    d->cron_file, d->cron_file);
		return;
	}
	while (getline(&line, &cap, f) != -1) {
		const char *p = line + strspn(line, " \t");

		if (*p != '#' && strstr(p, "mailabusectl") != NULL && strstr(p, " expire") != NULL)
			found = 1;
	}
	free(line);
	fclose(f);
	if (!found)
		doctor_report(d, "cron", 0, "%s runs no 'mailabusectl expire': notices and"
		    " complaint windows would wait; restore it from contrib/cron/mailabuse",
		    d->cron_file);
	else
		doctor_report(d, "cron", 1, "%s runs mailabusectl expire", d->cron_file);
}

int
cmd_doctor(struct ctl *c, const struct ctl_args *a)
{
	struct doctor d;
	uid_t uid = 0;
	gid_t gid = 0;
	int have_user;

	memset(&d, 0, sizeof d);
	d.c = c;
	d.exim_user = ctl_args_get(a, "exim-user");
	d.exim = ctl_args_text(a, "exim", "exim");
	d.exim_config = ctl_args_get(a, "exim-config");
	d.cron_file = ctl_args_text(a, "cron-file", DOCTOR_CRON_FILE);
	if (c->json && (d.checks = json_array()) == NULL)
		return ctl_json_print(NULL);
	if (doctor_config(&d) == 0) {
		have_user = doctor_user(&d, &uid, &gid) == 0;
		doctor_database(&d, have_user, uid, gid);
		doctor_policy_socket(&d);
		doctor_user_socket(&d);
		doctor_templates(&d);
		doctor_cpanel(&d);
		d.exim_bp = doctor_exim_bp(&d, "config", NULL, d.exim_err, sizeof d.exim_err);
		doctor_exim_acl_check(&d, "exim rcpt acl", "acl_smtp_rcpt", "mailabuse-rcpt.acl");
		doctor_exim_acl_check(&d, "exim not-smtp acl", "acl_not_smtp",
		    "mailabuse-notsmtp.acl");
		doctor_exim_events(&d);
		doctor_cron(&d);
		free(d.exim_bp);
	}
	if (c->json)
		ctl_json_print(json_pack("{s:b, s:i, s:o}", "ok", d.failed == 0,
		    "failed", d.failed, "checks", d.checks));
	else if (d.failed == 0)
		printf("all checks passed\n");
	else
		printf("%d check%s failed\n", d.failed, d.failed == 1 ? "" : "s");
	return d.failed == 0 ? 0 : CTL_REFUSED;
}

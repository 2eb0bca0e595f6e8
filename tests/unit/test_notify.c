/*
 * Unit tests for notify_exec.c: real commands run by /bin/sh (success,
 * a non-zero exit, a command that does not read its input, a timeout
 * kill, its output in the error), and no signal disposition or mask of
 * the test process changed afterwards.
 */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

#define MSG "From: root\nTo: someone@example.test\nSubject: test\n\nHello.\n"

/* Fail unless haystack contains needle. */
static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* A fresh private directory for one test's files. */
static void
temp_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test_notify.XXXXXX");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
}

/* Write an executable /bin/sh script holding body; path receives its name. */
static void
script_write(const char *dir, const char *name, const char *body, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

/* Read a small file into buf (NUL-terminated); its length, or -1. */
static long
file_read(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (long)n;
}

/* Remove the files a test made and its directory. */
static void
temp_clean(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* SIGPIPE's disposition and whether it is blocked, to compare before and after. */
static void
sigpipe_state(void (**handler)(int), int *blocked)
{
	struct sigaction sa;
	sigset_t mask;

	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	*handler = sa.sa_handler;
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &mask), 0);
	*blocked = sigismember(&mask, SIGPIPE);
}

/* The command reads the whole message and exits 0: sent, the message arrived intact. */
static void
test_exec_success(void **state)
{
	char dir[64], script[128], cmd[256], got[256], out[160], err[512] = "";

	(void)state;
	temp_dir(dir, sizeof dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(cmd, sizeof cmd, "cat > '%s'", out);
	script_write(dir, "ok", cmd, script, sizeof script);
	snprintf(cmd, sizeof cmd, "/bin/sh %s -t -i", script);
	assert_int_equal(notify_exec(cmd, MSG, 10, err, sizeof err), 0);
	assert_int_equal(file_read(out, got, sizeof got), (long)strlen(MSG));
	assert_string_equal(got, MSG);
	temp_clean(dir);
}

/* Its arguments are the command line's words, without a shell. */
static void
test_exec_argv(void **state)
{
	char dir[64], script[128], cmd[256], got[256], out[160], err[512] = "";

	(void)state;
	temp_dir(dir, sizeof dir);
	snprintf(out, sizeof out, "%s/args", dir);
	snprintf(cmd, sizeof cmd, "cat >/dev/null; printf '%%s|' \"$@\" > '%s'", out);
	script_write(dir, "args", cmd, script, sizeof script);
	snprintf(cmd, sizeof cmd, "/bin/sh\t%s  -t -i  'a b' $HOME", script);
	assert_int_equal(notify_exec(cmd, MSG, 10, err, sizeof err), 0);
	assert_true(file_read(out, got, sizeof got) > 0);
	assert_string_equal(got, "-t|-i|'a|b'|$HOME|");
	temp_clean(dir);
}

/* A non-zero exit fails, with the status and the first line the command said. */
static void
test_exec_exit_status(void **state)
{
	char err[512] = "";

	(void)state;
	assert_int_equal(notify_exec("/bin/sh -c cat>/dev/null;echo${IFS}refused${IFS}by${IFS}policy;echo${IFS}second${IFS}line>&2;exit${IFS}75",
	    MSG, 10, err, sizeof err), -1);
	assert_string_equal(err, "notify.sendmail exited with status 75: refused by policy");
}

/* A command that cannot be run: status 127 and why. */
static void
test_exec_missing(void **state)
{
	char err[512] = "";

	(void)state;
	assert_int_equal(notify_exec("/nonexistent/sendmail -t", MSG, 10, err, sizeof err), -1);
	assert_contains(err, "exited with status 127: /nonexistent/sendmail:");
	assert_int_equal(notify_exec(" \t ", MSG, 10, err, sizeof err), -1);
	assert_contains(err, "the command is empty");
}

/*
 * A command that exits 0 without reading a message larger than a pipe
 * holds: not sent, and the test process neither dies of SIGPIPE nor
 * keeps any change to SIGPIPE's disposition or mask.
 */
static void
test_exec_no_read(void **state)
{
	size_t len = 1024 * 1024;
	char *big = malloc(len + 1), err[512] = "";
	void (*h0)(int), (*h1)(int);
	int b0, b1;
	sigset_t pending;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', len);
	big[len] = '\0';
	sigpipe_state(&h0, &b0);
	assert_true(h0 == SIG_DFL);
	assert_int_equal(notify_exec("/bin/sh -c exit", big, 10, err, sizeof err), -1);
	assert_string_equal(err, "notify.sendmail exited before reading the whole message");
	sigpipe_state(&h1, &b1);
	assert_true(h1 == h0);
	assert_int_equal(b1, b0);
	assert_int_equal(sigpending(&pending), 0);
	assert_int_equal(sigismember(&pending, SIGPIPE), 0);
	/* the same with SIGPIPE blocked by the caller: still blocked, nothing left pending */
	{
		sigset_t pipe_set;

		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		assert_int_equal(sigprocmask(SIG_BLOCK, &pipe_set, NULL), 0);
		assert_int_equal(notify_exec("/bin/sh -c exit${IFS}3", big, 10, err, sizeof err), -1);
		assert_contains(err, "status 3");
		sigpipe_state(&h1, &b1);
		assert_int_equal(b1, 1);
		assert_int_equal(sigpending(&pending), 0);
		assert_int_equal(sigismember(&pending, SIGPIPE), 0);
		assert_int_equal(sigprocmask(SIG_UNBLOCK, &pipe_set, NULL), 0);
	}
	free(big);
}

/* A command reading a large message whole: sent. */
static void
test_exec_large(void **state)
{
	size_t len = 1024 * 1024;
	char *big = malloc(len + 1), err[512] = "";

	(void)state;
	assert_non_null(big);
	memset(big, 'y', len);
	big[len] = '\0';
	assert_int_equal(notify_exec("/bin/sh -c test${IFS}$(wc${IFS}-c)${IFS}=${IFS}1048576",
	    big, 10, err, sizeof err), 0);
	free(big);
}

/*
 * A command that hangs is killed at the deadline with everything it
 * started (its process group): a grandchild is gone too.
 */
static void
test_exec_timeout(void **state)
{
	char dir[64], script[128], body[512], pidfile[160], buf[64], err[512] = "";
	struct timespec t0, t1;
	double secs;
	long pid;

	(void)state;
	temp_dir(dir, sizeof dir);
	snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
	snprintf(body, sizeof body, "cat >/dev/null\nsleep 300 &\necho $! > '%s'\nwait",
	    pidfile);
	script_write(dir, "hang", body, script, sizeof script);
	snprintf(body, sizeof body, "/bin/sh %s", script);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(notify_exec(body, MSG, 1, err, sizeof err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_string_equal(err, "notify.sendmail did not finish within 1s; killed");
	assert_true(secs >= 0.9 && secs < 5);
	/* the grandchild: killed with the group (reaped by init; poll until gone) */
	assert_true(file_read(pidfile, buf, sizeof buf) > 0);
	pid = strtol(buf, NULL, 10);
	assert_true(pid > 1);
	for (int i = 0; i < 500 && kill((pid_t)pid, 0) == 0; i++) {
		struct timespec ten_ms = { 0, 10000000 };
		char path[64], st[512] = "";

		/* a zombie waiting for its reaper is gone as far as we care */
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if (file_read(path, st, sizeof st) > 0 && strstr(st, ") Z ") != NULL)
			break;
		nanosleep(&ten_ms, NULL);
	}
	{
		char path[64], st[512] = "";

		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		if (file_read(path, st, sizeof st) > 0 && strstr(st, ") Z ") == NULL)
			fail_msg("the command's child %ld outlived the timeout: %s", pid, st);
	}
	temp_clean(dir);
}

/* A command killed by a signal says so, and the last of a chatty command's output is kept. */
static void
test_exec_signal_output(void **state)
{
	char err[512] = "";

	(void)state;
	assert_int_equal(notify_exec("/bin/sh -c cat>/dev/null;echo${IFS}dying;kill${IFS}-TERM${IFS}$$",
	    MSG, 10, err, sizeof err), -1);
	assert_string_equal(err, "notify.sendmail killed by signal 15: dying");
	/* 5,000 lines of output: collected without blocking the command, bounded */
	assert_int_equal(notify_exec("/bin/sh -c cat>/dev/null;seq${IFS}5000;exit${IFS}1",
	    MSG, 10, err, sizeof err), -1);
	assert_contains(err, "notify.sendmail exited with status 1: ");
	assert_true(strlen(err) < 600);
}

/* The command runs niced, at 10. */
static void
test_exec_priority(void **state)
{
	char dir[64], script[128], body[256], out[160], buf[64], err[512] = "";

	(void)state;
	temp_dir(dir, sizeof dir);
	snprintf(out, sizeof out, "%s/nice", dir);
	snprintf(body, sizeof body, "cat >/dev/null; nice > '%s'", out);
	script_write(dir, "nice", body, script, sizeof script);
	snprintf(body, sizeof body, "/bin/sh %s", script);
	assert_int_equal(notify_exec(body, MSG, 10, err, sizeof err), 0);
	assert_true(file_read(out, buf, sizeof buf) > 0);
	assert_int_equal(atoi(buf), 10);
	temp_clean(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_success),
		cmocka_unit_test(test_exec_argv),
		cmocka_unit_test(test_exec_exit_status),
		cmocka_unit_test(test_exec_missing),
		cmocka_unit_test(test_exec_no_read),
		cmocka_unit_test(test_exec_large),
		cmocka_unit_test(test_exec_timeout),
		cmocka_unit_test(test_exec_signal_output),
		cmocka_unit_test(test_exec_priority),
	};

	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Running notify.sendmail for one notice: the command line split into
 * its words (no shell), the child spawned in its own process group with
 * the message on its standard input, what it says collected, its exit
 * awaited within notify.timeout (past it the whole group is killed),
 * and the outcome described in one line.  The child runs at a low CPU
 * and I/O priority that still makes progress, so that sending notices
 * does not take the CPU from the policy daemon.  Nothing here changes the
 * calling process's signal dispositions: a write to a command that
 * stopped reading blocks SIGPIPE for the calling thread only, consumes
 * the signal it raised, and restores the mask.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "notify.h"

#define NOTIFY_ARGV_MAX 32
#define NOTIFY_OUTPUT_MAX 512
#define NOTIFY_NICE 10
/* ioprio_set(2): the best-effort class, its lowest level, for the calling process */
#define NOTIFY_IOPRIO_WHO_PROCESS 1
#define NOTIFY_IOPRIO_BE_LOWEST ((2 << 13) | 7)

/* The command's words: pointers into a copy of the command line. */
struct notify_argv {
	char *copy;
	char *v[NOTIFY_ARGV_MAX + 1];
	int n;
};

/* A running command: its pid, the write end of its input, the read end of its output. */
struct notify_child {
	pid_t pid;
	int in;
	int out;
};

/* What the feeding and waiting saw. */
struct notify_outcome {
	char output[NOTIFY_OUTPUT_MAX];	/* the last of what the command said */
	size_t got;
	int fed;			/* the whole message was written */
	int timed_out;
	int status;			/* waitpid()'s, when not timed out */
};

/* Split command on blanks into av (at most NOTIFY_ARGV_MAX words). */
static int
notify_argv_split(const char *command, struct notify_argv *av, char *err, size_t errlen)
{
	char *save = NULL, *tok;

	av->n = 0;
	if ((av->copy = strdup(command)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(av->copy, " \t", &save); tok != NULL && av->n < NOTIFY_ARGV_MAX;
	    tok = strtok_r(NULL, " \t", &save))
		av->v[av->n++] = tok;
	av->v[av->n] = NULL;
	if (av->n == 0) {
		snprintf(err, errlen, "cannot run notify.sendmail: the command is empty");
		free(av->copy);
		av->copy = NULL;
		return -1;
	}
	return 0;
}

/* Close both ends of up to two pipes (-1 ends are skipped). */
static void
notify_pipes_close(int in[2], int out[2])
{
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
		in[i] = out[i] = -1;
	}
}

/* The command's input and output pipes, close-on-exec. */
static int
notify_pipes_open(int in[2], int out[2], char *err, size_t errlen)
{
	in[0] = in[1] = out[0] = out[1] = -1;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		notify_pipes_close(in, out);
		return -1;
	}
	return 0;
}

/*
 * In the child: a low CPU and I/O priority that still makes progress on
 * a busy server: nice 10 (about a tenth of the CPU next to a task at
 * nice 0) and the lowest best-effort I/O level.  Not nice 19, SCHED_IDLE
 * or the idle I/O class: under those a command waits as long as anything
 * else wants the CPU or the disk, and hits notify.timeout on a loaded
 * machine.  Either may be refused (a container, a seccomp filter): the
 * command runs anyway.
 */
static void
notify_child_lower_priority(void)
{
	(void)setpriority(PRIO_PROCESS, 0, NOTIFY_NICE);
	(void)syscall(SYS_ioprio_set, NOTIFY_IOPRIO_WHO_PROCESS, 0, NOTIFY_IOPRIO_BE_LOWEST);
}

/*
 * Fork and exec argv with in[0] as its standard input and out[1] as its
 * standard output and error, in a process group of its own so that a
 * timeout kills everything it started.  Takes the pipes: ch gets the
 * parent's ends, the others are closed.
 */
static int
notify_child_spawn(char *const argv[], int in[2], int out[2], struct notify_child *ch,
    char *err, size_t errlen)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		notify_pipes_close(in, out);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		setpgid(0, 0);
		/* the command starts with default signals, whatever its parent had */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		notify_child_lower_priority();
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 || dup2(out[1], 2) == -1)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);		/* both sides, whichever runs first */
	close(in[0]);
	close(out[1]);
	ch->pid = pid;
	ch->in = in[1];
	ch->out = out[0];
	(void)fcntl(ch->in, F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * write(2) without a SIGPIPE for the process: SIGPIPE is blocked in
 * this thread around the write, one it raised is consumed, and the
 * mask is restored.  A SIGPIPE already pending before is left alone.
 */
static ssize_t
notify_write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	int was_pending, saved;
	ssize_t w;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	(void)sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	w = write(fd, buf, len);
	saved = errno;
	if (w == -1 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) == -1 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return w;
}

/* Keep what the command says; when the buffer fills, keep the newest. */
static void
notify_output_read(struct notify_child *ch, struct notify_outcome *o)
{
	ssize_t n = read(ch->out, o->output + o->got, sizeof o->output - 1 - o->got);

	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(ch->out);
		ch->out = -1;
		return;
	}
	o->got += (size_t)n;
	if (o->got == sizeof o->output - 1)
		o->got = 0;
}

/* Write what the command takes now; on EPIPE it stopped reading: not sent. */
static void
notify_input_write(struct notify_child *ch, const char *msg, size_t len, size_t *off)
{
	ssize_t w = notify_write_nosigpipe(ch->in, msg + *off, len - *off);

	if (w > 0)
		*off += (size_t)w;
	else if (w == -1 && errno != EAGAIN && errno != EINTR) {
		close(ch->in);
		ch->in = -1;
	}
}

/*
 * Feed msg to the command and collect its output until both pipes are
 * closed or the deadline passes (o->timed_out).
 */
static void
notify_child_feed(struct notify_child *ch, const char *msg, long long deadline,
    struct notify_outcome *o)
{
	size_t len = strlen(msg), off = 0;

	while (ch->in != -1 || ch->out != -1) {
		struct pollfd p[2];
		nfds_t np = 0;
		long long left = deadline - clock_mono_ms();
		int pr;

		if (off == len && ch->in != -1) {
			close(ch->in);		/* all written: EOF for the command */
			ch->in = -1;
			o->fed = 1;
			continue;
		}
		if (ch->out != -1)
			p[np++] = (struct pollfd){ ch->out, POLLIN, 0 };
		if (ch->in != -1)
			p[np++] = (struct pollfd){ ch->in, POLLOUT, 0 };
		if (left <= 0 || (pr = poll(p, np, (int)left)) == 0) {
			o->timed_out = 1;
			return;
		}
		if (pr == -1) {
			if (errno == EINTR)
				continue;
			o->timed_out = 1;
			return;
		}
		for (nfds_t k = 0; k < np; k++) {
			if (p[k].revents == 0)
				continue;
			if (p[k].fd == ch->out)
				notify_output_read(ch, o);
			else if (ch->in != -1)
				notify_input_write(ch, msg, len, &off);
		}
	}
}

/*
 * Wait for the command to exit until the deadline (on a pidfd, else in
 * 10 ms steps); past it, or if the feeding timed out, kill its process
 * group and reap it.  0, or -1 when waitpid fails.
 */
static int
notify_child_wait(const struct notify_child *ch, long long deadline,
    struct notify_outcome *o, char *err, size_t errlen)
{
	int pidfd = o->timed_out ? -1 : (int)syscall(SYS_pidfd_open, ch->pid, 0), r = 0;

	for (;;) {
		pid_t w = o->timed_out ? 0 : waitpid(ch->pid, &o->status, WNOHANG);
		long long left = deadline - clock_mono_ms();

		if (w == ch->pid)
			break;
		if (w == -1 && errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			r = -1;
			break;
		}
		if (o->timed_out || left <= 0) {
			o->timed_out = 1;
			kill(-ch->pid, SIGKILL);
			while (waitpid(ch->pid, &o->status, 0) == -1 && errno == EINTR)
				;
			break;
		}
		if (pidfd != -1) {
			struct pollfd pp = { pidfd, POLLIN, 0 };

			(void)poll(&pp, 1, (int)left);
		} else {
			struct timespec ten_ms = { 0, 10000000 };

			nanosleep(&ten_ms, NULL);
		}
	}
	if (pidfd != -1)
		close(pidfd);
	return r;
}

/* The outcome as 0 (sent), or -1 with one line in err. */
static int
notify_outcome_describe(struct notify_outcome *o, long long timeout, char *err,
    size_t errlen)
{
	const char *sep;

	if (o->timed_out) {
		snprintf(err, errlen, "notify.sendmail did not finish within %llds; killed",
		    timeout);
		return -1;
	}
	if (WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0 && o->fed)
		return 0;
	o->output[o->got] = '\0';
	o->output[strcspn(o->output, "\n")] = '\0';
	sep = o->output[0] != '\0' ? ": " : "";
	if (WIFSIGNALED(o->status))
		snprintf(err, errlen, "notify.sendmail killed by signal %d%s%s",
		    WTERMSIG(o->status), sep, o->output);
	else if (WEXITSTATUS(o->status) == 0)
		snprintf(err, errlen, "notify.sendmail exited before reading the whole"
		    " message%s%s", sep, o->output);
	else
		snprintf(err, errlen, "notify.sendmail exited with status %d%s%s",
		    WEXITSTATUS(o->status), sep, o->output);
	return -1;
}

/*
 * Run command (notify.sendmail: split on blanks, no shell) with msg on
 * its standard input, within timeout seconds.  0 when it read the whole
 * message and exited with status 0, else -1 with err.
 */
int
notify_exec(const char *command, const char *msg, long long timeout, char *err,
    size_t errlen)
{
	struct notify_argv av;
	struct notify_child ch;
	struct notify_outcome o;
	long long deadline;
	int in[2], out[2];

	memset(&o, 0, sizeof o);
	if (notify_argv_split(command, &av, err, errlen) == -1)
		return -1;
	if (notify_pipes_open(in, out, err, errlen) == -1 ||
	    notify_child_spawn(av.v, in, out, &ch, err, errlen) == -1) {
		free(av.copy);
		return -1;
	}
	free(av.copy);
	deadline = clock_mono_ms() + timeout * 1000;
	notify_child_feed(&ch, msg, deadline, &o);
	if (ch.in != -1)
		close(ch.in);
	if (ch.out != -1)
		close(ch.out);
	if (notify_child_wait(&ch, deadline, &o, err, errlen) == -1)
		return -1;
	return notify_outcome_describe(&o, timeout, err, errlen);
}

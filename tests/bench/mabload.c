/*
 * mabload: a load generator for the policy socket that queries exactly
 * as Exim's ${readsocket} does: connect, write one request line,
 * shutdown(SHUT_WR), read the reply to end of file, close.  One epoll
 * loop keeps a chosen number of such queries in flight; request lines
 * are taken in turn from a file, cycling.
 *
 *   mabload [-c CLIENTS] [-d SECONDS | -n QUERIES] [-w QUERIES] [-p PID]
 *           [-T SECONDS] [-f FILE] SOCKET
 *	print one line of figures: throughput, latency percentiles from a
 *	log-linear histogram (0.4% resolution), errors, the count of each
 *	verdict, and with -p the CPU time that process used per query;
 *	a query unanswered after -T seconds (default 10) is an error.  A
 *	reply longer than the buffer (HISTORY) counts by its first word
 *   mabload -W SECONDS SOCKET
 *	wait until the socket answers a PING with a line, at most SECONDS
 *   mabload -S SOCKET -- COMMAND [ARG ...]
 *	start COMMAND, time until the socket first answers PING, stop it
 *	with SIGTERM and print the start-up time
 *
 * Without -f the request is "MAILABUSE/1 PING".  SIGTERM or SIGINT
 * ends a run early: the queries in flight finish and the figures so far
 * are printed.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX	512
#define QUERY_TIMEOUT_NS (10 * 1000000000LL)	/* default of -T */

/*
 * Histogram in nanoseconds: values below 2^SUB_BITS are exact; above,
 * each power of two is cut into 2^(SUB_BITS-1) buckets, so a bucket is
 * at most 1/256 of its value wide.
 */
#define SUB_BITS	9
#define SUB_HALF	(1 << (SUB_BITS - 1))
#define HIST_BUCKETS	((64 - SUB_BITS + 1) * SUB_HALF + SUB_HALF * 2)

struct hist {
	uint64_t count[HIST_BUCKETS];
	uint64_t n;
	uint64_t max;
};

enum verdict_kind { V_PASS, V_REFUSE, V_DEFER, V_ERROR, V_HOLD, V_OK, V_OTHER, V_NKINDS };

static volatile sig_atomic_t stop;

static const char *const verdict_names[V_NKINDS] = {
	"PASS", "REFUSE", "DEFER", "ERROR", "HOLD", "OK", "OTHER"
};

struct slot {
	int fd;
	long long t0;
	size_t got;
	char reply[REPLY_MAX];
};

struct load {
	const char *path;
	char **lines;
	size_t *lens;
	size_t nlines, next;
	int clients;
	int epfd;
	struct slot *slots;
	struct hist *h;
	uint64_t done, errors;
	uint64_t verdicts[V_NKINDS];
	long long first_err_logged;
	long long timeout_ns;		/* -T: a query unanswered this long is an error */
};

/* SIGTERM, SIGINT: finish the queries in flight and report. */
static void
stop_cb(int sig)
{
	(void)sig;
	stop = 1;
}

/* A monotonic clock in nanoseconds. */
static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* How to call it; exit 2. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: mabload [-c CLIENTS] [-d SECONDS | -n QUERIES] [-w QUERIES]"
	    " [-p PID] [-T SECONDS] [-f FILE] SOCKET\n"
	    "       mabload -W SECONDS SOCKET\n"
	    "       mabload -S SOCKET -- COMMAND [ARG ...]\n");
	exit(2);
}

/* The bucket of a value. */
static size_t
hist_index(uint64_t v)
{
	int msb, shift;

	if (v < 2 * SUB_HALF)
		return (size_t)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - (SUB_BITS - 1);
	return (size_t)(2 * SUB_HALF + (shift - 1) * SUB_HALF + (int)((v >> shift) - SUB_HALF));
}

/* The highest value a bucket holds. */
static uint64_t
hist_value(size_t i)
{
	size_t shift;

	if (i < 2 * SUB_HALF)
		return i;
	shift = (i - 2 * SUB_HALF) / SUB_HALF + 1;
	return (((uint64_t)((i - 2 * SUB_HALF) % SUB_HALF + SUB_HALF) + 1) << shift) - 1;
}

/* Count one value. */
static void
hist_record(struct hist *h, uint64_t v)
{
	h->count[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The value at or below which a fraction q of the recorded values lie. */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n + 0.999999);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want)
			return hist_value(i) < h->max ? hist_value(i) : h->max;
	}
	return h->max;
}

/* utime + stime of a process, in microseconds (-1 if unknown). */
static long long
proc_cpu_us(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields are counted after its ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* The CPU time of this process, in microseconds. */
static long long
self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
	    (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

/* Read the request file into memory, one request a line. */
static int
load_lines(struct load *ld, const char *file)
{
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;
	FILE *f;

	if (file == NULL) {
		static char ping[] = "MAILABUSE/1 PING\n";

		ld->lines = malloc(sizeof *ld->lines);
		ld->lens = malloc(sizeof *ld->lens);
		if (ld->lines == NULL || ld->lens == NULL)
			return -1;
		ld->lines[0] = ping;
		ld->lens[0] = sizeof ping - 1;
		ld->nlines = 1;
		return 0;
	}
	if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, "mabload: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			continue;	/* a last line cut short */
		if (ld->nlines == alloc) {
			size_t na = alloc ? alloc * 2 : 4096;
			char **nl = realloc(ld->lines, na * sizeof *nl);
			size_t *nn;

			if (nl == NULL)
				return -1;
			ld->lines = nl;
			if ((nn = realloc(ld->lens, na * sizeof *nn)) == NULL)
				return -1;
			ld->lens = nn;
			alloc = na;
		}
		if ((ld->lines[ld->nlines] = strdup(line)) == NULL)
			return -1;
		ld->lens[ld->nlines++] = (size_t)n;
	}
	free(line);
	fclose(f);
	if (ld->nlines == 0) {
		fprintf(stderr, "mabload: %s: no request lines\n", file);
		return -1;
	}
	return 0;
}

/* Count a failed query; say why for the first few. */
static void
load_error(struct load *ld, const char *what)
{
	ld->errors++;
	if (ld->first_err_logged++ < 5)
		fprintf(stderr, "mabload: %s%s%s\n", what, errno ? ": " : "",
		    errno ? strerror(errno) : "");
}

/* A blocking connection to a UNIX socket, or -1. */
static int
unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Start one query on a slot: a blocking connect and write, as Exim's
 * are, then the half-close; the reply is awaited on the epoll set.
 */
static int
slot_start(struct load *ld, struct slot *s)
{
	struct epoll_event ev;
	const char *req = ld->lines[ld->next];
	size_t len = ld->lens[ld->next];

	ld->next = (ld->next + 1) % ld->nlines;
	s->t0 = now_ns();
	s->got = 0;
	errno = 0;
	if ((s->fd = unix_connect(ld->path)) == -1) {
		load_error(ld, "connect");
		return -1;
	}
	if (write(s->fd, req, len) != (ssize_t)len) {
		load_error(ld, "write");
		goto fail;
	}
	shutdown(s->fd, SHUT_WR);
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(ld->epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		load_error(ld, "epoll_ctl");
		goto fail;
	}
	return 0;
fail:
	close(s->fd);
	s->fd = -1;
	return -1;
}

/* The verdict of a reply: its first word. */
static enum verdict_kind
verdict_of(const char *reply, size_t len)
{
	size_t w = 0;

	while (w < len && reply[w] != ' ' && reply[w] != '\n' && reply[w] != '\r')
		w++;
	for (int k = 0; k < V_OTHER; k++)
		if (strlen(verdict_names[k]) == w && memcmp(reply, verdict_names[k], w) == 0)
			return (enum verdict_kind)k;
	return V_OTHER;
}

/* Read what is there; at end of file the query is complete.  1: done. */
static int
slot_read(struct load *ld, struct slot *s)
{
	for (;;) {
		char sink[REPLY_MAX];
		char *dst = s->got < sizeof s->reply ? s->reply + s->got : sink;
		size_t room = s->got < sizeof s->reply ? sizeof s->reply - s->got : sizeof sink;
		ssize_t n = recv(s->fd, dst, room, MSG_DONTWAIT);

		if (n > 0) {
			s->got += (size_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == -1)
			load_error(ld, "read");
		else {
			long long t = now_ns();
			size_t kept = s->got < sizeof s->reply ? s->got : sizeof s->reply;

			/* a reply longer than the buffer has its line end further on */
			if (kept == 0 || (s->got <= sizeof s->reply &&
			    memchr(s->reply, '\n', kept) == NULL)) {
				errno = 0;
				load_error(ld, "reply without a complete line");
			} else {
				hist_record(ld->h, (uint64_t)(t - s->t0));
				ld->verdicts[verdict_of(s->reply, kept)]++;
			}
		}
		close(s->fd);	/* also leaves the epoll set */
		s->fd = -1;
		ld->done++;
		return 1;
	}
}

/*
 * Keep the slots busy until max queries have completed (max > 0) or
 * until the deadline; then let those in flight finish.  Returns the
 * time of the last completion.
 */
static long long
load_run(struct load *ld, uint64_t max, long long deadline)
{
	struct epoll_event evs[256];
	uint64_t started = 0;
	int inflight = 0;
	long long last = now_ns();

	for (int i = 0; i < ld->clients; i++) {
		struct slot *s = &ld->slots[i];

		s->fd = -1;
		if (max > 0 && started >= max)
			break;
		started++;
		if (slot_start(ld, s) == 0)
			inflight++;
		else
			ld->done++;
	}
	while (inflight > 0) {
		int n = epoll_wait(ld->epfd, evs, 256, 100), i;
		long long t = now_ns();

		if (n == -1 && errno != EINTR) {
			perror("mabload: epoll_wait");
			exit(1);
		}
		for (i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;

			if (!slot_read(ld, s))
				continue;
			inflight--;
			last = now_ns();
			/* Start the next one, or several after a failure. */
			while (!stop && (max > 0 ? started < max : last < deadline)) {
				started++;
				if (slot_start(ld, s) == 0) {
					inflight++;
					break;
				}
				ld->done++;
			}
		}
		/* Queries without an answer for too long are errors. */
		for (i = 0; i < ld->clients; i++) {
			struct slot *s = &ld->slots[i];

			if (s->fd != -1 && t - s->t0 > ld->timeout_ns) {
				errno = 0;
				load_error(ld, "timeout");
				close(s->fd);
				s->fd = -1;
				ld->done++;
				inflight--;
			}
		}
	}
	return last;
}

/* One PING on a fresh connection: 1 if answered with a line (OK for ok_only). */
static int
ping_ok(const char *path, int ok_only)
{
	static const char req[] = "MAILABUSE/1 PING\n";
	char buf[64];
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = unix_connect(path)) == -1)
		return 0;
	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		close(fd);
		return 0;
	}
	shutdown(fd, SHUT_WR);
	while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	if (ok_only)
		return strncmp(buf, "OK", 2) == 0;
	return strchr(buf, '\n') != NULL;
}

/* Poll for a PING answer until the deadline; 0 when it came. */
static int
ping_wait(const char *path, long long deadline, int ok_only)
{
	struct timespec ts = { 0, 200000 };

	while (!ping_ok(path, ok_only)) {
		if (now_ns() > deadline)
			return -1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* -S: time from the exec of a command until its socket answers. */
static int
startup(const char *path, char **cmd)
{
	long long t0, t1;
	pid_t pid;
	int status;

	t0 = now_ns();
	if ((pid = fork()) == -1) {
		perror("mabload: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	if (ping_wait(path, t0 + 10 * 1000000000LL, 1) == -1) {
		fprintf(stderr, "mabload: %s did not answer within 10 s\n", cmd[0]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}
	t1 = now_ns();
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	printf("startup_ms=%.2f\n", (double)(t1 - t0) / 1e6);
	return 0;
}

int
main(int argc, char **argv)
{
	struct load ld;
	const char *file = NULL;
	double seconds = 0, wait_s = 0;
	uint64_t max = 0, warm = 0;
	long long t0, t1, cpu0 = 0, cpu1 = 0, self0, self1;
	long pid = 0;
	int ch, sflag = 0;

	memset(&ld, 0, sizeof ld);
	ld.clients = 1;
	ld.timeout_ns = QUERY_TIMEOUT_NS;
	while ((ch = getopt(argc, argv, "c:d:f:n:p:ST:W:w:")) != -1) {
		switch (ch) {
		case 'c':
			ld.clients = atoi(optarg);
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 'f':
			file = optarg;
			break;
		case 'n':
			max = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			pid = atol(optarg);
			break;
		case 'S':
			sflag = 1;
			break;
		case 'T':
			ld.timeout_ns = (long long)(atof(optarg) * 1e9);
			break;
		case 'W':
			wait_s = atof(optarg);
			break;
		case 'w':
			warm = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (sflag) {
		if (argc < 2)
			usage();
		return startup(argv[0], argv + 1);
	}
	if (wait_s > 0) {
		if (ping_wait(argv[0], now_ns() + (long long)(wait_s * 1e9), 0) == -1) {
			fprintf(stderr, "mabload: %s: no answer to PING within %g s\n", argv[0],
			    wait_s);
			return 1;
		}
		return 0;
	}
	if (argc != 1 || ld.clients < 1 || (max == 0) == (seconds <= 0))
		usage();
	ld.path = argv[0];
	if (load_lines(&ld, file) == -1 ||
	    (ld.slots = calloc((size_t)ld.clients, sizeof *ld.slots)) == NULL ||
	    (ld.h = calloc(1, sizeof *ld.h)) == NULL ||
	    (ld.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("mabload");
		return 1;
	}
	signal(SIGTERM, stop_cb);
	signal(SIGINT, stop_cb);
	if (warm > 0) {
		load_run(&ld, warm, 0);
		memset(ld.h, 0, sizeof *ld.h);
		memset(ld.verdicts, 0, sizeof ld.verdicts);
		ld.done = ld.errors = 0;
	}
	if (pid > 0 && (cpu0 = proc_cpu_us(pid)) == -1) {
		fprintf(stderr, "mabload: no process %ld\n", pid);
		return 1;
	}
	self0 = self_cpu_us();
	t0 = now_ns();
	t1 = load_run(&ld, max, t0 + (long long)(seconds * 1e9));
	self1 = self_cpu_us();
	if (pid > 0)
		cpu1 = proc_cpu_us(pid);
	printf("clients=%d queries=%llu seconds=%.3f qps=%.0f p50_us=%.1f p99_us=%.1f"
	    " p999_us=%.1f max_us=%.1f errors=%llu", ld.clients, (unsigned long long)ld.done,
	    (double)(t1 - t0) / 1e9, (double)ld.h->n / ((double)(t1 - t0) / 1e9),
	    (double)hist_quantile(ld.h, 0.50) / 1e3, (double)hist_quantile(ld.h, 0.99) / 1e3,
	    (double)hist_quantile(ld.h, 0.999) / 1e3, (double)ld.h->max / 1e3,
	    (unsigned long long)ld.errors);
	if (pid > 0 && cpu1 >= 0 && ld.h->n > 0)
		printf(" server_cpu_us_per_query=%.2f", (double)(cpu1 - cpu0) / (double)ld.h->n);
	if (ld.h->n > 0)
		printf(" client_cpu_us_per_query=%.2f", (double)(self1 - self0) / (double)ld.h->n);
	for (int k = 0; k < V_NKINDS; k++)
		printf(" %s=%llu", verdict_names[k], (unsigned long long)ld.verdicts[k]);
	printf("\n");
	return ld.errors > 0;
}

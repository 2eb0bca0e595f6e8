/*
 * mabclient: a test client for the policy socket, as Exim's ${readsocket}
 * uses it.
 *   mabclient SOCK                 send stdin, half-close, print the reply
 *   mabclient -q SOCK VERB [name=value ...]
 *                                  build a request, base64-encoding each value
 *   mabclient -H N SOCK            open N connections that never send; print
 *                                  "held N" and keep them until stdin closes,
 *                                  then print what each received
 *   -n  do not half-close after sending
 *   -t SECONDS  give up reading after this long (exit 3)
 *   -R SECONDS  with -q: repeat the query, one connection each, for this
 *               long; print "queries N max_ms M" and the count of each
 *               reply's first word ("PASS=N ...")
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/time.h>

#include "proto.h"

static int
client_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read to EOF (or timeout) and copy to stdout; 0, or 3 on timeout. */
static int
client_read_all(int fd, int timeout)
{
	char buf[4096];
	time_t end = time(NULL) + timeout;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(end - time(NULL));
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left * 1000) == 0)
			return 3;
		if ((n = read(fd, buf, sizeof buf)) <= 0)
			return 0;
		fwrite(buf, 1, (size_t)n, stdout);
	}
}

static int
client_hold(const char *path, int n)
{
	int *fds = calloc((size_t)n, sizeof *fds);
	char c;

	for (int i = 0; i < n; i++) {
		if ((fds[i] = client_connect(path)) == -1) {
			fprintf(stderr, "mabclient: connect %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("held %d\n", n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (int i = 0; i < n; i++) {
		char buf[256];
		ssize_t r;

		shutdown(fds[i], SHUT_WR);
		r = read(fds[i], buf, sizeof buf - 1);
		buf[r > 0 ? r : 0] = '\0';
		printf("%d: %s%s", i, buf, r > 0 && buf[r - 1] == '\n' ? "" : "\n");
		close(fds[i]);
	}
	free(fds);
	return 0;
}

/* One query into buf (NUL-terminated, cut to fit); 0, or -1 on failure. */
static int
client_query(const char *path, const char *req, size_t len, char *buf, size_t buflen,
    int timeout)
{
	size_t got = 0;
	int fd;

	if ((fd = client_connect(path)) == -1)
		return -1;
	if (write(fd, req, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&p, 1, timeout * 1000) <= 0)
			break;
		if ((n = read(fd, buf + got, buflen - 1 - got)) <= 0 || (got += (size_t)n) ==
		    buflen - 1)
			break;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* -R: the query over and over for a while; the slowest and each reply's kind. */
static int
client_repeat(const char *path, const char *req, size_t len, int seconds, int timeout)
{
	char words[16][16], buf[4096];
	unsigned long counts[16] = { 0 }, n = 0, failed = 0;
	size_t nwords = 0, i;
	struct timeval start, t0, t1;
	long long ms, max_ms = 0;

	gettimeofday(&start, NULL);
	do {
		gettimeofday(&t0, NULL);
		if (client_query(path, req, len, buf, sizeof buf, timeout) == -1) {
			failed++;
			gettimeofday(&t1, NULL);
			continue;
		}
		gettimeofday(&t1, NULL);
		ms = (t1.tv_sec - t0.tv_sec) * 1000LL + (t1.tv_usec - t0.tv_usec) / 1000;
		if (ms > max_ms)
			max_ms = ms;
		n++;
		buf[strcspn(buf, " \n")] = '\0';
		buf[15] = '\0';
		for (i = 0; i < nwords && strcmp(words[i], buf) != 0; i++)
			;
		if (i == nwords && nwords < 16)
			memcpy(words[nwords++], buf, sizeof words[0]);	/* cut at 15 above */
		if (i < nwords)
			counts[i]++;
	} while (t1.tv_sec - start.tv_sec < seconds);
	printf("queries %lu max_ms %lld failed %lu", n, max_ms, failed);
	for (i = 0; i < nwords; i++)
		printf(" %s=%lu", words[i][0] != '\0' ? words[i] : "(none)", counts[i]);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	int ch, query = 0, hold = 0, no_shut = 0, timeout = 10, repeat = 0, fd, r;
	static char req[65536];
	size_t len = 0;

	signal(SIGPIPE, SIG_IGN);	/* as Exim: a closed peer is a read result */

	while ((ch = getopt(argc, argv, "qH:nt:R:")) != -1) {
		switch (ch) {
		case 'q':
			query = 1;
			break;
		case 'H':
			hold = atoi(optarg);
			break;
		case 'n':
			no_shut = 1;
			break;
		case 't':
			timeout = atoi(optarg);
			break;
		case 'R':
			repeat = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return 2;
	if (hold > 0)
		return client_hold(argv[0], hold);
	if (query) {
		if (argc < 2)
			return 2;
		len = (size_t)snprintf(req, sizeof req, "%s %s", PROTO_VERSION, argv[1]);
		for (int i = 2; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			char enc[16384];

			if (eq == NULL)
				return 2;
			proto_base64_encode(eq + 1, strlen(eq + 1), enc, sizeof enc);
			len += (size_t)snprintf(req + len, sizeof req - len, " %.*s=%s",
			    (int)(eq - argv[i]), argv[i], enc);
		}
		len += (size_t)snprintf(req + len, sizeof req - len, "\n");
		if (repeat > 0)
			return client_repeat(argv[0], req, len, repeat, timeout);
	} else {
		ssize_t n;

		while (len < sizeof req && (n = read(0, req + len, sizeof req - len)) > 0)
			len += (size_t)n;
	}
	if ((fd = client_connect(argv[0])) == -1) {
		fprintf(stderr, "mabclient: %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	for (size_t off = 0; off < len; ) {
		ssize_t n = write(fd, req + off, len - off);

		if (n <= 0)
			break;		/* the daemon may cut us off: read what it said */
		off += (size_t)n;
	}
	if (!no_shut)
		shutdown(fd, SHUT_WR);
	r = client_read_all(fd, timeout);
	close(fd);
	return r;
}

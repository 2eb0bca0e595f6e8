/*
 * mabbench: time requests to mailabused the way Exim's ${readsocket}
 * makes them (connect, one line, half-close, read to EOF, close), one
 * after another.  Request kinds are interleaved round-robin so that
 * machine noise falls on all of them alike; PING, which touches no
 * database, is the baseline.
 *   mabbench SOCKET ROUNDS NAME[@OTHER-SOCKET]=REQUEST-LINE ...
 * A kind may name another socket (another daemon, e.g. an older build),
 * so that two daemons are measured interleaved, in the same run.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
one(const char *path, const char *req, char *reply, size_t len)
{
	struct sockaddr_un sun;
	size_t got = 0;
	ssize_t n;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		return -1;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	shutdown(fd, SHUT_WR);
	while (got + 1 < len && (n = read(fd, reply + got, len - 1 - got)) > 0)
		got += (size_t)n;
	reply[got] = '\0';
	close(fd);
	return 0;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int rounds, kinds = argc - 3;
	double **t, base = 0;

	if (argc < 4)
		return 2;
	rounds = atoi(argv[2]);
	t = calloc((size_t)kinds, sizeof *t);
	for (int k = 0; k < kinds; k++)
		t[k] = calloc((size_t)rounds, sizeof **t);
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < kinds; k++) {
			const char *req = strchr(argv[3 + k], '=') + 1, *at = strchr(argv[3 + k], '@');
			char line[1024], reply[512], sock[sizeof ((struct sockaddr_un *)0)->sun_path];
			double t0;

			if (at != NULL && at < req)
				snprintf(sock, sizeof sock, "%.*s", (int)(req - 1 - (at + 1)), at + 1);
			else
				snprintf(sock, sizeof sock, "%s", argv[1]);
			snprintf(line, sizeof line, "%s\n", req);
			t0 = now_us();
			if (one(sock, line, reply, sizeof reply) == -1) {
				perror("mabbench");
				return 1;
			}
			t[k][r] = now_us() - t0;
			if (r == 0)
				fprintf(stderr, "%.*s -> %s", (int)strcspn(argv[3 + k], "@="),
				    argv[3 + k], reply);
		}
	}
	printf("%-22s %10s %10s %10s %8s\n", "request", "median_us", "p90_us", "p99_us", "ratio");
	for (int k = 0; k < kinds; k++) {
		double med;

		qsort(t[k], (size_t)rounds, sizeof **t, cmp);
		med = t[k][rounds / 2];
		if (k == 0)
			base = med;
		printf("%-22.*s %10.1f %10.1f %10.1f %8.2f\n",
		    (int)strcspn(argv[3 + k], "@="), argv[3 + k], med,
		    t[k][rounds * 9 / 10], t[k][rounds * 99 / 100], med / base);
	}
	return 0;
}

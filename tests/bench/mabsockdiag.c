/*
 * mabsockdiag: the cost of finding the owner of a loopback TCP connection
 * (sockdiag.c), per lookup, through netlink and through /proc/net/tcp.
 *   mabsockdiag [-n LOOKUPS] [-c EXTRA_CONNECTIONS] [-6]
 * Opens one connection to itself (plus extra idle ones, to fill the
 * socket table as a busy server's would), then looks it up N times.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sockdiag.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One connection to the listener: the client's fd, its port. */
static int
connect_one(int family, const struct sockaddr *sa, socklen_t slen, int lfd, unsigned *cport)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd == -1 || connect(fd, sa, slen) == -1 || accept(lfd, NULL, NULL) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		perror("connect");
		exit(1);
	}
	*cport = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

int
main(int argc, char **argv)
{
	int n = 100000, extra = 0, family = AF_INET, opt, lfd;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const char *ip = "127.0.0.1";
	unsigned sport, cport, dummy;
	unsigned long uid = 0;
	char err[256];
	double t0, t1;

	while ((opt = getopt(argc, argv, "n:c:6")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'c': extra = atoi(optarg); break;
		case '6': family = AF_INET6; ip = "::1"; break;
		default:
			fprintf(stderr, "usage: mabsockdiag [-n LOOKUPS] [-c CONNECTIONS] [-6]\n");
			return 2;
		}
	}
	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	else
		inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr);
	len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if ((lfd = socket(family, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&ss, len) == -1 || listen(lfd, 1024) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&ss, &len) == -1) {
		perror("listen");
		return 1;
	}
	sport = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	for (int i = 0; i < extra; i++)
		(void)connect_one(family, (struct sockaddr *)&ss, len, lfd, &dummy);
	(void)connect_one(family, (struct sockaddr *)&ss, len, lfd, &cport);

	if (sockdiag_netlink_owner(ip, cport, ip, sport, &uid, err, sizeof err) != 1) {
		fprintf(stderr, "mabsockdiag: netlink lookup failed: %s\n", err);
		return 1;
	}
	if (uid != (unsigned long)getuid()) {
		fprintf(stderr, "mabsockdiag: netlink found uid %lu, not %lu\n", uid,
		    (unsigned long)getuid());
		return 1;
	}
	t0 = now_us();
	for (int i = 0; i < n; i++)
		if (sockdiag_netlink_owner(ip, cport, ip, sport, &uid, err, sizeof err) != 1)
			return 1;
	t1 = now_us();
	printf("sockdiag netlink: %d lookups, %d connections: %.2f us per lookup\n", n,
	    extra + 1, (t1 - t0) / n);
	if (sockdiag_proc_owner(ip, cport, ip, sport, &uid, err, sizeof err) != 1 ||
	    uid != (unsigned long)getuid()) {
		fprintf(stderr, "mabsockdiag: /proc lookup failed: %s\n", err);
		return 1;
	}
	n = n / 100 > 0 ? n / 100 : 1;
	t0 = now_us();
	for (int i = 0; i < n; i++)
		if (sockdiag_proc_owner(ip, cport, ip, sport, &uid, err, sizeof err) != 1)
			return 1;
	t1 = now_us();
	printf("sockdiag /proc: %d lookups, %d connections: %.2f us per lookup\n", n,
	    extra + 1, (t1 - t0) / n);
	return 0;
}

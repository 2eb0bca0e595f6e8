/*
 * mabfloor: the floor of the benchmark.  A minimal single-threaded
 * raw-epoll UNIX-socket server doing only what every policy server must
 * do for Exim's connect-per-query cycle: accept, read until a newline
 * or end of file, write a fixed reply ("PASS\n"), close.  What
 * mailabused costs above it is its own work.
 *
 *   mabfloor SOCKET
 *
 * Runs until killed; a left-over socket at SOCKET is replaced.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_BYTES	4096
#define FD_SLOTS	65536

static const char reply[] = "PASS\n";

/* Bytes read so far on each connection, by descriptor. */
static unsigned short seen[FD_SLOTS];

/* Bind and listen on SOCKET, replacing a left-over socket file. */
static int
floor_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path) >=
	    (int)sizeof sun.sun_path) {
		fprintf(stderr, "mabfloor: %s: path too long\n", path);
		return -1;
	}
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 || listen(fd, 1024) == -1) {
		fprintf(stderr, "mabfloor: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return fd;
}

/* Read what is there; answer and close once a line (or EOF) is in. */
static void
floor_read(int fd)
{
	char buf[LINE_MAX_BYTES];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		break;
	}
	if (n > 0 && memchr(buf, '\n', (size_t)n) == NULL &&
	    seen[fd] + n <= LINE_MAX_BYTES) {
		seen[fd] += (unsigned short)n;
		return;		/* no full line yet */
	}
	if (n >= 0)
		(void)!write(fd, reply, sizeof reply - 1);
	seen[fd] = 0;
	close(fd);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[256];
	int lfd, epfd;

	if (argc != 2) {
		fprintf(stderr, "usage: mabfloor SOCKET\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = floor_listen(argv[1])) == -1)
		return 1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("mabfloor: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("mabfloor: epoll_ctl");
		return 1;
	}
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);

		if (n == -1 && errno != EINTR) {
			perror("mabfloor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, cfd;

			if (fd != lfd) {
				floor_read(fd);
				continue;
			}
			while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
				if (cfd >= FD_SLOTS) {
					close(cfd);
					continue;
				}
				ev.events = EPOLLIN;
				ev.data.fd = cfd;
				if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev) == -1)
					close(cfd);
			}
		}
	}
}

/*
 * Which local user owns the client end of a TCP connection to this host:
 * the kernel's socket table, asked for the exact 4-tuple through
 * NETLINK_SOCK_DIAG (inet_diag_req_v2, IPv4 and IPv6; no privilege
 * needed), else read from /proc/net/tcp and /proc/net/tcp6.  This is how
 * an SMTP session from the server itself without AUTH is tied to the
 * account whose script opened it.
 *
 * One netlink socket is kept open between lookups; the daemon asks from
 * its event loop only, so no lock.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockdiag.h"

static int sockdiag_fd = -1;
static uint32_t sockdiag_seq;

/* Both ends of a connection, as the kernel stores them. */
struct sockdiag_tuple {
	int family;
	unsigned char src[16], dst[16];	/* client, server: network order */
	uint16_t sport, dport;		/* host order */
};

/* Parse the two addresses; an IPv4 pair may also be asked as IPv4-mapped IPv6. */
static int
sockdiag_tuple_make(const char *cip, unsigned cport, const char *sip, unsigned sport,
    int family, struct sockdiag_tuple *t)
{
	struct in_addr a4, b4;

	memset(t, 0, sizeof *t);
	if (cport == 0 || cport > 65535 || sport == 0 || sport > 65535)
		return -1;
	t->sport = (uint16_t)cport;
	t->dport = (uint16_t)sport;
	t->family = family;
	if (inet_pton(AF_INET, cip, &a4) == 1 && inet_pton(AF_INET, sip, &b4) == 1) {
		if (family == AF_INET) {
			memcpy(t->src, &a4, 4);
			memcpy(t->dst, &b4, 4);
		} else {
			t->src[10] = t->src[11] = t->dst[10] = t->dst[11] = 0xff;
			memcpy(t->src + 12, &a4, 4);
			memcpy(t->dst + 12, &b4, 4);
		}
		return 0;
	}
	if (family == AF_INET6 && inet_pton(AF_INET6, cip, t->src) == 1 &&
	    inet_pton(AF_INET6, sip, t->dst) == 1)
		return 0;
	return -1;
}

/* The families to try for a pair of addresses: IPv4 then mapped, or IPv6. */
static int
sockdiag_families(const char *cip, int fam[2])
{
	struct in_addr a4;

	if (inet_pton(AF_INET, cip, &a4) == 1) {
		fam[0] = AF_INET;
		fam[1] = AF_INET6;
		return 2;
	}
	fam[0] = AF_INET6;
	return 1;
}

/* The netlink socket, opened on first use. */
static int
sockdiag_socket(char *err, size_t errlen)
{
	struct timeval tv = { 0, 200000 };

	if (sockdiag_fd != -1)
		return sockdiag_fd;
	sockdiag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (sockdiag_fd == -1) {
		snprintf(err, errlen, "netlink socket: %s", strerror(errno));
		return -1;
	}
	/* the kernel answers at once; never wedge the caller on a lost reply */
	(void)setsockopt(sockdiag_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return sockdiag_fd;
}

/* Forget the netlink socket (after an error, or at exit). */
void
sockdiag_close(void)
{
	if (sockdiag_fd != -1)
		close(sockdiag_fd);
	sockdiag_fd = -1;
}

/* One exact lookup of a tuple: 1 found (uid set), 0 no such socket, -1 error. */
static int
sockdiag_netlink_one(const struct sockdiag_tuple *t, unsigned long *uid, char *err,
    size_t errlen)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	union {
		struct nlmsghdr h;
		char buf[8192];
	} u;
	uint32_t seq = ++sockdiag_seq;
	ssize_t n;
	int fd;

	if ((fd = sockdiag_socket(err, errlen)) == -1)
		return -1;
	memset(&req, 0, sizeof req);
	req.nlh.nlmsg_len = sizeof req;
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;	/* no NLM_F_DUMP: the exact 4-tuple */
	req.nlh.nlmsg_seq = seq;
	req.r.sdiag_family = (uint8_t)t->family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0U;
	req.r.id.idiag_sport = htons(t->sport);
	req.r.id.idiag_dport = htons(t->dport);
	memcpy(req.r.id.idiag_src, t->src, 16);
	memcpy(req.r.id.idiag_dst, t->dst, 16);
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&sa, sizeof sa) == -1) {
		snprintf(err, errlen, "netlink send: %s", strerror(errno));
		sockdiag_close();
		return -1;
	}
	for (;;) {
		n = recv(fd, u.buf, sizeof u.buf, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "netlink receive: %s",
			    n == 0 ? "end of file" : strerror(errno));
			sockdiag_close();
			return -1;
		}
		for (struct nlmsghdr *h = &u.h; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;	/* a late answer to an earlier question */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) {
					snprintf(err, errlen, "netlink: short error message");
					return -1;
				}
				if (e->error == -ENOENT)
					return 0;
				snprintf(err, errlen, "netlink: %s", strerror(-e->error));
				return -1;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
				const struct inet_diag_msg *m = NLMSG_DATA(h);
				size_t alen = t->family == AF_INET ? 4 : 16;

				/* the kernel looked up this tuple; make sure */
				if (ntohs(m->id.idiag_sport) != t->sport ||
				    ntohs(m->id.idiag_dport) != t->dport ||
				    memcmp(m->id.idiag_src, t->src, alen) != 0 ||
				    memcmp(m->id.idiag_dst, t->dst, alen) != 0)
					return 0;
				*uid = m->idiag_uid;
				return 1;
			}
		}
	}
}

/*
 * Look the connection up with one method, in each address family the
 * client's address may stand for (IPv4 and IPv4-mapped IPv6).  Returns
 * 1 with *uid set, 0 when there is no such socket, -1 on error (err).
 */
static int
sockdiag_owner_find(int (*one)(const struct sockdiag_tuple *, unsigned long *, char *, size_t),
    const char *client_ip, unsigned client_port, const char *server_ip, unsigned server_port,
    unsigned long *uid, char *err, size_t errlen)
{
	struct sockdiag_tuple t;
	int fam[2], nf = sockdiag_families(client_ip, fam), r = 0;

	for (int i = 0; i < nf; i++) {
		if (sockdiag_tuple_make(client_ip, client_port, server_ip, server_port, fam[i],
		    &t) == -1) {
			snprintf(err, errlen, "not a TCP endpoint: [%s]:%u -> [%s]:%u",
			    client_ip, client_port, server_ip, server_port);
			return -1;
		}
		if ((r = one(&t, uid, err, errlen)) != 0)
			return r;
	}
	return r;
}

/*
 * The uid owning the socket whose local end is client_ip:client_port and
 * remote end server_ip:server_port, through NETLINK_SOCK_DIAG.  Returns 1
 * with *uid set, 0 when there is no such socket, -1 on error (err).
 */
int
sockdiag_netlink_owner(const char *client_ip, unsigned client_port, const char *server_ip,
    unsigned server_port, unsigned long *uid, char *err, size_t errlen)
{
	return sockdiag_owner_find(sockdiag_netlink_one, client_ip, client_port, server_ip,
	    server_port, uid, err, errlen);
}

/* Parse one address of /proc/net/tcp{,6}: "0100007F:1F90". */
static int
sockdiag_proc_addr(const char *s, int family, unsigned char *addr, unsigned *port)
{
	size_t words = family == AF_INET ? 1 : 4;
	char hex[9], *end;

	for (size_t i = 0; i < words; i++) {
		uint32_t w;

		memcpy(hex, s + 8 * i, 8);
		hex[8] = '\0';
		errno = 0;
		w = (uint32_t)strtoul(hex, &end, 16);
		if (errno != 0 || *end != '\0')
			return -1;
		/* each word is the kernel's 32 bits printed in host order */
		memcpy(addr + 4 * i, &w, 4);
	}
	s += 8 * words;
	if (*s != ':')
		return -1;
	*port = (unsigned)strtoul(s + 1, &end, 16);
	return 0;
}

/* Look for a tuple in one of /proc/net/tcp, tcp6. */
static int
sockdiag_proc_one(const struct sockdiag_tuple *t, unsigned long *uid, char *err,
    size_t errlen)
{
	const char *path = t->family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
	size_t alen = t->family == AF_INET ? 4 : 16;
	char line[512], local[64], remote[64];
	unsigned char la[16], ra[16];
	unsigned lp, rp;
	unsigned long u;
	FILE *fp;
	int found = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, fp) != NULL) {
		/* sl local rem st tx:rx tr:when retrnsmt uid ... */
		if (sscanf(line, " %*s %63s %63s %*s %*s %*s %*s %lu", local, remote, &u) != 3)
			continue;
		if (sockdiag_proc_addr(local, t->family, la, &lp) == -1 ||
		    sockdiag_proc_addr(remote, t->family, ra, &rp) == -1)
			continue;
		if (lp == t->sport && rp == t->dport && memcmp(la, t->src, alen) == 0 &&
		    memcmp(ra, t->dst, alen) == 0) {
			*uid = u;
			found = 1;
			break;
		}
	}
	fclose(fp);
	return found;
}

/* The same as sockdiag_netlink_owner, from /proc/net/tcp and /proc/net/tcp6. */
int
sockdiag_proc_owner(const char *client_ip, unsigned client_port, const char *server_ip,
    unsigned server_port, unsigned long *uid, char *err, size_t errlen)
{
	return sockdiag_owner_find(sockdiag_proc_one, client_ip, client_port, server_ip,
	    server_port, uid, err, errlen);
}

/* The owner of a connection: netlink, or the /proc tables if netlink fails. */
int
sockdiag_owner(const char *client_ip, unsigned client_port, const char *server_ip,
    unsigned server_port, unsigned long *uid, char *err, size_t errlen)
{
	int r = sockdiag_netlink_owner(client_ip, client_port, server_ip, server_port, uid,
	    err, errlen);

	if (r != -1)
		return r;
	return sockdiag_proc_owner(client_ip, client_port, server_ip, server_port, uid, err,
	    errlen);
}


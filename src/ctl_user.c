/*
 * mailabusectl run by an account owner (not root): the request goes to
 * the daemon's user socket, which decides from the caller's uid which
 * account it may see, and answers with a JSON document.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "proto.h"


/*
 * The daemon's user-socket errors start with an enhanced status code
 * ("5.7.1 permission denied ..."): meant for programs, not for the
 * owner reading the message.  The text after it.
 */
static const char *
ctl_plain_words(const char *text)
{
	const char *p = text;

	if (*p < '2' || *p > '5' || p[1] != '.')
		return text;
	p += 2;
	for (int part = 0; part < 2; part++) {
		const char *q = p;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q || p - q > 3 || *p != (part == 0 ? '.' : ' '))
			return text;
		p++;
	}
	return p;
}

/*
 * Ask the daemon's user socket (for a user other than root): the daemon
 * decides from our uid which account we may see.  Returns 0 with *out,
 * CTL_REFUSED with *out (a refused unblock), or an exit status after a
 * message.
 */
int
ctl_user_request(struct ctl *c, const char *verb, const char *account,
    const char *limit, const char *since, json_t **out)
{
	struct sockaddr_un sun;
	char req[512], enc[256], *reply = NULL, *sp;
	size_t len = 0, cap = 0;
	json_error_t jerr;
	ssize_t n;
	int fd, r;

	*out = NULL;
	r = snprintf(req, sizeof req, "%s %s", PROTO_VERSION, verb);
	if (account != NULL && proto_base64_encode(account, strlen(account), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " account=%s", enc);
	if (limit != NULL && proto_base64_encode(limit, strlen(limit), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " limit=%s", enc);
	if (since != NULL && proto_base64_encode(since, strlen(since), enc, sizeof enc) >= 0)
		r += snprintf(req + r, sizeof req - (size_t)r, " since=%s", enc);
	snprintf(req + r, sizeof req - (size_t)r, "\n");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", c->cfg.user_socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s (is mailabused running?)\n",
		    c->cfg.user_socket_path, strerror(errno));
		if (fd != -1)
			close(fd);
		return EX_UNAVAILABLE;
	}
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || shutdown(fd, SHUT_WR) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s\n", c->cfg.user_socket_path, strerror(errno));
		close(fd);
		return EX_UNAVAILABLE;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *nr;

			cap = cap ? cap * 2 : 16384;
			if (cap > 16 * 1024 * 1024 || (nr = realloc(reply, cap)) == NULL) {
				free(reply);
				close(fd);
				fprintf(stderr, "mailabusectl: reply too large\n");
				return EX_PROTOCOL;
			}
			reply = nr;
		}
		if ((n = read(fd, reply + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (reply == NULL || len == 0) {
		free(reply);
		fprintf(stderr, "mailabusectl: no answer from %s\n", c->cfg.user_socket_path);
		return EX_UNAVAILABLE;
	}
	reply[len] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	sp = strchr(reply, ' ');
	if (sp != NULL)
		*sp++ = '\0';
	if (strcmp(reply, "OK") == 0 || strcmp(reply, "REFUSED") == 0) {
		r = strcmp(reply, "OK") == 0 ? 0 : CTL_REFUSED;
		if (sp == NULL || (*out = json_loads(sp, 0, &jerr)) == NULL) {
			free(reply);
			fprintf(stderr, "mailabusectl: malformed answer from the daemon\n");
			return EX_PROTOCOL;
		}
		free(reply);
		return r;
	}
	fprintf(stderr, "mailabusectl: %s\n", ctl_esc(sp != NULL ? ctl_plain_words(sp) : reply));
	r = strcmp(reply, "DEFER") == 0 ? EX_TEMPFAIL :
	    sp != NULL && strncmp(sp, "5.7.1", 5) == 0 ? EX_NOPERM :
	    sp != NULL && strncmp(sp, "5.1.1", 5) == 0 ? EX_NOINPUT : EX_PROTOCOL;
	free(reply);
	return r;
}

/*
 * mailabusectl stats: the figures Prometheus scrapes.  The daemon's
 * counters come from its metrics endpoint (metrics.listen, a plain
 * HTTP GET /metrics); what the database holds (accounts by state, the
 * outbox, the accounts nearest their limits) is read here when the
 * daemon cannot be asked: metrics.listen off, or nobody answering.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "metrics.h"
#include "stats.h"

#define STATS_TIMEOUT_MS 5000		/* the daemon gets this long to answer */
#define STATS_MAX_REPLY (4 << 20)

/* Wait for fd (POLLIN or POLLOUT) until the deadline; 0, or -1 timed out. */
static int
stats_wait(int fd, short what, long long deadline)
{
	struct pollfd p = { fd, what, 0 };
	long long left;
	int r;

	for (;;) {
		if ((left = deadline - clock_mono_ms()) <= 0)
			return -1;
		if ((r = poll(&p, 1, (int)left)) > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

/* Connected to metrics.listen (a socket path or a loopback address:port), or -1 with why. */
static int
stats_connect(const char *listen_at, long long deadline, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
	unsigned sslen;
	int fd, e;
	socklen_t elen = sizeof e;

	if (listen_at[0] == '/') {
		memset(&ss, 0, sizeof ss);
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof sun->sun_path, "%s", listen_at);
		sslen = sizeof *sun;
	} else if (config_metrics_inet(listen_at, &ss, &sslen, why, whylen) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, (socklen_t)sslen) == -1) {
		if (errno != EINPROGRESS) {
			snprintf(why, whylen, "%s", strerror(errno));
			close(fd);
			return -1;
		}
		if (stats_wait(fd, POLLOUT, deadline) == -1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == -1 || e != 0) {
			snprintf(why, whylen, "%s", e != 0 ? strerror(e) : "timed out");
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* GET /metrics from the daemon: the body, allocated, or NULL with why. */
static char *
stats_fetch(const char *listen_at, char *why, size_t whylen)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
	long long deadline = clock_mono_ms() + STATS_TIMEOUT_MS;
	size_t len = 0, cap = 65536, off = 0;
	char *buf, *body, *bigger;
	ssize_t n;
	int fd;

	if ((fd = stats_connect(listen_at, deadline, why, whylen)) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL) {
		snprintf(why, whylen, "out of memory");
		close(fd);
		return NULL;
	}
	while (off < sizeof req - 1) {
		if ((n = write(fd, req + off, sizeof req - 1 - off)) > 0)
			off += (size_t)n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			goto io;
		else if (n == -1 && errno == EAGAIN && stats_wait(fd, POLLOUT, deadline) == -1)
			goto timeout;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= STATS_MAX_REPLY) {
				snprintf(why, whylen, "the reply is longer than %d bytes",
				    STATS_MAX_REPLY);
				goto fail;
			}
			if ((bigger = realloc(buf, cap * 2)) == NULL) {
				snprintf(why, whylen, "out of memory");
				goto fail;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n > 0)
			len += (size_t)n;
		else if (n == 0)
			break;
		else if (errno == EAGAIN) {
			if (stats_wait(fd, POLLIN, deadline) == -1)
				goto timeout;
		} else if (errno != EINTR)
			goto io;
	}
	close(fd);
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0 ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL) {
		snprintf(why, whylen, "unexpected reply: %.40s", buf);
		for (char *p = why; *p != '\0'; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
timeout:
	snprintf(why, whylen, "no answer within %d seconds", STATS_TIMEOUT_MS / 1000);
	goto fail;
io:
	snprintf(why, whylen, "%s", strerror(errno));
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* One label value of the text format, unescaped, into out; the end of it, or NULL. */
static const char *
stats_label_value(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *p != '"'; p++) {
		if (*p == '\0' || *p == '\n')
			return NULL;
		if (*p == '\\' && p[1] != '\0') {
			p++;
			if (*p == 'n')
				out[n < outlen - 1 ? n++ : n] = '\n';
			else
				out[n < outlen - 1 ? n++ : n] = *p;
		} else
			out[n < outlen - 1 ? n++ : n] = *p;
	}
	out[n] = '\0';
	return p + 1;
}

/*
 * Print the samples of an exposition: as they are, or as JSON objects
 * {"name", "labels", "value"} appended to arr.  0, or -1 on a line that
 * is no sample.
 */
static int
stats_samples(char *text, json_t *arr)
{
	char *line, *save = NULL, name[128], key[64], val[512];
	const char *p;
	json_t *labels, *o;
	double v;
	size_t n;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		n = strcspn(line, "{ ");
		if (n == 0 || n >= sizeof name)
			return -1;
		snprintf(name, sizeof name, "%.*s", (int)n, line);
		p = line + n;
		labels = json_object();
		if (*p == '{') {
			p++;
			while (*p != '}') {
				n = strcspn(p, "=");
				if (n == 0 || n >= sizeof key || p[n] != '=' || p[n + 1] != '"') {
					json_decref(labels);
					return -1;
				}
				snprintf(key, sizeof key, "%.*s", (int)n, p);
				if ((p = stats_label_value(p + n + 2, val, sizeof val)) == NULL) {
					json_decref(labels);
					return -1;
				}
				json_object_set_new(labels, key, json_string(val));
				if (*p == ',')
					p++;
			}
			p++;
		}
		if (sscanf(p, " %lf", &v) != 1) {
			json_decref(labels);
			return -1;
		}
		if (arr == NULL) {
			printf("%s\n", ctl_esc(line));
			json_decref(labels);
			continue;
		}
		o = json_pack("{s:s, s:o}", "name", name, "labels", labels);
		if (o == NULL)
			return -1;
		json_object_set_new(o, "value", v == (double)(json_int_t)v ?
		    json_integer((json_int_t)v) : json_real(v));
		json_array_append_new(arr, o);
	}
	return 0;
}

int
cmd_stats(struct ctl *c, const struct ctl_args *a)
{
	struct metrics_db db;
	char why[1024] = "", cause[512], *text = NULL;
	const char *from;
	json_t *arr = NULL, *doc;
	int r;

	(void)a;
	if (c->cfg.metrics_listen[0] != '\0') {
		if ((text = stats_fetch(c->cfg.metrics_listen, cause, sizeof cause)) == NULL) {
			snprintf(why, sizeof why, "the daemon does not answer at %s: %s",
			    c->cfg.metrics_listen, cause);
			fprintf(stderr, "mailabusectl: stats: %s; the database's figures only\n",
			    ctl_esc(why));
		}
	} else
		snprintf(why, sizeof why, "metrics.listen is off");
	from = text != NULL ? "daemon" : "database";
	if (text == NULL) {
		if ((r = ctl_history(c)) != 0)
			return r;
		if (stats_db_read(c->st, c->hist, &c->cfg, c->now, &db) == -1)
			return ctl_db_error(c, "stats");
		if ((text = metrics_render(&db, 0, NULL)) == NULL) {
			fprintf(stderr, "mailabusectl: out of memory\n");
			return EX_SOFTWARE;
		}
	}
	if (c->json && (arr = json_array()) == NULL) {
		free(text);
		return ctl_json_print(NULL);
	}
	if (!c->json)
		printf("# figures from the %s%s%s%s\n", from, *why != '\0' ? " (" : "", ctl_esc(why),
		    *why != '\0' ? ")" : "");
	if (stats_samples(text, arr) == -1) {
		fprintf(stderr, "mailabusectl: stats: the daemon's figures are not in Prometheus's"
		    " text format\n");
		free(text);
		json_decref(arr);
		return EX_PROTOCOL;
	}
	free(text);
	if (!c->json)
		return 0;
	doc = json_pack("{s:s, s:s?, s:o}", "source", from, "daemon_error",
	    strcmp(from, "daemon") == 0 ? NULL : why, "metrics", arr);
	return ctl_json_print(doc);
}

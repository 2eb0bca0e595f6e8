/*
 * scrape.c: the metrics endpoint (metrics.listen), served over HTTP by
 * libevent's evhttp on a thread of its own, with its own event base and
 * database connection: a scrape never delays a policy answer.
 */
#ifndef MAILABUSE_SCRAPE_H
#define MAILABUSE_SCRAPE_H

#include <stddef.h>

struct config;
struct scrape;

int scrape_inet_listen(const char *addr, char *err, size_t errlen);
/* fd is the bound, listening socket; the thread owns it from here. */
struct scrape *scrape_start(const struct config *cfg, int fd, char *err, size_t errlen);
void scrape_reload(struct scrape *sc, const struct config *cfg);
void scrape_stop(struct scrape *sc);

#endif

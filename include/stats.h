/*
 * stats.c: the metrics' figures that live in the database (accounts by
 * state, the outbox, the accounts nearest their limits), read the same
 * way by the daemon's metrics endpoint and by `mailabusectl stats`.
 */
#ifndef MAILABUSE_STATS_H
#define MAILABUSE_STATS_H

#include "config.h"
#include "metrics.h"
#include "store.h"

struct history;
int stats_db_read(struct store *st, struct history *h, const struct config *cfg,
    long long now,
    struct metrics_db *db);

#endif

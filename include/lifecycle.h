/*
 * lifecycle.c: the abuse lifecycle over the store: the facts of the
 * unblock rule, the owner's unblock request, status and history reports.
 * Shared by mailabusectl and by mailabused's user socket.
 */
#ifndef MAILABUSE_LIFECYCLE_H
#define MAILABUSE_LIFECYCLE_H

#include <jansson.h>

#include "config.h"
#include "policy.h"
#include "store.h"

#define LIFECYCLE_WINDOWS_MAX 1024
#define LIFECYCLE_REFUSAL_NOTICE_INTERVAL 86400	/* one refusal mail a day */

/* Results of the lifecycle calls that are not plain errors. */
enum lifecycle_result { LC_OK = 0, LC_ERROR = -1, LC_NOT_FOUND = -2, LC_REFUSED = -3 };

int lifecycle_decide(struct store *st, const struct config *cfg, const char *account,
    long long now, struct unblock_decision *d, struct suspension *active);
void lifecycle_explain(const struct unblock_decision *d, const struct config *cfg,
    char *buf, size_t len);
void lifecycle_time(long long t, char *buf, size_t len);
int lifecycle_unblock(struct store *st, const struct config *cfg, const char *account,
    const char *actor, long long now, json_t **result, char *err, size_t errlen);
int lifecycle_notice_suspended(struct store *st, const struct config *cfg,
    const struct suspension *sp, long long now, char *err, size_t errlen);
json_t *lifecycle_status(struct store *st, const struct config *cfg, const char *account,
    long long now, int *rc);
struct history;
struct source_stats;
json_t *lifecycle_history(struct store *st, struct history *h, const char *account,
    long long since, long long now, long long limit, long long max_rows, int *rc);
json_t *lifecycle_source_json(const struct source_stats *x);

#endif

/*
 * The database's part of the metrics, in one read transaction: a
 * consistent picture, and never a write lock.
 */
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "history.h"
#include "stats.h"

/* An account's own limits, over the configuration's. */
static int
stats_limit_cb(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by)
{
	struct metrics_top *t = arg;

	(void)action;
	(void)set_at;
	(void)set_by;
	if (strcmp(detector, detect_name(DET_ACCOUNT_MESSAGES)) == 0)
		t->messages_limit = value;
	else if (strcmp(detector, detect_name(DET_ACCOUNT_RCPTS)) == 0)
		t->rcpts_limit = value;
	return 0;
}

/* One of the accounts that sent most in the last hour. */
static int
stats_top_cb(void *arg, const struct source_stats *x)
{
	struct metrics_db *db = arg;
	struct metrics_top *t;

	if (db->ntop >= METRICS_TOP_MAX)
		return 0;
	t = &db->top[db->ntop++];
	snprintf(t->account, sizeof t->account, "%s", x->account);
	t->messages = x->messages;
	t->rcpts = x->n_external;
	return 0;
}

/* Fill db from the database; 0, or -1 with db->ok 0 (store_error says why). */
int
stats_db_read(struct store *st, struct history *h, const struct config *cfg, long long now,
    struct metrics_db *db)
{
	long long accounts[3], notices[3];

	memset(db, 0, sizeof *db);
	if (store_read_begin(st) == -1)
		return -1;
	if (store_stats(st, accounts, notices) == -1 ||
	    history_top_accounts(h, now - DETECT_WINDOW, METRICS_TOP_MAX, stats_top_cb, db) == -1)
		goto fail;
	for (size_t i = 0; i < db->ntop; i++) {
		db->top[i].messages_limit = cfg->detect_limit[DET_ACCOUNT_MESSAGES];
		db->top[i].rcpts_limit = cfg->detect_limit[DET_ACCOUNT_RCPTS];
		if (store_limits_get(st, db->top[i].account, stats_limit_cb, &db->top[i]) == -1)
			goto fail;
	}
	store_read_end(st);
	db->accounts_active = accounts[0];
	db->accounts_suspended = accounts[1];
	db->accounts_removed = accounts[2];
	db->notices_queued = notices[0];
	db->notices_sent = notices[1];
	db->notices_failed = notices[2];
	db->ok = 1;
	return 0;
fail:
	store_read_end(st);
	db->ntop = 0;
	return -1;
}

/*
 * history.c: the message history, in a SQLite file of its own
 * (database.history_path), apart from the policy database.  Records are
 * appended in time order (rowid only); each account's records are
 * chained newest to oldest, so that what one account sent is read
 * without an index that every record would have to be inserted into;
 * the few small tables beside (each account's newest record, the first
 * record of each hour, Exim's message ids, the hosts of each mailbox)
 * are updated in place.  The cost of a record does not grow with the
 * history.  Errors: -1 and history_error().
 */
#ifndef MAILABUSE_HISTORY_H
#define MAILABUSE_HISTORY_H

#include <stddef.h>

#include <jansson.h>

#include "store.h"

struct history;
struct config;

/* One message the daemon decided on, for the account's history. */
struct message_record {
	long long at;
	char account[ACCOUNT_NAME_MAX];
	char mailbox[ADDRESS_MAX];
	char ctx[8];
	long long uid;			/* -1 when not known */
	char script[256];
	char ip[64];
	char sender[ADDRESS_MAX];
	char rcpt[1024];		/* the recipients, ", " separated, cut at 1023 bytes */
	char verdict[8];
	char msgid[64];			/* Exim's message id; "" before DATA */
	char source_kind[16];		/* "mailbox", "script", "local"; "" for old records */
	char source[256];		/* the mailbox, the script, or "sendmail (uid NAME)" */
	long long n_local;		/* recipients in the server's local domains */
	long long n_external;		/* the others */
	char domains[512];		/* external recipient domains, "domain:count,..." */
	long long delivered, deferred, bounced;	/* outcomes reported by Exim */
	char reason[256];		/* why it was refused, deferred or held */
};

/* What one source (or account) sent in a period. */
struct source_stats {
	char account[ACCOUNT_NAME_MAX];
	char kind[16];
	char source[256];
	long long messages, n_local, n_external;
	long long delivered, deferred, bounced;
	long long refused, held, limited;	/* verdicts REFUSE, HOLD, DEFER */
	long long first_at, last_at;
};

/* A message let through recently, for rebuilding the detectors' windows. */
struct recent_message {
	long long at;
	char account[ACCOUNT_NAME_MAX];
	char kind[16];
	char source[256];
	char ip[64];
	const char *rcpt;		/* valid during the callback */
	long long n_external;
	long long ok, failed;
	long long uid;			/* -1 when not known */
	long long host_first_seen;
	long long last_change;		/* the account's last suspension or lift, or 0 */
};

typedef int (*history_message_cb)(void *arg, const struct message_record *m);
typedef int (*history_source_cb)(void *arg, const struct source_stats *x);
typedef int (*history_recent_cb)(void *arg, const struct recent_message *r);

/* The history file of a configuration: database.history_path, or beside database.path. */
void history_path(const struct config *cfg, char *buf, size_t len);

/*
 * Open (creating if needed) the history file.  policy_path (or NULL):
 * the policy database, whose records of before the split (schema 7 and
 * older) are moved here at the first open, and whose suspensions
 * history_recent_messages reads.
 */
struct history *history_open(const char *path, const char *policy_path,
    long long busy_timeout_ms, char *err, size_t errlen);
void history_close(struct history *h);
const char *history_error(struct history *h);
int history_busy(struct history *h);

int history_begin(struct history *h);
int history_commit(struct history *h);
void history_rollback(struct history *h);

/* The writer: one record, one delivery outcome ("delivered", "deferred", "bounced"). */
int history_message_insert(struct history *h, const struct message_record *m);
int history_message_outcome(struct history *h, const char *msgid, const char *outcome);
/* When a mailbox was first used from a host: 1 found, 0 never, -1 error. */
int history_host_first_seen(struct history *h, const char *mailbox, const char *ip,
    long long *first);

/* Reading: an account's records, its sources, the busiest accounts. */
int history_message_list(struct history *h, const char *account, long long since,
    long long limit, history_message_cb cb, void *arg);
int history_sources(struct history *h, const char *account, long long since,
    long long max_rows, long long limit, history_source_cb cb, void *arg);
int history_top_accounts(struct history *h, long long since, long long limit,
    history_source_cb cb, void *arg);
int history_domains(struct history *h, const char *account, long long since,
    long long max_rows, int (*cb)(void *arg, const char *kind, const char *source,
    const char *domains), void *arg);
int history_hosts(struct history *h, const char *account, long long since,
    long long max_rows, int (*cb)(void *arg, const char *kind, const char *source,
    const char *ip, long long messages, long long first_seen), void *arg);
int history_recent_messages(struct history *h, long long since, history_recent_cb cb,
    void *arg);

/* An account renamed: its records and hosts go to the new name. */
int history_account_move(struct history *h, const char *from, const char *to);

/* Delete the records older than before (whole hours) and hosts not seen since; *n rows. */
int history_purge(struct history *h, long long before, long long *n);

/* export and import: "messages" and "mailbox_hosts" rows of an account, as JSON. */
json_t *history_record_rows(struct history *h, const char *table, const char *account);
int history_record_import(struct history *h, const char *table, const char *account,
    json_t *rows, long long *n);

/* Bound the time of the statements to come (ms; 0 lifts it), as store_time_limit. */
void history_time_limit(struct history *h, long long ms);
int history_timed_out(struct history *h);

#endif

/*
 * The SQLite store of the policy database: store.c (the core) and one
 * store_<what>.c for each thing it keeps; with history.c (the history
 * file) and store_view.c (the daemon's view) it holds every SQL
 * statement of the project.  Lookups return 1 found, 0 not found, -1 error; changes 0 or
 * -1 (those that can find nothing to change say so as their comments
 * tell); after -1, store_error says what went wrong.
 */
#ifndef MAILABUSE_STORE_H
#define MAILABUSE_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "identity.h"

#define REASON_MAX 1024
#define ACTOR_MAX 128

struct store;

struct account {
	char name[ACCOUNT_NAME_MAX];
	char owner[ACCOUNT_NAME_MAX];
	char contact[ADDRESS_MAX];
	char main_domain[256];
	int present;
	long long created_at;
	long long updated_at;
};

struct suspension {
	long long id;
	char target[ADDRESS_MAX];
	char account[ACCOUNT_NAME_MAX];
	char kind[16];			/* "account" or "mailbox" */
	char reason[REASON_MAX];
	char source[32];
	char created_by[ACTOR_MAX];
	long long created_at;
	long long lifted_at;		/* 0 while active */
	char lifted_by[ACTOR_MAX];
	char lift_reason[REASON_MAX];
	char lift_kind[16];		/* "owner", "admin", "admin-nocount" or "" */
	long long complaint_id;		/* the complaint it was made for, or 0 */
};

struct complaint {
	long long id;
	char account[ACCOUNT_NAME_MAX];
	char source[32];
	char ref[REASON_MAX];
	long long created_at;
	char created_by[ACTOR_MAX];
	long long window_end;
	long long closed_at;		/* 0 while open */
	char closed_by[ACTOR_MAX];
	char close_reason[REASON_MAX];
};

/* A queued notice, as claimed for sending. */
struct notice {
	long long id;
	char account[ACCOUNT_NAME_MAX];
	char kind[32];
	char rcpt[ADDRESS_MAX];
	char *message;			/* allocated */
	int attempts;
	long long created_at;
	long long failed_at;		/* given up at; 0 while pending or sent */
	char error[512];		/* the last failure */
};

struct audit_entry {
	long long id;
	long long at;
	char actor[ACTOR_MAX];
	char action[32];
	char account[ACCOUNT_NAME_MAX];
	char target[ADDRESS_MAX];
	char detail[REASON_MAX];
};

/* What sync found different between cPanel's files and the store. */
enum sync_change {
	SYNC_ACCOUNT_ADDED, SYNC_ACCOUNT_CHANGED, SYNC_ACCOUNT_REMOVED,
	SYNC_DOMAIN_ADDED, SYNC_DOMAIN_CHANGED, SYNC_DOMAIN_REMOVED,
	SYNC_LOCAL_ADDED, SYNC_LOCAL_REMOVED,
	SYNC_ACCOUNT_RENAMED, SYNC_ACCOUNT_REUSED	/* store_sync_renames */
};
typedef int (*store_sync_cb)(void *arg, enum sync_change what, const char *name,
    const char *old_value, const char *new_value);

typedef int (*store_account_cb)(void *arg, const struct account *a, int suspended);
typedef int (*store_suspension_cb)(void *arg, const struct suspension *s);
typedef int (*store_audit_cb)(void *arg, const struct audit_entry *e);
typedef int (*store_complaint_cb)(void *arg, const struct complaint *c);
typedef int (*store_notice_cb)(void *arg, const struct notice *n);
/* A domain an account with a suspension would lose; staying: it is still in cPanel. */
typedef int (*store_loss_cb)(void *arg, const char *account, const char *domain,
    long long account_domains, int staying);

/* What sync's truncation guard weighs. */
struct sync_guard {
	long long domains, domains_removed, domains_staged;
	long long owned, owners_lost;	/* accounts with an owner, and losing it */
};

struct store *store_open(const char *path, long long busy_timeout_ms, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_error(struct store *st);

int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
int store_read_begin(struct store *st);
void store_read_end(struct store *st);

/* Hot path: 1 found, 0 not found, -1 error. */
int store_domain_owner(struct store *st, const char *domain, char *account, size_t len);
int store_account_exists(struct store *st, const char *name);
int store_suspension_active(struct store *st, const char *target, struct suspension *s);
int store_local_domain(struct store *st, const char *domain);

int store_account_get(struct store *st, const char *name, struct account *a);
int store_account_list(struct store *st, const char *state, store_account_cb cb, void *arg);
int store_account_domains(struct store *st, const char *name,
    int (*cb)(void *arg, const char *domain, const char *kind), void *arg);
int store_suspension_insert(struct store *st, struct suspension *s);
int store_suspension_lift(struct store *st, long long id, long long at,
    const char *by, const char *reason, const char *lift_kind);
int store_suspension_list(struct store *st, const char *account, store_suspension_cb cb, void *arg);
int store_audit_insert(struct store *st, long long at, const char *actor, const char *action,
    const char *account, const char *target, const char *detail);
int store_audit_list(struct store *st, const char *account, long long limit,
    store_audit_cb cb, void *arg);
int store_limits_get(struct store *st, const char *account,
    int (*cb)(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by), void *arg);
int store_limit_set(struct store *st, const char *account, const char *detector,
    long long value, const char *action, long long at, const char *by);
int store_limit_delete(struct store *st, const char *account, const char *detector);

/* sync: stage cPanel's data, then compare and apply in one transaction. */
int store_sync_stage_begin(struct store *st);
int store_sync_stage_account(struct store *st, const char *name, const char *owner,
    const char *contact, const char *main_domain);
int store_sync_stage_domain(struct store *st, const char *domain, const char *account,
    const char *kind);
int store_sync_stage_local(struct store *st, const char *domain);
int store_sync_stage_scope(struct store *st, const char *domain);
int store_sync_stage_uuid(struct store *st, const char *name, const char *uuid);
int store_sync_renames(struct store *st, long long now, store_sync_cb cb, void *arg);
int store_history_moves(struct store *st, int (*cb)(void *arg, const char *from,
    const char *to), void *arg);
int store_sync_apply(struct store *st, long long now, const char *account,
    store_sync_cb cb, void *arg);

/* sync: cPanel's own outgoing email state ("suspended", "held"; "" none). */
typedef int (*store_outgoing_cb)(void *arg, const char *account, const char *old_state,
    const char *new_state);
int store_outgoing_stage_begin(struct store *st);
int store_outgoing_stage(struct store *st, const char *account, const char *state);
int store_outgoing_apply(struct store *st, long long now, store_outgoing_cb cb, void *arg);
int store_outgoing_get(struct store *st, const char *account, char *state, size_t len,
    long long *since);

/* The abuse lifecycle. */
int store_last_unblock(struct store *st, const char *account, long long *at);
int store_complaint_insert(struct store *st, struct complaint *c);
int store_complaint_list(struct store *st, const char *account, store_complaint_cb cb, void *arg);
int store_complaint_get(struct store *st, long long id, struct complaint *c);
int store_complaint_close(struct store *st, long long id, long long at, const char *by,
    const char *reason);
int store_complaints_expire(struct store *st, long long now, const char *actor, long long *n);
int store_suspension_pending_eligible(struct store *st, store_suspension_cb cb, void *arg);
int store_suspension_set_notified(struct store *st, long long id, long long at);
int store_outbox_insert(struct store *st, const char *account, const char *kind,
    const char *rcpt, const char *message, long long now);
int store_outbox_due(struct store *st, long long now, const char *account,
    long long *ids, size_t max, size_t *n);
int store_outbox_claim(struct store *st, long long id, long long now, long long lease_until,
    struct notice *nt);
int store_outbox_sent(struct store *st, long long id, long long at);
int store_outbox_failed(struct store *st, long long id, const char *error, long long retry_at);
int store_outbox_give_up(struct store *st, long long id, const char *error, long long at);
int store_outbox_failed_list(struct store *st, const char *account, store_notice_cb cb,
    void *arg);
int store_suspension_flags(struct store *st, const char *account, const char *mailbox,
    int *account_suspended, int *mailbox_suspended, long long *last_change);
int store_last_audit(struct store *st, const char *account, const char *action1,
    const char *action2, long long *at);
int store_sync_counts(struct store *st, long long *present, long long *removed,
    long long *staged);
int store_sync_guard(struct store *st, struct sync_guard *g);
int store_sync_suspended_losses(struct store *st, const char *account, store_loss_cb cb,
    void *arg);
int store_stats(struct store *st, long long accounts[3], long long notices[3]);
int store_busy(struct store *st);
int store_set_synchronous(struct store *st, int full);
/* mailabusectl export and import: one account's record, as JSON rows. */
json_t *store_record_rows(struct store *st, const char *table, const char *account);
int store_record_row_insert(struct store *st, const char *table, json_t *row, int dedup,
    long long *id);
int store_record_delete(struct store *st, const char *account);
int store_account_import(struct store *st, const struct account *a, long long now);
void store_time_limit(struct store *st, long long ms);
int store_timed_out(struct store *st);
int store_purge(struct store *st, long long records_before, long long *n);

#endif

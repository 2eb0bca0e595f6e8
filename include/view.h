/*
 * view.c: the daemon's in-memory view of what the policy reads: domains
 * (and their account), local domains, present accounts, active
 * suspension targets, each account's last suspension change and its own
 * limits.  Kept exactly in step with the database: before an answer the
 * view compares the generation every commit bumps (store_view.c) and,
 * when it moved, applies the change log; a timer catches changes made
 * without mailabusectl (PRAGMA data_version).  Lookups do no SQL and no
 * allocation.  view_refresh returns 0, or -1 with the view marked stale
 * (the daemon then answers DEFER) and the reason in err.
 */
#ifndef MAILABUSE_VIEW_H
#define MAILABUSE_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct detect_limits;
struct store_view;
struct view;

struct view *view_new(void);
void view_free(struct view *v);

int view_refresh(struct view *v, struct store_view *sv, int force, char *err, size_t errlen);
int view_data_version_check(struct view *v, struct store_view *sv, char *err, size_t errlen);
int view_ok(const struct view *v);
unsigned long long view_changes_applied(const struct view *v);

/* The lookups: 1 found, 0 not. */
int view_domain_owner(const struct view *v, const char *domain, char *account, size_t len);
int view_account_exists(const struct view *v, const char *name);
int view_local_domain(const struct view *v, const char *domain);
int view_target_suspended(const struct view *v, const char *target);
long long view_last_change(const struct view *v, const char *account);
void view_limits_apply(const struct view *v, const char *account, struct detect_limits *lim);

/* Filling by hand (tests) and by the refresh. */
int view_domain_set(struct view *v, const char *domain, const char *account);
int view_local_set(struct view *v, const char *domain, int local);
int view_account_set(struct view *v, const char *name, int present);
int view_target_set(struct view *v, const char *target, int active);
int view_last_change_set(struct view *v, const char *account, long long at);
int view_limit_set(struct view *v, const char *account, const char *detector,
    const char *action, long long value);
void view_limits_clear(struct view *v, const char *account);
void view_clear(struct view *v);
void view_mark_ok(struct view *v);
size_t view_memory(const struct view *v);

#endif

/*
 * store_view.c: what the daemon's in-memory view (view.c) reads from the
 * store: the tables whole, the change log the triggers of migration 7
 * fill, single rows again; and the generation file beside the database
 * that every commit bumps, so that the daemon knows with one load that
 * the change log has grown.  Functions return 0 (or 1/0 found) and -1
 * with the error in store_view_error().
 */
#ifndef MAILABUSE_STORE_VIEW_H
#define MAILABUSE_STORE_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_view;

/* What a change log row is about (view_changes.tbl). */
enum view_table {
	VIEW_T_DOMAIN = 1,		/* key: the domain */
	VIEW_T_LOCAL = 2,		/* key: the local domain */
	VIEW_T_ACCOUNT = 3,		/* key: the account's name */
	VIEW_T_SUSPENSION = 4,		/* key: the target, key2: its account */
	VIEW_T_LIMITS = 5		/* key: the account */
};

/* The queries, each giving rows of up to three texts and two numbers in column order. */
enum store_view_query {
	SVQ_DOMAINS,		/* domain, account */
	SVQ_LOCALS,		/* domain */
	SVQ_ACCOUNTS,		/* name (present ones) */
	SVQ_TARGETS,		/* target (active suspensions) */
	SVQ_CHANGES_ALL,	/* account, last change of its account suspensions */
	SVQ_LIMITS_ALL,		/* account, detector, action, value */
	SVQ_LOG_SPAN,		/* min(id), max(id) of the change log */
	SVQ_LOG,		/* tbl, id; key, key2: the log after ?1 */
	SVQ_DOMAIN,		/* account of domain ?1 */
	SVQ_LOCAL,		/* 1 if ?1 is a local domain */
	SVQ_ACCOUNT,		/* 1 if account ?1 is present */
	SVQ_TARGET,		/* 1 if target ?1 has an active suspension */
	SVQ_CHANGE,		/* last change of account ?1's account suspensions */
	SVQ_LIMITS,		/* account, detector, action, value: limits of account ?1 */
	SVQ_DATA_VERSION,	/* PRAGMA data_version */
	SVQ_SIZES,		/* domains + local domains, accounts: to size the maps */
	SVQ_COUNT
};

struct store_view_row {
	const char *t[3];	/* texts, "" for NULL */
	long long n[2];
};
/* 0 goes on; a positive number stops the walk; -1: could not keep the row (out of memory). */
typedef int (*store_view_cb)(void *arg, const struct store_view_row *r);

/* store.c: the store's connection. */
struct sqlite3 *store_sqlite(struct store *st);

struct store_view *store_view_open(struct store *st, char *err, size_t errlen);
void store_view_close(struct store_view *sv);
const char *store_view_error(struct store_view *sv);
int store_view_rows(struct store_view *sv, enum store_view_query q, const char *key,
    long long num, store_view_cb cb, void *arg);
int store_view_begin(struct store_view *sv);
void store_view_end(struct store_view *sv);

/* The generation file (DATABASE-gen): one 64-bit counter, shared by mmap. */
int store_gen_attach(const char *dbpath, int create, char *err, size_t errlen);
void store_gen_bump(void);
uint64_t store_gen_read(void);
int store_gen_attached(void);

#endif

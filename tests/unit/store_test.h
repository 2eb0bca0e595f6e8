/*
 * What the store's unit tests share: a throwaway database file for each
 * test (cmocka setup and teardown), and accounts made the way sync
 * makes them.  Included by tests/unit/test_store_*.c only.
 */
#ifndef MAILABUSE_STORE_TEST_H
#define MAILABUSE_STORE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define N(a) (sizeof (a) / sizeof (a)[0])
#define NOW 1800000000LL
#define DAY 86400LL

/* A test's database: its file and the store open on it. */
struct store_test {
	char path[256];
	struct store *st;
};

/* A new, empty file name of our own under TMPDIR. */
static inline void
store_test_path(char *path, size_t len)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	int fd;

	snprintf(path, len, "%s/mailabuse-store-test.XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

/* Remove a database file and its WAL companions. */
static inline void
store_test_unlink(const char *path)
{
	char p[300];

	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

/* cmocka setup: a fresh store on a throwaway file. */
static inline int
store_test_setup(void **state)
{
	struct store_test *t = calloc(1, sizeof *t);
	char err[512];

	if (t == NULL)
		return -1;
	store_test_path(t->path, sizeof t->path);
	if ((t->st = store_open(t->path, 1000, err, sizeof err)) == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* cmocka teardown: close the store, remove its file. */
static inline int
store_test_teardown(void **state)
{
	struct store_test *t = *state;

	store_close(t->st);
	store_test_unlink(t->path);
	free(t);
	return 0;
}

/* The store of the current test. */
static inline struct store *
store_test_st(void **state)
{
	return ((struct store_test *)*state)->st;
}

/* A sync report callback that ignores what it is told. */
static inline int
store_test_sync_cb(void *arg, enum sync_change what, const char *name, const char *old_value,
    const char *new_value)
{
	(void)arg;
	(void)what;
	(void)name;
	(void)old_value;
	(void)new_value;
	return 0;
}

/*
 * Sync two accounts in: alice (example.com, shop.example.com; owner
 * reseller) and bob (example.net), with example.com a local domain.
 */
static inline void
store_test_accounts(struct store *st)
{
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_sync_stage_begin(st), 0);
	assert_int_equal(store_sync_stage_account(st, "alice", "reseller", "alice@example.org",
	    "example.com"), 0);
	assert_int_equal(store_sync_stage_account(st, "bob", "", "", "example.net"), 0);
	assert_int_equal(store_sync_stage_domain(st, "example.com", "alice", "addon"), 0);
	assert_int_equal(store_sync_stage_domain(st, "shop.example.com", "alice", "addon"), 0);
	assert_int_equal(store_sync_stage_domain(st, "example.net", "bob", "addon"), 0);
	assert_int_equal(store_sync_stage_local(st, "example.com"), 0);
	assert_int_equal(store_sync_apply(st, NOW - DAY, NULL, store_test_sync_cb, NULL), 0);
	assert_int_equal(store_commit(st), 0);
}

#endif

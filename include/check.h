/*
 * check.c: the daemon's decision on one request (CHECK or EVENT): gather
 * the facts (identity, the view, the recipients, the detectors), take
 * the verdict (decision.c, pure), do the follow-up (log, record,
 * count).  It calls down only: view, store, detect, recorder, the pure
 * modules.  What the server must do after (list an automatic suspension
 * as under way) comes back in struct check_reply.
 */
#ifndef MAILABUSE_CHECK_H
#define MAILABUSE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "detect.h"
#include "history.h"
#include "identity.h"
#include "proto.h"
#include "store.h"

struct recorder;
struct store_view;
struct view;

/* An account whose automatic suspension the writer has not committed yet. */
struct pending_account {
	char account[ACCOUNT_NAME_MAX];
	struct pending_account *next;
};

/* A uid's user name, kept for CHECK_UID_TTL seconds or until the view changes. */
#define CHECK_UIDS 64
#define CHECK_UID_TTL 60
struct check_uid {
	unsigned long uid;
	long long at;
	int state;			/* 0 empty, 1 a user, 2 no user */
	char name[ACCOUNT_NAME_MAX];
};

/* The recipients of a message, sorted into local and external. */
struct check_rcpts {
	long long n_local, n_external;
	uint64_t hashes[1024];		/* distinct external recipients (the first 1024) */
	size_t n_hashes;
	struct {
		char domain[128];
		long long n;
	} dom[16];			/* the first 16 external domains */
	size_t n_dom;
};

/* What the decision works with; the server owns it. */
struct check_env {
	const struct config *cfg;
	struct detect_limits lim;	/* the configuration's limits (check_env_config) */
	struct store *st;
	struct history *hist;		/* the hosts a mailbox was seen from */
	struct store_view *sv;
	struct view *view;
	struct detect *det;
	struct recorder *rec;
	struct pending_account *const *pending;	/* the server's list, read only */
	struct check_uid uids[CHECK_UIDS];
	unsigned long long uids_applied;	/* the view's changes the cache is valid for */
	long long view_warned;		/* when a stale view was last logged */
	struct check_rcpts rc;		/* scratch of one decision: no allocation */
	struct message_record m;
};

/* The answer, and what the server is to do after it. */
struct check_reply {
	enum verdict verdict;
	char text[512];
	char suspending[ACCOUNT_NAME_MAX];	/* handed to the writer: list it as under way */
};

void check_env_config(struct check_env *env, const struct config *cfg);
int check_pending(const struct check_env *env, const char *account);
void check_request(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, struct check_reply *out);
void check_event(struct check_env *env, unsigned long long connid,
    const struct proto_request *req, struct check_reply *out);

#endif

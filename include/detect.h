/*
 * detect.c: spam detectors over sliding one-hour windows (pure: the time
 * is passed in, the state lives in a struct detect, no I/O).
 *
 * A window is 12 buckets of 5 minutes: a count made at time t is part of
 * the window until the bucket of t is 12 buckets old, i.e. for 55 to 60
 * minutes.  A detector trips when the message being decided would take
 * its count over the limit (count > limit; a limit of 0 is off).
 */
#ifndef MAILABUSE_DETECT_H
#define MAILABUSE_DETECT_H

#include <stddef.h>
#include <stdint.h>

#define DETECT_BUCKETS 12
#define DETECT_BUCKET_SECONDS 300
#define DETECT_WINDOW (DETECT_BUCKETS * DETECT_BUCKET_SECONDS)
/* Distinct recipients remembered per script, new hosts per mailbox. */
#define DETECT_DISTINCT_MAX 4096
#define DETECT_HOSTS_MAX 256
/* How long a suspension is remembered, to ignore outcomes of older mail
 * Exim still retries (its default retry rule gives up after 4 days). */
#define DETECT_RETRY_HORIZON (5 * 86400LL)

enum detector {
	DET_ACCOUNT_MESSAGES,		/* messages per hour of the account */
	DET_ACCOUNT_RCPTS,		/* external recipients per hour of the account */
	DET_MAILBOX_MESSAGES,		/* messages per hour of one mailbox */
	DET_MAILBOX_RCPTS,		/* external recipients per hour of one mailbox */
	DET_MAILBOX_NEW_HOSTS,		/* hosts never seen before, per hour, of one mailbox */
	DET_SCRIPT_RCPTS,		/* distinct external recipients per hour of one script */
	DET_BOUNCE,			/* bounced + deferred, percent of outcomes in the hour */
	DET_COUNT
};

enum detect_action { ACTION_DEFER, ACTION_HOLD, ACTION_SUSPEND };

struct detect_limit {
	long long value;		/* 0: off */
	enum detect_action action;
};

struct detect_limits {
	struct detect_limit l[DET_COUNT];
	long long bounce_min;		/* outcomes needed before DET_BOUNCE judges */
};

struct detect_window {
	uint16_t n[DETECT_BUCKETS];	/* saturate: far above any useful limit */
	int32_t last;			/* index of the newest bucket written, -1 none */
};

/* One message as the detectors see it. */
struct detect_msg {
	const char *account;
	const char *mailbox;		/* "" when not sent by a mailbox */
	const char *script;		/* "" when not sent by a script, else the key its
					   recipients are counted under (the uid: a
					   header is the sender's to forge) */
	const char *label;		/* what to call the script in a trip's text */
	uint64_t host;			/* hash of the mailbox's client host, 0 none */
	int host_new;			/* the host was never seen before for the mailbox */
	unsigned long n_external;	/* external recipients */
	const uint64_t *rcpt_hashes;	/* hashes of its distinct external recipients */
	size_t n_rcpt_hashes;
};

struct detect_trip {
	enum detector det;
	enum detect_action action;
	long long count;		/* what the count would be with this message */
	long long limit;
	char what[320];			/* the account, mailbox or script */
};

struct detect;

struct detect *detect_new(void);
void detect_free(struct detect *d);

void detect_window_add(struct detect_window *w, long long now, uint32_t n);
unsigned long long detect_window_sum(const struct detect_window *w, long long now);

int detect_check(struct detect *d, const struct detect_msg *m,
    const struct detect_limits *lim, long long now, struct detect_trip *trip);
void detect_count(struct detect *d, const struct detect_msg *m,
    const struct detect_limits *lim, long long now);
int detect_outcome(struct detect *d, const char *account, int failed, uint64_t once,
    long long sent_at, long long now);
void detect_forget(struct detect *d, const char *account);
void detect_reset_before(struct detect *d, const char *account, long long t);
size_t detect_expire(struct detect *d, long long now);
size_t detect_size(const struct detect *d);

const char *detect_name(enum detector det);
int detect_from_name(const char *name);
const char *detect_action_name(enum detect_action a);
int detect_action_from_name(const char *name);
void detect_trip_text(const struct detect_trip *t, char *buf, size_t len);
uint64_t detect_hash(const char *s);

#endif

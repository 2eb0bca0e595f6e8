/*
 * Spam detectors: per account, mailbox and script, counts over a sliding
 * hour, and the decision whether one more message takes a count over its
 * limit.  Pure: the caller passes the time and owns the state, so the
 * unit tests drive every boundary with a fake clock.
 *
 * The hash tables are uthash's (Debian's uthash-dev, header only): a
 * well-kept implementation instead of one more hand-written table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "detect.h"

/*
 * A set of hashes (never 0) with the time each was last seen: open
 * addressing with linear probing, 16 bytes a slot, at most half full.
 * The items of a script's recipients or a mailbox's hosts number up to
 * the detector's limit + 1, for thousands of senders: they must be small.
 */
struct det_slot {
	uint64_t h;			/* 0: empty */
	long long t;
};

struct det_set {
	struct det_slot *slot;
	size_t cap;			/* a power of two */
	size_t n;
};

struct det_entry {
	UT_hash_handle hh;
	char *key;			/* "account", or "account\nmailbox", "account\nscript" */
	long long seen;			/* the last time anything was counted */
	struct detect_window msgs;
	struct detect_window rcpts;
	struct detect_window *ok;	/* accounts: delivered outcomes */
	struct detect_window *failed;	/* accounts: bounced and deferred outcomes */
	struct det_set *set;		/* mailboxes: new hosts; scripts: recipients;
					   accounts: deferred (message, recipient) pairs */
	long long since;		/* accounts: nothing before this counts (a suspension) */
	/*
	 * An account's entry lists its mailboxes' and scripts' (subs), so
	 * that forgetting an account costs its own entries, not a walk of
	 * every table.  A mailbox's or script's entry exists only while its
	 * account's does.
	 */
	enum det_kind { DET_K_ACCOUNT, DET_K_MAILBOX, DET_K_SCRIPT } kind;
	struct det_entry *parent;	/* mailboxes, scripts: the account's entry */
	struct det_entry *subs;		/* accounts: the first of the list */
	struct det_entry *sub_prev, *sub_next;
};

struct detect {
	struct det_entry *accounts;
	struct det_entry *mailboxes;
	struct det_entry *scripts;
	size_t n;
};

static const char *const detect_names[DET_COUNT] = {
	"account_messages", "account_rcpts", "mailbox_messages", "mailbox_rcpts",
	"mailbox_new_hosts", "script_rcpts", "bounce",
};

static const char *const detect_actions[] = { "defer", "hold", "suspend" };

const char *
detect_name(enum detector det)
{
	return (unsigned)det < DET_COUNT ? detect_names[det] : "?";
}

int
detect_from_name(const char *name)
{
	for (int i = 0; i < DET_COUNT; i++)
		if (strcmp(name, detect_names[i]) == 0)
			return i;
	return -1;
}

const char *
detect_action_name(enum detect_action a)
{
	return (unsigned)a <= ACTION_SUSPEND ? detect_actions[a] : "?";
}

int
detect_action_from_name(const char *name)
{
	for (int i = 0; i <= ACTION_SUSPEND; i++)
		if (strcmp(name, detect_actions[i]) == 0)
			return i;
	return -1;
}

/* FNV-1a, 64 bits; never 0, which means "none". */
uint64_t
detect_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

static long long
det_bucket(long long t)
{
	return t >= 0 ? t / DETECT_BUCKET_SECONDS : -1;
}

/* Whether a count made in bucket b is still in the window at time now. */
static int
det_in_window(long long b, long long now)
{
	long long cur = det_bucket(now);

	return b <= cur && b > cur - DETECT_BUCKETS;
}

void
detect_window_add(struct detect_window *w, long long now, uint32_t n)
{
	long long b = det_bucket(now);

	if (b < 0)
		return;
	if (w->last < 0 || b - w->last >= DETECT_BUCKETS) {
		memset(w->n, 0, sizeof w->n);
		w->last = (int32_t)b;
	} else if (b > w->last) {
		for (long long i = w->last + 1; i <= b; i++)
			w->n[i % DETECT_BUCKETS] = 0;
		w->last = (int32_t)b;
	} else if (w->last - b >= DETECT_BUCKETS)
		return;		/* older than the window: nothing to count */
	if (w->n[b % DETECT_BUCKETS] > UINT16_MAX - (n > UINT16_MAX ? UINT16_MAX : n))
		w->n[b % DETECT_BUCKETS] = UINT16_MAX;
	else
		w->n[b % DETECT_BUCKETS] += (uint16_t)n;
}

unsigned long long
detect_window_sum(const struct detect_window *w, long long now)
{
	unsigned long long sum = 0;

	if (w->last < 0)
		return 0;
	for (long long b = w->last; b > w->last - DETECT_BUCKETS && b >= 0; b--)
		if (det_in_window(b, now))
			sum += w->n[b % DETECT_BUCKETS];
	return sum;
}

static size_t
det_set_find(const struct det_set *s, uint64_t h)
{
	size_t i = (size_t)h & (s->cap - 1);

	while (s->slot[i].h != 0 && s->slot[i].h != h)
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Empty slot i, moving back what probed past it (no tombstones). */
static void
det_set_remove_at(struct det_set *s, size_t i)
{
	size_t j = i, home;

	s->slot[i].h = 0;
	s->n--;
	for (;;) {
		j = (j + 1) & (s->cap - 1);
		if (s->slot[j].h == 0)
			return;
		home = (size_t)s->slot[j].h & (s->cap - 1);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->slot[i] = s->slot[j];
		s->slot[j].h = 0;
		i = j;
	}
}

static int
det_set_resize(struct det_set *s, size_t cap)
{
	struct det_slot *old = s->slot, *slot = calloc(cap, sizeof *slot);
	size_t oldcap = s->cap;

	if (slot == NULL)
		return -1;
	s->slot = slot;
	s->cap = cap;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].h != 0)
			s->slot[det_set_find(s, old[i].h)] = old[i];
	free(old);
	return 0;
}

/* Drop what has left the window. */
static void
det_set_prune(struct det_set *s, long long now)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->cap; i++) {
		while (s->slot[i].h != 0 && !det_in_window(det_bucket(s->slot[i].t), now))
			det_set_remove_at(s, i);	/* i may take another item: look again */
	}
}

static size_t
det_set_count(struct det_set *s, long long now)
{
	if (s == NULL)
		return 0;
	det_set_prune(s, now);
	return s->n;
}

static int
det_set_has(struct det_set *s, uint64_t h, long long now)
{
	size_t i;

	if (s == NULL || s->cap == 0)
		return 0;
	i = det_set_find(s, h);
	return s->slot[i].h == h && det_in_window(det_bucket(s->slot[i].t), now);
}

/* Add (or refresh) h; when it holds max, the oldest makes room. */
static void
det_set_add(struct det_set **sp, uint64_t h, long long now, size_t max)
{
	struct det_set *s = *sp;
	size_t i, oldest = 0;

	if (h == 0 || max == 0)
		return;
	if (s == NULL && (s = *sp = calloc(1, sizeof *s)) == NULL)
		return;
	if (s->cap == 0 && det_set_resize(s, 16) == -1)
		return;
	i = det_set_find(s, h);
	if (s->slot[i].h == h) {
		s->slot[i].t = now;
		return;
	}
	if (s->n >= max) {
		det_set_prune(s, now);
		if (s->n >= max) {
			for (size_t j = 0; j < s->cap; j++)
				if (s->slot[j].h != 0 && (s->slot[oldest].h == 0 ||
				    s->slot[j].t < s->slot[oldest].t))
					oldest = j;
			det_set_remove_at(s, oldest);
		}
	}
	if ((s->n + 1) * 2 > s->cap && det_set_resize(s, s->cap * 2) == -1)
		return;
	i = det_set_find(s, h);
	s->slot[i].h = h;
	s->slot[i].t = now;
	s->n++;
}

static void
det_set_free(struct det_set *s)
{
	if (s == NULL)
		return;
	free(s->slot);
	free(s);
}

static void
det_entry_free(struct det_entry *e)
{
	det_set_free(e->set);
	free(e->ok);
	free(e->failed);
	free(e->key);
	free(e);
}

static struct det_entry *
det_find(struct det_entry *table, const char *key)
{
	struct det_entry *e = NULL;

	HASH_FIND_STR(table, key, e);
	return e;
}

/*
 * The entry of key in table, made if there is none: an account's (parent
 * NULL), or one of parent's mailboxes' or scripts', listed in parent's.
 */
static struct det_entry *
det_get(struct detect *d, struct det_entry **table, const char *key, struct det_entry *parent,
    enum det_kind kind)
{
	struct det_entry *e = det_find(*table, key);

	if (e != NULL)
		return e;
	if ((e = calloc(1, sizeof *e)) == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		return NULL;
	}
	e->msgs.last = e->rcpts.last = -1;
	e->kind = kind;
	if ((e->parent = parent) != NULL) {
		if ((e->sub_next = parent->subs) != NULL)
			e->sub_next->sub_prev = e;
		parent->subs = e;
	}
	HASH_ADD_KEYPTR(hh, *table, e->key, strlen(e->key), e);
	d->n++;
	return e;
}

/* The table an entry is in. */
static struct det_entry **
det_table_of(struct detect *d, const struct det_entry *e)
{
	return e->kind == DET_K_ACCOUNT ? &d->accounts :
	    e->kind == DET_K_MAILBOX ? &d->mailboxes : &d->scripts;
}

/*
 * Take an entry out of its table and free it; an account's takes its
 * mailboxes' and scripts' along.  The number of entries freed.
 */
static size_t
det_remove(struct detect *d, struct det_entry *e)
{
	size_t n = 1;

	while (e->subs != NULL)
		n += det_remove(d, e->subs);
	if (e->parent != NULL) {
		if (e->sub_prev != NULL)
			e->sub_prev->sub_next = e->sub_next;
		else
			e->parent->subs = e->sub_next;
		if (e->sub_next != NULL)
			e->sub_next->sub_prev = e->sub_prev;
	}
	HASH_DEL(*det_table_of(d, e), e);
	det_entry_free(e);
	d->n--;
	return n;
}

struct detect *
detect_new(void)
{
	return calloc(1, sizeof(struct detect));
}

static void
det_table_free(struct det_entry **table)
{
	struct det_entry *e, *tmp;

	HASH_ITER(hh, *table, e, tmp) {
		HASH_DEL(*table, e);
		det_entry_free(e);
	}
}

void
detect_free(struct detect *d)
{
	if (d == NULL)
		return;
	det_table_free(&d->accounts);
	det_table_free(&d->mailboxes);
	det_table_free(&d->scripts);
	free(d);
}

/* The key of a mailbox's or a script's entry: its account first. */
static void
det_sub_key(const char *account, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s\n%s", account, name);
}

/* Keep the most severe trip: suspend, then defer, then hold. */
static void
det_trip(struct detect_trip *best, int *found, const struct detect_limits *lim,
    enum detector det, long long count, const char *what)
{
	static const int severity[] = { 2, 1, 3 };	/* defer, hold, suspend */
	enum detect_action a = lim->l[det].action;

	if (*found && severity[a] <= severity[best->action])
		return;
	*found = 1;
	best->det = det;
	best->action = a;
	best->count = count;
	best->limit = lim->l[det].value;
	snprintf(best->what, sizeof best->what, "%s", what);
}

static int
det_on(const struct detect_limits *lim, enum detector det)
{
	return lim->l[det].value > 0;
}

/*
 * Would this message take a count over its limit?  1 and *trip filled
 * (the most severe detector) if so, else 0.  Counts nothing.
 */
int
detect_check(struct detect *d, const struct detect_msg *m,
    const struct detect_limits *lim, long long now, struct detect_trip *trip)
{
	struct det_entry *a = det_find(d->accounts, m->account), *mb = NULL, *sc = NULL;
	char key[1024];
	long long c;
	int found = 0;

	memset(trip, 0, sizeof *trip);
	if (det_on(lim, DET_ACCOUNT_MESSAGES) &&
	    (c = (long long)(a != NULL ? detect_window_sum(&a->msgs, now) : 0) + 1) >
	    lim->l[DET_ACCOUNT_MESSAGES].value)
		det_trip(trip, &found, lim, DET_ACCOUNT_MESSAGES, c, m->account);
	if (det_on(lim, DET_ACCOUNT_RCPTS) && m->n_external > 0 &&
	    (c = (long long)(a != NULL ? detect_window_sum(&a->rcpts, now) : 0) +
	    (long long)m->n_external) > lim->l[DET_ACCOUNT_RCPTS].value)
		det_trip(trip, &found, lim, DET_ACCOUNT_RCPTS, c, m->account);
	if (m->mailbox[0] != '\0') {
		det_sub_key(m->account, m->mailbox, key, sizeof key);
		mb = det_find(d->mailboxes, key);
		if (det_on(lim, DET_MAILBOX_MESSAGES) &&
		    (c = (long long)(mb != NULL ? detect_window_sum(&mb->msgs, now) : 0) + 1) >
		    lim->l[DET_MAILBOX_MESSAGES].value)
			det_trip(trip, &found, lim, DET_MAILBOX_MESSAGES, c, m->mailbox);
		if (det_on(lim, DET_MAILBOX_RCPTS) && m->n_external > 0 &&
		    (c = (long long)(mb != NULL ? detect_window_sum(&mb->rcpts, now) : 0) +
		    (long long)m->n_external) > lim->l[DET_MAILBOX_RCPTS].value)
			det_trip(trip, &found, lim, DET_MAILBOX_RCPTS, c, m->mailbox);
		if (det_on(lim, DET_MAILBOX_NEW_HOSTS) && m->host_new && m->host != 0 &&
		    !det_set_has(mb != NULL ? mb->set : NULL, m->host, now) &&
		    (c = (long long)det_set_count(mb != NULL ? mb->set : NULL, now) + 1) >
		    lim->l[DET_MAILBOX_NEW_HOSTS].value)
			det_trip(trip, &found, lim, DET_MAILBOX_NEW_HOSTS, c, m->mailbox);
	}
	if (m->script[0] != '\0' && det_on(lim, DET_SCRIPT_RCPTS) && m->n_rcpt_hashes > 0) {
		long long fresh = 0;

		det_sub_key(m->account, m->script, key, sizeof key);
		sc = det_find(d->scripts, key);
		for (size_t i = 0; i < m->n_rcpt_hashes; i++)
			if (!det_set_has(sc != NULL ? sc->set : NULL, m->rcpt_hashes[i], now))
				fresh++;
		if (fresh > 0 && (c = (long long)det_set_count(sc != NULL ? sc->set : NULL,
		    now) + fresh) > lim->l[DET_SCRIPT_RCPTS].value)
			det_trip(trip, &found, lim, DET_SCRIPT_RCPTS, c,
			    m->label != NULL && m->label[0] != '\0' ? m->label : m->script);
	}
	if (det_on(lim, DET_BOUNCE) && a != NULL && a->failed != NULL) {
		unsigned long long bad = detect_window_sum(a->failed, now);
		unsigned long long all = bad + (a->ok != NULL ? detect_window_sum(a->ok, now) : 0);

		if (all > 0 && (long long)all >= lim->bounce_min &&
		    bad * 100 > (unsigned long long)lim->l[DET_BOUNCE].value * all)
			det_trip(trip, &found, lim, DET_BOUNCE, (long long)(bad * 100 / all),
			    m->account);
	}
	return found;
}

/* At most how many of a set are needed to tell a count over limit: limit + 1. */
static size_t
det_cap(const struct detect_limits *lim, enum detector det, size_t max)
{
	long long v = lim->l[det].value;

	return v <= 0 ? 0 : (unsigned long long)v >= max ? max : (size_t)v + 1;
}

/*
 * Count a message that was let through (passed or held).  Only what a
 * detector that is on needs is kept, and a set no larger than its limit
 * needs: memory follows the limits.
 */
void
detect_count(struct detect *d, const struct detect_msg *m,
    const struct detect_limits *lim, long long now)
{
	struct det_entry *a, *e;
	char key[1024];
	size_t cap;

	if ((a = det_get(d, &d->accounts, m->account, NULL, DET_K_ACCOUNT)) == NULL)
		return;
	detect_window_add(&a->msgs, now, 1);
	detect_window_add(&a->rcpts, now, (uint32_t)m->n_external);
	a->seen = now;
	if (m->mailbox[0] != '\0' && (lim->l[DET_MAILBOX_MESSAGES].value > 0 ||
	    lim->l[DET_MAILBOX_RCPTS].value > 0 || lim->l[DET_MAILBOX_NEW_HOSTS].value > 0)) {
		det_sub_key(m->account, m->mailbox, key, sizeof key);
		if ((e = det_get(d, &d->mailboxes, key, a, DET_K_MAILBOX)) != NULL) {
			detect_window_add(&e->msgs, now, 1);
			detect_window_add(&e->rcpts, now, (uint32_t)m->n_external);
			cap = det_cap(lim, DET_MAILBOX_NEW_HOSTS, DETECT_HOSTS_MAX);
			if (m->host_new && m->host != 0 && cap > 0)
				det_set_add(&e->set, m->host, now, cap);
			e->seen = now;
		}
	}
	cap = det_cap(lim, DET_SCRIPT_RCPTS, DETECT_DISTINCT_MAX);
	if (m->script[0] != '\0' && m->n_rcpt_hashes > 0 && cap > 0) {
		det_sub_key(m->account, m->script, key, sizeof key);
		if ((e = det_get(d, &d->scripts, key, a, DET_K_SCRIPT)) != NULL) {
			for (size_t i = 0; i < m->n_rcpt_hashes; i++)
				det_set_add(&e->set, m->rcpt_hashes[i], now, cap);
			e->seen = now;
		}
	}
}

/*
 * A delivery outcome of one of the account's messages, sent at sent_at.
 * A failure with a non-zero `once` (a hash of message and recipient: a
 * deferral, which Exim reports at every try) counts once in the window.
 * What was sent before the account's last suspension does not count.
 * 1 counted, 0 not (sent before), -1 not (a deferral counted already).
 */
int
detect_outcome(struct detect *d, const char *account, int failed, uint64_t once,
    long long sent_at, long long now)
{
	struct det_entry *e = det_get(d, &d->accounts, account, NULL, DET_K_ACCOUNT);
	struct detect_window **w;

	if (e == NULL)
		return 0;
	if (failed && once != 0) {
		if (det_set_has(e->set, once, now))
			return -1;
		det_set_add(&e->set, once, now, DETECT_DISTINCT_MAX);
	}
	if (sent_at < e->since)
		return 0;
	w = failed ? &e->failed : &e->ok;
	if (*w == NULL) {
		if ((*w = calloc(1, sizeof **w)) == NULL)
			return 0;
		(*w)->last = -1;
	}
	detect_window_add(*w, now, 1);
	e->seen = now;
	return 1;
}

/*
 * Drop the entries idle since before idle_before, except an account's
 * that remembers a suspension made after keep_since (its queued mail may
 * still be retried).  An account's takes its mailboxes' and scripts'
 * along: they were counted with it, so they are idle too.
 */
static size_t
det_table_drop(struct detect *d, struct det_entry **table, long long idle_before,
    long long keep_since)
{
	struct det_entry *e, *tmp;
	size_t n = 0;

	HASH_ITER(hh, *table, e, tmp) {
		if (e->seen >= idle_before || e->since > keep_since)
			continue;
		n += det_remove(d, e);
	}
	return n;
}

/* Start the account afresh (it was suspended for what it did): its entries only. */
void
detect_forget(struct detect *d, const char *account)
{
	struct det_entry *e = det_find(d->accounts, account);

	if (e != NULL)
		(void)det_remove(d, e);
}

/*
 * The account was suspended or lifted at t: what it did before counts no
 * more, and outcomes of messages sent before t are ignored.
 */
void
detect_reset_before(struct detect *d, const char *account, long long t)
{
	struct det_entry *e = det_find(d->accounts, account);

	if (t <= 0 || (e != NULL && e->since >= t))
		return;
	if (e != NULL)
		detect_forget(d, account);
	if ((e = det_get(d, &d->accounts, account, NULL, DET_K_ACCOUNT)) != NULL) {
		e->since = t;
		e->seen = t;
	}
}

/* Free what has nothing left in its window; the number freed. */
size_t
detect_expire(struct detect *d, long long now)
{
	long long before = now - DETECT_WINDOW, keep = now - DETECT_RETRY_HORIZON;

	/* mailboxes and scripts first: an account's removal frees its own */
	return det_table_drop(d, &d->scripts, before, keep) +
	    det_table_drop(d, &d->mailboxes, before, keep) +
	    det_table_drop(d, &d->accounts, before, keep);
}

size_t
detect_size(const struct detect *d)
{
	return d->n;
}

/* "mailbox_new_hosts: info@example.com, 6 in the last hour (limit 5)" */
void
detect_trip_text(const struct detect_trip *t, char *buf, size_t len)
{
	static const char *const unit[DET_COUNT] = {
		"messages", "external recipients", "messages", "external recipients",
		"new client hosts", "distinct external recipients", "% bounced or deferred",
	};

	if (t->det == DET_BOUNCE)
		snprintf(buf, len, "%s: %s, %lld%s in the last hour (limit %lld%%)",
		    detect_name(t->det), t->what, t->count, unit[t->det], t->limit);
	else
		snprintf(buf, len, "%s: %s, %lld %s in the last hour (limit %lld)",
		    detect_name(t->det), t->what, t->count, unit[t->det], t->limit);
}

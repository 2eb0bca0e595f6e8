/*
 * The daemon's in-memory view of the policy tables (see view.h): string
 * maps with open addressing over an arena of keys, one array of
 * accounts, and the refresh that keeps them in step with the database
 * through the change log of migration 7 (store_view.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "identity.h"
#include "store_view.h"
#include "view.h"

/* Beyond this many changes at once, reading the tables whole is cheaper. */
#define VIEW_RELOAD_CHANGES 50000
#define VIEW_DEAD UINT32_MAX

struct view_slot {
	uint32_t hash;
	uint32_t off;		/* key at arena + off - 1; 0 empty, VIEW_DEAD removed */
	int32_t val;
};

/* A map from strings to int32 values. */
struct view_map {
	struct view_slot *slot;
	uint32_t cap, used, dead;	/* cap: a power of two */
	char *arena;
	size_t alen, acap;
};

struct view_account {
	uint32_t name;			/* at v->names + name */
	long long last_change;		/* its last account suspension or lift, 0 none */
	int present;			/* in the accounts table, present */
	int32_t limits;			/* index in v->limits, -1 none */
};

/* An account's own limits (the limits table), over the configuration's. */
struct view_limits {
	long long value[DET_COUNT];
	signed char action[DET_COUNT];
	unsigned char set[DET_COUNT];
};

/*
 * A domain's value: its account's index + 1 (0: listed for no account),
 * and VIEW_LOCAL when it is a local domain.  On cPanel most domains are
 * both: one map keeps each name once.
 */
#define VIEW_LOCAL (1 << 30)
#define VIEW_OWNER (VIEW_LOCAL - 1)

struct view {
	struct view_map domains;	/* domain -> account index + 1 | VIEW_LOCAL */
	struct view_map accounts;	/* name -> account index */
	struct view_map targets;	/* active suspension target -> 1 */
	struct view_account *acc;
	size_t nacc, capacc;
	char *names;			/* the accounts' names, one after another */
	size_t nnames, capnames;
	struct view_limits *limits;
	size_t nlim, caplim;
	uint64_t gen;			/* the generation last seen */
	long long last_id;		/* the change log applied up to here */
	long long data_version;
	int ok;				/* in step; 0 until loaded, or after a failure */
	unsigned long long applied;	/* changes applied since start */
};

/* FNV-1a: keys are short. */
static uint32_t
view_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot holding key, or -1. */
static long
view_map_find(const struct view_map *m, const char *key, uint32_t h)
{
	uint32_t mask, i;

	if (m->cap == 0)
		return -1;
	mask = m->cap - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		const struct view_slot *s = &m->slot[i];

		if (s->off == 0)
			return -1;
		if (s->off != VIEW_DEAD && s->hash == h && strcmp(m->arena + s->off - 1, key) == 0)
			return (long)i;
	}
}

static int
view_map_get(const struct view_map *m, const char *key)
{
	long i = view_map_find(m, key, view_hash(key));

	return i < 0 ? -1 : m->slot[i].val;
}

/* Copy a key into an arena; its offset + 1, or 0 when out of memory. */
static uint32_t
view_arena_add(char **arena, size_t *alen, size_t *acap, const char *key)
{
	size_t n = strlen(key) + 1;
	char *p;

	if (*alen + n > *acap) {
		size_t cap = *acap ? *acap * 2 : 4096;

		while (cap < *alen + n)
			cap *= 2;
		if (cap >= VIEW_DEAD || (p = realloc(*arena, cap)) == NULL)
			return 0;
		*arena = p;
		*acap = cap;
	}
	memcpy(*arena + *alen, key, n);
	*alen += n;
	return (uint32_t)(*alen - n + 1);
}

/* Rebuild with cap slots and a compacted arena. */
static int
view_map_resize(struct view_map *m, uint32_t cap)
{
	struct view_slot *slot = calloc(cap, sizeof *slot);
	char *arena = NULL;
	size_t alen = 0, acap = 0;

	if (slot == NULL)
		return -1;
	for (uint32_t i = 0; i < m->cap; i++) {
		struct view_slot *s = &m->slot[i];
		uint32_t j, off;

		if (s->off == 0 || s->off == VIEW_DEAD)
			continue;
		if ((off = view_arena_add(&arena, &alen, &acap, m->arena + s->off - 1)) == 0) {
			free(slot);
			free(arena);
			return -1;
		}
		for (j = s->hash & (cap - 1); slot[j].off != 0; j = (j + 1) & (cap - 1))
			;
		slot[j] = *s;
		slot[j].off = off;
	}
	free(m->slot);
	free(m->arena);
	m->slot = slot;
	m->cap = cap;
	m->dead = 0;
	m->arena = arena;
	m->alen = alen;
	m->acap = acap;
	return 0;
}

/* Set key's value (added if missing); 0 or -1 out of memory. */
static int
view_map_put(struct view_map *m, const char *key, int32_t val)
{
	uint32_t h = view_hash(key), i, mask, off;
	long at = view_map_find(m, key, h);

	if (at >= 0) {
		m->slot[at].val = val;
		return 0;
	}
	if ((uint64_t)(m->used + m->dead + 1) * 4 > (uint64_t)m->cap * 3 &&
	    view_map_resize(m, m->cap == 0 ? 1024 :
	    (m->used + 1) * 2 > m->cap ? m->cap * 2 : m->cap) == -1)
		return -1;
	if ((off = view_arena_add(&m->arena, &m->alen, &m->acap, key)) == 0)
		return -1;
	mask = m->cap - 1;
	for (i = h & mask; m->slot[i].off != 0 && m->slot[i].off != VIEW_DEAD; i = (i + 1) & mask)
		;
	if (m->slot[i].off == VIEW_DEAD)
		m->dead--;
	m->slot[i].hash = h;
	m->slot[i].off = off;
	m->slot[i].val = val;
	m->used++;
	return 0;
}

static void
view_map_del(struct view_map *m, const char *key)
{
	long i = view_map_find(m, key, view_hash(key));

	if (i < 0)
		return;
	m->slot[i].off = VIEW_DEAD;
	m->used--;
	m->dead++;
}

static void
view_map_clear(struct view_map *m)
{
	if (m->cap > 0)
		memset(m->slot, 0, m->cap * sizeof m->slot[0]);
	m->used = m->dead = 0;
	m->alen = 0;
}

/* Room for n keys without growing: a first load does not rehash as it goes. */
static int
view_map_reserve(struct view_map *m, long long n)
{
	uint32_t cap = 1024;

	while ((long long)cap * 3 < n * 4 && cap < (1u << 30))
		cap *= 2;
	return cap > m->cap ? view_map_resize(m, cap) : 0;
}

/* The maps sized for the tables' rows, from their counts. */
static int
view_sizes_cb(void *arg, const struct store_view_row *r)
{
	struct view *v = arg;

	if (view_map_reserve(&v->domains, r->n[0]) == -1 ||
	    view_map_reserve(&v->accounts, r->n[1]) == -1)
		return -1;
	return 0;
}

static void
view_map_free(struct view_map *m)
{
	free(m->slot);
	free(m->arena);
	memset(m, 0, sizeof *m);
}

struct view *
view_new(void)
{
	return calloc(1, sizeof(struct view));
}

void
view_free(struct view *v)
{
	if (v == NULL)
		return;
	view_map_free(&v->domains);
	view_map_free(&v->accounts);
	view_map_free(&v->targets);
	free(v->acc);
	free(v->names);
	free(v->limits);
	free(v);
}

/* Empty every table, keeping the memory for the reload. */
void
view_clear(struct view *v)
{
	view_map_clear(&v->domains);
	view_map_clear(&v->accounts);
	view_map_clear(&v->targets);
	v->nacc = v->nlim = v->nnames = 0;
	v->ok = 0;
}

void
view_mark_ok(struct view *v)
{
	v->ok = 1;
}

int
view_ok(const struct view *v)
{
	return v->ok;
}

unsigned long long
view_changes_applied(const struct view *v)
{
	return v->applied;
}

/* The record of an account (made when missing), or -1. */
static int32_t
view_account_slot(struct view *v, const char *name)
{
	int32_t i = view_map_get(&v->accounts, name);
	struct view_account *a;
	uint32_t off;

	if (i >= 0)
		return i;
	if (strlen(name) >= ACCOUNT_NAME_MAX || v->nacc >= VIEW_OWNER)
		return -1;
	if ((off = view_arena_add(&v->names, &v->nnames, &v->capnames, name)) == 0)
		return -1;
	if (v->nacc == v->capacc) {
		size_t cap = v->capacc ? v->capacc * 2 : 1024;

		if (cap > INT32_MAX || (a = realloc(v->acc, cap * sizeof *a)) == NULL)
			return -1;
		v->acc = a;
		v->capacc = cap;
	}
	a = &v->acc[v->nacc];
	memset(a, 0, sizeof *a);
	a->name = off - 1;
	a->limits = -1;
	if (view_map_put(&v->accounts, name, (int32_t)v->nacc) == -1)
		return -1;
	return (int32_t)v->nacc++;
}

/* A domain's value set to val: removed when it says nothing. */
static int
view_domain_put(struct view *v, const char *domain, int32_t val)
{
	if (val == 0) {
		view_map_del(&v->domains, domain);
		return 0;
	}
	return view_map_put(&v->domains, domain, val);
}

/* The account a domain is listed for; NULL: none. */
int
view_domain_set(struct view *v, const char *domain, const char *account)
{
	int32_t cur = view_map_get(&v->domains, domain), a = -1;

	if (cur < 0)
		cur = 0;
	if (account != NULL && (a = view_account_slot(v, account)) < 0 &&
	    strlen(account) < ACCOUNT_NAME_MAX)
		return -1;
	return view_domain_put(v, domain, (cur & VIEW_LOCAL) | (a >= 0 ? a + 1 : 0));
}

int
view_local_set(struct view *v, const char *domain, int local)
{
	int32_t cur = view_map_get(&v->domains, domain);

	if (cur < 0)
		cur = 0;
	return view_domain_put(v, domain, (cur & VIEW_OWNER) | (local ? VIEW_LOCAL : 0));
}

int
view_account_set(struct view *v, const char *name, int present)
{
	int32_t a = view_account_slot(v, name);

	if (a < 0)
		return strlen(name) >= ACCOUNT_NAME_MAX ? 0 : -1;
	v->acc[a].present = present;
	return 0;
}

int
view_target_set(struct view *v, const char *target, int active)
{
	if (!active) {
		view_map_del(&v->targets, target);
		return 0;
	}
	return view_map_put(&v->targets, target, 1);
}

int
view_last_change_set(struct view *v, const char *account, long long at)
{
	int32_t a = view_map_get(&v->accounts, account);

	if (a == -1 && at == 0)
		return 0;
	if (a == -1 && (a = view_account_slot(v, account)) < 0)
		return strlen(account) >= ACCOUNT_NAME_MAX ? 0 : -1;
	v->acc[a].last_change = at;
	return 0;
}

/* Forget an account's own limits. */
void
view_limits_clear(struct view *v, const char *account)
{
	int32_t a = view_map_get(&v->accounts, account);
	struct view_account *ac;

	if (a == -1)
		return;
	ac = &v->acc[a];
	if (ac->limits >= 0)
		memset(&v->limits[ac->limits], 0, sizeof v->limits[0]);
}

int
view_limit_set(struct view *v, const char *account, const char *detector,
    const char *action, long long value)
{
	int d = detect_from_name(detector), act = detect_action_from_name(action);
	struct view_account *ac;
	struct view_limits *l;
	int32_t a;

	if (d < 0)
		return 0;
	if ((a = view_map_get(&v->accounts, account)) == -1 &&
	    (a = view_account_slot(v, account)) < 0)
		return strlen(account) >= ACCOUNT_NAME_MAX ? 0 : -1;
	ac = &v->acc[a];
	if (ac->limits < 0) {
		if (v->nlim == v->caplim) {
			size_t cap = v->caplim ? v->caplim * 2 : 64;

			if ((l = realloc(v->limits, cap * sizeof *l)) == NULL)
				return -1;
			v->limits = l;
			v->caplim = cap;
		}
		memset(&v->limits[v->nlim], 0, sizeof v->limits[0]);
		ac->limits = (int32_t)v->nlim++;
	}
	l = &v->limits[ac->limits];
	l->value[d] = value;
	l->action[d] = (signed char)act;
	l->set[d] = 1;
	return 0;
}

/* The account a domain is listed for (exactly that domain). */
int
view_domain_owner(const struct view *v, const char *domain, char *account, size_t len)
{
	int32_t val = view_map_get(&v->domains, domain);

	if (val < 0 || (val & VIEW_OWNER) == 0)
		return 0;
	snprintf(account, len, "%s", v->names + v->acc[(val & VIEW_OWNER) - 1].name);
	return 1;
}

int
view_account_exists(const struct view *v, const char *name)
{
	int32_t a = view_map_get(&v->accounts, name);

	return a >= 0 && v->acc[a].present;
}

int
view_local_domain(const struct view *v, const char *domain)
{
	int32_t val = view_map_get(&v->domains, domain);

	return val >= 0 && (val & VIEW_LOCAL) != 0;
}

int
view_target_suspended(const struct view *v, const char *target)
{
	return target[0] != '\0' && view_map_get(&v->targets, target) == 1;
}

long long
view_last_change(const struct view *v, const char *account)
{
	int32_t a = view_map_get(&v->accounts, account);

	return a == -1 ? 0 : v->acc[a].last_change;
}

/* An account's own limits over those in lim (the configuration's). */
void
view_limits_apply(const struct view *v, const char *account, struct detect_limits *lim)
{
	int32_t a = view_map_get(&v->accounts, account);
	const struct view_limits *l;

	if (a == -1 || v->acc[a].limits < 0)
		return;
	l = &v->limits[v->acc[a].limits];
	for (int d = 0; d < DET_COUNT; d++) {
		if (!l->set[d])
			continue;
		lim->l[d].value = l->value[d];
		if (l->action[d] >= 0)
			lim->l[d].action = (enum detect_action)l->action[d];
	}
}

/* Roughly what the view holds, in bytes. */
size_t
view_memory(const struct view *v)
{
	const struct view_map *m[] = { &v->domains, &v->accounts, &v->targets };
	size_t n = v->capacc * sizeof v->acc[0] + v->caplim * sizeof v->limits[0] +
	    v->capnames;

	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		n += m[i]->cap * sizeof(struct view_slot) + m[i]->acap;
	return n;
}

/* The rows of the full load, into the view. */
static int
view_load_domain_cb(void *arg, const struct store_view_row *r)
{
	return view_domain_set(arg, r->t[0], r->t[1]);
}

static int
view_load_local_cb(void *arg, const struct store_view_row *r)
{
	return view_local_set(arg, r->t[0], 1);
}

static int
view_load_account_cb(void *arg, const struct store_view_row *r)
{
	return view_account_set(arg, r->t[0], 1);
}

static int
view_load_target_cb(void *arg, const struct store_view_row *r)
{
	return view_target_set(arg, r->t[0], 1);
}

static int
view_load_change_cb(void *arg, const struct store_view_row *r)
{
	return view_last_change_set(arg, r->t[0], r->n[0]);
}

static int
view_load_limit_cb(void *arg, const struct store_view_row *r)
{
	return view_limit_set(arg, r->t[0], r->t[1], r->t[2], r->n[0]);
}

/* The first row of a query, kept. */
struct view_row1 {
	int found;
	char text[ADDRESS_MAX];
	long long n;
};

static int
view_row1_cb(void *arg, const struct store_view_row *r)
{
	struct view_row1 *o = arg;

	o->found = 1;
	snprintf(o->text, sizeof o->text, "%s", r->t[0]);
	o->n = r->n[0];
	return 1;
}

static int
view_one(struct store_view *sv, enum store_view_query q, const char *key, struct view_row1 *o)
{
	memset(o, 0, sizeof *o);
	return store_view_rows(sv, q, key, 0, view_row1_cb, o) == -1 ? -1 : 0;
}

/* What a refresh works with. */
struct view_apply {
	struct view *v;
	struct store_view *sv;
};

/* Read again the row one change log entry names. */
static int
view_apply_cb(void *arg, const struct store_view_row *r)
{
	struct view_apply *ap = arg;
	struct view *v = ap->v;
	const char *key = r->t[0], *key2 = r->t[1];
	struct view_row1 o;
	int rc = 0;

	switch ((enum view_table)r->n[0]) {
	case VIEW_T_DOMAIN:
		if ((rc = view_one(ap->sv, SVQ_DOMAIN, key, &o)) == 0)
			rc = view_domain_set(v, key, o.found ? o.text : NULL);
		break;
	case VIEW_T_LOCAL:
		if ((rc = view_one(ap->sv, SVQ_LOCAL, key, &o)) == 0)
			rc = view_local_set(v, key, o.found);
		break;
	case VIEW_T_ACCOUNT:
		if ((rc = view_one(ap->sv, SVQ_ACCOUNT, key, &o)) == 0)
			rc = view_account_set(v, key, o.found);
		break;
	case VIEW_T_SUSPENSION:
		if ((rc = view_one(ap->sv, SVQ_TARGET, key, &o)) == 0)
			rc = view_target_set(v, key, o.found);
		if (rc == 0 && (rc = view_one(ap->sv, SVQ_CHANGE, key2, &o)) == 0)
			rc = view_last_change_set(v, key2, o.n);
		break;
	case VIEW_T_LIMITS:
		view_limits_clear(v, key);
		rc = store_view_rows(ap->sv, SVQ_LIMITS, key, 0, view_load_limit_cb, v) == 0 ?
		    0 : -1;
		break;
	}
	if (rc == 0) {
		v->last_id = r->n[1];
		v->applied++;
	}
	return rc;
}

/* Read the tables whole, in the caller's read transaction. */
static int
view_reload(struct view *v, struct store_view *sv, long long last_id)
{
	static const struct {
		enum store_view_query q;
		store_view_cb cb;
	} load[] = {
		{ SVQ_ACCOUNTS, view_load_account_cb },
		{ SVQ_DOMAINS, view_load_domain_cb },
		{ SVQ_LOCALS, view_load_local_cb },
		{ SVQ_TARGETS, view_load_target_cb },
		{ SVQ_CHANGES_ALL, view_load_change_cb },
		{ SVQ_LIMITS_ALL, view_load_limit_cb },
	};

	view_clear(v);
	if (store_view_rows(sv, SVQ_SIZES, NULL, 0, view_sizes_cb, v) != 0)
		return -1;
	for (size_t i = 0; i < sizeof load / sizeof load[0]; i++)
		if (store_view_rows(sv, load[i].q, NULL, 0, load[i].cb, v) != 0)
			return -1;
	v->last_id = last_id;
	v->applied++;		/* what was cached beside the view is stale too */
	return 0;
}

/* The change log's first and last entries. */
static int
view_span_cb(void *arg, const struct store_view_row *r)
{
	long long *span = arg;

	span[0] = r->n[0];
	span[1] = r->n[1];
	return 0;
}

/*
 * Bring the view in step with the database when a commit was announced
 * since the last time (or always, with force): apply the change log, or
 * read the tables again when it is too long or has lost entries the view
 * did not see.
 */
int
view_refresh(struct view *v, struct store_view *sv, int force, char *err, size_t errlen)
{
	uint64_t g = store_gen_read();
	struct view_apply ap = { v, sv };
	long long span[2] = { 0, 0 };
	int r;

	if (!force && v->ok && g == v->gen)
		return 0;
	if (store_view_begin(sv) == -1)
		goto fail;
	r = store_view_rows(sv, SVQ_LOG_SPAN, NULL, 0, view_span_cb, span);
	if (r == 0 && (!v->ok || span[1] < v->last_id || span[0] > v->last_id + 1 ||
	    span[1] - v->last_id > VIEW_RELOAD_CHANGES))
		r = view_reload(v, sv, span[1]);
	else if (r == 0 && span[1] > v->last_id)
		r = store_view_rows(sv, SVQ_LOG, NULL, v->last_id, view_apply_cb, &ap);
	store_view_end(sv);
	if (r != 0)
		goto fail;
	v->gen = g;
	v->ok = 1;
	return 0;
fail:
	v->ok = 0;
	snprintf(err, errlen, "%s", store_view_error(sv)[0] != '\0' ? store_view_error(sv) :
	    "view: out of memory");
	return -1;
}

static int
view_version_cb(void *arg, const struct store_view_row *r)
{
	*(long long *)arg = r->n[0];
	return 0;
}

/* Changes made without mailabusectl: the timer's check, once a second. */
int
view_data_version_check(struct view *v, struct store_view *sv, char *err, size_t errlen)
{
	long long dv = -1;

	if (store_view_rows(sv, SVQ_DATA_VERSION, NULL, 0, view_version_cb, &dv) == -1) {
		v->ok = 0;
		snprintf(err, errlen, "%s", store_view_error(sv));
		return -1;
	}
	if (v->ok && dv == v->data_version)
		return 0;
	v->data_version = dv;
	return view_refresh(v, sv, 1, err, errlen);
}

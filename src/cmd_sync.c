/*
 * mailabusectl sync: import cPanel's account data from under
 * cpanel.root.  Idempotent; prints what changed; a malformed line is a
 * warning naming file:line and the rest still imports; an account that
 * disappears is marked removed and keeps its history.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cpanel.h"
#include "ctl.h"
#include "identity.h"

struct sync_account {
	char name[ACCOUNT_NAME_MAX];
	char owner[ACCOUNT_NAME_MAX];
};

struct sync_state {
	struct ctl *c;
	struct sync_account *acc;
	size_t nacc, cap;
	int warnings;
	int changes;
	int failed;
	json_t *json;		/* --json: the changes, printed once committed */
};

/* The path of a file under cpanel.root ("" if it does not fit). */
static void
sync_path(struct ctl *c, const char *rel, char *buf, size_t len)
{
	const char *root = c->cfg.cpanel_root;
	size_t n = strlen(root);
	int w;

	w = snprintf(buf, len, "%s%s%s", root, n > 0 && root[n - 1] == '/' ? "" : "/", rel);
	if (w < 0 || (size_t)w >= len)
		buf[0] = '\0';
}

static void
sync_warn(struct sync_state *ss, const char *file, unsigned line, const char *what)
{
	fprintf(stderr, "mailabusectl: warning: %s:%u: %s\n", file, line, what);
	ss->warnings++;
}

/* Remember an account name (and its owner when known). */
static int
sync_account_add(struct sync_state *ss, const char *name, const char *owner)
{
	if (ss->nacc == ss->cap) {
		size_t cap = ss->cap ? ss->cap * 2 : 256;
		struct sync_account *n = realloc(ss->acc, cap * sizeof *n);

		if (n == NULL)
			return -1;
		ss->acc = n;
		ss->cap = cap;
	}
	snprintf(ss->acc[ss->nacc].name, sizeof ss->acc[0].name, "%s", name);
	snprintf(ss->acc[ss->nacc].owner, sizeof ss->acc[0].owner, "%s", owner);
	ss->nacc++;
	return 0;
}

/* Order by name, entries with an owner first, so dedup keeps the owner. */
static int
sync_account_cmp(const void *a, const void *b)
{
	const struct sync_account *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	if (r != 0)
		return r;
	return (y->owner[0] != '\0') - (x->owner[0] != '\0');
}

/*
 * Read one "key: value" file; kind 'd' is etc/userdomains (domain: user),
 * 'o' etc/trueuserowners (user: owner).  A missing file is an error.
 */
static int
sync_read_pairs(struct sync_state *ss, const char *rel, int kind)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;

	sync_path(ss->c, rel, path, sizeof path);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while (getline(&line, &cap, f) != -1) {
		char *key, *value, dom[256];
		int r;

		lineno++;
		if ((r = cpanel_pair_parse(line, &key, &value)) == 0)
			continue;
		if (r == -1) {
			sync_warn(ss, path, lineno, kind == 'd' ?
			    "expected \"domain: user\"" : "expected \"user: owner\"");
			continue;
		}
		if (kind == 'd') {
			if (strcmp(key, "*") == 0 || strcmp(value, "nobody") == 0)
				continue;
			if (identity_domain_normalise(key, dom, sizeof dom) == -1) {
				sync_warn(ss, path, lineno, "invalid domain name");
				continue;
			}
			if (!identity_account_name_valid(value)) {
				sync_warn(ss, path, lineno, "invalid user name");
				continue;
			}
			if (store_sync_stage_domain(ss->c->st, dom, value, "addon") == -1 ||
			    sync_account_add(ss, value, "") == -1)
				goto fail;
		} else {
			if (!identity_account_name_valid(key) ||
			    (strcmp(value, "root") != 0 && !identity_account_name_valid(value))) {
				sync_warn(ss, path, lineno, "invalid user or owner name");
				continue;
			}
			if (strcmp(key, "nobody") == 0)
				continue;
			if (sync_account_add(ss, key, value) == -1)
				goto fail;
		}
	}
	if (ferror(f))
		goto fail;
	free(line);
	fclose(f);
	return 0;
fail:
	fprintf(stderr, "mailabusectl: %s: %s\n", path,
	    ferror(f) ? strerror(errno) : store_error(ss->c->st));
	free(line);
	fclose(f);
	return EX_UNAVAILABLE;
}

/* etc/localdomains: one domain a line. */
static int
sync_read_local(struct sync_state *ss)
{
	char path[PATH_MAX], *line = NULL, *d, dom[256];
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r;

	sync_path(ss->c, "etc/localdomains", path, sizeof path);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if ((r = cpanel_domain_line_parse(line, &d)) == 0)
			continue;
		if (r == -1 || identity_domain_normalise(d, dom, sizeof dom) == -1) {
			sync_warn(ss, path, lineno, "expected one domain name");
			continue;
		}
		if (store_sync_stage_local(ss->c->st, dom) == -1) {
			free(line);
			fclose(f);
			return ctl_db_error(ss->c, "sync");
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* CONTACTEMAIL= and DNS= (the main domain) from var/cpanel/users/<user>. */
static void
sync_read_user(struct sync_state *ss, const char *user, char *contact, size_t clen,
    char *main_domain, size_t mlen)
{
	char rel[PATH_MAX], path[PATH_MAX], *line = NULL, *key, *value;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r;

	contact[0] = main_domain[0] = '\0';
	snprintf(rel, sizeof rel, "var/cpanel/users/%s", user);
	sync_path(ss->c, rel, path, sizeof path);
	if ((f = fopen(path, "r")) == NULL)
		return;		/* no users file: no contact address */
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if ((r = cpanel_users_line_parse(line, &key, &value)) == 0)
			continue;
		if (r == -1) {
			sync_warn(ss, path, lineno, "expected KEY=VALUE");
			continue;
		}
		if (strcmp(key, "CONTACTEMAIL") == 0) {
			/* cPanel may list several, comma-separated: keep the first. */
			value[strcspn(value, ", ")] = '\0';
			if (*value != '\0' && (strchr(value, '@') == NULL || strlen(value) >= clen))
				sync_warn(ss, path, lineno, "CONTACTEMAIL is not an address");
			else
				snprintf(contact, clen, "%s", value);
		} else if (strcmp(key, "DNS") == 0) {
			if (identity_domain_normalise(value, main_domain, mlen) == -1) {
				main_domain[0] = '\0';
				sync_warn(ss, path, lineno, "DNS is not a domain name");
			}
		}
	}
	free(line);
	fclose(f);
}

static const char *const sync_labels[] = {
	[SYNC_ACCOUNT_ADDED] = "+ account",
	[SYNC_ACCOUNT_CHANGED] = "~ account",
	[SYNC_ACCOUNT_REMOVED] = "- account",
	[SYNC_DOMAIN_ADDED] = "+ domain",
	[SYNC_DOMAIN_CHANGED] = "~ domain",
	[SYNC_DOMAIN_REMOVED] = "- domain",
	[SYNC_LOCAL_ADDED] = "+ localdomain",
	[SYNC_LOCAL_REMOVED] = "- localdomain",
};

static const char *const sync_names[] = {
	[SYNC_ACCOUNT_ADDED] = "account-added",
	[SYNC_ACCOUNT_CHANGED] = "account-changed",
	[SYNC_ACCOUNT_REMOVED] = "account-removed",
	[SYNC_DOMAIN_ADDED] = "domain-added",
	[SYNC_DOMAIN_CHANGED] = "domain-changed",
	[SYNC_DOMAIN_REMOVED] = "domain-removed",
	[SYNC_LOCAL_ADDED] = "localdomain-added",
	[SYNC_LOCAL_REMOVED] = "localdomain-removed",
};

/* A change as JSON: "old" and "new" are null where the change has none. */
static json_t *
sync_change_json(enum sync_change what, const char *name, const char *old_value,
    const char *new_value)
{
	int has_old = what == SYNC_ACCOUNT_CHANGED || what == SYNC_DOMAIN_CHANGED ||
	    what == SYNC_DOMAIN_REMOVED;
	int has_new = what == SYNC_ACCOUNT_ADDED || what == SYNC_ACCOUNT_CHANGED ||
	    what == SYNC_DOMAIN_ADDED || what == SYNC_DOMAIN_CHANGED;

	return json_pack("{s:s, s:s, s:o, s:o}", "change", sync_names[what], "name", name,
	    "old", has_old && old_value != NULL ? json_string(old_value) : json_null(),
	    "new", has_new && new_value != NULL ? json_string(new_value) : json_null());
}

/* One change, as text. */
static void
sync_change_print(enum sync_change what, const char *name, const char *old_value,
    const char *new_value)
{
	switch (what) {
	case SYNC_ACCOUNT_ADDED:
		printf("%s %s (owner %s)\n", sync_labels[what], name, new_value);
		break;
	case SYNC_ACCOUNT_REMOVED:
		printf("%s %s (gone from cPanel; history kept)\n", sync_labels[what], name);
		break;
	case SYNC_ACCOUNT_CHANGED:
		printf("%s %s: %s -> %s\n", sync_labels[what], name, old_value, new_value);
		break;
	case SYNC_DOMAIN_CHANGED:
		printf("%s %s: %s -> %s\n", sync_labels[what], name, old_value, new_value);
		break;
	case SYNC_DOMAIN_ADDED:
		printf("%s %s -> %s\n", sync_labels[what], name, new_value);
		break;
	case SYNC_DOMAIN_REMOVED:
		printf("%s %s (was %s)\n", sync_labels[what], name, old_value);
		break;
	default:
		printf("%s %s\n", sync_labels[what], name);
		break;
	}
}

/* Print one change (or keep it for --json) and audit the account-level ones. */
static int
sync_change_cb(void *arg, enum sync_change what, const char *name,
    const char *old_value, const char *new_value)
{
	struct sync_state *ss = arg;
	const char *action = NULL;
	char detail[1024];

	ss->changes++;
	if (ss->json != NULL)
		json_array_append_new(ss->json, sync_change_json(what, name, old_value,
		    new_value));
	else
		sync_change_print(what, name, old_value, new_value);
	switch (what) {
	case SYNC_ACCOUNT_ADDED:
		action = "account-added";
		snprintf(detail, sizeof detail, "owner %s", new_value);
		break;
	case SYNC_ACCOUNT_REMOVED:
		action = "account-removed";
		snprintf(detail, sizeof detail, "gone from cPanel");
		break;
	case SYNC_ACCOUNT_CHANGED:
		action = "account-changed";
		snprintf(detail, sizeof detail, "%s -> %s", old_value, new_value);
		break;
	default:
		break;
	}
	if (action != NULL && store_audit_insert(ss->c->st, ss->c->now, ss->c->actor,
	    action, name, name, detail) == -1) {
		ss->failed = 1;
		return 1;
	}
	return 0;
}

int
cmd_sync(struct ctl *c, int argc, char **argv)
{
	struct sync_state ss = { .c = c };
	int r;

	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	long long present, removed, staged;
	int ch, force = 0;

	while ((ch = ctl_getopt(argc, argv, opts)) != -1) {
		if (ch == 'f')
			force = 1;
		else if (ch == 'j')
			c->json = 1;
		else
			return EX_USAGE;
	}
	if (optind != argc)
		return ctl_usage_error("usage: sync [--force] [--json]");
	if (c->json && (ss.json = json_array()) == NULL)
		return ctl_json_print(NULL);
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "sync");
	if (store_sync_stage_begin(c->st) == -1) {
		r = ctl_db_error(c, "sync");
		goto out;
	}
	if ((r = sync_read_pairs(&ss, "etc/trueuserowners", 'o')) != 0 ||
	    (r = sync_read_pairs(&ss, "etc/userdomains", 'd')) != 0 ||
	    (r = sync_read_local(&ss)) != 0)
		goto out;
	if (ss.nacc > 0)
		qsort(ss.acc, ss.nacc, sizeof *ss.acc, sync_account_cmp);
	for (size_t i = 0; i < ss.nacc; i++) {
		char contact[ADDRESS_MAX], main_domain[256];

		if (i > 0 && strcmp(ss.acc[i].name, ss.acc[i - 1].name) == 0)
			continue;
		sync_read_user(&ss, ss.acc[i].name, contact, sizeof contact,
		    main_domain, sizeof main_domain);
		if (store_sync_stage_account(c->st, ss.acc[i].name, ss.acc[i].owner,
		    contact, main_domain) == -1) {
			r = ctl_db_error(c, "sync");
			goto out;
		}
	}
	/*
	 * Truncated or half-written cPanel files must not unsuspend everybody
	 * by marking them removed: a large removal needs --force.
	 */
	if (store_sync_counts(c->st, &present, &removed, &staged) == -1) {
		r = ctl_db_error(c, "sync");
		goto out;
	}
	if (!force && present > 0 && (staged == 0 || (removed > 10 && removed * 2 > present))) {
		fprintf(stderr, "mailabusectl: sync: refusing to mark %lld of %lld accounts removed"
		    " (are the cPanel files under %s complete?); use --force if they are\n",
		    removed, present, c->cfg.cpanel_root);
		r = EX_DATAERR;
		goto out;
	}
	if (store_sync_apply(c->st, c->now, sync_change_cb, &ss) == -1 || ss.failed) {
		r = ctl_db_error(c, "sync");
		goto out;
	}
	if (ss.changes > 0 && store_audit_insert(c->st, c->now, c->actor, "sync", NULL, NULL,
	    "cPanel data imported") == -1) {
		r = ctl_db_error(c, "sync");
		goto out;
	}
	if (store_commit(c->st) == -1) {
		r = ctl_db_error(c, "sync");
		goto out;
	}
	if (ss.json != NULL) {
		ctl_json_print(json_pack("{s:i, s:i, s:O}", "count", ss.changes,
		    "warnings", ss.warnings, "changes", ss.json));
	} else if (ss.changes == 0)
		printf("sync: no changes\n");
	else
		printf("sync: %d change%s\n", ss.changes, ss.changes == 1 ? "" : "s");
	if (ss.warnings > 0)
		fprintf(stderr, "mailabusectl: sync: %d malformed line%s skipped\n",
		    ss.warnings, ss.warnings == 1 ? "" : "s");
	r = 0;
out:
	if (r != 0)
		store_rollback(c->st);
	json_decref(ss.json);
	free(ss.acc);
	return r;
}

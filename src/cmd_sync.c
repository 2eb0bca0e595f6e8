/*
 * mailabusectl sync: import cPanel's account data from under
 * cpanel.root.  Idempotent; prints what changed; a malformed line is a
 * warning naming file:line and the rest still imports; an account that
 * disappears is marked removed and keeps its history.  cPanel's own
 * outgoing email state (suspended or held) is read too, to be shown
 * beside mailabuse's: cPanel's Exim enforces it, mailabuse does not.
 *
 * sync --account USER is one account's slice of the same reconciliation
 * (what cPanel's hooks run): only the lines that name the account, or a
 * domain it has in the store, are staged, and only its slice of the
 * store is compared, so it costs one pass over the files whatever the
 * number of accounts.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include "cpanel.h"
#include "ctl.h"
#include "history.h"
#include "identity.h"
#include "priv.h"
#include "str.h"

struct sync_account {
	char name[ACCOUNT_NAME_MAX];
	char owner[ACCOUNT_NAME_MAX];
};

/* A few domain names, in lower case (sync --account). */
struct sync_names {
	char **v;
	size_t *len;
	size_t n, cap;
};

struct sync_rename {
	enum sync_change what;
	char name[ACCOUNT_NAME_MAX], old_value[ACCOUNT_NAME_MAX], new_value[128];
};

struct sync_state {
	struct ctl *c;
	const char *only;	/* --account: the account whose slice is synced */
	size_t only_len;
	struct sync_names mine;	/* its domains in the store */
	struct sync_names scope; /* those and the domains staged: the local domains compared */
	struct sync_account *acc;
	size_t nacc, cap;
	int warnings;
	int changes;
	int failed;
	json_t *json;		/* --json: the changes, printed once committed */
	struct sync_rename *renames;	/* store_sync_renames' changes, reported after the guard */
	size_t nrenames;
	char uuid[128];		/* UUID= of the last var/cpanel/users file read, "" none */
	int uuid_known;		/* that file could be read: "" means it has no UUID */
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
	fprintf(stderr, "mailabusectl: warning: %s:%u: %s\n", ctl_esc(file), line, ctl_esc(what));
	ss->warnings++;
}

/* Add a name to the set, lower-cased, once; -1 when out of memory. */
static int
sync_names_add(struct sync_names *ns, const char *name)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcasecmp(ns->v[i], name) == 0)
			return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **n = realloc(ns->v, cap * sizeof *n);
		size_t *l;

		if (n == NULL)
			return -1;
		ns->v = n;
		if ((l = realloc(ns->len, cap * sizeof *l)) == NULL)
			return -1;
		ns->len = l;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -1;
	for (char *q = ns->v[ns->n]; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	ns->len[ns->n] = strlen(name);
	ns->n++;
	return 0;
}

/* Free the set's names. */
static void
sync_names_free(struct sync_names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	free(ns->len);
}

/* Add a domain of the account in the store to its slice. */
static int
sync_mine_cb(void *arg, const char *domain, const char *kind)
{
	struct sync_state *ss = arg;

	(void)kind;
	return sync_names_add(&ss->mine, domain) == -1 ||
	    sync_names_add(&ss->scope, domain) == -1;
}

/* A file of cPanel's, read in blocks, given out a line at a time. */
struct sync_file {
	int fd;
	int eof;
	int error;		/* errno of a failed read or allocation, or 0 */
	char *buf;		/* buf[pos, len) not yet given out */
	size_t pos, len, cap;
	char *line;		/* the current line, NUL-terminated */
	size_t linecap;
	unsigned lineno;
};

/* Open the file; -1 with errno set. */
static int
sync_file_open(struct sync_file *sf, const char *path)
{
	memset(sf, 0, sizeof *sf);
	sf->cap = 1 << 16;
	if ((sf->buf = malloc(sf->cap)) == NULL)
		return -1;
	if ((sf->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		free(sf->buf);
		sf->buf = NULL;
		return -1;
	}
	return 0;
}

/* Read more of the file after what is left in the buffer; 0, or -1 at the end or on error. */
static int
sync_file_fill(struct sync_file *sf)
{
	ssize_t r;

	if (sf->eof)
		return -1;
	if (sf->pos > 0) {
		memmove(sf->buf, sf->buf + sf->pos, sf->len - sf->pos);
		sf->len -= sf->pos;
		sf->pos = 0;
	}
	if (sf->len == sf->cap) {
		char *n = realloc(sf->buf, sf->cap * 2);

		if (n == NULL) {
			sf->error = ENOMEM;
			return -1;
		}
		sf->buf = n;
		sf->cap *= 2;
	}
	while ((r = read(sf->fd, sf->buf + sf->len, sf->cap - sf->len)) == -1 && errno == EINTR)
		;
	if (r == -1) {
		sf->error = errno;
		return -1;
	}
	if (r == 0)
		sf->eof = 1;
	sf->len += (size_t)r;
	return 0;
}

/* Give out buf[p, e) as the current line; NULL when out of memory. */
static char *
sync_file_line(struct sync_file *sf, const char *p, const char *e)
{
	size_t n = (size_t)(e - p);

	if (n + 1 > sf->linecap) {
		char *b = realloc(sf->line, n + 1);

		if (b == NULL) {
			sf->error = ENOMEM;
			return NULL;
		}
		sf->line = b;
		sf->linecap = n + 1;
	}
	memcpy(sf->line, p, n);
	sf->line[n] = '\0';
	sf->pos = (size_t)(e - sf->buf);
	return sf->line;
}

/*
 * The next line that may concern the synced slice, or NULL at the end
 * of the file or on an error (sf->error).  sync --account looks only
 * at the complete lines of each block, through cpanel_want_next.
 */
static char *
sync_file_next(struct sync_state *ss, struct sync_file *sf, int kind)
{
	struct cpanel_want w = {
		.kind = kind, .account = ss->only, .account_len = ss->only_len,
		.names = kind == 'l' ? ss->scope.v : ss->mine.v,
		.lens = kind == 'l' ? ss->scope.len : ss->mine.len,
		.n = kind == 'l' ? ss->scope.n : ss->mine.n,
	};

	for (;;) {
		char *p = sf->buf + sf->pos, *lim;
		const char *s, *e;
		size_t lines;

		if (ss->only == NULL) {
			if ((e = memchr(p, '\n', sf->len - sf->pos)) != NULL)
				e++;
			else if (!sf->eof) {
				if (sync_file_fill(sf) == -1)
					return NULL;
				continue;
			} else if (sf->pos < sf->len)
				e = sf->buf + sf->len;	/* a last line without its newline */
			else
				return NULL;
			sf->lineno++;
			return sync_file_line(sf, p, e);
		}
		/* the complete lines in the buffer (all of it at the end of the file) */
		if (sf->eof)
			lim = sf->buf + sf->len;
		else if ((lim = memrchr(p, '\n', sf->len - sf->pos)) != NULL)
			lim++;
		else {
			if (sync_file_fill(sf) == -1)
				return NULL;
			continue;
		}
		s = cpanel_want_next(&w, p, lim, &e, &lines);
		sf->lineno += (unsigned)lines;
		if (s != NULL) {
			sf->lineno++;
			return sync_file_line(sf, s, e);
		}
		sf->pos = (size_t)(lim - sf->buf);
		if (sync_file_fill(sf) == -1)
			return NULL;
	}
}

/* Close the file and free its buffers. */
static void
sync_file_close(struct sync_file *sf)
{
	if (sf->fd != -1)
		close(sf->fd);
	free(sf->buf);
	free(sf->line);
}

/* Remember an account name (and its owner when known). */
static int
sync_account_add(struct sync_state *ss, const char *name, const char *owner)
{
	if (ss->only != NULL && strcmp(name, ss->only) != 0)
		return 0;	/* sync --account: another account's line */
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
	char path[PATH_MAX], *line;
	struct sync_file f;

	sync_path(ss->c, rel, path, sizeof path);
	if (sync_file_open(&f, path) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while ((line = sync_file_next(ss, &f, kind)) != NULL) {
		char *key, *value, dom[256];
		unsigned lineno = f.lineno;
		int r;

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
			    sync_account_add(ss, value, "") == -1 ||
			    (ss->only != NULL && (sync_names_add(&ss->scope, dom) == -1 ||
			    store_sync_stage_scope(ss->c->st, dom) == -1)))
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
	if (f.error != 0)
		goto fail;
	sync_file_close(&f);
	return 0;
fail:
	fprintf(stderr, "mailabusectl: %s: %s\n", path,
	    f.error != 0 ? strerror(f.error) : store_error(ss->c->st));
	sync_file_close(&f);
	return EX_UNAVAILABLE;
}

/* etc/localdomains: one domain a line. */
static int
sync_read_local(struct sync_state *ss)
{
	char path[PATH_MAX], *line, *d, dom[256];
	struct sync_file f;
	int r;

	sync_path(ss->c, "etc/localdomains", path, sizeof path);
	if (sync_file_open(&f, path) == -1) {
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while ((line = sync_file_next(ss, &f, 'l')) != NULL) {
		unsigned lineno = f.lineno;

		if ((r = cpanel_domain_line_parse(line, &d)) == 0)
			continue;
		if (r == -1 || identity_domain_normalise(d, dom, sizeof dom) == -1) {
			sync_warn(ss, path, lineno, "expected one domain name");
			continue;
		}
		if (store_sync_stage_local(ss->c->st, dom) == -1) {
			sync_file_close(&f);
			return ctl_db_error(ss->c, "sync");
		}
	}
	r = f.error;
	sync_file_close(&f);
	if (r != 0) {
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(r));
		return EX_UNAVAILABLE;
	}
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
	ss->uuid[0] = '\0';
	ss->uuid_known = 0;
	snprintf(rel, sizeof rel, "var/cpanel/users/%s", user);
	sync_path(ss->c, rel, path, sizeof path);
	if ((f = fopen(path, "r")) == NULL)
		return;		/* no users file: no contact address, UUID unknown */
	ss->uuid_known = 1;
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if ((r = cpanel_users_line_parse(line, &key, &value)) == 0)
			continue;
		if (r == -1) {
			sync_warn(ss, path, lineno, "expected KEY=VALUE");
			continue;
		}
		if (strcmp(key, "CONTACTEMAIL") == 0) {
			/*
			 * One plain address or none: anything else (a list, a
			 * name with <>, control characters) could add headers to
			 * a notice or make sendmail refuse it for ever.
			 */
			contact[0] = '\0';
			if (*value != '\0' && (!str_address_valid(value, 1) || strlen(value) >= clen)) {
				char what[256];

				snprintf(what, sizeof what, "CONTACTEMAIL \"%.100s\" is not one plain"
				    " address; notices go to notify.fallback", value);
				sync_warn(ss, path, lineno, what);
			} else
				snprintf(contact, clen, "%s", value);
		} else if (strcmp(key, "UUID") == 0) {
			/* cPanel's identity of the account: it survives a rename */
			if (strlen(value) >= sizeof ss->uuid ||
			    strspn(value, "0123456789abcdefABCDEF-") != strlen(value))
				sync_warn(ss, path, lineno, "UUID is not a UUID");
			else
				snprintf(ss->uuid, sizeof ss->uuid, "%s", value);
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

/* The domains accounts with a suspension in force would lose, account by account. */
struct sync_losses {
	char account[ACCOUNT_NAME_MAX];
	long long lost, total;
	int staying;
	long long refuse;		/* staying accounts that lose most of their domains */
	char refused[ACCOUNT_NAME_MAX];
	long long refused_lost, refused_total;
};

/* Close one account's tally: losing most of its domains is refused. */
static void
sync_losses_flush(struct sync_losses *sl)
{
	if (sl->account[0] != '\0' && sl->staying && sl->lost * 2 > sl->total) {
		if (sl->refuse++ == 0) {
			snprintf(sl->refused, sizeof sl->refused, "%s", sl->account);
			sl->refused_lost = sl->lost;
			sl->refused_total = sl->total;
		}
	}
	sl->account[0] = '\0';
	sl->lost = 0;
}

/* Say each domain a suspended account loses, always: its mail may pass from then on. */
static int
sync_loss_cb(void *arg, const char *account, const char *domain, long long total, int staying)
{
	struct sync_losses *sl = arg;

	if (strcmp(sl->account, account) != 0) {
		sync_losses_flush(sl);
		snprintf(sl->account, sizeof sl->account, "%s", account);
		sl->total = total;
		sl->staying = staying;
	}
	sl->lost++;
	fprintf(stderr, "mailabusectl: sync: warning: suspended account %s loses domain %s%s\n",
	    ctl_esc(account), ctl_esc(domain), staying ? "" : " (the account is gone from cPanel)");
	return 0;
}

/*
 * Truncated or half-written cPanel files must not lift suspensions:
 * marking most accounts removed, removing most domains, dropping most
 * owners, or taking most of the domains of an account with a suspension
 * in force needs --force.  0, or an exit status after saying why.
 */
static int
sync_guard(struct sync_state *ss, int force)
{
	struct ctl *c = ss->c;
	struct sync_losses sl;
	struct sync_guard g;
	long long present, removed, staged;
	const char *root = c->cfg.cpanel_root;

	memset(&sl, 0, sizeof sl);
	memset(&g, 0, sizeof g);
	present = removed = staged = 0;
	/* sync --account stages one account: only its own losses are weighed */
	if ((ss->only == NULL && (store_sync_counts(c->st, &present, &removed, &staged) == -1 ||
	    store_sync_guard(c->st, &g) == -1)) ||
	    store_sync_suspended_losses(c->st, ss->only, sync_loss_cb, &sl) == -1)
		return ctl_db_error(c, "sync");
	sync_losses_flush(&sl);
	if (force)
		return 0;
	if (present > 0 && (staged == 0 || (removed > 10 && removed * 2 > present))) {
		fprintf(stderr, "mailabusectl: sync: refusing to mark %lld of %lld accounts removed"
		    " (are the cPanel files under %s complete?); use --force if they are\n",
		    removed, present, root);
		return EX_DATAERR;
	}
	if (g.domains > 0 && (g.domains_staged == 0 ||
	    (g.domains_removed > 10 && g.domains_removed * 2 > g.domains))) {
		fprintf(stderr, "mailabusectl: sync: refusing to remove %lld of %lld domains"
		    " (is etc/userdomains under %s complete?); use --force if it is\n",
		    g.domains_removed, g.domains, root);
		return EX_DATAERR;
	}
	/* cPanel lists every account's owner: an account without one is no removal */
	if (g.owners_lost > 0 && g.owners_lost * 2 > g.owned) {
		fprintf(stderr, "mailabusectl: sync: refusing to drop the owner of %lld of %lld"
		    " accounts (is etc/trueuserowners under %s complete?); use --force if it is\n",
		    g.owners_lost, g.owned, root);
		return EX_DATAERR;
	}
	if (sl.refuse > 0) {
		fprintf(stderr, "mailabusectl: sync: refusing to take %lld of the %lld domains of"
		    " suspended account %s%s: the mail of its mailboxes there would pass"
		    " (is etc/userdomains under %s complete?); use --force if it is\n",
		    sl.refused_lost, sl.refused_total, ctl_esc(sl.refused),
		    sl.refuse > 1 ? " and of other suspended accounts" : "", root);
		return EX_DATAERR;
	}
	return 0;
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
	[SYNC_ACCOUNT_RENAMED] = "~ account",
	[SYNC_ACCOUNT_REUSED] = "~ account",
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
	[SYNC_ACCOUNT_RENAMED] = "account-renamed",	/* old: the old name, new: the UUID */
	[SYNC_ACCOUNT_REUSED] = "account-reused",	/* old: where the old record is kept */
};

/* Count the renames' moves (arg: a counter), or apply one to the history (arg: the ctl). */
static int
sync_moves_count_cb(void *arg, const char *from, const char *to)
{
	(void)from;
	(void)to;
	(*(int *)arg)++;
	return 0;
}

static int
sync_history_move_cb(void *arg, const char *from, const char *to)
{
	struct ctl *c = arg;

	return history_account_move(c->hist, from, to) == -1 ? -1 : 0;
}

/* The history file follows the renames just committed (opened only if there are any). */
static void
sync_history_moves(struct ctl *c)
{
	int n = 0;

	if (store_history_moves(c->st, sync_moves_count_cb, &n) == -1 || n == 0 ||
	    ctl_history(c) != 0)
		return;
	if (history_begin(c->hist) == -1 ||
	    store_history_moves(c->st, sync_history_move_cb, c) == -1 ||
	    history_commit(c->hist) == -1) {
		fprintf(stderr, "mailabusectl: sync: warning: the history of the renamed accounts"
		    " stays under their old names: %s\n", history_error(c->hist));
		history_rollback(c->hist);
	}
}

/* Keep a change of store_sync_renames, to report it once the guard agrees. */
static int
sync_rename_keep_cb(void *arg, enum sync_change what, const char *name,
    const char *old_value, const char *new_value)
{
	struct sync_state *ss = arg;
	struct sync_rename *n = realloc(ss->renames, (ss->nrenames + 1) * sizeof *n);

	if (n == NULL)
		return 1;
	ss->renames = n;
	n += ss->nrenames++;
	n->what = what;
	snprintf(n->name, sizeof n->name, "%s", name);
	snprintf(n->old_value, sizeof n->old_value, "%s", old_value);
	snprintf(n->new_value, sizeof n->new_value, "%s", new_value);
	return 0;
}

/* "bob (main)" -> "bob": the account of a domain row. */
static void
sync_domain_account(const char *value, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)strcspn(value, " "), value);
}

/* "suspended" or "not suspended", for sync's report of a moved domain. */
static const char *
sync_suspended_word(struct sync_state *ss, const char *account)
{
	long long last;
	int acc = 0, mbx = 0;

	if (store_suspension_flags(ss->c->st, account, "", &acc, &mbx, &last) == -1)
		return "suspension unknown";
	return acc ? "suspended" : "not suspended";
}

/* A change as JSON: "old" and "new" are null where the change has none. */
static json_t *
sync_change_json(enum sync_change what, const char *name, const char *old_value,
    const char *new_value)
{
	int has_old = what == SYNC_ACCOUNT_CHANGED || what == SYNC_DOMAIN_CHANGED ||
	    what == SYNC_DOMAIN_REMOVED || what == SYNC_ACCOUNT_RENAMED ||
	    what == SYNC_ACCOUNT_REUSED;
	int has_new = what == SYNC_ACCOUNT_ADDED || what == SYNC_ACCOUNT_CHANGED ||
	    what == SYNC_DOMAIN_ADDED || what == SYNC_DOMAIN_CHANGED ||
	    what == SYNC_ACCOUNT_RENAMED;

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
		printf("%s %s (owner %s)\n", sync_labels[what], ctl_esc(name), ctl_esc(new_value));
		break;
	case SYNC_ACCOUNT_REMOVED:
		printf("%s %s (gone from cPanel; history kept)\n", sync_labels[what], ctl_esc(name));
		break;
	case SYNC_ACCOUNT_CHANGED:
		printf("%s %s: %s -> %s\n", sync_labels[what], ctl_esc(name), ctl_esc(old_value),
		    ctl_esc(new_value));
		break;
	case SYNC_DOMAIN_CHANGED:
		printf("%s %s: %s -> %s\n", sync_labels[what], ctl_esc(name), ctl_esc(old_value),
		    ctl_esc(new_value));
		break;
	case SYNC_DOMAIN_ADDED:
		printf("%s %s -> %s\n", sync_labels[what], ctl_esc(name), ctl_esc(new_value));
		break;
	case SYNC_DOMAIN_REMOVED:
		printf("%s %s (was %s)\n", sync_labels[what], ctl_esc(name), ctl_esc(old_value));
		break;
	case SYNC_ACCOUNT_RENAMED:
		printf("%s %s: renamed from %s in cPanel (UUID %s): its suspensions, complaints,"
		    " unblocks, limits and history follow\n", sync_labels[what], ctl_esc(name),
		    ctl_esc(old_value), ctl_esc(new_value));
		break;
	case SYNC_ACCOUNT_REUSED:
		printf("%s %s: the name of a removed account, now another cPanel account: it"
		    " starts clean; the old record is kept as %s\n", sync_labels[what],
		    ctl_esc(name), ctl_esc(old_value));
		break;
	default:
		printf("%s %s\n", sync_labels[what], ctl_esc(name));
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
	char detail[1024], from[ACCOUNT_NAME_MAX] = "", to[ACCOUNT_NAME_MAX] = "";
	int moved = 0;

	ss->changes++;
	if (what == SYNC_DOMAIN_CHANGED) {
		/* a domain that changes hands may leave or join a suspension */
		sync_domain_account(old_value, from, sizeof from);
		sync_domain_account(new_value, to, sizeof to);
		if ((moved = strcmp(from, to) != 0))
			snprintf(detail, sizeof detail, "%s moved from %s (%s) to %s (%s)", name,
			    from, sync_suspended_word(ss, from), to, sync_suspended_word(ss, to));
	}
	if (ss->json != NULL)
		json_array_append_new(ss->json, sync_change_json(what, name, old_value,
		    new_value));
	else if (moved)
		printf("%s %s: %s\n", sync_labels[what], ctl_esc(name), ctl_esc(detail));
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
	case SYNC_ACCOUNT_RENAMED:
		action = "account-renamed";
		snprintf(detail, sizeof detail, "renamed from %s in cPanel (UUID %s)", old_value,
		    new_value);
		break;
	case SYNC_DOMAIN_CHANGED:
		if (moved && (store_audit_insert(ss->c->st, ss->c->now, ss->c->actor,
		    "domain-moved", from, name, detail) == -1 || store_audit_insert(ss->c->st,
		    ss->c->now, ss->c->actor, "domain-moved", to, name, detail) == -1)) {
			ss->failed = 1;
			return 1;
		}
		break;
	case SYNC_ACCOUNT_REUSED:
		/* audited under the kept record, which the name no longer reaches */
		snprintf(detail, sizeof detail, "the name %s was given to another cPanel account;"
		    " this record is kept as %s", name, old_value);
		if (store_audit_insert(ss->c->st, ss->c->now, ss->c->actor, "account-reused",
		    old_value, name, detail) == -1) {
			ss->failed = 1;
			return 1;
		}
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

/*
 * etc/outgoing_mail_hold_users and etc/outgoing_mail_suspended_users:
 * one user a line; a missing file lists nobody.
 */
static int
sync_read_outgoing(struct sync_state *ss, const char *rel, const char *state)
{
	char path[PATH_MAX], *line = NULL, *user;
	size_t cap = 0;
	unsigned lineno = 0;
	FILE *f;
	int r;

	sync_path(ss->c, rel, path, sizeof path);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
		return EX_NOINPUT;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if ((r = cpanel_user_line_parse(line, &user)) == 0)
			continue;
		if (r == -1 || !identity_account_name_valid(user)) {
			sync_warn(ss, path, lineno, "expected one user name");
			continue;
		}
		if (store_outgoing_stage(ss->c->st, user, state) == -1) {
			free(line);
			fclose(f);
			return ctl_db_error(ss->c, "sync");
		}
	}
	r = ferror(f) ? EX_IOERR : 0;
	if (r != 0)
		fprintf(stderr, "mailabusectl: %s: %s\n", path, strerror(errno));
	free(line);
	fclose(f);
	return r;
}

/* Print (or keep for --json) and audit a change of cPanel's outgoing state. */
static int
sync_outgoing_cb(void *arg, const char *account, const char *old_state,
    const char *new_state)
{
	struct sync_state *ss = arg;
	char detail[256];

	ss->changes++;
	snprintf(detail, sizeof detail, "cPanel's outgoing email: %s -> %s (enforced by"
	    " cPanel's Exim, not by mailabuse)", *old_state ? old_state : "none",
	    *new_state ? new_state : "none");
	if (ss->json != NULL)
		json_array_append_new(ss->json, json_pack("{s:s, s:s, s:o, s:o}",
		    "change", "cpanel-outgoing", "name", account,
		    "old", *old_state ? json_string(old_state) : json_null(),
		    "new", *new_state ? json_string(new_state) : json_null()));
	else
		printf("~ cpanel-outgoing %s: %s -> %s\n", ctl_esc(account),
		    *old_state ? old_state : "none", *new_state ? new_state : "none");
	if (store_audit_insert(ss->c->st, ss->c->now, ss->c->actor, "cpanel-outgoing",
	    account, account, detail) == -1) {
		ss->failed = 1;
		return 1;
	}
	return 0;
}

/* Stage cPanel's files (all of them, or what concerns --account) in the open transaction. */
static int
sync_stage(struct sync_state *ss)
{
	struct ctl *c = ss->c;
	int r;

	if (store_sync_stage_begin(c->st) == -1 || (ss->only != NULL &&
	    store_account_domains(c->st, ss->only, sync_mine_cb, ss) == -1))
		return ctl_db_error(c, "sync");
	for (size_t i = 0; i < ss->scope.n; i++)
		if (store_sync_stage_scope(c->st, ss->scope.v[i]) == -1)
			return ctl_db_error(c, "sync");
	if ((r = sync_read_pairs(ss, "etc/trueuserowners", 'o')) != 0 ||
	    (r = sync_read_pairs(ss, "etc/userdomains", 'd')) != 0 ||
	    (r = sync_read_local(ss)) != 0)
		return r;
	if (store_outgoing_stage_begin(c->st) == -1)
		return ctl_db_error(c, "sync");
	if ((r = sync_read_outgoing(ss, "etc/outgoing_mail_hold_users", "held")) != 0 ||
	    (r = sync_read_outgoing(ss, "etc/outgoing_mail_suspended_users", "suspended")) != 0)
		return r;
	if (ss->nacc > 0)
		qsort(ss->acc, ss->nacc, sizeof *ss->acc, sync_account_cmp);
	for (size_t i = 0; i < ss->nacc; i++) {
		char contact[ADDRESS_MAX], main_domain[256];

		if (i > 0 && strcmp(ss->acc[i].name, ss->acc[i - 1].name) == 0)
			continue;
		sync_read_user(ss, ss->acc[i].name, contact, sizeof contact,
		    main_domain, sizeof main_domain);
		if (store_sync_stage_account(c->st, ss->acc[i].name, ss->acc[i].owner,
		    contact, main_domain) == -1 || (ss->uuid_known &&
		    store_sync_stage_uuid(c->st, ss->acc[i].name, ss->uuid) == -1))
			return ctl_db_error(c, "sync");
	}
	return 0;
}

/* Compare the staged data with the store and apply it, audited and committed. */
static int
sync_apply(struct sync_state *ss, int force)
{
	struct ctl *c = ss->c;
	int r;

	/*
	 * cPanel's UUIDs first: a renamed account takes its record (and its
	 * domains) to its new name, a reused name starts clean, so that the
	 * guard sees no account lost in a rename.  Reported once the guard
	 * lets the sync go on (a refusal rolls them back).
	 */
	if (store_sync_renames(c->st, c->now, sync_rename_keep_cb, ss) == -1)
		return ctl_db_error(c, "sync");
	if ((r = sync_guard(ss, force)) != 0)
		return r;
	for (size_t i = 0; i < ss->nrenames && !ss->failed; i++)
		(void)sync_change_cb(ss, ss->renames[i].what, ss->renames[i].name,
		    ss->renames[i].old_value, ss->renames[i].new_value);
	if (ss->failed || store_sync_apply(c->st, c->now, ss->only, sync_change_cb, ss) == -1 ||
	    ss->failed || store_outgoing_apply(c->st, c->now, sync_outgoing_cb, ss) == -1 ||
	    ss->failed)
		return ctl_db_error(c, "sync");
	if (ss->changes > 0 && store_audit_insert(c->st, c->now, c->actor, "sync", ss->only,
	    ss->only, ss->only != NULL ? "cPanel data of the account imported" :
	    "cPanel data imported") == -1)
		return ctl_db_error(c, "sync");
	if (store_commit(c->st) == -1)
		return ctl_db_error(c, "sync");
	return 0;
}

/* What the sync changed, as text or JSON, and the lines it skipped. */
static void
sync_report(struct sync_state *ss)
{
	if (ss->json != NULL) {
		ctl_json_print(json_pack("{s:i, s:i, s:O}", "count", ss->changes,
		    "warnings", ss->warnings, "changes", ss->json));
	} else if (ss->changes == 0)
		printf("sync: no changes\n");
	else
		printf("sync: %d change%s\n", ss->changes, ss->changes == 1 ? "" : "s");
	if (ss->warnings > 0)
		fprintf(stderr, "mailabusectl: sync: %d malformed line%s skipped\n",
		    ss->warnings, ss->warnings == 1 ? "" : "s");
}

/* mailabusectl sync [--account USER] [--force]: cPanel's account data into the store. */
int
cmd_sync(struct ctl *c, const struct ctl_args *a)
{
	struct sync_state ss = { .c = c };
	int r;
	char only[ACCOUNT_NAME_MAX];

	ss.only = ctl_account_arg(ctl_args_get(a, "account"), only, sizeof only);
	if (ss.only != NULL && !identity_account_name_valid(ss.only))
		return ctl_usage_error("sync: --account %s: not a valid account name", ss.only);
	ss.only_len = ss.only != NULL ? strlen(ss.only) : 0;
	if (ss.only == NULL)
		priv_background();	/* a full sync must not slow the daemon's answers */
	if (c->json && (ss.json = json_array()) == NULL)
		return ctl_json_print(NULL);
	if ((r = ctl_store(c)) != 0)
		return r;
	if (store_begin(c->st) == -1)
		return ctl_db_error(c, "sync");
	if ((r = sync_stage(&ss)) == 0 && (r = sync_apply(&ss, ctl_args_has(a, "force"))) == 0) {
		sync_history_moves(c);
		sync_report(&ss);
	}
	if (r != 0)
		store_rollback(c->st);
	json_decref(ss.json);
	free(ss.acc);
	sync_names_free(&ss.mine);
	sync_names_free(&ss.scope);
	free(ss.renames);
	return r;
}

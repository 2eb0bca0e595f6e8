/*
 * mailabusectl export and import: an account's record moved with the
 * account to another server (cPanel's transfers run them from the
 * hook), so that the one-unblock-per-90-days rule does not reset.
 *
 * The file is versioned JSON: "format" and "version", where and when it
 * was made, the account's status when it was made (for people; import
 * recomputes it), and "record": the account's row and its rows of
 * suspensions, complaints, limits and audit, with their original
 * times; messages and mailbox hosts only with --with-history.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "history.h"
#include "identity.h"
#include "lifecycle.h"

#define TRANSFER_FORMAT "mailabuse-account"
#define TRANSFER_VERSION 1

/* The tables of the record, and whether they are the message history. */
static const struct {
	const char *table;
	int history;
} transfer_tables[] = {
	{ "complaints", 0 }, { "suspensions", 0 }, { "limits", 0 }, { "audit", 0 },
	{ "messages", 1 }, { "mailbox_hosts", 1 },
};
#define TRANSFER_NTABLES (sizeof transfer_tables / sizeof transfer_tables[0])

/* The account's record as exported (NULL on a database error). */
static json_t *
transfer_record(struct ctl *c, const struct account *a, int with_history)
{
	json_t *rec, *rows;

	rec = json_pack("{s:{s:s, s:s, s:s, s:I}}", "account", "owner", a->owner,
	    "contact", a->contact, "main_domain", a->main_domain,
	    "created_at", (json_int_t)a->created_at);
	if (rec == NULL)
		return NULL;
	for (size_t i = 0; i < TRANSFER_NTABLES; i++) {
		if (transfer_tables[i].history && !with_history)
			continue;
		/* the history's rows from its own file (ctl_history opened it) */
		rows = transfer_tables[i].history ?
		    history_record_rows(c->hist, transfer_tables[i].table, a->name) :
		    store_record_rows(c->st, transfer_tables[i].table, a->name);
		if (rows == NULL) {
			json_decref(rec);
			return NULL;
		}
		json_object_set_new(rec, transfer_tables[i].table, rows);
	}
	return rec;
}

/*
 * The part of a record that must be equal for an import to be a no-op
 * (suspensions, complaints, limits), without the server's own ids: a
 * suspension names its complaint by its place in the list.
 */
static json_t *
transfer_comparable(json_t *rec)
{
	json_t *out, *complaints, *susp, *row, *ids;
	size_t i, k;

	out = json_pack("{s:[], s:[], s:O}", "complaints", "suspensions", "limits",
	    json_object_get(rec, "limits") != NULL ? json_object_get(rec, "limits") : json_null());
	if (out == NULL)
		return NULL;
	complaints = json_object_get(out, "complaints");
	susp = json_object_get(out, "suspensions");
	ids = json_array();
	json_array_foreach(json_object_get(rec, "complaints"), i, row) {
		json_t *r = json_deep_copy(row);

		json_array_append(ids, json_object_get(row, "id"));
		json_object_del(r, "id");
		json_array_append_new(complaints, r);
	}
	json_array_foreach(json_object_get(rec, "suspensions"), i, row) {
		json_t *r = json_deep_copy(row), *cid = json_object_get(row, "complaint_id"), *id;
		json_t *place = json_null();

		json_array_foreach(ids, k, id)
			if (cid != NULL && json_equal(id, cid))
				place = json_integer((json_int_t)k);
		json_object_del(r, "id");
		json_object_set_new(r, "complaint_id", place);
		json_array_append_new(susp, r);
	}
	json_decref(ids);
	return out;
}

/* Whether the comparable record has nothing in it. */
static int
transfer_empty(json_t *cmp)
{
	return json_array_size(json_object_get(cmp, "complaints")) == 0 &&
	    json_array_size(json_object_get(cmp, "suspensions")) == 0 &&
	    json_array_size(json_object_get(cmp, "limits")) == 0;
}

/* mailabusectl export ACCOUNT: the record as versioned JSON. */
int
cmd_export(struct ctl *c, const struct ctl_args *a)
{
	const char *out_path = ctl_args_get(a, "output"), *name;
	char lower[ACCOUNT_NAME_MAX], host[256], when[32];
	struct account acc;
	json_t *doc, *rec, *status;
	int history = ctl_args_has(a, "with-history"), r, rc;
	FILE *f;

	name = ctl_account_arg(a->argv[0], lower, sizeof lower);
	if ((r = history ? ctl_history(c) : ctl_store(c)) != 0)
		return r;
	if (store_read_begin(c->st) == -1)
		return ctl_db_error(c, "export");
	if ((r = store_account_get(c->st, name, &acc)) != 1) {
		store_read_end(c->st);
		if (r == -1)
			return ctl_db_error(c, "export");
		fprintf(stderr, "mailabusectl: export: %s: no such account\n", name);
		return EX_NOINPUT;
	}
	rec = transfer_record(c, &acc, history);
	status = lifecycle_status(c->st, &c->cfg, name, c->now, &rc);
	store_read_end(c->st);
	if (rec == NULL) {
		json_decref(status);
		if (c->hist != NULL && history_error(c->hist)[0] != '\0')
			return ctl_history_error(c, "export");
		return ctl_db_error(c, "export");
	}
	if (gethostname(host, sizeof host) == -1)
		snprintf(host, sizeof host, "unknown");
	host[sizeof host - 1] = '\0';
	lifecycle_time(c->now, when, sizeof when);
	doc = json_pack("{s:s, s:i, s:s, s:I, s:s, s:s, s:s, s:b, s:o, s:o}",
	    "format", TRANSFER_FORMAT, "version", TRANSFER_VERSION, "account", name,
	    "exported_at", (json_int_t)c->now, "exported_at_text", when, "host", host,
	    "exported_by", c->actor, "with_history", history,
	    "status", status != NULL ? status : json_null(), "record", rec);
	if (doc == NULL)
		return ctl_json_print(NULL);
	if (out_path == NULL) {
		if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1) {
			json_decref(doc);
			return EX_IOERR;
		}
		fputc('\n', stdout);
		json_decref(doc);
		return 0;
	}
	/* written whole or not at all: a temporary file renamed into place */
	{
		char tmp[4096];

		snprintf(tmp, sizeof tmp, "%s.tmp%ld", out_path, (long)getpid());
		if ((f = fopen(tmp, "w")) == NULL ||
		    json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == -1 ||
		    fputc('\n', f) == EOF || fflush(f) == EOF || fsync(fileno(f)) == -1 ||
		    fclose(f) == EOF || rename(tmp, out_path) == -1) {
			fprintf(stderr, "mailabusectl: export: %s: %s\n", out_path, strerror(errno));
			unlink(tmp);
			json_decref(doc);
			return EX_CANTCREAT;
		}
	}
	if (c->json)
		ctl_json_print(json_pack("{s:s, s:s, s:s, s:b}", "account", name, "file", out_path,
		    "exported_at", when, "with_history", history));
	else
		printf("exported %s to %s\n", name, out_path);
	json_decref(doc);
	return 0;
}

/* Rewrite the rows of an account exported as from to the account to. */
static void
transfer_rename(json_t *rec, const char *from, const char *to)
{
	for (size_t i = 0; i < TRANSFER_NTABLES; i++) {
		json_t *row;
		size_t k;

		json_array_foreach(json_object_get(rec, transfer_tables[i].table), k, row) {
			const char *t = json_string_value(json_object_get(row, "target"));

			if (json_object_get(row, "account") != NULL)
				json_object_set_new(row, "account", json_string(to));
			if (t != NULL && strcmp(t, from) == 0)
				json_object_set_new(row, "target", json_string(to));
		}
	}
}

/* Insert the rows of one table of the record; complaints fill ids (old id -> new id). */
static int
transfer_insert(struct ctl *c, json_t *rec, const char *table, int dedup, json_t *ids,
    long long *n)
{
	json_t *row;
	size_t i;

	json_array_foreach(json_object_get(rec, table), i, row) {
		json_t *r = json_deep_copy(row);
		long long id;
		int rc;

		if (r == NULL)
			return -1;
		if (strcmp(table, "suspensions") == 0) {
			json_t *cid = json_object_get(r, "complaint_id");
			char key[32];

			if (json_is_integer(cid)) {
				snprintf(key, sizeof key, "%lld", (long long)json_integer_value(cid));
				json_object_set(r, "complaint_id", json_object_get(ids, key) != NULL ?
				    json_object_get(ids, key) : json_null());
			}
		}
		rc = store_record_row_insert(c->st, table, r, dedup, &id);
		if (rc == 0 && strcmp(table, "complaints") == 0 &&
		    json_is_integer(json_object_get(row, "id"))) {
			char key[32];

			snprintf(key, sizeof key, "%lld",
			    (long long)json_integer_value(json_object_get(row, "id")));
			json_object_set_new(ids, key, json_integer(id));
		}
		json_decref(r);
		if (rc == -1)
			return -1;
		if (id != 0)
			(*n)++;
	}
	return 0;
}

/* An import under way: the file's document and what was done with it. */
struct import_run {
	const char *path, *as, *from, *host, *when;
	json_t *doc, *rec;
	struct account acc;
	long long rows, history_rows;
	int replaced;
};

/* Read and check the exported document; 0, or an exit status after a message. */
static int
import_read(struct import_run *ir)
{
	json_error_t jerr;
	json_t *doc;
	const char *fmt;

	if ((ir->doc = doc = json_load_file(ir->path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fprintf(stderr, "mailabusectl: import: %s:%d: %s\n", ir->path, jerr.line,
		    jerr.text);
		return EX_DATAERR;
	}
	ir->from = json_string_value(json_object_get(doc, "account"));
	ir->host = json_string_value(json_object_get(doc, "host"));
	ir->when = json_string_value(json_object_get(doc, "exported_at_text"));
	ir->rec = json_object_get(doc, "record");
	fmt = json_string_value(json_object_get(doc, "format"));
	if (fmt == NULL || strcmp(fmt, TRANSFER_FORMAT) != 0 || ir->from == NULL ||
	    !identity_account_name_valid(ir->from) || !json_is_object(ir->rec)) {
		fprintf(stderr, "mailabusectl: import: %s: not an account exported by mailabusectl"
		    " export\n", ir->path);
		return EX_DATAERR;
	}
	if (json_integer_value(json_object_get(doc, "version")) != TRANSFER_VERSION) {
		fprintf(stderr, "mailabusectl: import: %s: format version %lld; this mailabusectl"
		    " reads version %d\n", ir->path,
		    (long long)json_integer_value(json_object_get(doc, "version")), TRANSFER_VERSION);
		return EX_DATAERR;
	}
	return 0;
}

/* The account imported into: the one here, else made from the record's; 0 or -1. */
static int
import_account(struct ctl *c, struct import_run *ir)
{
	json_t *ja = json_object_get(ir->rec, "account");
	int r;

	memset(&ir->acc, 0, sizeof ir->acc);
	if ((r = store_account_get(c->st, ir->as, &ir->acc)) != 0)
		return r == -1 ? -1 : 0;
	snprintf(ir->acc.name, sizeof ir->acc.name, "%s", ir->as);
	snprintf(ir->acc.owner, sizeof ir->acc.owner, "%s",
	    json_string_value(json_object_get(ja, "owner")) ?: "");
	snprintf(ir->acc.contact, sizeof ir->acc.contact, "%s",
	    json_string_value(json_object_get(ja, "contact")) ?: "");
	snprintf(ir->acc.main_domain, sizeof ir->acc.main_domain, "%s",
	    json_string_value(json_object_get(ja, "main_domain")) ?: "");
	ir->acc.created_at = json_integer_value(json_object_get(ja, "created_at"));
	if (store_account_import(c->st, &ir->acc, c->now) == -1)
		return -1;
	ir->rows++;
	return 0;
}

/*
 * The record's rows, inside the caller's transaction: the unblock rule's
 * (complaints, suspensions, limits) unless the same are here, replacing
 * a different record with force; the audit and history rows not here
 * yet.  0, CTL_REFUSED or an exit status after a message.
 */
static int
import_rows(struct ctl *c, struct import_run *ir, int force)
{
	json_t *cur, *cmp_file, *cmp_cur, *ids;
	long long n_messages = 0, n_hosts = 0;
	int r = 0, same;

	if ((cur = transfer_record(c, &ir->acc, 0)) == NULL)
		return ctl_db_error(c, "import");
	cmp_file = transfer_comparable(ir->rec);
	cmp_cur = transfer_comparable(cur);
	if (cmp_file == NULL || cmp_cur == NULL || (ids = json_object()) == NULL) {
		r = ctl_json_print(NULL);
		goto out_cmp;
	}
	same = json_equal(cmp_file, cmp_cur);
	if (!same && !transfer_empty(cmp_cur)) {
		if (!force) {
			fprintf(stderr, "mailabusectl: import: %s already has a different record here;"
			    " use --force to replace it with the one of %s\n", ir->as, ir->path);
			r = CTL_REFUSED;
			goto out;
		}
		if (store_record_delete(c->st, ir->as) == -1)
			goto dberr;
		ir->replaced = 1;
	}
	if (!same && (transfer_insert(c, ir->rec, "complaints", 0, ids, &ir->rows) == -1 ||
	    transfer_insert(c, ir->rec, "suspensions", 0, ids, &ir->rows) == -1 ||
	    transfer_insert(c, ir->rec, "limits", 0, ids, &ir->rows) == -1))
		goto dberr;
	/* audit and history: rows already here (a second import) are not added again */
	if (transfer_insert(c, ir->rec, "audit", 1, ids, &ir->rows) == -1)
		goto dberr;
	/* the history, in its own file, when asked for (--with-history opened it) */
	if (c->hist != NULL && (history_record_import(c->hist, "messages", ir->as,
	    json_object_get(ir->rec, "messages"), &n_messages) == -1 ||
	    history_record_import(c->hist, "mailbox_hosts", ir->as,
	    json_object_get(ir->rec, "mailbox_hosts"), &n_hosts) == -1)) {
		r = ctl_history_error(c, "import");
		goto out;
	}
	ir->history_rows = n_messages + n_hosts;
	ir->rows += ir->history_rows;
	goto out;
dberr:
	r = ctl_db_error(c, "import");
out:
	json_decref(ids);
out_cmp:
	json_decref(cmp_file);
	json_decref(cmp_cur);
	json_decref(cur);
	return r;
}

/* The audit entry of an import that changed something; 0 or -1. */
static int
import_audit(struct ctl *c, const struct import_run *ir)
{
	char detail[REASON_MAX];
	int renamed = strcmp(ir->from, ir->as) != 0;

	snprintf(detail, sizeof detail, "imported from %s, exported at %s on %s%s%s%s",
	    ir->path, ir->when != NULL ? ir->when : "-", ir->host != NULL ? ir->host : "-",
	    renamed ? " as account " : "", renamed ? ir->from : "",
	    ir->replaced ? "; the record here was replaced (--force)" : "");
	return store_audit_insert(c->st, c->now, c->actor, "import", ir->as, ir->as, detail);
}

/* mailabusectl import FILE: restore an exported record, idempotent, audited. */
int
cmd_import(struct ctl *c, const struct ctl_args *a)
{
	struct import_run ir;
	char lower[ACCOUNT_NAME_MAX];
	int r;

	memset(&ir, 0, sizeof ir);
	ir.path = a->argv[0];
	if ((r = import_read(&ir)) != 0)
		goto out;
	ir.as = ctl_account_arg(ctl_args_text(a, "as", ir.from), lower, sizeof lower);
	if (!identity_account_name_valid(ir.as)) {
		r = ctl_usage_error("import: --as %s: not a valid account name", ir.as);
		goto out;
	}
	transfer_rename(ir.rec, ir.from, ir.as);
	if (!ctl_args_has(a, "with-history")) {
		json_object_del(ir.rec, "messages");
		json_object_del(ir.rec, "mailbox_hosts");
	}
	if ((r = ctl_args_has(a, "with-history") ? ctl_history(c) : ctl_store(c)) != 0)
		goto out;
	/* the history first: a failure after it leaves rows that the next import skips */
	if (store_begin(c->st) == -1 || (c->hist != NULL && history_begin(c->hist) == -1) ||
	    import_account(c, &ir) == -1) {
		r = ctl_db_error(c, "import");
		goto out;
	}
	if ((r = import_rows(c, &ir, ctl_args_has(a, "force"))) != 0 ||
	    (ir.rows > 0 && import_audit(c, &ir) == -1) ||
	    (c->hist != NULL && history_commit(c->hist) == -1) || store_commit(c->st) == -1) {
		r = r != 0 ? r : ctl_db_error(c, "import");
		if (c->hist != NULL)
			history_rollback(c->hist);
		store_rollback(c->st);
		goto out;
	}
	if (c->json)
		ctl_json_print(json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I}", "account", ir.as,
		    "from_account", ir.from, "file", ir.path, "changed", ir.rows > 0,
		    "replaced", ir.replaced, "rows", (json_int_t)ir.rows,
		    "history_rows", (json_int_t)ir.history_rows));
	else if (ir.rows == 0)
		printf("import: %s: nothing to import (the record here is the same)\n", ir.as);
	else
		printf("imported %s from %s (exported at %s on %s): %lld row%s%s\n", ir.as,
		    ir.path, ir.when != NULL ? ir.when : "-", ir.host != NULL ? ir.host : "-",
		    ir.rows, ir.rows == 1 ? "" : "s",
		    ir.replaced ? "; the record here was replaced" : "");
out:
	json_decref(ir.doc);
	return r;
}

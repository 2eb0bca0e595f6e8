/*
 * libFuzzer target for the user socket below the socket: a raw request
 * line from a peer (root, the account's own uid, a uid with no user name,
 * or a peer whose uid is unknown) is parsed and routed as usersock.c does and
 * answered by selfservice_request over a throwaway SQLite store holding a
 * suspended account with history.  Any line must be answered with one
 * well-formed reply line, never crash, and never let an owner act for
 * another account.
 * Input: one byte choosing the peer, then the request line.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <sys/stat.h>

#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "store.h"
#include "usersock.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *fuzz_st;
static struct history *fuzz_hist;
static struct config fuzz_cfg;
static char fuzz_dir[] = "/tmp/mailabuse-fuzz.XXXXXX";
static char fuzz_owner[ACCOUNT_NAME_MAX];	/* an account that is also a local user */
static unsigned long fuzz_owner_uid;
static int fuzz_verbose;		/* FUZZ_VERBOSE set: print each reply */

/* One request from this peer; *notify says whose notices are due. */
static enum verdict
fuzz_request(int known, unsigned long uid, const struct proto_request *req, char **text,
    char *notify, size_t len)
{
	struct selfservice_peer peer = { 1, known, uid };

	return selfservice_request(fuzz_st, fuzz_hist, &fuzz_cfg, &peer, req, text, notify, len);
}

/* Remove one entry of the throwaway directory. */
static int
fuzz_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Remove the throwaway store at exit. */
static void
fuzz_cleanup(void)
{
	history_close(fuzz_hist);
	store_close(fuzz_st);
	config_free(&fuzz_cfg);
	(void)nftw(fuzz_dir, fuzz_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

/* A sync callback that accepts every change. */
static int
fuzz_sync_cb(void *arg, enum sync_change what, const char *name, const char *o,
    const char *n)
{
	(void)arg;
	(void)what;
	(void)name;
	(void)o;
	(void)n;
	return 0;
}

/* Two accounts, one suspended with a complaint and some history. */
static void
fuzz_seed(struct store *st, long long now)
{
	struct suspension sp;
	struct complaint cp;
	struct message_record m;

	if (store_begin(st) == -1 || store_sync_stage_begin(st) == -1 ||
	    store_sync_stage_account(st, fuzz_owner, "root", "owner@example.com",
	    "example.com") == -1 ||
	    store_sync_stage_account(st, "other", "root", "", "example.net") == -1 ||
	    store_sync_stage_domain(st, "example.com", fuzz_owner, "main") == -1 ||
	    store_sync_stage_domain(st, "shop.example.com", fuzz_owner, "addon") == -1 ||
	    store_sync_stage_domain(st, "example.net", "other", "main") == -1 ||
	    store_sync_apply(st, now, NULL, fuzz_sync_cb, NULL) == -1)
		goto fail;
	memset(&sp, 0, sizeof sp);
	snprintf(sp.target, sizeof sp.target, "%s", fuzz_owner);
	snprintf(sp.account, sizeof sp.account, "%s", fuzz_owner);
	snprintf(sp.kind, sizeof sp.kind, "account");
	snprintf(sp.reason, sizeof sp.reason, "spam run \x1b[31m\r\nforged");
	snprintf(sp.source, sizeof sp.source, "admin");
	snprintf(sp.created_by, sizeof sp.created_by, "root");
	sp.created_at = now - 3 * 86400;
	memset(&cp, 0, sizeof cp);
	snprintf(cp.account, sizeof cp.account, "%s", fuzz_owner);
	snprintf(cp.source, sizeof cp.source, "report");
	snprintf(cp.ref, sizeof cp.ref, "ticket \"42\"\t\\");
	snprintf(cp.created_by, sizeof cp.created_by, "root");
	cp.created_at = now - 40 * 86400;
	cp.window_end = now - 10 * 86400;
	if (store_suspension_insert(st, &sp) == -1 || store_complaint_insert(st, &cp) == -1 ||
	    store_audit_insert(st, now - 3 * 86400, "root", "suspend", fuzz_owner, fuzz_owner,
	    "spam run") == -1)
		goto fail;
	if (store_commit(st) == -1 || history_begin(fuzz_hist) == -1)
		goto fail;
	/* oldest first, as the writer appends them */
	for (int i = 49; i >= 0; i--) {
		memset(&m, 0, sizeof m);
		m.at = now - 3600 * i;
		snprintf(m.account, sizeof m.account, "%s", fuzz_owner);
		snprintf(m.mailbox, sizeof m.mailbox, "box%d@example.com", i % 3);
		snprintf(m.ctx, sizeof m.ctx, i % 4 == 0 ? "local" : "smtp");
		m.uid = i % 4 == 0 ? (long long)fuzz_owner_uid : -1;
		snprintf(m.script, sizeof m.script, i % 4 == 0 ? "/home/x/form.php" : "");
		snprintf(m.ip, sizeof m.ip, "192.0.2.%d", i % 7);
		snprintf(m.sender, sizeof m.sender, "box%d@example.com", i % 3);
		snprintf(m.rcpt, sizeof m.rcpt, "a@example.org, b@example.net");
		snprintf(m.verdict, sizeof m.verdict, i % 5 == 0 ? "REFUSE" : "PASS");
		snprintf(m.msgid, sizeof m.msgid, "1abcde-00000%d-AB", i);
		snprintf(m.source_kind, sizeof m.source_kind, i % 4 == 0 ? "script" : "mailbox");
		snprintf(m.source, sizeof m.source, i % 4 == 0 ? "/home/x/form.php" :
		    "box%d@example.com", i % 3);
		m.n_local = 1;
		m.n_external = 1;
		snprintf(m.domains, sizeof m.domains, "example.org:1");
		m.delivered = i % 2;
		if (history_message_insert(fuzz_hist, &m) == -1)
			goto fail;
	}
	if (history_commit(fuzz_hist) == -1)
		goto fail;
	return;
fail:
	fprintf(stderr, "fuzz_selfservice: seeding the store: %s %s\n", store_error(st),
	    history_error(fuzz_hist));
	exit(1);
}

/* One store and configuration for the whole run. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char conf[PATH_MAX * 2 + 256], db[PATH_MAX], hpath[PATH_MAX], templates[PATH_MAX];
	char err[1024];
	struct passwd *pw;

	(void)argc;
	(void)argv;
	log_init("fuzz_selfservice", 1, LOG_LEVEL_ERR);
	if ((pw = getpwnam("nobody")) == NULL && (pw = getpwnam("daemon")) == NULL) {
		fprintf(stderr, "fuzz_selfservice: no user nobody or daemon\n");
		exit(1);
	}
	snprintf(fuzz_owner, sizeof fuzz_owner, "%s", pw->pw_name);
	fuzz_owner_uid = pw->pw_uid;
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("fuzz_selfservice: mkdtemp");
		exit(1);
	}
	/* the shipped notices, when run from the source tree */
	if (realpath("conf/notices", templates) == NULL)
		snprintf(templates, sizeof templates, "%s/notices", fuzz_dir);
	snprintf(db, sizeof db, "%s/mailabuse.db", fuzz_dir);
	snprintf(hpath, sizeof hpath, "%s/mailabuse-history.db", fuzz_dir);
	snprintf(conf, sizeof conf,
	    "database: { path = \"%s\"; };\n"
	    "notify: { templates = \"%s\"; sendmail = \"/bin/true\"; };\n",
	    db, templates);
	if (config_load_string(conf, "fuzz.conf", &fuzz_cfg, err, sizeof err) == -1) {
		fprintf(stderr, "fuzz_selfservice: %s\n", err);
		exit(1);
	}
	if ((fuzz_st = store_open(db, 1000, err, sizeof err)) == NULL ||
	    (fuzz_hist = history_open(hpath, db, 1000, err, sizeof err)) == NULL) {
		fprintf(stderr, "fuzz_selfservice: %s\n", err);
		exit(1);
	}
	fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
	atexit(fuzz_cleanup);
	fuzz_seed(fuzz_st, clock_now());
	return 0;
}

/* One input: a peer and its request line on the user socket. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned long no_name_uid = 3999999999UL;
	struct proto_request req;
	char *line, *text = NULL, err[128], *reply, notify[ACCOUNT_NAME_MAX];
	unsigned long uid;
	enum verdict v;
	size_t len;
	int n, known;

	if (size < 1 || size > 4096)
		return 0;
	known = data[0] % 4 != 3;
	uid = data[0] % 4 == 0 ? 0 : data[0] % 4 == 1 ? fuzz_owner_uid : no_name_uid;
	len = size - 1;
	/* usersock.c: a trailing CR goes, a NUL byte is refused before parsing */
	if (len > 0 && data[len] == '\r')
		len--;
	if (memchr(data + 1, '\0', len) != NULL)
		return 0;
	if ((line = malloc(len + 1)) == NULL)
		return 0;
	memcpy(line, data + 1, len);
	line[len] = '\0';
	if (proto_request_parse(line, &req, err, sizeof err) == -1 || req.verb == PROTO_PING ||
	    req.verb == PROTO_CHECK || req.verb == PROTO_EVENT) {
		free(line);
		return 0;	/* answered by usersock.c itself, never by selfservice */
	}
	v = fuzz_request(known, uid, &req, &text, notify, sizeof notify);
	if (text == NULL)
		abort();
	switch (v) {
	case VERDICT_OK:
	case VERDICT_REFUSED:
		/* only root names another account; an owner acts for its own */
		if (uid != 0 && (!known || (req.account[0] != '\0' &&
		    strcasecmp(req.account, fuzz_owner) != 0)))
			abort();
		/* notices are due only for the account acted for */
		if (notify[0] != '\0' && uid != 0 && strcmp(notify, fuzz_owner) != 0)
			abort();
		break;
	case VERDICT_ERROR:
	case VERDICT_DEFER:
		if (notify[0] != '\0')
			abort();
		break;
	default:
		abort();
	}
	/* the reply as usersock.c sends it: one printable line */
	if ((reply = malloc(strlen(text) + 16)) == NULL)
		abort();
	if ((n = proto_reply_format(v, text, reply, strlen(text) + 16)) < 2 ||
	    reply[n - 1] != '\n' || strlen(reply) != (size_t)n)
		abort();
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)reply[i] < 0x20 || (unsigned char)reply[i] >= 0x7f)
			abort();
	if (fuzz_verbose)
		fprintf(stderr, "uid %lu%s: %s", uid, known ? "" : " (unknown)", reply);
	free(reply);
	free(text);
	free(line);
	return 0;
}

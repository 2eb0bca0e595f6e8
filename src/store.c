/*
 * The store: one SQLite file in WAL mode.  Every SQL statement of the
 * project but the message history's (history.c) is here, prepared once, bound, reset after use and finalised
 * at close.  The schema evolves by numbered migrations on
 * PRAGMA user_version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"
#include "store_view.h"

/* Migration N brings the schema from user_version N-1 to N. */
static const char *const store_migrations[] = {
	/* 1: accounts, domains, local domains, suspensions, audit, history */
	"CREATE TABLE accounts ("
	"  name TEXT PRIMARY KEY,"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  contact TEXT NOT NULL DEFAULT '',"
	"  main_domain TEXT NOT NULL DEFAULT '',"
	"  present INTEGER NOT NULL DEFAULT 1,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE domains ("
	"  domain TEXT PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('main', 'addon', 'sub'))"
	") WITHOUT ROWID;"
	"CREATE INDEX domains_account ON domains (account);"
	"CREATE TABLE local_domains (domain TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE suspensions ("
	"  id INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('account', 'mailbox')),"
	"  reason TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  lifted_at INTEGER,"
	"  lifted_by TEXT,"
	"  lift_reason TEXT"
	");"
	"CREATE UNIQUE INDEX suspensions_active ON suspensions (target) WHERE lifted_at IS NULL;"
	"CREATE INDEX suspensions_account ON suspensions (account, created_at);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  account TEXT,"
	"  target TEXT,"
	"  detail TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX audit_account ON audit (account, at);"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  account TEXT NOT NULL,"
	"  mailbox TEXT NOT NULL DEFAULT '',"
	"  ctx TEXT NOT NULL,"
	"  uid INTEGER,"
	"  script TEXT NOT NULL DEFAULT '',"
	"  ip TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  rcpt TEXT NOT NULL DEFAULT '',"
	"  verdict TEXT NOT NULL"
	");"
	"CREATE INDEX messages_account ON messages (account, at);",

	/* 2: the abuse lifecycle: complaints, counted unblocks, the notice outbox */
	"CREATE TABLE complaints ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  window_end INTEGER NOT NULL,"
	"  closed_at INTEGER,"
	"  closed_by TEXT,"
	"  close_reason TEXT"
	");"
	"CREATE INDEX complaints_account ON complaints (account, created_at);"
	"CREATE INDEX complaints_open ON complaints (window_end) WHERE closed_at IS NULL;"
	/* owner: granted unblock request; admin: counted lift; admin-nocount: not counted */
	"ALTER TABLE suspensions ADD COLUMN lift_kind TEXT"
	"  CHECK (lift_kind IN ('owner', 'admin', 'admin-nocount'));"
	"ALTER TABLE suspensions ADD COLUMN complaint_id INTEGER;"
	"ALTER TABLE suspensions ADD COLUMN eligible_notified_at INTEGER;"
	"CREATE INDEX suspensions_lifted ON suspensions (account, lifted_at)"
	"  WHERE lifted_at IS NOT NULL;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  account TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  rcpt TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  due_at INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  sent_at INTEGER,"
	"  last_error TEXT"
	");"
	"CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL;"
	"CREATE INDEX outbox_account ON outbox (account, created_at);"
	"CREATE INDEX audit_at ON audit (at);"
	"CREATE INDEX messages_at ON messages (at);",

	/* 3: what each source sent and how it went; hosts seen; per-account limits */
	"ALTER TABLE messages ADD COLUMN msgid TEXT;"
	"ALTER TABLE messages ADD COLUMN source_kind TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN source TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN n_local INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN n_external INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN domains TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN reason TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX messages_msgid ON messages (msgid) WHERE msgid IS NOT NULL;"
	"CREATE TABLE mailbox_hosts ("
	"  mailbox TEXT NOT NULL,"
	"  ip TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  PRIMARY KEY (mailbox, ip)"
	") WITHOUT ROWID;"
	"CREATE INDEX mailbox_hosts_last ON mailbox_hosts (last_seen);"
	"CREATE TABLE limits ("
	"  account TEXT NOT NULL,"
	"  detector TEXT NOT NULL,"
	"  value INTEGER NOT NULL,"
	"  action TEXT NOT NULL,"
	"  set_at INTEGER NOT NULL,"
	"  set_by TEXT NOT NULL,"
	"  PRIMARY KEY (account, detector)"
	") WITHOUT ROWID;",

	/* 4: a notice that kept failing for notify.give_up is marked failed, never retried */
	"ALTER TABLE outbox ADD COLUMN failed_at INTEGER;"
	"DROP INDEX outbox_due;"
	"CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND failed_at IS NULL;"
	"CREATE INDEX outbox_failed ON outbox (account, failed_at) WHERE failed_at IS NOT NULL;",

	/* 5: accounts keyed by cPanel's UUID (var/cpanel/users/<user>), "" unknown */
	"ALTER TABLE accounts ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX accounts_uuid ON accounts (uuid) WHERE uuid <> '';",

	/*
	 * 6: cPanel's own outgoing email state (etc/outgoing_mail_suspended_users,
	 * etc/outgoing_mail_hold_users), as sync last read it: shown, never enforced
	 */
	"CREATE TABLE cpanel_outgoing ("
	"  account TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('suspended', 'held')),"
	"  since INTEGER NOT NULL"
	") WITHOUT ROWID;",

	/*
	 * 7: the change log of what the daemon keeps in memory (view.c): every
	 * change of a domain, local domain, account, suspension or limit
	 * appends the key it touched; the newest 65,536 entries are kept
	 */
	"CREATE TABLE view_changes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  tbl INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  key2 TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE TRIGGER view_changes_prune AFTER INSERT ON view_changes"
	"  WHEN new.id % 1024 = 0 BEGIN"
	"  DELETE FROM view_changes WHERE id <= new.id - 65536; END;"
	"CREATE TRIGGER view_domains_insert AFTER INSERT ON domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, new.domain, ''); END;"
	"CREATE TRIGGER view_domains_delete AFTER DELETE ON domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, old.domain, ''); END;"
	"CREATE TRIGGER view_domains_update AFTER UPDATE ON domains"
	"  WHEN new.domain IS NOT old.domain OR new.account IS NOT old.account BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (1, old.domain, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 1, new.domain, ''"
	"   WHERE new.domain IS NOT old.domain; END;"
	"CREATE TRIGGER view_local_domains_insert AFTER INSERT ON local_domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, new.domain, ''); END;"
	"CREATE TRIGGER view_local_domains_delete AFTER DELETE ON local_domains BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, old.domain, ''); END;"
	"CREATE TRIGGER view_local_domains_update AFTER UPDATE ON local_domains"
	"  WHEN new.domain IS NOT old.domain BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (2, old.domain, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 2, new.domain, ''"
	"   WHERE new.domain IS NOT old.domain; END;"
	"CREATE TRIGGER view_accounts_insert AFTER INSERT ON accounts BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, new.name, ''); END;"
	"CREATE TRIGGER view_accounts_delete AFTER DELETE ON accounts BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, old.name, ''); END;"
	"CREATE TRIGGER view_accounts_update AFTER UPDATE ON accounts"
	"  WHEN new.name IS NOT old.name OR new.present IS NOT old.present BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (3, old.name, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 3, new.name, ''"
	"   WHERE new.name IS NOT old.name; END;"
	"CREATE TRIGGER view_suspensions_insert AFTER INSERT ON suspensions BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, new.target, new.account); END;"
	"CREATE TRIGGER view_suspensions_delete AFTER DELETE ON suspensions BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, old.target, old.account); END;"
	"CREATE TRIGGER view_suspensions_update AFTER UPDATE ON suspensions"
	"  WHEN new.target IS NOT old.target OR new.account IS NOT old.account"
	"   OR new.kind IS NOT old.kind OR new.created_at IS NOT old.created_at"
	"   OR new.lifted_at IS NOT old.lifted_at BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (4, old.target, old.account);"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 4, new.target, new.account"
	"   WHERE new.target IS NOT old.target OR new.account IS NOT old.account; END;"
	"CREATE TRIGGER view_limits_insert AFTER INSERT ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, new.account, ''); END;"
	"CREATE TRIGGER view_limits_delete AFTER DELETE ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, old.account, ''); END;"
	"CREATE TRIGGER view_limits_update AFTER UPDATE ON limits BEGIN"
	"  INSERT INTO view_changes (tbl, key, key2) VALUES (5, old.account, '');"
	"  INSERT INTO view_changes (tbl, key, key2) SELECT 5, new.account, ''"
	"   WHERE new.account IS NOT old.account; END;",

	/*
	 * 8: the message history moves to a file of its own (history.c): its
	 * tables are set aside here, and the history's first open copies them
	 * over and drops them
	 */
	"ALTER TABLE messages RENAME TO messages_v7;"
	"ALTER TABLE mailbox_hosts RENAME TO mailbox_hosts_v7;",
};
#define STORE_SCHEMA_VERSION ((int)(sizeof store_migrations / sizeof store_migrations[0]))

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_READ_BEGIN,
	S_DOMAIN_OWNER, S_ACCOUNT_EXISTS, S_SUSP_ACTIVE, S_LOCAL_DOMAIN,
	S_ACCOUNT_GET, S_ACCOUNT_LIST, S_ACCOUNT_DOMAINS,
	S_SUSP_INSERT, S_SUSP_LIFT, S_SUSP_LIST,
	S_AUDIT_INSERT, S_AUDIT_LIST,
	S_STAGE_ACCOUNT, S_STAGE_DOMAIN, S_STAGE_LOCAL,
	S_SYNC_ACC_ADDED, S_SYNC_ACC_CHANGED, S_SYNC_ACC_REMOVED,
	S_SYNC_DOM_ADDED, S_SYNC_DOM_CHANGED, S_SYNC_DOM_REMOVED,
	S_SYNC_LOC_ADDED, S_SYNC_LOC_REMOVED,
	S_SYNC_ACC_UPSERT, S_SYNC_ACC_GONE,
	S_SYNC_DOM_DELETE, S_SYNC_DOM_UPSERT,
	S_SYNC_LOC_DELETE, S_SYNC_LOC_INSERT, S_STAGE_UUID, S_SYNC_UUID_SET,
	S_SYNC_KIND_MAIN, S_SYNC_KIND_SUB,
	S_STAGE_SCOPE, S_SYNC_ACC_REMOVED_ONE, S_SYNC_DOM_REMOVED_ONE, S_SYNC_LOC_REMOVED_ONE,
	S_SYNC_ACC_GONE_ONE, S_SYNC_DOM_DELETE_ONE, S_SYNC_LOC_DELETE_ONE,
	S_LAST_UNBLOCK, S_COMPLAINT_INSERT, S_COMPLAINT_LIST, S_COMPLAINT_GET,
	S_COMPLAINT_CLOSE, S_EXPIRE_AUDIT, S_EXPIRE_CLOSE, S_SUSP_PENDING_ELIGIBLE,
	S_SUSP_SET_NOTIFIED, S_OUTBOX_INSERT, S_OUTBOX_DUE, S_OUTBOX_CLAIM, S_OUTBOX_GET,
	S_OUTBOX_SENT, S_OUTBOX_FAILED, S_OUTBOX_GIVE_UP, S_OUTBOX_FAILED_LIST, S_PURGE_AUDIT, S_PURGE_OUTBOX,
	S_PURGE_COMPLAINTS, S_PURGE_SUSPENSIONS,
	S_SUSP_FLAGS, S_LAST_AUDIT, S_SYNC_COUNTS, S_SYNC_GUARD, S_SYNC_SUSP_LOSSES, S_SYNC_SUSP_LOSSES_ONE,
	S_LIMITS_GET, S_LIMIT_SET, S_LIMIT_DELETE,
	S_OUT_STAGE, S_OUT_CHANGES, S_OUT_DELETE, S_OUT_UPSERT, S_OUT_GET,
	S_COUNT
};

#define SUSP_COLS "id, target, account, kind, reason, source, created_by, created_at," \
	" coalesce(lifted_at, 0), coalesce(lifted_by, ''), coalesce(lift_reason, '')," \
	" coalesce(lift_kind, ''), coalesce(complaint_id, 0)"
#define COMPLAINT_COLS "id, account, source, ref, created_at, created_by, window_end," \
	" coalesce(closed_at, 0), coalesce(closed_by, ''), coalesce(close_reason, '')"
/* A lift counts as the account's unblock unless an admin said --no-count. */
#define COUNTED_LIFT "kind = 'account' AND lifted_at IS NOT NULL" \
	" AND coalesce(lift_kind, 'admin') <> 'admin-nocount'"

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_READ_BEGIN] = "BEGIN",
	[S_DOMAIN_OWNER] = "SELECT account FROM domains WHERE domain = ?1",
	[S_ACCOUNT_EXISTS] = "SELECT 1 FROM accounts WHERE name = ?1 AND present = 1",
	[S_SUSP_ACTIVE] = "SELECT " SUSP_COLS " FROM suspensions"
	    " WHERE target = ?1 AND lifted_at IS NULL",
	[S_LOCAL_DOMAIN] = "SELECT 1 FROM local_domains WHERE domain = ?1",
	[S_ACCOUNT_GET] = "SELECT name, owner, contact, main_domain, present, created_at,"
	    " updated_at FROM accounts WHERE name = ?1",
	[S_ACCOUNT_LIST] = "SELECT * FROM (SELECT name, owner, contact, main_domain, present,"
	    " created_at, updated_at, EXISTS (SELECT 1 FROM suspensions s"
	    "  WHERE s.target = a.name AND s.lifted_at IS NULL) AS suspended"
	    " FROM accounts a) WHERE ?1 IS NULL"
	    " OR (?1 = 'suspended' AND suspended)"
	    " OR (?1 = 'active' AND present = 1 AND NOT suspended)"
	    " OR (?1 = 'removed' AND present = 0)"
	    " ORDER BY name",
	[S_ACCOUNT_DOMAINS] = "SELECT domain, kind FROM domains WHERE account = ?1"
	    " ORDER BY kind = 'main' DESC, domain",
	[S_SUSP_INSERT] = "INSERT INTO suspensions (target, account, kind, reason, source,"
	    " created_by, created_at, complaint_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_SUSP_LIFT] = "UPDATE suspensions SET lifted_at = ?2, lifted_by = ?3, lift_reason = ?4,"
	    " lift_kind = ?5 WHERE id = ?1 AND lifted_at IS NULL",
	[S_SUSP_LIST] = "SELECT " SUSP_COLS " FROM suspensions WHERE account = ?1"
	    " ORDER BY created_at, id",
	[S_AUDIT_INSERT] = "INSERT INTO audit (at, actor, action, account, target, detail)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_AUDIT_LIST] = "SELECT * FROM (SELECT id, at, actor, action, coalesce(account, ''),"
	    " coalesce(target, ''), detail FROM audit WHERE account = ?1"
	    " ORDER BY at DESC, id DESC LIMIT ?2) ORDER BY at, id",
	[S_LIMITS_GET] = "SELECT detector, value, action, set_at, set_by FROM limits"
	    " WHERE account = ?1 ORDER BY detector",
	[S_LIMIT_SET] = "INSERT OR REPLACE INTO limits (account, detector, value, action, set_at,"
	    " set_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_LIMIT_DELETE] = "DELETE FROM limits WHERE account = ?1 AND detector = ?2",
	[S_STAGE_ACCOUNT] = "INSERT OR REPLACE INTO temp.sync_accounts (name, owner, contact,"
	    " main_domain) VALUES (?1, ?2, ?3, ?4)",
	[S_STAGE_DOMAIN] = "INSERT OR REPLACE INTO temp.sync_domains (domain, account, kind)"
	    " VALUES (?1, ?2, ?3)",
	[S_STAGE_LOCAL] = "INSERT OR IGNORE INTO temp.sync_local (domain) VALUES (?1)",
	[S_SYNC_ACC_ADDED] = "SELECT n.name, '', n.owner FROM temp.sync_accounts n"
	    " LEFT JOIN accounts a ON a.name = n.name"
	    " WHERE a.name IS NULL OR a.present = 0 ORDER BY n.name",
	[S_SYNC_ACC_CHANGED] = "SELECT n.name,"
	    " 'owner=' || a.owner || ' contact=' || a.contact || ' main=' || a.main_domain,"
	    " 'owner=' || n.owner || ' contact=' || n.contact || ' main=' || n.main_domain"
	    " FROM temp.sync_accounts n JOIN accounts a ON a.name = n.name"
	    " WHERE a.present = 1 AND (a.owner <> n.owner OR a.contact <> n.contact"
	    "  OR a.main_domain <> n.main_domain) ORDER BY n.name",
	[S_SYNC_ACC_REMOVED] = "SELECT name, owner, '' FROM accounts WHERE present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts) ORDER BY name",
	[S_SYNC_DOM_ADDED] = "SELECT n.domain, '', n.account || ' (' || n.kind || ')'"
	    " FROM temp.sync_domains n LEFT JOIN domains d ON d.domain = n.domain"
	    " WHERE d.domain IS NULL ORDER BY n.domain",
	[S_SYNC_DOM_CHANGED] = "SELECT n.domain, d.account || ' (' || d.kind || ')',"
	    " n.account || ' (' || n.kind || ')'"
	    " FROM temp.sync_domains n JOIN domains d ON d.domain = n.domain"
	    " WHERE d.account <> n.account OR d.kind <> n.kind ORDER BY n.domain",
	[S_SYNC_DOM_REMOVED] = "SELECT domain, account || ' (' || kind || ')', '' FROM domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_domains) ORDER BY domain",
	[S_SYNC_LOC_ADDED] = "SELECT domain, '', '' FROM temp.sync_local"
	    " WHERE domain NOT IN (SELECT domain FROM local_domains) ORDER BY domain",
	[S_SYNC_LOC_REMOVED] = "SELECT domain, '', '' FROM local_domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_local) ORDER BY domain",
	[S_SYNC_ACC_UPSERT] = "INSERT INTO accounts (name, owner, contact, main_domain, present,"
	    " created_at, updated_at) SELECT name, owner, contact, main_domain, 1, ?1, ?1"
	    " FROM temp.sync_accounts WHERE true ON CONFLICT (name) DO UPDATE SET"
	    " owner = excluded.owner, contact = excluded.contact,"
	    " main_domain = excluded.main_domain, present = 1, updated_at = ?1"
	    " WHERE owner <> excluded.owner OR contact <> excluded.contact"
	    " OR main_domain <> excluded.main_domain OR present = 0",
	[S_SYNC_ACC_GONE] = "UPDATE accounts SET present = 0, updated_at = ?1 WHERE present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts)",
	[S_SYNC_DOM_DELETE] = "DELETE FROM domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_domains)",
	[S_SYNC_DOM_UPSERT] = "INSERT INTO domains (domain, account, kind)"
	    " SELECT domain, account, kind FROM temp.sync_domains WHERE true"
	    " ON CONFLICT (domain) DO UPDATE SET account = excluded.account, kind = excluded.kind"
	    " WHERE account <> excluded.account OR kind <> excluded.kind",
	[S_SYNC_LOC_DELETE] = "DELETE FROM local_domains"
	    " WHERE domain NOT IN (SELECT domain FROM temp.sync_local)",
	[S_SYNC_LOC_INSERT] = "INSERT OR IGNORE INTO local_domains (domain)"
	    " SELECT domain FROM temp.sync_local",
	/*
	 * sync --account: the same comparison on one account's slice of the
	 * store: the account, its domains, and the local domains among the
	 * domains it has or had (temp.sync_scope).
	 */
	[S_STAGE_SCOPE] = "INSERT OR IGNORE INTO temp.sync_scope (domain) VALUES (?1)",
	[S_SYNC_ACC_REMOVED_ONE] = "SELECT name, owner, '' FROM accounts WHERE name = ?2"
	    " AND present = 1 AND name NOT IN (SELECT name FROM temp.sync_accounts)",
	[S_SYNC_DOM_REMOVED_ONE] = "SELECT domain, account || ' (' || kind || ')', ''"
	    " FROM domains WHERE account = ?2"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_domains) ORDER BY domain",
	[S_SYNC_LOC_REMOVED_ONE] = "SELECT domain, '', '' FROM local_domains"
	    " WHERE domain IN (SELECT domain FROM temp.sync_scope)"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_local) ORDER BY domain",
	[S_SYNC_ACC_GONE_ONE] = "UPDATE accounts SET present = 0, updated_at = ?1"
	    " WHERE name = ?2 AND present = 1"
	    " AND name NOT IN (SELECT name FROM temp.sync_accounts)",
	[S_SYNC_DOM_DELETE_ONE] = "DELETE FROM domains WHERE account = ?2"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_domains)",
	[S_SYNC_LOC_DELETE_ONE] = "DELETE FROM local_domains"
	    " WHERE domain IN (SELECT domain FROM temp.sync_scope)"
	    " AND domain NOT IN (SELECT domain FROM temp.sync_local)",
	[S_STAGE_UUID] = "UPDATE temp.sync_accounts SET uuid = ?2 WHERE name = ?1",
	[S_SYNC_UUID_SET] = "UPDATE accounts SET uuid = n.uuid FROM temp.sync_accounts n"
	    " WHERE n.name = accounts.name AND n.uuid IS NOT NULL AND accounts.uuid <> n.uuid",
	[S_LAST_UNBLOCK] = "SELECT coalesce(max(lifted_at), 0) FROM suspensions"
	    " WHERE account = ?1 AND " COUNTED_LIFT,
	[S_COMPLAINT_INSERT] = "INSERT INTO complaints (account, source, ref, created_at,"
	    " created_by, window_end) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[S_COMPLAINT_LIST] = "SELECT " COMPLAINT_COLS " FROM complaints WHERE account = ?1"
	    " ORDER BY created_at, id",
	[S_COMPLAINT_GET] = "SELECT " COMPLAINT_COLS " FROM complaints WHERE id = ?1",
	[S_COMPLAINT_CLOSE] = "UPDATE complaints SET closed_at = ?2, closed_by = ?3,"
	    " close_reason = ?4 WHERE id = ?1 AND closed_at IS NULL",
	[S_EXPIRE_AUDIT] = "INSERT INTO audit (at, actor, action, account, target, detail)"
	    " SELECT ?1, ?2, 'complaint-ended', account, account, 'complaint #' || id"
	    " || ' (' || source || ': ' || ref || '): window ended' FROM complaints"
	    " WHERE closed_at IS NULL AND window_end <= ?1",
	[S_EXPIRE_CLOSE] = "UPDATE complaints SET closed_at = window_end, closed_by = ?2,"
	    " close_reason = 'window ended' WHERE closed_at IS NULL AND window_end <= ?1",
	[S_SUSP_PENDING_ELIGIBLE] = "SELECT " SUSP_COLS " FROM suspensions"
	    " WHERE lifted_at IS NULL AND kind = 'account' AND eligible_notified_at IS NULL"
	    " ORDER BY id",
	[S_SUSP_SET_NOTIFIED] = "UPDATE suspensions SET eligible_notified_at = ?2"
	    " WHERE id = ?1 AND eligible_notified_at IS NULL",
	[S_OUTBOX_INSERT] = "INSERT INTO outbox (account, kind, rcpt, message, created_at,"
	    " due_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
	[S_OUTBOX_DUE] = "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
	    " AND due_at <= ?1 AND (?2 IS NULL OR account = ?2) ORDER BY due_at, id LIMIT 1000",
	[S_OUTBOX_CLAIM] = "UPDATE outbox SET due_at = ?3, attempts = attempts + 1"
	    " WHERE id = ?1 AND sent_at IS NULL AND failed_at IS NULL AND due_at <= ?2",
	[S_OUTBOX_GET] = "SELECT id, account, kind, rcpt, message, attempts, created_at FROM outbox"
	    " WHERE id = ?1",
	[S_OUTBOX_SENT] = "UPDATE outbox SET sent_at = ?2, last_error = NULL WHERE id = ?1",
	[S_OUTBOX_FAILED] = "UPDATE outbox SET last_error = ?2, due_at = ?3"
	    " WHERE id = ?1 AND sent_at IS NULL",
	[S_OUTBOX_GIVE_UP] = "UPDATE outbox SET last_error = ?2, failed_at = ?3"
	    " WHERE id = ?1 AND sent_at IS NULL AND failed_at IS NULL",
	[S_OUTBOX_FAILED_LIST] = "SELECT id, account, kind, rcpt, attempts, created_at, failed_at,"
	    " coalesce(last_error, '') FROM outbox WHERE account = ?1 AND failed_at IS NOT NULL"
	    " ORDER BY failed_at, id",
	[S_PURGE_AUDIT] = "DELETE FROM audit WHERE at < ?1",
	[S_PURGE_OUTBOX] = "DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?1)"
	    " OR (failed_at IS NOT NULL AND failed_at < ?1)",
	[S_PURGE_COMPLAINTS] = "DELETE FROM complaints WHERE closed_at IS NOT NULL"
	    " AND closed_at < ?1 AND window_end < ?1",
	/* never the last counted unblock of an account: the unblock rule needs it */
	[S_PURGE_SUSPENSIONS] = "DELETE FROM suspensions WHERE lifted_at IS NOT NULL"
	    " AND lifted_at < ?1 AND id NOT IN (SELECT last FROM (SELECT (SELECT s2.id"
	    "  FROM suspensions s2 WHERE s2.account = a.account AND s2.kind = 'account'"
	    "  AND s2.lifted_at IS NOT NULL AND coalesce(s2.lift_kind, 'admin') <> 'admin-nocount'"
	    "  ORDER BY s2.lifted_at DESC, s2.id DESC LIMIT 1) AS last"
	    " FROM (SELECT DISTINCT account FROM suspensions) a) WHERE last IS NOT NULL)",
	[S_SUSP_FLAGS] = "SELECT coalesce(max(target = ?1), 0), coalesce(max(target = ?2), 0),"
	    " (SELECT coalesce(max(max(created_at, coalesce(lifted_at, 0))), 0) FROM suspensions"
	    "  WHERE account = ?1 AND kind = 'account')"
	    " FROM suspensions WHERE target IN (?1, ?2) AND lifted_at IS NULL",
	[S_LAST_AUDIT] = "SELECT coalesce(max(at), 0) FROM audit WHERE account = ?1"
	    " AND action IN (?2, ?3)",
	[S_SYNC_COUNTS] = "SELECT (SELECT count(*) FROM accounts WHERE present = 1),"
	    " (SELECT count(*) FROM accounts WHERE present = 1"
	    "  AND name NOT IN (SELECT name FROM temp.sync_accounts)),"
	    " (SELECT count(*) FROM temp.sync_accounts)",
	/* domains now, to vanish, staged; accounts with an owner, to lose it */
	[S_SYNC_GUARD] = "SELECT (SELECT count(*) FROM domains),"
	    " (SELECT count(*) FROM domains WHERE domain NOT IN (SELECT domain FROM temp.sync_domains)),"
	    " (SELECT count(*) FROM temp.sync_domains),"
	    " (SELECT count(*) FROM accounts WHERE present = 1 AND owner <> ''),"
	    " (SELECT count(*) FROM accounts a JOIN temp.sync_accounts n ON n.name = a.name"
	    "  WHERE a.present = 1 AND a.owner <> '' AND n.owner = '')",
	/* each domain a suspended account (or one with a suspended mailbox) would lose */
	[S_SYNC_SUSP_LOSSES] = "SELECT d.account, d.domain,"
	    " (SELECT count(*) FROM domains x WHERE x.account = d.account),"
	    " EXISTS (SELECT 1 FROM temp.sync_accounts n WHERE n.name = d.account)"
	    " FROM domains d WHERE d.domain NOT IN"
	    "  (SELECT domain FROM temp.sync_domains n WHERE n.account = d.account)"
	    " AND EXISTS (SELECT 1 FROM suspensions s WHERE s.account = d.account"
	    "  AND s.lifted_at IS NULL) ORDER BY d.account, d.domain",
	/* the same for one account (sync --account) */
	[S_SYNC_SUSP_LOSSES_ONE] = "SELECT d.account, d.domain,"
	    " (SELECT count(*) FROM domains x WHERE x.account = d.account),"
	    " EXISTS (SELECT 1 FROM temp.sync_accounts n WHERE n.name = d.account)"
	    " FROM domains d WHERE d.account = ?1 AND d.domain NOT IN"
	    "  (SELECT domain FROM temp.sync_domains n WHERE n.account = d.account)"
	    " AND EXISTS (SELECT 1 FROM suspensions s WHERE s.account = d.account"
	    "  AND s.lifted_at IS NULL) ORDER BY d.account, d.domain",
	/* suspended wins over held: cPanel refuses the mail before it could be queued */
	[S_OUT_STAGE] = "INSERT INTO temp.sync_outgoing (account, state) VALUES (?1, ?2)"
	    " ON CONFLICT (account) DO UPDATE SET state = 'suspended'"
	    " WHERE excluded.state = 'suspended'",
	[S_OUT_CHANGES] = "SELECT n.account, coalesce(o.state, ''), n.state"
	    " FROM temp.sync_outgoing n LEFT JOIN cpanel_outgoing o ON o.account = n.account"
	    " WHERE o.state IS NULL OR o.state <> n.state"
	    " UNION ALL SELECT account, state, '' FROM cpanel_outgoing"
	    " WHERE account NOT IN (SELECT account FROM temp.sync_outgoing) ORDER BY 1",
	[S_OUT_DELETE] = "DELETE FROM cpanel_outgoing"
	    " WHERE account NOT IN (SELECT account FROM temp.sync_outgoing)",
	[S_OUT_UPSERT] = "INSERT INTO cpanel_outgoing (account, state, since)"
	    " SELECT account, state, ?1 FROM temp.sync_outgoing WHERE true"
	    " ON CONFLICT (account) DO UPDATE SET state = excluded.state, since = excluded.since"
	    " WHERE state <> excluded.state",
	[S_OUT_GET] = "SELECT state, since FROM cpanel_outgoing WHERE account = ?1",
	[S_SYNC_KIND_MAIN] = "UPDATE temp.sync_domains SET kind = 'main' WHERE domain IN"
	    " (SELECT main_domain FROM temp.sync_accounts a WHERE a.name = sync_domains.account)",
	[S_SYNC_KIND_SUB] = "UPDATE temp.sync_domains SET kind = 'sub' WHERE kind <> 'main'"
	    " AND EXISTS (SELECT 1 FROM temp.sync_domains p WHERE p.account = sync_domains.account"
	    "  AND length(sync_domains.domain) > length(p.domain) + 1"
	    "  AND substr(sync_domains.domain, -length(p.domain) - 1) = '.' || p.domain)",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	char err[512];
	int busy;			/* the last failure was a lock held by another */
	struct timespec deadline;	/* store_time_limit: statements stop here */
	int timed_out;			/* the deadline interrupted a statement */
};

/* Remember the database's last error for store_error(). */
static int
store_fail(struct store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);

	st->busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
	snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
	return -1;
}

/* The prepared statement for id, prepared on first use. */
static sqlite3_stmt *
store_stmt(struct store *st, enum stmt_id id)
{
	if (st->stmt[id] == NULL &&
	    sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	    &st->stmt[id], NULL) != SQLITE_OK) {
		store_fail(st, "prepare");
		return NULL;
	}
	return st->stmt[id];
}

/* Bind a text parameter; NULL binds SQL NULL. */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Copy a text column into a fixed buffer. */
static void
col_text(sqlite3_stmt *s, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
}

/* Run a statement that returns no rows; 0 or -1. */
static int
store_exec_stmt(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return store_fail(st, what);
	return 0;
}

/* Run a query expected to give at most one row; 1, 0, or -1. */
static int
store_step_one(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_DONE)
		return 0;
	return store_fail(st, what);
}

/* Reset a statement after the rows of store_step_one were read. */
static void
store_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Apply the migrations the file lacks, in one transaction. */
static int
store_migrate(struct store *st)
{
	sqlite3_stmt *s;
	int version;

	/* Most opens find the schema current: check without taking the write lock. */
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK) {
		version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
		sqlite3_finalize(s);
		if (version == STORE_SCHEMA_VERSION)
			return 0;
	}
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, "begin migration");
	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	if (version < 0)
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		snprintf(st->err, sizeof st->err,
		    "database schema version %d is newer than this program's (%d)",
		    version, STORE_SCHEMA_VERSION);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	for (; version < STORE_SCHEMA_VERSION; version++) {
		char pragma[64];

		if (sqlite3_exec(st->db, store_migrations[version], NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
		if (sqlite3_exec(st->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	store_fail(st, "migration");
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * Open (creating if needed) the database, switch it to WAL and bring
 * its schema up to date.
 */
struct store *
store_open(const char *path, long long busy_timeout_ms, char *err, size_t errlen)
{
	static int configured;
	struct store *st;
	char gen_err[256];

	/*
	 * Before SQLite's first use (the first open is made before any
	 * thread starts): no memory statistics, whose global mutex every
	 * allocation would take, so that a connection on a thread of lower
	 * priority (the user socket's) never makes the policy loop wait.
	 */
	if (!configured) {
		configured = 1;
		(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	}
	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
		    st->db != NULL ? sqlite3_errmsg(st->db) : "cannot open");
		goto fail;
	}
	/* SQLite opens a file it cannot write read-only: never run like that */
	if (sqlite3_db_readonly(st->db, "main") == 1) {
		snprintf(err, errlen, "%s: cannot write it", path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, (int)busy_timeout_ms);
	if (sqlite3_exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    " PRAGMA foreign_keys = ON;", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_migrate(st) == -1) {
		snprintf(err, errlen, "%s: %s", path, st->err);
		goto fail;
	}
	/* the daemon's generation file, when there is one: commits bump it */
	(void)store_gen_attach(path, 0, gen_err, sizeof gen_err);
	return st;
fail:
	store_close(st);
	return NULL;
}

/* Finalise every statement and close. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st);
}

/* The last error, for messages. */
const char *
store_error(struct store *st)
{
	return st->err;
}


int
store_begin(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_BEGIN);

	return s == NULL ? -1 : store_exec_stmt(st, s, "begin");
}

int
store_commit(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_COMMIT);

	if (s == NULL || store_exec_stmt(st, s, "commit") == -1)
		return -1;
	/* the daemon looks at the change log before its next answer (store_view.c) */
	store_gen_bump();
	return 0;
}

/* The connection, for the view's statements (store_view.c). */
sqlite3 *
store_sqlite(struct store *st)
{
	return st->db;
}

void
store_rollback(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_ROLLBACK);

	if (s != NULL && sqlite3_get_autocommit(st->db) == 0)
		(void)store_exec_stmt(st, s, "rollback");
}

/* The account a domain is listed for (exactly that domain). */
int
store_domain_owner(struct store *st, const char *domain, char *account, size_t len)
{
	sqlite3_stmt *s = store_stmt(st, S_DOMAIN_OWNER);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, domain);
	if ((r = store_step_one(st, s, "domain lookup")) == 1) {
		col_text(s, 0, account, len);
		store_done(s);
	}
	return r;
}

/* Whether an account is known and still present in cPanel. */
int
store_account_exists(struct store *st, const char *name)
{
	sqlite3_stmt *s = store_stmt(st, S_ACCOUNT_EXISTS);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	if ((r = store_step_one(st, s, "account lookup")) == 1)
		store_done(s);
	return r;
}

/* Read one suspension row (SUSP_COLS) into sp. */
static void
store_suspension_row(sqlite3_stmt *s, struct suspension *sp)
{
	sp->id = sqlite3_column_int64(s, 0);
	col_text(s, 1, sp->target, sizeof sp->target);
	col_text(s, 2, sp->account, sizeof sp->account);
	col_text(s, 3, sp->kind, sizeof sp->kind);
	col_text(s, 4, sp->reason, sizeof sp->reason);
	col_text(s, 5, sp->source, sizeof sp->source);
	col_text(s, 6, sp->created_by, sizeof sp->created_by);
	sp->created_at = sqlite3_column_int64(s, 7);
	sp->lifted_at = sqlite3_column_int64(s, 8);
	col_text(s, 9, sp->lifted_by, sizeof sp->lifted_by);
	col_text(s, 10, sp->lift_reason, sizeof sp->lift_reason);
	col_text(s, 11, sp->lift_kind, sizeof sp->lift_kind);
	sp->complaint_id = sqlite3_column_int64(s, 12);
}

/* The active suspension of a target (account name or mailbox), if any. */
int
store_suspension_active(struct store *st, const char *target, struct suspension *sp)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_ACTIVE);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, target);
	if ((r = store_step_one(st, s, "suspension lookup")) == 1) {
		if (sp != NULL)
			store_suspension_row(s, sp);
		store_done(s);
	}
	return r;
}

/* Whether a domain is one of the server's local domains. */
int
store_local_domain(struct store *st, const char *domain)
{
	sqlite3_stmt *s = store_stmt(st, S_LOCAL_DOMAIN);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, domain);
	if ((r = store_step_one(st, s, "local domain lookup")) == 1)
		store_done(s);
	return r;
}

/* Read an account row (S_ACCOUNT_GET / S_ACCOUNT_LIST columns). */
static void
store_account_row(sqlite3_stmt *s, struct account *a)
{
	col_text(s, 0, a->name, sizeof a->name);
	col_text(s, 1, a->owner, sizeof a->owner);
	col_text(s, 2, a->contact, sizeof a->contact);
	col_text(s, 3, a->main_domain, sizeof a->main_domain);
	a->present = sqlite3_column_int(s, 4);
	a->created_at = sqlite3_column_int64(s, 5);
	a->updated_at = sqlite3_column_int64(s, 6);
}

int
store_account_get(struct store *st, const char *name, struct account *a)
{
	sqlite3_stmt *s = store_stmt(st, S_ACCOUNT_GET);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	if ((r = store_step_one(st, s, "account lookup")) == 1) {
		store_account_row(s, a);
		store_done(s);
	}
	return r;
}

/* Walk the rows of a bound statement, calling cb; stops when cb returns non-zero. */
#define STORE_WALK(st, s, what, decl, fill, call) do {			\
	int rc_;							\
	decl;								\
	while ((rc_ = sqlite3_step(s)) == SQLITE_ROW) {			\
		fill;							\
		if ((call) != 0)					\
			break;						\
	}								\
	if (rc_ != SQLITE_ROW && rc_ != SQLITE_DONE) {			\
		store_done(s);						\
		return store_fail(st, what);				\
	}								\
	store_done(s);							\
	return 0;							\
} while (0)

/* Accounts, optionally only those in state "active", "suspended" or "removed". */
int
store_account_list(struct store *st, const char *state, store_account_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_ACCOUNT_LIST);

	if (s == NULL)
		return -1;
	bind_text(s, 1, state);
	STORE_WALK(st, s, "account list", struct account a,
	    store_account_row(s, &a), cb(arg, &a, sqlite3_column_int(s, 7)));
}

/* The domains of an account, main domain first. */
int
store_account_domains(struct store *st, const char *name,
    int (*cb)(void *arg, const char *domain, const char *kind), void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_ACCOUNT_DOMAINS);

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	STORE_WALK(st, s, "domain list", (void)0, (void)0,
	    cb(arg, (const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1)));
}

/* Record a new suspension; sp->id is set. */
int
store_suspension_insert(struct store *st, struct suspension *sp)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_INSERT);

	if (s == NULL)
		return -1;
	bind_text(s, 1, sp->target);
	bind_text(s, 2, sp->account);
	bind_text(s, 3, sp->kind);
	bind_text(s, 4, sp->reason);
	bind_text(s, 5, sp->source);
	bind_text(s, 6, sp->created_by);
	sqlite3_bind_int64(s, 7, sp->created_at);
	if (sp->complaint_id > 0)
		sqlite3_bind_int64(s, 8, sp->complaint_id);
	if (store_exec_stmt(st, s, "suspension insert") == -1)
		return -1;
	sp->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* Lift an active suspension. */
int
store_suspension_lift(struct store *st, long long id, long long at,
    const char *by, const char *reason, const char *lift_kind)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_LIFT);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	bind_text(s, 3, by);
	bind_text(s, 4, reason);
	bind_text(s, 5, lift_kind);
	if (store_exec_stmt(st, s, "suspension lift") == -1)
		return -1;
	if (sqlite3_changes(st->db) != 1) {
		snprintf(st->err, sizeof st->err, "suspension %lld is not active", id);
		return -1;
	}
	return 0;
}

/* Every suspension, past and present, of an account and its mailboxes. */
int
store_suspension_list(struct store *st, const char *account, store_suspension_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_LIST);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	STORE_WALK(st, s, "suspension list", struct suspension sp,
	    store_suspension_row(s, &sp), cb(arg, &sp));
}

/* Append to the audit log (inside the caller's transaction). */
int
store_audit_insert(struct store *st, long long at, const char *actor, const char *action,
    const char *account, const char *target, const char *detail)
{
	sqlite3_stmt *s = store_stmt(st, S_AUDIT_INSERT);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, at);
	bind_text(s, 2, actor);
	bind_text(s, 3, action);
	bind_text(s, 4, account);
	bind_text(s, 5, target);
	bind_text(s, 6, detail != NULL ? detail : "");
	return store_exec_stmt(st, s, "audit insert");
}

/* The last `limit` audit entries of an account, oldest first. */
int
store_audit_list(struct store *st, const char *account, long long limit,
    store_audit_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_AUDIT_LIST);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	sqlite3_bind_int64(s, 2, limit);
	STORE_WALK(st, s, "audit list", struct audit_entry e,
	    (e.id = sqlite3_column_int64(s, 0), e.at = sqlite3_column_int64(s, 1),
	    col_text(s, 2, e.actor, sizeof e.actor), col_text(s, 3, e.action, sizeof e.action),
	    col_text(s, 4, e.account, sizeof e.account), col_text(s, 5, e.target, sizeof e.target),
	    col_text(s, 6, e.detail, sizeof e.detail)),
	    cb(arg, &e));
}

/* An account's own limits, each as (detector, value, action, when set, by whom). */
int
store_limits_get(struct store *st, const char *account,
    int (*cb)(void *arg, const char *detector, long long value, const char *action,
    long long set_at, const char *set_by), void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_LIMITS_GET);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	STORE_WALK(st, s, "limits", int dummy_, (void)(dummy_ = 0),
	    cb(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
	    (const char *)sqlite3_column_text(s, 2), sqlite3_column_int64(s, 3),
	    (const char *)sqlite3_column_text(s, 4)));
}

int
store_limit_set(struct store *st, const char *account, const char *detector, long long value,
    const char *action, long long at, const char *by)
{
	sqlite3_stmt *s = store_stmt(st, S_LIMIT_SET);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, detector);
	sqlite3_bind_int64(s, 3, value);
	bind_text(s, 4, action);
	sqlite3_bind_int64(s, 5, at);
	bind_text(s, 6, by);
	return store_exec_stmt(st, s, "limit set");
}

int
store_limit_delete(struct store *st, const char *account, const char *detector)
{
	sqlite3_stmt *s = store_stmt(st, S_LIMIT_DELETE);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, detector);
	return store_exec_stmt(st, s, "limit delete");
}

/* Create (or empty) the temporary tables sync stages cPanel's data in. */
int
store_sync_stage_begin(struct store *st)
{
	if (sqlite3_exec(st->db,
	    "CREATE TEMP TABLE IF NOT EXISTS sync_accounts (name TEXT PRIMARY KEY,"
	    " owner TEXT NOT NULL, contact TEXT NOT NULL, main_domain TEXT NOT NULL,"
	    " uuid TEXT);"	/* NULL: not known (no users file) */
	    "CREATE TEMP TABLE IF NOT EXISTS sync_domains (domain TEXT PRIMARY KEY,"
	    " account TEXT NOT NULL, kind TEXT NOT NULL);"
	    "CREATE INDEX IF NOT EXISTS temp.sync_domains_account ON sync_domains (account);"
	    "CREATE TEMP TABLE IF NOT EXISTS sync_local (domain TEXT PRIMARY KEY);"
	    "CREATE TEMP TABLE IF NOT EXISTS sync_scope (domain TEXT PRIMARY KEY);"
	    /* the renames' moves, in order, for the history file (store_history_moves) */
	    "CREATE TEMP TABLE IF NOT EXISTS history_moves (seq INTEGER PRIMARY KEY,"
	    " from_name TEXT NOT NULL, to_name TEXT NOT NULL);"
	    "DELETE FROM temp.sync_accounts; DELETE FROM temp.sync_domains;"
	    " DELETE FROM temp.sync_local; DELETE FROM temp.sync_scope;"
	    " DELETE FROM temp.history_moves;", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, "sync staging");
	return 0;
}

int
store_sync_stage_account(struct store *st, const char *name, const char *owner,
    const char *contact, const char *main_domain)
{
	sqlite3_stmt *s = store_stmt(st, S_STAGE_ACCOUNT);

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	bind_text(s, 2, owner);
	bind_text(s, 3, contact);
	bind_text(s, 4, main_domain);
	return store_exec_stmt(st, s, "sync staging");
}

int
store_sync_stage_domain(struct store *st, const char *domain, const char *account,
    const char *kind)
{
	sqlite3_stmt *s = store_stmt(st, S_STAGE_DOMAIN);

	if (s == NULL)
		return -1;
	bind_text(s, 1, domain);
	bind_text(s, 2, account);
	bind_text(s, 3, kind);
	return store_exec_stmt(st, s, "sync staging");
}

int
store_sync_stage_local(struct store *st, const char *domain)
{
	sqlite3_stmt *s = store_stmt(st, S_STAGE_LOCAL);

	if (s == NULL)
		return -1;
	bind_text(s, 1, domain);
	return store_exec_stmt(st, s, "sync staging");
}

/* The one-account form of a sync statement (the statement itself if it has none). */
static enum stmt_id
store_sync_one(enum stmt_id id)
{
	switch (id) {
	case S_SYNC_ACC_REMOVED:
		return S_SYNC_ACC_REMOVED_ONE;
	case S_SYNC_DOM_REMOVED:
		return S_SYNC_DOM_REMOVED_ONE;
	case S_SYNC_LOC_REMOVED:
		return S_SYNC_LOC_REMOVED_ONE;
	case S_SYNC_ACC_GONE:
		return S_SYNC_ACC_GONE_ONE;
	case S_SYNC_DOM_DELETE:
		return S_SYNC_DOM_DELETE_ONE;
	case S_SYNC_LOC_DELETE:
		return S_SYNC_LOC_DELETE_ONE;
	default:
		return id;
	}
}

/* sync --account: a domain of the slice compared (the account's, old or new). */
int
store_sync_stage_scope(struct store *st, const char *domain)
{
	sqlite3_stmt *s = store_stmt(st, S_STAGE_SCOPE);

	if (s == NULL)
		return -1;
	bind_text(s, 1, domain);
	return store_exec_stmt(st, s, "sync staging");
}

/* cPanel's UUID of a staged account. */
int
store_sync_stage_uuid(struct store *st, const char *name, const char *uuid)
{
	sqlite3_stmt *s = store_stmt(st, S_STAGE_UUID);

	if (s == NULL)
		return -1;
	bind_text(s, 1, name);
	bind_text(s, 2, uuid);
	return store_exec_stmt(st, s, "sync staging");
}

/* Run one rare statement with up to two text parameters and a time (not cached). */
static int
store_exec_once(struct store *st, const char *sql, const char *a, const char *b,
    long long t, const char *what)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, what);
	bind_text(s, 1, a);
	if (b != NULL)
		bind_text(s, 2, b);
	else
		sqlite3_bind_int64(s, 2, t);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return store_fail(st, what);
	return rc == SQLITE_ROW;
}

/*
 * Give an account's whole record (suspensions, complaints, unblocks,
 * limits, audit, notices; with_domains: its domains too) to another
 * name, which must be free; the move is noted for the history's file.  Rare (renames): not cached.
 */
static int
store_account_move(struct store *st, const char *from, const char *to, int with_domains)
{
	static const char *const sql[] = {
		"UPDATE accounts SET name = ?2 WHERE name = ?1",
		"UPDATE domains SET account = ?2 WHERE account = ?1",
		"UPDATE suspensions SET target = ?2 WHERE kind = 'account' AND target = ?1",
		"UPDATE suspensions SET account = ?2 WHERE account = ?1",
		"UPDATE complaints SET account = ?2 WHERE account = ?1",
		"UPDATE audit SET target = ?2 WHERE account = ?1 AND target = ?1",
		"UPDATE audit SET account = ?2 WHERE account = ?1",
		"UPDATE limits SET account = ?2 WHERE account = ?1",
		/* the history's own file follows after the commit */
		"INSERT INTO temp.history_moves (from_name, to_name) VALUES (?1, ?2)",
		"UPDATE outbox SET account = ?2 WHERE account = ?1",
	};

	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		if (i == 1 && !with_domains)
			continue;
		if (store_exec_once(st, sql[i], from, to, 0, "account move") == -1)
			return -1;
	}
	return 0;
}

/* A free name for the record of an account whose name was reused: "bob.removed-<time>". */
static int
store_archive_name(struct store *st, const char *name, long long now, char *buf, size_t len)
{
	for (int i = 0; i < 100; i++) {
		int r;

		if (i == 0)
			snprintf(buf, len, "%.32s.removed-%lld", name, now);
		else
			snprintf(buf, len, "%.32s.removed-%lld-%d", name, now, i);
		r = store_exec_once(st, "SELECT 1 FROM accounts WHERE name = ?1 AND ?2 IS NOT NULL",
		    buf, "", 0, "account lookup");
		if (r != 1)
			return r;
	}
	snprintf(st->err, sizeof st->err, "no free name to keep the record of %s", name);
	return -1;
}

struct store_rename {
	char from[64], to[64], uuid[128];
};

/* Read the rows of a rare query of one to three text columns into an array. */
static int
store_renames_read(struct store *st, const char *sql, struct store_rename **out, size_t *n)
{
	struct store_rename *r = NULL, *tmp;
	size_t cap = 0;
	sqlite3_stmt *s;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, "sync renames");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			if ((tmp = realloc(r, cap * sizeof *r)) == NULL)
				break;
			r = tmp;
		}
		memset(&r[*n], 0, sizeof r[0]);
		for (int c = 0; c < sqlite3_column_count(s) && c < 3; c++) {
			const char *v = (const char *)sqlite3_column_text(s, c);
			char *dst = c == 0 ? r[*n].from : c == 1 ? r[*n].to : r[*n].uuid;
			size_t len = c == 2 ? sizeof r[0].uuid : sizeof r[0].from;

			snprintf(dst, len, "%s", v != NULL ? v : "");
		}
		(*n)++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(r);
		return rc == SQLITE_ROW ? -1 : store_fail(st, "sync renames");
	}
	*out = r;
	return 0;
}

/*
 * Before sync compares names: follow cPanel's UUIDs.  An account staged
 * under a new name with the UUID of a stored one was renamed: its
 * record moves to the new name (SYNC_ACCOUNT_RENAMED: name the new one,
 * old_value the old, new_value the UUID).  A staged name whose stored
 * holder had another UUID (or the staged one has none while it had one)
 * and whose UUID is gone is a new account: the old record is kept under
 * "name.removed-<time>", marked removed, and the name starts clean
 * (SYNC_ACCOUNT_REUSED: old_value the kept name).  So is a stored name
 * without a UUID that a renamed account now takes.  Call inside the
 * sync's transaction, after staging.
 */
int
store_sync_renames(struct store *st, long long now, store_sync_cb cb, void *arg)
{
	/*
	 * CROSS JOIN: the staged accounts drive (one for sync --account),
	 * each looked up in accounts by name or by accounts_uuid (whose
	 * WHERE uuid <> '' the query repeats), never a scan of accounts.
	 */
	static const char reused_sql[] =
	    "SELECT a.name FROM temp.sync_accounts n CROSS JOIN accounts a ON a.name = n.name"
	    " WHERE n.uuid IS NOT NULL AND a.uuid <> n.uuid AND"
	    " ((a.uuid <> '' AND NOT EXISTS (SELECT 1 FROM temp.sync_accounts m"
	    "   WHERE m.uuid = a.uuid))"
	    "  OR (a.uuid = '' AND EXISTS (SELECT 1 FROM accounts b"
	    "   WHERE b.uuid = n.uuid AND b.uuid <> '' AND b.name <> n.name)))"
	    " ORDER BY n.name";
	static const char renames_sql[] =
	    "SELECT a.name, n.name, n.uuid FROM temp.sync_accounts n"
	    " CROSS JOIN accounts a ON a.uuid = n.uuid"
	    " WHERE n.uuid <> '' AND a.uuid <> '' AND a.name <> n.name ORDER BY n.name";
	struct store_rename *rn = NULL, *reused = NULL;
	size_t n = 0, nreused = 0, done = 0;
	char keep[64];
	int r = -1, x;

	if (store_renames_read(st, reused_sql, &reused, &nreused) == -1 ||
	    store_renames_read(st, renames_sql, &rn, &n) == -1)
		goto out;
	/* the old holders of reused names keep their record under another name */
	for (size_t i = 0; i < nreused; i++) {
		if (store_archive_name(st, reused[i].from, now, keep, sizeof keep) == -1 ||
		    store_account_move(st, reused[i].from, keep, 0) == -1 ||
		    store_exec_once(st, "UPDATE accounts SET present = 0, updated_at = ?2"
		    " WHERE name = ?1", keep, NULL, now, "account move") == -1)
			goto out;
		for (size_t j = 0; j < n; j++)
			if (strcmp(rn[j].from, reused[i].from) == 0)
				snprintf(rn[j].from, sizeof rn[j].from, "%s", keep);
		if (cb(arg, SYNC_ACCOUNT_REUSED, reused[i].from, keep, "") != 0)
			goto out;
	}
	/* renames, each once its new name is free; a cycle goes through a spare name */
	while (done < n) {
		int progress = 0;

		for (size_t i = 0; i < n; i++) {
			if (rn[i].from[0] == '\0')
				continue;
			x = store_exec_once(st, "SELECT 1 FROM accounts WHERE name = ?1 AND"
			    " ?2 IS NOT NULL", rn[i].to, "", 0, "account lookup");
			if (x == -1)
				goto out;
			if (x == 1)
				continue;
			if (store_account_move(st, rn[i].from, rn[i].to, 1) == -1 ||
			    cb(arg, SYNC_ACCOUNT_RENAMED, rn[i].to, rn[i].from, rn[i].uuid) != 0)
				goto out;
			rn[i].from[0] = '\0';
			done++;
			progress = 1;
		}
		if (progress)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (rn[i].from[0] == '\0')
				continue;
			if (store_archive_name(st, rn[i].from, now, keep, sizeof keep) == -1 ||
			    store_account_move(st, rn[i].from, keep, 1) == -1)
				goto out;
			snprintf(rn[i].from, sizeof rn[i].from, "%s", keep);
			break;
		}
	}
	r = 0;
out:
	free(rn);
	free(reused);
	return r;
}

/* The account moves of the last sync's renames, in order, for the history file; -1 if cb fails. */
int
store_history_moves(struct store *st, int (*cb)(void *arg, const char *from,
    const char *to), void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT from_name, to_name FROM temp.history_moves"
	    " ORDER BY seq", -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, "history moves");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (cb(arg, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1)) != 0)
			break;
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return -1;
	if (rc != SQLITE_DONE)
		return store_fail(st, "history moves");
	return 0;
}

/* Report the rows of one of the S_SYNC_* comparison queries. */
static int
store_sync_report(struct store *st, enum stmt_id id, enum sync_change what,
    const char *account, store_sync_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, id);

	if (s == NULL)
		return -1;
	if (account != NULL)
		bind_text(s, 2, account);
	STORE_WALK(st, s, "sync compare", int r = 0,
	    r = cb(arg, what, (const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), (const char *)sqlite3_column_text(s, 2)),
	    r);
}

/*
 * Compare the staged data with the store, report each difference
 * through cb, then apply them.  Call inside a transaction.  With an
 * account, only that account's slice of the store is compared: what
 * the staged data does not name elsewhere is left alone.
 */
int
store_sync_apply(struct store *st, long long now, const char *account,
    store_sync_cb cb, void *arg)
{
	static const struct { enum stmt_id id; enum sync_change what; } reports[] = {
		{ S_SYNC_ACC_ADDED, SYNC_ACCOUNT_ADDED },
		{ S_SYNC_ACC_CHANGED, SYNC_ACCOUNT_CHANGED },
		{ S_SYNC_ACC_REMOVED, SYNC_ACCOUNT_REMOVED },
		{ S_SYNC_DOM_ADDED, SYNC_DOMAIN_ADDED },
		{ S_SYNC_DOM_CHANGED, SYNC_DOMAIN_CHANGED },
		{ S_SYNC_DOM_REMOVED, SYNC_DOMAIN_REMOVED },
		{ S_SYNC_LOC_ADDED, SYNC_LOCAL_ADDED },
		{ S_SYNC_LOC_REMOVED, SYNC_LOCAL_REMOVED },
	};
	static const enum stmt_id kinds[] = { S_SYNC_KIND_MAIN, S_SYNC_KIND_SUB };
	static const enum stmt_id applies[] = {
		S_SYNC_ACC_UPSERT, S_SYNC_ACC_GONE, S_SYNC_DOM_DELETE, S_SYNC_DOM_UPSERT,
		S_SYNC_LOC_DELETE, S_SYNC_LOC_INSERT, S_SYNC_UUID_SET,
	};

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		sqlite3_stmt *s = store_stmt(st, kinds[i]);

		if (s == NULL || store_exec_stmt(st, s, "sync domain kinds") == -1)
			return -1;
	}
	for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++)
		if (store_sync_report(st, account != NULL ? store_sync_one(reports[i].id) :
		    reports[i].id, reports[i].what, account, cb, arg) == -1)
			return -1;
	for (size_t i = 0; i < sizeof applies / sizeof applies[0]; i++) {
		enum stmt_id id = account != NULL ? store_sync_one(applies[i]) : applies[i];
		sqlite3_stmt *s = store_stmt(st, id);

		if (s == NULL)
			return -1;
		if (applies[i] == S_SYNC_ACC_UPSERT || applies[i] == S_SYNC_ACC_GONE)
			sqlite3_bind_int64(s, 1, now);
		if (id != applies[i])
			bind_text(s, 2, account);
		if (store_exec_stmt(st, s, "sync apply") == -1)
			return -1;
	}
	return 0;
}

/* When the account's last counted unblock was granted (0: never). */
int
store_last_unblock(struct store *st, const char *account, long long *at)
{
	sqlite3_stmt *s = store_stmt(st, S_LAST_UNBLOCK);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	if ((r = store_step_one(st, s, "last unblock")) == 1) {
		*at = sqlite3_column_int64(s, 0);
		store_done(s);
	}
	return r == -1 ? -1 : 0;
}

/* Read one complaint row (COMPLAINT_COLS). */
static void
store_complaint_row(sqlite3_stmt *s, struct complaint *c)
{
	c->id = sqlite3_column_int64(s, 0);
	col_text(s, 1, c->account, sizeof c->account);
	col_text(s, 2, c->source, sizeof c->source);
	col_text(s, 3, c->ref, sizeof c->ref);
	c->created_at = sqlite3_column_int64(s, 4);
	col_text(s, 5, c->created_by, sizeof c->created_by);
	c->window_end = sqlite3_column_int64(s, 6);
	c->closed_at = sqlite3_column_int64(s, 7);
	col_text(s, 8, c->closed_by, sizeof c->closed_by);
	col_text(s, 9, c->close_reason, sizeof c->close_reason);
}

/* Record a complaint; c->id is set. */
int
store_complaint_insert(struct store *st, struct complaint *c)
{
	sqlite3_stmt *s = store_stmt(st, S_COMPLAINT_INSERT);

	if (s == NULL)
		return -1;
	bind_text(s, 1, c->account);
	bind_text(s, 2, c->source);
	bind_text(s, 3, c->ref);
	sqlite3_bind_int64(s, 4, c->created_at);
	bind_text(s, 5, c->created_by);
	sqlite3_bind_int64(s, 6, c->window_end);
	if (store_exec_stmt(st, s, "complaint insert") == -1)
		return -1;
	c->id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

/* Every complaint of an account, oldest first. */
int
store_complaint_list(struct store *st, const char *account, store_complaint_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_COMPLAINT_LIST);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	STORE_WALK(st, s, "complaint list", struct complaint c,
	    store_complaint_row(s, &c), cb(arg, &c));
}

int
store_complaint_get(struct store *st, long long id, struct complaint *c)
{
	sqlite3_stmt *s = store_stmt(st, S_COMPLAINT_GET);
	int r;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if ((r = store_step_one(st, s, "complaint lookup")) == 1) {
		store_complaint_row(s, c);
		store_done(s);
	}
	return r;
}

/* Close a complaint's window early. */
int
store_complaint_close(struct store *st, long long id, long long at, const char *by,
    const char *reason)
{
	sqlite3_stmt *s = store_stmt(st, S_COMPLAINT_CLOSE);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	bind_text(s, 3, by);
	bind_text(s, 4, reason);
	if (store_exec_stmt(st, s, "complaint close") == -1)
		return -1;
	return sqlite3_changes(st->db) == 1 ? 0 : 1;
}

/* Close (and audit) every complaint window that has ended by now; *n counts them. */
int
store_complaints_expire(struct store *st, long long now, const char *actor, long long *n)
{
	sqlite3_stmt *a = store_stmt(st, S_EXPIRE_AUDIT), *c = store_stmt(st, S_EXPIRE_CLOSE);

	if (a == NULL || c == NULL)
		return -1;
	sqlite3_bind_int64(a, 1, now);
	bind_text(a, 2, actor);
	if (store_exec_stmt(st, a, "expire audit") == -1)
		return -1;
	sqlite3_bind_int64(c, 1, now);
	bind_text(c, 2, actor);
	if (store_exec_stmt(st, c, "expire close") == -1)
		return -1;
	*n = sqlite3_changes(st->db);
	return 0;
}

/* Active account suspensions whose owner has not been told of eligibility yet. */
int
store_suspension_pending_eligible(struct store *st, store_suspension_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_PENDING_ELIGIBLE);

	if (s == NULL)
		return -1;
	STORE_WALK(st, s, "pending eligible", struct suspension sp,
	    store_suspension_row(s, &sp), cb(arg, &sp));
}

/* Mark the eligibility notice of a suspension as queued; 1 if another run did. */
int
store_suspension_set_notified(struct store *st, long long id, long long at)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_SET_NOTIFIED);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	if (store_exec_stmt(st, s, "set notified") == -1)
		return -1;
	return sqlite3_changes(st->db) == 1 ? 0 : 1;
}

/* Queue a notice (inside the transaction of the change it tells about). */
int
store_outbox_insert(struct store *st, const char *account, const char *kind,
    const char *rcpt, const char *message, long long now)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_INSERT);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, kind);
	bind_text(s, 3, rcpt);
	bind_text(s, 4, message);
	sqlite3_bind_int64(s, 5, now);
	return store_exec_stmt(st, s, "outbox insert");
}

/* Ids of notices due now (of one account, or all when account is NULL). */
int
store_outbox_due(struct store *st, long long now, const char *account,
    long long *ids, size_t max, size_t *n)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_DUE);

	*n = 0;
	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	bind_text(s, 2, account);
	STORE_WALK(st, s, "outbox due", (void)0,
	    (void)0, (*n < max ? (ids[(*n)++] = sqlite3_column_int64(s, 0), 0) : 1));
}

/*
 * Take a due notice for sending: it is not due again before lease_until,
 * so that a concurrent run leaves it alone.  1 taken, 0 taken by another.
 */
int
store_outbox_claim(struct store *st, long long id, long long now, long long lease_until,
    struct notice *nt)
{
	sqlite3_stmt *c = store_stmt(st, S_OUTBOX_CLAIM), *g = store_stmt(st, S_OUTBOX_GET);
	int r;

	if (c == NULL || g == NULL)
		return -1;
	sqlite3_bind_int64(c, 1, id);
	sqlite3_bind_int64(c, 2, now);
	sqlite3_bind_int64(c, 3, lease_until);
	if (store_exec_stmt(st, c, "outbox claim") == -1)
		return -1;
	if (sqlite3_changes(st->db) != 1)
		return 0;
	sqlite3_bind_int64(g, 1, id);
	if ((r = store_step_one(st, g, "outbox get")) != 1)
		return r;
	nt->id = sqlite3_column_int64(g, 0);
	col_text(g, 1, nt->account, sizeof nt->account);
	col_text(g, 2, nt->kind, sizeof nt->kind);
	col_text(g, 3, nt->rcpt, sizeof nt->rcpt);
	nt->message = strdup((const char *)sqlite3_column_text(g, 4));
	nt->attempts = sqlite3_column_int(g, 5);
	nt->created_at = sqlite3_column_int64(g, 6);
	store_done(g);
	if (nt->message == NULL) {
		snprintf(st->err, sizeof st->err, "out of memory");
		return -1;
	}
	return 1;
}

int
store_outbox_sent(struct store *st, long long id, long long at)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_SENT);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, at);
	return store_exec_stmt(st, s, "outbox sent");
}

int
store_outbox_failed(struct store *st, long long id, const char *error, long long retry_at)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_FAILED);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, error);
	sqlite3_bind_int64(s, 3, retry_at);
	return store_exec_stmt(st, s, "outbox failed");
}

/* Give up on a notice: marked failed at `at`, never retried.  1 done, 0 not pending. */
int
store_outbox_give_up(struct store *st, long long id, const char *error, long long at)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_GIVE_UP);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, error);
	sqlite3_bind_int64(s, 3, at);
	if (store_exec_stmt(st, s, "outbox give up") == -1)
		return -1;
	return sqlite3_changes(st->db) == 1;
}

/* The notices of an account that were given up (message left NULL). */
int
store_outbox_failed_list(struct store *st, const char *account, store_notice_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_OUTBOX_FAILED_LIST);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	STORE_WALK(st, s, "outbox failed list", struct notice nt,
	    (memset(&nt, 0, sizeof nt), nt.id = sqlite3_column_int64(s, 0),
	    col_text(s, 1, nt.account, sizeof nt.account),
	    col_text(s, 2, nt.kind, sizeof nt.kind), col_text(s, 3, nt.rcpt, sizeof nt.rcpt),
	    nt.attempts = sqlite3_column_int(s, 4), nt.created_at = sqlite3_column_int64(s, 5),
	    nt.failed_at = sqlite3_column_int64(s, 6),
	    col_text(s, 7, nt.error, sizeof nt.error)), cb(arg, &nt));
}

/* Delete the records older than retention.records (history.c purges its own); *n rows. */
int
store_purge(struct store *st, long long records_before, long long *n)
{
	static const enum stmt_id ids[] = {
		S_PURGE_AUDIT, S_PURGE_OUTBOX, S_PURGE_COMPLAINTS, S_PURGE_SUSPENSIONS,
	};

	*n = 0;
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		sqlite3_stmt *s = store_stmt(st, ids[i]);

		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, records_before);
		if (store_exec_stmt(st, s, "purge") == -1)
			return -1;
		*n += sqlite3_changes(st->db);
	}
	return 0;
}

/*
 * Which of an account and one of its mailboxes have an active suspension,
 * and when the account's suspension last began or ended (hot path).
 */
int
store_suspension_flags(struct store *st, const char *account, const char *mailbox,
    int *account_suspended, int *mailbox_suspended, long long *last_change)
{
	sqlite3_stmt *s = store_stmt(st, S_SUSP_FLAGS);
	int r;

	*account_suspended = *mailbox_suspended = 0;
	*last_change = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, mailbox != NULL && mailbox[0] != '\0' ? mailbox : NULL);
	if ((r = store_step_one(st, s, "suspension lookup")) == 1) {
		*account_suspended = sqlite3_column_int(s, 0);
		*mailbox_suspended = sqlite3_column_int(s, 1);
		*last_change = sqlite3_column_int64(s, 2);
		store_done(s);
	}
	return r == -1 ? -1 : 0;
}

/* When an account last had an audit entry of one of two actions (0: never). */
int
store_last_audit(struct store *st, const char *account, const char *action1,
    const char *action2, long long *at)
{
	sqlite3_stmt *s = store_stmt(st, S_LAST_AUDIT);
	int r;

	*at = 0;
	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, action1);
	bind_text(s, 3, action2);
	if ((r = store_step_one(st, s, "audit lookup")) == 1) {
		*at = sqlite3_column_int64(s, 0);
		store_done(s);
	}
	return r == -1 ? -1 : 0;
}

/* Accounts present now, those the staged data would remove, and those staged. */
int
store_sync_counts(struct store *st, long long *present, long long *removed, long long *staged)
{
	sqlite3_stmt *s = store_stmt(st, S_SYNC_COUNTS);
	int r;

	if (s == NULL)
		return -1;
	if ((r = store_step_one(st, s, "sync counts")) == 1) {
		*present = sqlite3_column_int64(s, 0);
		*removed = sqlite3_column_int64(s, 1);
		*staged = sqlite3_column_int64(s, 2);
		store_done(s);
	}
	return r == 1 ? 0 : -1;
}

/* What sync's truncation guard weighs, from the staged data against the store. */
int
store_sync_guard(struct store *st, struct sync_guard *g)
{
	sqlite3_stmt *s = store_stmt(st, S_SYNC_GUARD);
	int r;

	if (s == NULL)
		return -1;
	if ((r = store_step_one(st, s, "sync guard")) == 1) {
		g->domains = sqlite3_column_int64(s, 0);
		g->domains_removed = sqlite3_column_int64(s, 1);
		g->domains_staged = sqlite3_column_int64(s, 2);
		g->owned = sqlite3_column_int64(s, 3);
		g->owners_lost = sqlite3_column_int64(s, 4);
		store_done(s);
	}
	return r == 1 ? 0 : -1;
}

/* Each domain that an account with a suspension in force would lose. */
int
store_sync_suspended_losses(struct store *st, const char *account, store_loss_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, account != NULL ? S_SYNC_SUSP_LOSSES_ONE :
	    S_SYNC_SUSP_LOSSES);

	if (s == NULL)
		return -1;
	if (account != NULL)
		bind_text(s, 1, account);
	STORE_WALK(st, s, "sync suspended losses", (void)0, (void)0,
	    cb(arg, (const char *)sqlite3_column_text(s, 0),
	    (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2),
	    sqlite3_column_int(s, 3)));
}

/* Create (or empty) the table sync stages cPanel's outgoing email state in. */
int
store_outgoing_stage_begin(struct store *st)
{
	if (sqlite3_exec(st->db,
	    "CREATE TEMP TABLE IF NOT EXISTS sync_outgoing (account TEXT PRIMARY KEY,"
	    " state TEXT NOT NULL);"
	    "DELETE FROM temp.sync_outgoing;", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, "sync staging");
	return 0;
}

/* An account cPanel lists as "suspended" or "held"; suspended wins. */
int
store_outgoing_stage(struct store *st, const char *account, const char *state)
{
	sqlite3_stmt *s = store_stmt(st, S_OUT_STAGE);

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	bind_text(s, 2, state);
	return store_exec_stmt(st, s, "sync staging");
}

/*
 * Report each account whose cPanel outgoing state changed through cb
 * (old and new: "suspended", "held" or ""), then store the staged
 * state, with since = now for the changed ones.  Inside a transaction.
 */
int
store_outgoing_apply(struct store *st, long long now, store_outgoing_cb cb, void *arg)
{
	sqlite3_stmt *s = store_stmt(st, S_OUT_CHANGES);
	int r = 0, rc = SQLITE_DONE;

	if (s == NULL)
		return -1;
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
		r = cb(arg, (const char *)sqlite3_column_text(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (const char *)sqlite3_column_text(s, 2));
	if (r == 0 && rc != SQLITE_DONE) {
		store_done(s);
		return store_fail(st, "sync compare");
	}
	store_done(s);
	if (r != 0)
		return -1;
	if ((s = store_stmt(st, S_OUT_DELETE)) == NULL ||
	    store_exec_stmt(st, s, "sync apply") == -1 ||
	    (s = store_stmt(st, S_OUT_UPSERT)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	return store_exec_stmt(st, s, "sync apply");
}

/* cPanel's outgoing state of an account as sync last saw it; 1, 0 (none) or -1. */
int
store_outgoing_get(struct store *st, const char *account, char *state, size_t len,
    long long *since)
{
	sqlite3_stmt *s = store_stmt(st, S_OUT_GET);
	int r;

	if (s == NULL)
		return -1;
	bind_text(s, 1, account);
	if ((r = store_step_one(st, s, "cpanel outgoing")) != 1)
		return r;
	col_text(s, 0, state, len);
	*since = sqlite3_column_int64(s, 1);
	store_done(s);
	return 1;
}

/* Whether the last failure was another connection holding the lock. */
int
store_busy(struct store *st)
{
	return st->busy;
}

/* Commits with a sync of their own (full) or at checkpoints only (WAL, normal). */
int
store_set_synchronous(struct store *st, int full)
{
	if (sqlite3_exec(st->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st, "synchronous");
	return 0;
}

/*
 * One read transaction around the lookups of one decision: one snapshot
 * and one WAL read lock, instead of one for every statement.  Never
 * waits: a deferred BEGIN takes no lock until the first read.
 */
int
store_read_begin(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_READ_BEGIN);

	if (s == NULL)
		return -1;
	return store_exec_stmt(st, s, "begin");
}

void
store_read_end(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_COMMIT);

	if (s != NULL && store_exec_stmt(st, s, "end of read") == -1)
		store_rollback(st);
}

/*
 * Export and import of one account's record (mailabusectl export and
 * import).  The rows go out as JSON objects, one member a column, so
 * that the columns later migrations add travel without a change here;
 * on import a member that names no column of this server's schema is
 * an error, never a silently dropped value.
 */
static const char *const store_record_tables[] = {
	"suspensions", "complaints", "limits", "audit",	/* the history: history.c */
};

/* Whether table is one an account's record is exported from. */
static int
store_record_table(const char *table)
{
	for (size_t i = 0; i < sizeof store_record_tables / sizeof store_record_tables[0]; i++)
		if (strcmp(table, store_record_tables[i]) == 0)
			return 1;
	return 0;
}

/* The rows of table that belong to account, as a JSON array of objects; NULL on error. */
json_t *
store_record_rows(struct store *st, const char *table, const char *account)
{
	char sql[256];
	sqlite3_stmt *s;
	json_t *rows;
	int rc;

	if (!store_record_table(table)) {
		snprintf(st->err, sizeof st->err, "%s: not a table of the record", table);
		return NULL;
	}
	snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE account = ?1 ORDER BY 1, 2", table);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st, "export");
		return NULL;
	}
	bind_text(s, 1, account);
	if ((rows = json_array()) == NULL) {
		sqlite3_finalize(s);
		return NULL;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *row = json_object();

		for (int i = 0; row != NULL && i < sqlite3_column_count(s); i++) {
			json_t *v;

			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(s, i));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(s, i));
				break;
			case SQLITE_NULL:
				v = json_null();
				break;
			default:
				v = json_string((const char *)sqlite3_column_text(s, i));
				break;
			}
			json_object_set_new(row, sqlite3_column_name(s, i), v);
		}
		if (row == NULL || json_array_append_new(rows, row) == -1) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		store_fail(st, "export");
		sqlite3_finalize(s);
		json_decref(rows);
		return NULL;
	}
	sqlite3_finalize(s);
	return rows;
}

/*
 * Insert one exported row into table, without its "id"; *id gets the
 * new row's id.  With dedup, a row equal in every column to one already
 * there is not inserted again (*id is then 0).
 */
int
store_record_row_insert(struct store *st, const char *table, json_t *row, int dedup,
    long long *id)
{
	char *sql = NULL, *cols = NULL, *vals = NULL, *cond = NULL;
	size_t sqllen, colslen, valslen, condlen;
	FILE *fs, *fc, *fv, *fd;
	const char *key;
	sqlite3_stmt *s = NULL;
	json_t *v;
	int n = 0, r = -1;

	*id = 0;
	if (!store_record_table(table) || !json_is_object(row)) {
		snprintf(st->err, sizeof st->err, "%s: not a row of the record", table);
		return -1;
	}
	fc = open_memstream(&cols, &colslen);
	fv = open_memstream(&vals, &valslen);
	fd = open_memstream(&cond, &condlen);
	if (fc == NULL || fv == NULL || fd == NULL) {
		snprintf(st->err, sizeof st->err, "import: out of memory");
		goto out;
	}
	json_object_foreach(row, key, v) {
		if (strcmp(key, "id") == 0)
			continue;
		if (sqlite3_table_column_metadata(st->db, "main", table, key, NULL, NULL, NULL,
		    NULL, NULL) != SQLITE_OK) {
			snprintf(st->err, sizeof st->err, "%s: no column \"%.64s\" in this database",
			    table, key);
			goto out;
		}
		n++;
		fprintf(fc, "%s\"%s\"", n > 1 ? ", " : "", key);
		fprintf(fv, "%s?%d", n > 1 ? ", " : "", n);
		fprintf(fd, "%s\"%s\" IS ?%d", n > 1 ? " AND " : "", key, n);
	}
	fclose(fc);
	fclose(fv);
	fclose(fd);
	fc = fv = fd = NULL;
	if (n == 0) {
		snprintf(st->err, sizeof st->err, "%s: an empty row", table);
		goto out;
	}
	if ((fs = open_memstream(&sql, &sqllen)) == NULL)
		goto out;
	if (dedup)
		fprintf(fs, "INSERT INTO %s (%s) SELECT %s WHERE NOT EXISTS"
		    " (SELECT 1 FROM %s WHERE %s)", table, cols, vals, table, cond);
	else
		fprintf(fs, "INSERT INTO %s (%s) VALUES (%s)", table, cols, vals);
	fclose(fs);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st, "import");
		goto out;
	}
	n = 0;
	json_object_foreach(row, key, v) {
		if (strcmp(key, "id") == 0)
			continue;
		n++;
		if (json_is_integer(v))
			sqlite3_bind_int64(s, n, json_integer_value(v));
		else if (json_is_real(v))
			sqlite3_bind_double(s, n, json_real_value(v));
		else if (json_is_string(v))
			sqlite3_bind_text(s, n, json_string_value(v), -1, SQLITE_TRANSIENT);
		else if (json_is_null(v))
			sqlite3_bind_null(s, n);
		else {
			snprintf(st->err, sizeof st->err, "%s: column \"%.64s\" is not a value",
			    table, key);
			goto out;
		}
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_fail(st, "import");
		goto out;
	}
	if (sqlite3_changes(st->db) > 0)
		*id = sqlite3_last_insert_rowid(st->db);
	r = 0;
out:
	if (fc != NULL)
		fclose(fc);
	if (fv != NULL)
		fclose(fv);
	if (fd != NULL)
		fclose(fd);
	sqlite3_finalize(s);
	free(sql);
	free(cols);
	free(vals);
	free(cond);
	return r;
}

/* Delete an account's suspensions, complaints and limits (import --force). */
int
store_record_delete(struct store *st, const char *account)
{
	static const char *const sql[] = {
		"DELETE FROM suspensions WHERE account = ?1",
		"DELETE FROM complaints WHERE account = ?1",
		"DELETE FROM limits WHERE account = ?1",
	};

	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *s;

		if (sqlite3_prepare_v2(st->db, sql[i], -1, &s, NULL) != SQLITE_OK)
			return store_fail(st, "import");
		bind_text(s, 1, account);
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_fail(st, "import");
			sqlite3_finalize(s);
			return -1;
		}
		sqlite3_finalize(s);
	}
	return 0;
}

/*
 * An imported account not yet in this server's cPanel data: its row,
 * not present, so that the next sync adds it; nothing if it exists.
 */
int
store_account_import(struct store *st, const struct account *a, long long now)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "INSERT OR IGNORE INTO accounts (name, owner, contact,"
	    " main_domain, present, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
	    -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, "import");
	bind_text(s, 1, a->name);
	bind_text(s, 2, a->owner);
	bind_text(s, 3, a->contact);
	bind_text(s, 4, a->main_domain);
	sqlite3_bind_int64(s, 5, a->created_at);
	sqlite3_bind_int64(s, 6, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return store_fail(st, "import");
	return 0;
}

/* Progress handler: interrupt the statement once the deadline has passed. */
static int
store_deadline_cb(void *arg)
{
	struct store *st = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < st->deadline.tv_sec || (now.tv_sec == st->deadline.tv_sec &&
	    now.tv_nsec < st->deadline.tv_nsec))
		return 0;
	st->timed_out = 1;
	return 1;
}

/*
 * Bound the time of the statements to come: those still running ms
 * milliseconds from now fail, and store_timed_out says so until the next
 * bound is set; 0 lifts the bound.
 */
void
store_time_limit(struct store *st, long long ms)
{
	if (ms <= 0) {
		/* store_timed_out still tells about the bound just lifted */
		sqlite3_progress_handler(st->db, 0, NULL, NULL);
		return;
	}
	st->timed_out = 0;
	clock_gettime(CLOCK_MONOTONIC, &st->deadline);
	st->deadline.tv_sec += (time_t)(ms / 1000);
	st->deadline.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (st->deadline.tv_nsec >= 1000000000L) {
		st->deadline.tv_sec++;
		st->deadline.tv_nsec -= 1000000000L;
	}
	sqlite3_progress_handler(st->db, 10000, store_deadline_cb, st);
}

/* Whether the last store_time_limit bound interrupted a statement. */
int
store_timed_out(struct store *st)
{
	return st->timed_out;
}

#!/usr/bin/env bash
# mailabusectl and the configuration: sync from cPanel's files, suspend and
# unsuspend, status/list/history with --json, exit statuses, audit.
. "$(dirname "$0")/lib.sh"
t_init

# Configuration checking.
expect_status "mailabused -n accepts the test configuration" 0 \
    "$BUILD/mailabused" -n -c "$T/mailabused.conf"
expect_eq "and says so" "configuration OK" "$(cat "$T/last.out")"
expect_status "the shipped conf/mailabused.conf is valid" 0 \
    "$BUILD/mailabused" -n -c "$TOP/conf/mailabused.conf"
cp "$T/mailabused.conf" "$T/typo.conf"
sed -i 's/allow_local_delivery/allow_local_delivry/' "$T/typo.conf"
line=$(grep -n allow_local_delivry "$T/typo.conf" | cut -d: -f1)
expect_status "a misspelt key is an error (EX_CONFIG)" 78 "$BUILD/mailabused" -n -c "$T/typo.conf"
expect_eq "it names file:line and the key" \
    "mailabused: $T/typo.conf:$line: unknown setting 'policy.allow_local_delivry'" "$(cat "$T/last.err")"
cp "$T/mailabused.conf" "$T/dur.conf"
sed -i 's/read_timeout = "1s"/read_timeout = "1 week"/' "$T/dur.conf"
expect_status "a bad duration is an error" 78 "$BUILD/mailabused" -n -c "$T/dur.conf"
expect_match "it names file:line" 'dur\.conf:[0-9]+: policy_socket\.read_timeout: invalid duration' \
    "$(cat "$T/last.err")"
expect_status "mailabusectl refuses a bad configuration too" 78 \
    "$BUILD/mailabusectl" -c "$T/typo.conf" list
printf 'policy: { allow_local_delivery = true\n' >"$T/syntax.conf"
expect_status "a syntax error is an error" 78 "$BUILD/mailabused" -n -c "$T/syntax.conf"
expect_match "with its line" 'syntax\.conf:[0-9]+: ' "$(cat "$T/last.err")"

# sync
expect_status "sync" 0 ctl sync
out=$(cat "$T/last.out")
expect_match "sync prints added accounts with their owner" '^\+ account bob \(owner reseller1\)' "$out"
expect_match "sync prints domains with their kind" '\+ domain shop-bob\.net -> bob \(addon\)' "$out"
expect_match "a listed subdomain is of kind sub" '\+ domain blog\.example\.com -> bob \(sub\)' "$out"
expect_match "the *: nobody line is no account" '^sync: 13 changes$' "$out"
expect_status "sync again" 0 ctl sync
expect_eq "sync is idempotent" "sync: no changes" "$(cat "$T/last.out")"
ctl status bob --json >"$T/bob.json"
expect_eq "the contact address comes from var/cpanel/users" bob.owner@contact.test \
    "$(jq -r .contact "$T/bob.json")"
expect_eq "the owner from trueuserowners" reseller1 "$(jq -r .owner "$T/bob.json")"
expect_eq "status --json lists the domains" "example.com:main blog.example.com:sub shop-bob.net:addon" \
    "$(jq -r '[.domains[] | .domain + ":" + .kind] | join(" ")' "$T/bob.json")"

# A malformed line is a warning with file:line; the rest imports.
printf 'this line is broken\ndave.test: dave\n' >>"$T/cpanel/etc/userdomains"
printf 'dave: root\n' >>"$T/cpanel/etc/trueuserowners"
expect_status "sync with a malformed line still succeeds" 0 ctl sync
expect_match "the warning names file:line" \
    "warning: $T/cpanel/etc/userdomains:7: expected \"domain: user\"" "$(cat "$T/last.err")"
expect_match "the lines after it are imported" '\+ account dave' "$(cat "$T/last.out")"

# suspend / unsuspend and exit statuses
expect_status "suspend without --reason is a usage error" 64 ctl suspend bob
expect_status "an unknown command is a usage error" 64 ctl frobnicate
expect_status "suspend of an unknown account: EX_NOINPUT" 66 ctl suspend nosuch --reason x
expect_status "suspend of a mailbox of an unknown domain: EX_NOINPUT" 66 \
    ctl suspend a@unknown.test --reason x
expect_status "a mailbox with an empty local part is refused" 64 ctl suspend @example.com --reason x
expect_status "a mailbox with a space is refused" 64 ctl suspend 'a b@example.com' --reason x
expect_status "a mailbox is stored in the daemon's normal form" 0 \
    ctl suspend 'Info@Example.COM.' --reason "stolen password"
expect_eq "lower case, no trailing dot" "info@example.com" \
    "$(ctl status bob --json | jq -r '.mailboxes_suspended[0].mailbox')"
check "unsuspend it by another spelling" ctl unsuspend INFO@example.com --reason done
expect_status "suspend carol" 0 ctl suspend carol --reason "FBL report 123" --source fbl
expect_status "suspending twice is refused by policy (1)" 1 ctl suspend carol --reason again
expect_match "and says since when" 'carol is already suspended since 20[0-9-]+T' "$(cat "$T/last.err")"
expect_status "unsuspend of an active account is refused (1)" 1 ctl unsuspend alice --reason x
expect_status "status of an unknown account: EX_NOINPUT" 66 ctl status nosuch
ctl status carol --json >"$T/carol.json"
expect_eq "status --json: state" suspended "$(jq -r .state "$T/carol.json")"
expect_eq "status --json: reason" "FBL report 123" "$(jq -r .reason "$T/carol.json")"
expect_eq "status --json: source" fbl "$(jq -r .source "$T/carol.json")"
expect_match "status --json: since" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$(jq -r .since "$T/carol.json")"
expect_match "status (text) shows the reason" 'reason: +FBL report 123' "$(ctl status carol)"
expect_eq "list --state suspended" carol "$(ctl list --state suspended --json | jq -r '.[].account')"
expect_eq "list --state active" "alice bob dave" \
    "$(ctl list --state active --json | jq -r '[.[].account] | join(" ")')"
expect_status "list --state with a bad state: usage" 64 ctl list --state sleepy

# Empty (truncated) cPanel files do not remove every account.
cp "$T/cpanel/etc/userdomains" "$T/ud.save"; cp "$T/cpanel/etc/trueuserowners" "$T/to.save"
: >"$T/cpanel/etc/userdomains"; : >"$T/cpanel/etc/trueuserowners"
expect_status "sync refuses to remove every account (EX_DATAERR)" 65 ctl sync
expect_match "and says why" 'refusing to mark 4 of 4 accounts removed' "$(cat "$T/last.err")"
expect_eq "nothing was removed" suspended "$(ctl status carol --json | jq -r .state)"
cp "$T/ud.save" "$T/cpanel/etc/userdomains"; cp "$T/to.save" "$T/cpanel/etc/trueuserowners"

# An account that disappears from cPanel keeps its history.
sed -i '/carol/d' "$T/cpanel/etc/userdomains" "$T/cpanel/etc/trueuserowners"
expect_status "sync after carol left cPanel" 0 ctl sync
expect_match "sync says carol is gone" '^- account carol \(gone from cPanel; history kept\)' \
    "$(cat "$T/last.out")"
expect_eq "carol is still listed as suspended" suspended "$(ctl status carol --json | jq -r .state)"
expect_eq "carol is no longer in cPanel" false "$(ctl status carol --json | jq -r .in_cpanel)"
expect_status "unsuspend carol" 0 ctl unsuspend carol --reason "left the server"
expect_eq "after unsuspend a removed account is removed" removed \
    "$(ctl status carol --json | jq -r .state)"
ctl history carol --json >"$T/hist.json"
expect_eq "the audit log keeps every change, in order" \
    "account-added suspend account-removed unsuspend" \
    "$(jq -r '[.changes[].action] | join(" ")' "$T/hist.json")"
expect_eq "the audit log says who" root "$(jq -r '.changes[1].actor' "$T/hist.json")"
expect_eq "the audit log says why" "FBL report 123" "$(jq -r '.changes[1].detail' "$T/hist.json")"
expect_eq "sudo is recorded" "root (sudo by alice)" \
    "$(SUDO_USER=alice ctl suspend dave --reason x >/dev/null; ctl history dave --json | jq -r '.changes[-1].actor')"

# --actor: root records whom it acts for (the WHM page's user); limits --reason.
expect_status "root acts for a named user" 0 ctl --actor desk.user suspend carol --reason "for the desk"
expect_eq "the audit names that user" "desk.user (via root)" \
    "$(ctl history carol --json | jq -r '[.changes[] | select(.action == "suspend")][-1].actor')"
expect_status "an --actor that is not a user name is a usage error" 64 ctl --actor 'a b;c' status carol
expect_match "saying so" "--actor: 'a b;c' is not a user name" "$(cat "$T/last.err")"
expect_status "only root may use --actor" 77 setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$BUILD/mailabusectl" -c "$T/mailabused.conf" --actor someone status
expect_status "limits with a reason" 0 ctl --actor desk.user limits carol account_rcpts=300 --reason "asked <nicely>"
expect_eq "the reason follows the change in the audit" "desk.user (via root)|account_rcpts = 300/hold (was 2000/hold): asked <nicely>" \
    "$(ctl history carol --json | jq -r '[.changes[] | select(.action == "limits")][-1] | "\(.actor)|\(.detail)"')"
expect_status "an empty reason is a usage error" 64 ctl limits carol account_rcpts=300 --reason ""
check "unsuspend carol" ctl unsuspend carol --reason "done"

# The database is unavailable: EX_UNAVAILABLE, and nothing crashes.
sed "s|path = \"$DB\"|path = \"$T/no/such/dir/db\"|" "$T/mailabused.conf" >"$T/nodb.conf"
expect_status "an unreachable database: EX_UNAVAILABLE" 69 \
    "$BUILD/mailabusectl" -c "$T/nodb.conf" status bob
expect_match "with the reason" 'cannot open database' "$(cat "$T/last.err")"

# The store: WAL and a numbered schema.
expect_eq "the database is in WAL mode" wal "$(sqlite3 "$DB" 'PRAGMA journal_mode')"
expect_eq "the schema version is recorded" 8 "$(sqlite3 "$DB" 'PRAGMA user_version')"
sqlite3 "$DB" 'PRAGMA user_version = 99'
expect_status "a newer schema is refused" 69 ctl list
expect_match "saying so" 'schema version 99 is newer' "$(cat "$T/last.err")"

t_finish

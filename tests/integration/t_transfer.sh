#!/usr/bin/env bash
# mailabusectl export and import: an account exported in the middle of a
# complaint window and imported into another server's database gives the
# same unblock answer there at every boundary of the 90-day rule (time
# moved by faketime); import is idempotent, refuses to overwrite a
# different record without --force, is audited, and renames with --as.
. "$(dirname "$0")/lib.sh"
t_init

# A second server: its own database and cPanel data, the same accounts.
mkdir -p "$T/b"
cp -r "$T/cpanel" "$T/b/cpanel"
sed -e "s|$DB|$T/b/db/mailabuse.db|" -e "s|root = \"$T/cpanel\"|root = \"$T/b/cpanel\"|" \
    "$T/mailabused.conf" >"$T/b/mailabused.conf"

at() {
    local when=$1 conf=$2; shift 2
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0 TZ=UTC \
        FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$when" \
        "$BUILD/mailabusectl" -c "$conf" "$@"
}
A=$T/mailabused.conf
B=$T/b/mailabused.conf
# answer SERVER WHEN: the unblock answer of bob's status there and then
answer() { at "$2" "$1" status bob --json | jq -r '"\(.state) \(.unblock) \(.unblock_from)"'; }

check "sync on server A" at "2027-01-01 00:00:00" "$A" sync
check "sync on server B" at "2027-01-01 00:00:00" "$B" sync

# On A: an unblock granted on day 0 (the 90 days run from it), then a
# complaint that suspends bob again on day 10, its window until day 40.
check "A: suspend bob" at "2027-01-01 12:00:00" "$A" suspend bob --reason "first run"
check "A: owner's unblock granted" at "2027-01-01 12:00:00" "$A" unsuspend bob --reason "cleaned"
check "A: complaint and suspension" at "2027-01-11 12:00:00" "$A" \
    complaint add bob --ref "<spam@remote.test>" --source fbl --suspend
check "A: limits of its own" at "2027-01-11 12:00:00" "$A" limits bob account_messages=50
at "2027-01-12 00:00:00" "$A" history bob >/dev/null 2>&1

# Exported mid-window (day 20).
expect_status "export" 0 at "2027-01-21 00:00:00" "$A" export bob --output "$T/bob.json"
expect_eq "export says where it wrote" "exported bob to $T/bob.json" "$(cat "$T/last.out")"
expect_eq "the file is versioned" "mailabuse-account 1" "$(jq -r '"\(.format) \(.version)"' "$T/bob.json")"
expect_eq "it says when it was made" "2027-01-21T00:00:00Z" "$(jq -r .exported_at_text "$T/bob.json")"
expect_eq "with the state then" "suspended" "$(jq -r .status.state "$T/bob.json")"
expect_eq "suspensions with their original times" "2" "$(jq '.record.suspensions | length' "$T/bob.json")"
expect_eq "the complaint with its window" \
    "$(TZ=UTC date -d '2027-02-10 12:00:00' +%s)" "$(jq '.record.complaints[0].window_end' "$T/bob.json")"
expect_eq "limits" "account_messages 50" \
    "$(jq -r '.record.limits[0] | "\(.detector) \(.value)"' "$T/bob.json")"
expect_match "the audit" "suspend unsuspend complaint suspend" "$(jq -r '[.record.audit[].action] | join(" ")' "$T/bob.json")"
expect_eq "no message history without --with-history" "null" "$(jq -c .record.messages "$T/bob.json")"
expect_status "export of an unknown account" 66 at "2027-01-21 00:00:00" "$A" export nosuch

# Imported on B (day 21).
expect_status "import on B" 0 at "2027-01-22 00:00:00" "$B" import "$T/bob.json"
expect_match "it says what and from where" \
    "^imported bob from $T/bob.json \(exported at 2027-01-21T00:00:00Z on [^)]*\): [0-9]+ rows$" \
    "$(cat "$T/last.out")"
expect_eq "the import is audited: who, when, why" \
    "import root imported from $T/bob.json, exported at 2027-01-21T00:00:00Z on $(hostname)" \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT action, actor, detail FROM audit WHERE action = 'import'" | tr '|' ' ')"
expect_status "importing the same file again" 0 at "2027-01-22 00:00:01" "$B" import "$T/bob.json" --json
expect_eq "changes nothing" "false 0" "$(jq -r '"\(.changed) \(.rows)"' "$T/last.out")"
expect_eq "and audits nothing more" 1 \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT count(*) FROM audit WHERE action = 'import'")"
expect_eq "B's audit has A's entries with their times" \
    "$(sqlite3 "$DB" "SELECT at, action FROM audit WHERE account = 'bob' ORDER BY at, id")" \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT at, action FROM audit WHERE account = 'bob' AND action <> 'import' ORDER BY at, id")"

# The same unblock answer on both servers at every boundary.
for when in "2027-02-10 11:59:59" "2027-02-10 12:00:00" "2027-04-01 11:59:59" "2027-04-01 12:00:00" \
    "2027-04-01 12:00:01"; do
    a=$(answer "$A" "$when")
    expect_eq "at $when B answers as A ($a)" "$a" "$(answer "$B" "$when")"
done
expect_eq "within the window B waits for the 90 days from A's unblock" \
    "suspended wait 2027-04-01T12:00:00Z" "$(answer "$B" "2027-02-10 11:59:59")"
expect_eq "at the window's end too (a reset record would say eligible)" \
    "suspended wait 2027-04-01T12:00:00Z" "$(answer "$B" "2027-02-10 12:00:00")"
expect_status "B: unblock one second before the 90 days: refused" 1 \
    at "2027-04-01 11:59:59" "$B" unblock bob
expect_status "B: unblock at the 90 days: granted" 0 at "2027-04-01 12:00:00" "$B" unblock bob
expect_status "A: unblock one second before the 90 days: refused" 1 \
    at "2027-04-01 11:59:59" "$A" unblock bob
expect_status "A: unblock at the 90 days: granted" 0 at "2027-04-01 12:00:00" "$A" unblock bob

# An account never unblocked: the window's end decides, on both servers.
check "A: complaint on alice" at "2027-03-01 00:00:00" "$A" complaint add alice --ref r2 --suspend
expect_status "export alice mid-window" 0 at "2027-03-10 00:00:00" "$A" export alice --output "$T/alice1.json"
expect_status "import alice on B" 0 at "2027-03-11 00:00:00" "$B" import "$T/alice1.json"
for when in "2027-03-30 23:59:59" "2027-03-31 00:00:00"; do
    a=$(at "$when" "$A" status alice --json | jq -r '"\(.unblock) \(.unblock_from)"')
    expect_eq "alice at $when: B answers as A ($a)" "$a" \
        "$(at "$when" "$B" status alice --json | jq -r '"\(.unblock) \(.unblock_from)"')"
done
expect_status "B: alice's unblock a second before the window's end: refused" 1 \
    at "2027-03-30 23:59:59" "$B" unblock alice
expect_status "B: at its end: granted" 0 at "2027-03-31 00:00:00" "$B" unblock alice
rm -f "$T/alice1.json"
sqlite3 "$T/b/db/mailabuse.db" "DELETE FROM suspensions WHERE account = 'alice'; DELETE FROM complaints WHERE account = 'alice';"
sqlite3 "$DB" "DELETE FROM suspensions WHERE account = 'alice'; DELETE FROM complaints WHERE account = 'alice';"

# A different record is not overwritten without --force.
expect_status "import over a different record: refused (exit 1)" 1 \
    at "2027-04-02 00:00:00" "$B" import "$T/bob.json"
expect_match "saying why" "already has a different record here; use --force" "$(cat "$T/last.err")"
expect_status "with --force it replaces it" 0 at "2027-04-02 00:00:00" "$B" import "$T/bob.json" --force
expect_match "and says so" "the record here was replaced" "$(cat "$T/last.out")"
expect_eq "bob is suspended again on B, as in the file" "suspended" \
    "$(at "2027-04-02 00:00:00" "$B" status bob --json | jq -r .state)"

# --as: the record under another name.
expect_status "import --as carol" 0 at "2027-01-22 00:00:00" "$B" import "$T/bob.json" --as carol
expect_eq "carol has bob's record" "suspended wait 2027-04-01T12:00:00Z" \
    "$(at "2027-01-22 00:00:00" "$B" status carol --json | jq -r '"\(.state) \(.unblock) \(.unblock_from)"')"
expect_match "the audit names the exporting account" "as account bob" \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT detail FROM audit WHERE action = 'import' AND account = 'carol'")"
expect_eq "carol's suspension targets carol" "carol" \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT target FROM suspensions WHERE account = 'carol' AND lifted_at IS NULL")"

# History moves only on request.
ctl sync >/dev/null
check "daemon starts (A)" daemon_start
q CHECK ctx=smtp auth=info@alice.org sender=info@alice.org rcpt=x@remote.test ip=192.0.2.7 >/dev/null
q CHECK ctx=data auth=info@alice.org sender=info@alice.org rcpt=x@remote.test ip=192.0.2.7 msgid=1abc-000001-AB >/dev/null
wait_until 5 sh -c "[ \$(sqlite3 '$HDB' \"SELECT count(*) FROM messages WHERE account = 'alice'\") -gt 0 ]"
n=$(sqlite3 "$HDB" "SELECT count(*) FROM messages WHERE account = 'alice'")
expect_status "export --with-history" 0 ctl export alice --with-history --output "$T/alice.json"
expect_eq "the file has the messages" "$n" "$(jq '.record.messages | length' "$T/alice.json")"
expect_status "import without --with-history" 0 "$BUILD/mailabusectl" -c "$B" import "$T/alice.json" --json
expect_eq "moves no messages" "0" "$("$BUILD/mailabusectl" -c "$B" history alice --since 30d --json --messages | jq '.messages | length')"
expect_status "import --with-history" 0 "$BUILD/mailabusectl" -c "$B" import "$T/alice.json" --with-history --json
expect_eq "moves them" "$n" "$(sqlite3 "$T/b/db/mailabuse-history.db" "SELECT count(*) FROM messages WHERE account = 'alice'")"
expect_eq "and says how many" "$n" "$(jq .history_rows "$T/last.out")"

# Bad files.
echo '{"format": "something-else"}' >"$T/bad.json"
expect_status "a file that is not an export" 65 ctl import "$T/bad.json"
jq '.version = 99' "$T/bob.json" >"$T/v99.json"
expect_status "a newer format version" 65 ctl import "$T/v99.json"
expect_match "says which" "format version 99" "$(cat "$T/last.err")"
jq '.record.limits[0].nosuchcolumn = 1' "$T/bob.json" >"$T/col.json"
expect_status "a column this database lacks" 69 "$BUILD/mailabusectl" -c "$B" import "$T/col.json" --as alice
expect_eq "leaves nothing behind" 0 \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT count(*) FROM suspensions WHERE account = 'alice'")"

t_finish

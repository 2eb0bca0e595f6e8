#!/usr/bin/env bash
# cPanel's own outgoing email suspension (etc/outgoing_mail_suspended_users,
# etc/outgoing_mail_hold_users): sync reads it, audits and prints each
# change, status shows it beside mailabuse's own state, which it leaves alone.
. "$(dirname "$0")/lib.sh"
t_init
SUSP=$T/cpanel/etc/outgoing_mail_suspended_users
HOLD=$T/cpanel/etc/outgoing_mail_hold_users

expect_status "sync without cPanel's outgoing files" 0 ctl sync
expect_eq "absent files mean nobody" null "$(ctl status bob --json | jq -c .cpanel_outgoing)"
expect_match "status says cPanel holds nothing" \
    '^cpanel: +outgoing email not suspended or held in cPanel$' "$(ctl status bob)"

printf 'bob\n# a comment\n\ncarol: x\n' >"$SUSP"
printf 'alice:\ncarol\nnot a user\n' >"$HOLD"
expect_status "sync reads both files" 0 ctl sync
out=$(cat "$T/last.out")
expect_match "it prints bob suspended in cPanel" '^~ cpanel-outgoing bob: none -> suspended$' "$out"
expect_match "and alice held" '^~ cpanel-outgoing alice: none -> held$' "$out"
expect_match "in both files, suspended wins" '^~ cpanel-outgoing carol: none -> suspended$' "$out"
expect_match "three changes" '^sync: 3 changes$' "$out"
expect_match "a malformed line warns with file:line" \
    "^mailabusectl: warning: $HOLD:3: expected one user name$" "$(cat "$T/last.err")"

ctl status bob --json >"$T/bob.json"
expect_eq "status --json shows cPanel's state beside mailabuse's" '["active","suspended"]' \
    "$(jq -c '[.state, .cpanel_outgoing]' "$T/bob.json")"
expect_match "with since when" '^"[0-9]{4}-' "$(jq -c .cpanel_outgoing_since "$T/bob.json")"
expect_eq "alice is held" '"held"' "$(ctl status alice --json | jq -c .cpanel_outgoing)"
expect_eq "carol is suspended" '"suspended"' "$(ctl status carol --json | jq -c .cpanel_outgoing)"
text=$(ctl status bob)
expect_match "status text: mailabuse's state" '^state: +active$' "$text"
expect_match "status text: cPanel's state beside it" \
    '^cpanel: +outgoing email suspended in cPanel since [0-9]{4}-' "$text"
expect_status "sync again" 0 ctl sync
expect_eq "is idempotent" "sync: no changes" "$(cat "$T/last.out")"

expect_eq "list --json shows it too" '"alice:active:held bob:active:suspended carol:active:suspended"' \
    "$(ctl list --json | jq -c '[.[] | "\(.account):\(.state):\(.cpanel_outgoing)"] | join(" ")')"
expect_match "list's CPANEL column" '^bob +active +suspended +reseller1 ' "$(ctl list)"

# mailabuse does not enforce cPanel's state: cPanel's Exim does
check "daemon starts" daemon_start
expect_eq "the daemon lets bob's mail pass: cPanel's Exim stops it, not mailabuse" PASS \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=x@remote.test)"

# mailabuse's own suspension is a separate state
check "mailabuse suspends bob too" ctl suspend bob --reason "spam run"
expect_eq "status shows both" '["suspended","suspended"]' \
    "$(ctl status bob --json | jq -c '[.state, .cpanel_outgoing]')"
check "mailabuse lifts its own" ctl unsuspend bob --reason "fixed" --no-count
expect_eq "cPanel's stays, to be lifted in cPanel" '["active","suspended"]' \
    "$(ctl status bob --json | jq -c '[.state, .cpanel_outgoing]')"

expect_match "the daemon refuses now, for mailabuse's own suspension" '^REFUSE' \
    "$(ctl suspend bob --reason again >/dev/null; q CHECK ctx=smtp auth=info@example.com \
        sender=info@example.com rcpt=x@remote.test)"
check "lifted again" ctl unsuspend bob --reason "fixed" --no-count

# the owner sees cPanel's state through the user socket
if [ "$(id -u)" = 0 ]; then
    id mabowner >/dev/null 2>&1 || useradd -M -N -r -u 4912 -s /usr/sbin/nologin mabowner \
        2>/dev/null || id mabowner >/dev/null 2>&1
    printf 'mabowner: root\n' >>"$T/cpanel/etc/trueuserowners"
    printf 'owner-site.test: mabowner\n' >>"$T/cpanel/etc/userdomains"
    printf 'mabowner\n' >>"$HOLD"
    check "sync with the owner's account held in cPanel" ctl sync
    expect_eq "the owner's status --json says held" '["mabowner","active","held"]' \
        "$(setpriv --reuid=mabowner --regid=nogroup --clear-groups "$BUILD/mailabusectl" \
            -c "$T/mailabused.conf" status --json | jq -c '[.account, .state, .cpanel_outgoing]')"
    sed -i '/^mabowner$/d' "$HOLD"
    check "sync after cPanel released it" ctl sync
fi

# cPanel lifts bob's suspension
printf 'carol\n' >"$SUSP"
expect_status "sync --json after cPanel lifted bob's" 0 ctl sync --json
expect_eq "the change, old and new" '[{"change":"cpanel-outgoing","name":"bob","old":"suspended","new":null}]' \
    "$(jq -c '[.changes[] | select(.change == "cpanel-outgoing")]' "$T/last.out")"
expect_eq "bob is no longer in cPanel's list" null "$(ctl status bob --json | jq -c .cpanel_outgoing)"
ctl history bob --json >"$T/hist.json"
expect_eq "both changes are audited, in order" \
    '["none -> suspended","suspended -> none"]' \
    "$(jq -c '[.changes[] | select(.action == "cpanel-outgoing") | .detail | capture("email: (?<c>[a-z]+ -> [a-z]+)").c]' "$T/hist.json")"
expect_eq "by whom" root \
    "$(jq -r '[.changes[] | select(.action == "cpanel-outgoing")][-1].actor' "$T/hist.json")"

# from held to suspended, then the files removed: nobody
printf 'carol\nalice\n' >"$SUSP"
expect_status "sync: alice from held to suspended" 0 ctl sync
expect_match "prints it" '^~ cpanel-outgoing alice: held -> suspended$' "$(cat "$T/last.out")"
rm -f "$SUSP" "$HOLD"
expect_status "sync with the files gone" 0 ctl sync
expect_eq "clears every cPanel state" '2' \
    "$(grep -c -- '-> none$' "$T/last.out")"
expect_eq "nobody is left" 'null null null' \
    "$(for u in alice bob carol; do ctl status $u --json | jq -c .cpanel_outgoing; done | xargs)"

# a file that is there but cannot be read is an error, not "nobody"
mkdir "$SUSP"
expect_status "a file that cannot be read fails the sync" 74 ctl sync
rmdir "$SUSP"

t_finish

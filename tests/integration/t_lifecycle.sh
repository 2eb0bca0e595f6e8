#!/usr/bin/env bash
# The abuse lifecycle through the real CLI, daemon and Exim, with time
# moved by Debian's faketime (the product has no time back door):
# complaint and suspension, a refused early unblock, a granted unblock
# once the window has ended, a second suspension 10 days later refused at
# day 60 and granted at day 90; the owner's notices; cron expiry.
. "$(dirname "$0")/lib.sh"
t_init
EXIM_LOCAL_DOMAINS="example.com shop-bob.net blog.example.com alice.org carol.net"
exim_conf_make "$SOCK" "$T/exim" >/dev/null || { fail "exim test configuration"; t_finish; exit; }
remote=someone@remote.test

# ctl_at "YYYY-MM-DD HH:MM:SS" ARGS...: mailabusectl with the clock stopped at
# that (UTC) time, however slowly it runs (a sanitizer build is slow to start)
ctl_at() {
    local when=$1; shift
    # libfaketime is preloaded: ASan must not insist on coming first, and
    # LeakSanitizer cannot stop the world under it (leaks are checked by
    # the same commands without faketime in the other tests)
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0 TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$when" \
        "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"
}
mails() { ls "$T/mail" | grep -c '\.eml$'; }
mail_n() { cat "$T/mail/$1.eml"; }

printf 'dave.test: dave\n' >>"$T/cpanel/etc/userdomains"
printf 'dave: root\n' >>"$T/cpanel/etc/trueuserowners"
check "sync" ctl sync
check "daemon starts" daemon_start

# Day 0: a validated complaint suspends bob.
expect_status "complaint add --suspend" 0 \
    ctl_at "2027-01-01 12:00:00" complaint add bob --ref "<spam-1@remote.test>" --source fbl --suspend
expect_match "it records the complaint and its window" \
    'complaint #1 recorded for bob \(fbl: <spam-1@remote.test>\); window until 2027-01-31T12:00:00Z' \
    "$(cat "$T/last.out")"
expect_match "and suspends the account" '^suspended account bob: complaint #1 \(fbl\)' "$(cat "$T/last.out")"
expect_eq "Exim refuses bob's mail" 550 "$(smtp_submit info@example.com info@example.com $remote)"
expect_eq "the owner is told, once" 1 "$(mails)"
expect_match "the notice goes to the contact address" '^To: bob\.owner@contact\.test$' "$(mail_n 1)"
expect_match "it says what is suspended" '^Subject: Outgoing mail of bob is suspended$' "$(mail_n 1)"
expect_match "with the reason" 'because of: complaint #1 \(fbl\): <spam-1@remote.test>' "$(mail_n 1)"
expect_match "and where to look" 'mailabusectl history' "$(mail_n 1)"
expect_match "it is marked auto-generated" '^Auto-Submitted: auto-generated$' "$(mail_n 1)"
# notify.sendmail runs as root: the real Exim takes the notice, although
# bob is suspended and the notice's envelope names nobody but root.
"$EXIM" -C "$EXIM_CONF" -odq -oep -oi -t <"$T/mail/1.eml" >"$T/notice.out" 2>&1
expect_eq "mailabuse's own policy never blocks the notice in Exim" "0 queued" \
    "$?$(grep -q 'bob.owner@contact.test' <("$EXIM" -C "$EXIM_CONF" -bp) && echo ' queued')"

# Day 0 + 1h: too early.
expect_status "an early unblock request is refused (exit 1)" 1 ctl_at "2027-01-01 13:00:00" unblock bob
expect_eq "with the exact reason and date" \
    "unblock refused: a complaint window is open until 2027-01-31T12:00:00Z; an unblock request can succeed from 2027-01-31T12:00:00Z" \
    "$(cat "$T/last.out")"
expect_eq "the refusal is mailed too" 2 "$(mails)"
expect_match "with the date from which it can succeed" 'can succeed from: 2027-01-31T12:00:00Z' "$(mail_n 2)"
expect_eq "bob is still refused by Exim" 550 "$(smtp_submit info@example.com info@example.com $remote)"

ctl_at "2027-01-10 00:00:00" status bob --json >"$T/s.json"
expect_eq "status: suspended" suspended "$(jq -r .state "$T/s.json")"
expect_eq "status: since" 2027-01-01T12:00:00Z "$(jq -r .since "$T/s.json")"
expect_eq "status: why" "complaint #1 (fbl): <spam-1@remote.test>" "$(jq -r .reason "$T/s.json")"
expect_eq "status: each complaint with its window end" "1 fbl 2027-01-31T12:00:00Z true" \
    "$(jq -r '.complaints[] | "\(.id) \(.source) \(.window_end) \(.window_open)"' "$T/s.json")"
expect_eq "status: no unblock yet" null "$(jq -r .last_unblock "$T/s.json")"
expect_eq "status: an unblock request would wait" "wait 2027-01-31T12:00:00Z" \
    "$(jq -r '"\(.unblock) \(.unblock_from)"' "$T/s.json")"

expect_status "one second before the window ends: refused" 1 \
    ctl_at "2027-01-31 11:59:59" unblock bob

# Day 30: cron closes the window and tells the owner.
expect_status "expire at the window's end" 0 ctl_at "2027-01-31 12:00:00" expire
expect_match "expire closes the window and queues the eligibility notice" \
    '^expire: 1 complaint window ended, 1 eligibility notice queued, 1 notice sent, 0 failed' \
    "$(cat "$T/last.out")"
expect_match "the owner is told it may ask now" '^Subject: You may now ask to unblock bob$' "$(mail_n 4)"
expect_status "expire again is idempotent" 0 ctl_at "2027-01-31 12:00:30" expire
expect_match "nothing more to do" '^expire: 0 complaint windows ended, 0 eligibility notices queued, 0 notices sent' \
    "$(cat "$T/last.out")"
expect_status "at the window's end the unblock is granted (exit 0)" 0 \
    ctl_at "2027-01-31 12:00:00" unblock bob
expect_eq "it says so" "unblock granted: outgoing mail of bob flows again" "$(cat "$T/last.out")"
expect_match "and mails it" '^Subject: Outgoing mail of bob is unblocked$' "$(mail_n 5)"
expect_eq "bob's mail flows again through Exim" 250 "$(smtp_submit info@example.com info@example.com $remote)"

# Ten days later: suspended again, within 90 days of the unblock.
expect_status "a second complaint suspends bob again" 0 \
    ctl_at "2027-02-10 12:00:00" complaint add bob --ref "ticket 77" --suspend
expect_eq "Exim refuses again" 550 "$(smtp_submit info@example.com info@example.com $remote)"
ctl_at "2027-02-11 00:00:00" status bob --json >"$T/s.json"
expect_eq "status: a repeat offence" true "$(jq -r .repeat_offence "$T/s.json")"
expect_eq "status: last unblock" 2027-01-31T12:00:00Z "$(jq -r .last_unblock "$T/s.json")"
expect_match "status says it stays blocked until the cooldown ends" \
    'stays blocked until 2027-05-01T12:00:00Z' "$(jq -r .explanation "$T/s.json")"
expect_match "status (text) says so too" 'unblock: .*stays blocked until 2027-05-01T12:00:00Z' \
    "$(ctl_at "2027-02-11 00:00:00" status bob)"
expect_status "day 60 after the unblock: refused" 1 ctl_at "2027-04-01 12:00:00" unblock bob
expect_eq "because of the 90 days, with the date" \
    "unblock refused: an unblock was granted on 2027-01-31T12:00:00Z and only one is granted every 90d (suspended again within that time): the account stays blocked until 2027-05-01T12:00:00Z; an unblock request can succeed from 2027-05-01T12:00:00Z" \
    "$(cat "$T/last.out")"
expect_status "89d 23h 59m 59s after the unblock: refused" 1 ctl_at "2027-05-01 11:59:59" unblock bob
expect_status "90 days after the unblock: granted" 0 ctl_at "2027-05-01 12:00:00" unblock bob
expect_eq "mail flows again" 250 "$(smtp_submit info@example.com info@example.com $remote)"
ctl history bob --json >"$T/h.json"
expect_eq "every request is audited, granted or refused" \
    "complaint suspend unblock-refused unblock-refused complaint-ended eligible unblock-granted complaint suspend unblock-refused unblock-refused unblock-granted" \
    "$(jq -r '[.changes[].action | select(. != "account-added")] | join(" ")' "$T/h.json")"

# An admin lift counts as the unblock, unless --no-count.
check "suspend alice" ctl_at "2027-01-01 00:00:00" suspend alice --reason "spam run"
expect_status "admin unsuspend (counts)" 0 ctl_at "2027-01-02 00:00:00" unsuspend alice --reason fixed
check "suspend alice again" ctl_at "2027-01-05 00:00:00" suspend alice --reason "again"
expect_status "the owner's request waits for the cooldown of the admin lift" 1 \
    ctl_at "2027-01-06 00:00:00" unblock alice
expect_match "until 90 days after the admin lift" 'succeed from 2027-04-02T00:00:00Z' "$(cat "$T/last.out")"
check "suspend carol (no contact address)" ctl_at "2027-01-01 00:00:00" suspend carol --reason "mistake"
expect_match "the notice goes to the fallback address" '^To: abuse-fallback@server\.test$' \
    "$(grep -l 'account carol' "$T"/mail/*.eml | head -1 | xargs cat)"
expect_status "admin unsuspend --no-count" 0 \
    ctl_at "2027-01-01 01:00:00" unsuspend carol --reason "suspended in error" --no-count
check "suspend carol again" ctl_at "2027-01-03 00:00:00" suspend carol --reason "real spam"
expect_status "a --no-count lift does not start a cooldown: granted" 0 \
    ctl_at "2027-01-03 01:00:00" unblock carol

# repeat_offence = "permanent": only an admin can lift a repeat offence.
cp "$T/mailabused.conf" "$T/normal.conf"
POLICY_EXTRA='repeat_offence = "permanent";' conf_write
expect_status "permanent: the owner can never unblock a repeat offence" 1 \
    ctl_at "2027-09-01 00:00:00" unblock alice
expect_match "and is told so" 'only an administrator can lift' "$(cat "$T/last.out")"
expect_eq "status says so" admin-only "$(ctl_at "2027-09-01 00:00:00" status alice --json | jq -r .unblock)"
expect_status "an admin can" 0 ctl_at "2027-09-01 00:00:00" unsuspend alice --reason "reviewed"
cp "$T/normal.conf" "$T/mailabused.conf"

# A complaint window closed early by an admin, audited.
check "complaint for carol" ctl_at "2027-06-01 00:00:00" complaint add carol --ref "unfounded" --window 30d
id=$(ctl complaint list carol --json | jq -r '.[-1].id')
expect_status "an admin closes it early" 0 ctl_at "2027-06-02 00:00:00" complaint close "$id" --reason "complaint unfounded"
expect_eq "its window has ended" "false 2027-06-02T00:00:00Z" \
    "$(ctl_at "2027-06-02 00:00:01" complaint list carol --json | jq -r '.[-1] | "\(.window_open) \(.window_end)"')"
expect_status "closing it again is refused" 1 ctl_at "2027-06-03 00:00:00" complaint close "$id" --reason again
expect_eq "the closing is audited" "complaint-closed root complaint #$id window closed early: complaint unfounded" \
    "$(ctl history carol --json | jq -r '.changes[] | select(.action == "complaint-closed") | "\(.action) \(.actor) \(.detail)"')"

# Notices survive a failing mail command and are retried by expire.
before=$(mails)
touch "$T/mail/FAIL"
expect_status "suspend while the mail command fails" 0 ctl_at "2027-07-01 00:00:00" suspend bob --reason "outage test"
expect_match "it says the notice stays queued" 'notice not sent yet' "$(cat "$T/last.err")"
expect_eq "nothing was delivered" "$before" "$(mails)"
expect_eq "the notice waits in the outbox" "1 1" \
    "$(sqlite3 "$DB" "SELECT count(*) || ' ' || max(attempts) FROM outbox WHERE sent_at IS NULL")"
expect_status "expire while it still fails" 0 ctl_at "2027-07-01 01:00:00" expire
expect_match "counts the failure" ', 0 notices sent, 1 failed' "$(cat "$T/last.out")"
rm "$T/mail/FAIL"
# two expire runs at once: each notice goes out exactly once
ctl_at "2027-07-01 12:00:00" expire >"$T/e1.out" 2>&1 &
ctl_at "2027-07-01 12:00:00" expire >"$T/e2.out" 2>&1
wait $!
expect_eq "two concurrent expire runs send it exactly once" "$((before + 1))" "$(mails)"
expect_eq "and the outbox is empty" 0 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE sent_at IS NULL")"
expect_match "the retried notice is the suspension" 'because of: outage test' "$(mail_n "$(mails)")"

# A mail command that closes its output and hangs, with a child of its
# own, is killed with all it started after notify.timeout; the notice
# stays queued.  The sleeps take a duration of this run's own (300.PID
# seconds), so that other programs' sleeps on the machine do not count.
hang="300.$$"
cat >"$T/hang-sendmail" <<X
#!/bin/sh
exec >/dev/null 2>&1
sleep $hang &
sleep $hang
X
chmod +x "$T/hang-sendmail"
cp "$T/mailabused.conf" "$T/normal.conf"
NOTIFY_SENDMAIL="$T/hang-sendmail" NOTIFY_TIMEOUT=1s conf_write
# (without faketime: the command's own sleeps must take real time)
check "suspend alice" ctl suspend alice --reason "hang test"
expect_match "the hung command is killed at the deadline" \
    'notice .* not sent, retry in 300s: notify.sendmail did not finish within 1s; killed' "$(cat "$T/check.out")"
check "nothing of it is left running" wait_until 10 sh -c "! pgrep -fx '/bin/sh $T/hang-sendmail' && ! pgrep -fx 'sleep $hang'"
cp "$T/normal.conf" "$T/mailabused.conf"
expect_status "account names are not case-sensitive" 1 ctl_at "2027-10-01 00:00:00" unblock ALICE
expect_match "the unblock request is answered" '^unblock refused' "$(cat "$T/last.out")"
check "the retry goes out" ctl_at "2027-10-01 01:00:00" expire
check "with the hung notice" grep -q 'because of: hang test' "$T"/mail/*.eml

# dave never had a counted unblock: nothing of his needs keeping
check "suspend dave" ctl_at "2027-01-01 00:00:00" suspend dave --reason "mistake"
check "lift it, not counted" ctl_at "2027-01-01 01:00:00" unsuspend dave --reason "error" --no-count

# Retention: old records go, the facts of the 90-day rule stay.
expect_status "expire two and a half years later" 0 ctl_at "2029-08-01 00:00:00" expire
expect_eq "old lifted suspensions are purged but the last unblock of each account is kept" \
    "alice:2 bob:2 carol:1" \
    "$(sqlite3 "$DB" "SELECT group_concat(account || ':' || n, ' ') FROM (SELECT account, count(*) n FROM suspensions GROUP BY account ORDER BY account)")"
expect_eq "status still knows bob's last unblock" 2027-05-01T12:00:00Z \
    "$(ctl_at "2029-08-01 00:00:00" status bob --json | jq -r .last_unblock)"

t_finish

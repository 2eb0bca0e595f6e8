#!/usr/bin/env bash
# The daemon answers from an in-memory view of the policy tables (view.c):
# the very next CHECK after each kind of mailabusectl change sees it, a
# change made without mailabusectl is seen within a few seconds, and a view
# that cannot be brought in step with the database answers DEFER.
. "$(dirname "$0")/lib.sh"
t_init
check "sync" ctl sync
check "daemon starts" daemon_start

remote=x@remote.test
rcpt_check() { q CHECK ctx=smtp "auth=$1" "sender=$1" rcpt=$remote; }
local_msg() {
    q CHECK ctx=local auth="$1" sender="$1@example.com" rcpt=$remote msgid="$2"
}

expect_eq "bob's mailbox passes" PASS "$(rcpt_check info@example.com)"
check "suspend bob" ctl suspend bob --reason "spam run"
expect_match "the very next RCPT CHECK after suspend is refused" '^REFUSE 5\.7\.1 .*account bob' \
    "$(rcpt_check info@example.com)"
check "unsuspend bob" ctl unsuspend bob --reason "cleaned up"
expect_eq "the very next RCPT CHECK after unsuspend passes" PASS "$(rcpt_check info@example.com)"

check "suspend a mailbox" ctl suspend info@alice.org --reason "phished"
expect_match "the very next RCPT CHECK of that mailbox is refused" '^REFUSE 5\.7\.1 .*mailbox' \
    "$(rcpt_check info@alice.org)"
expect_eq "another mailbox of the account passes" PASS "$(rcpt_check sales@alice.org)"
check "unsuspend the mailbox" ctl unsuspend info@alice.org --reason "password changed"
expect_eq "and passes the very next RCPT CHECK after" PASS "$(rcpt_check info@alice.org)"

# sync adding a domain of a suspended account: its mailboxes are that account's at once
check "suspend carol" ctl suspend carol --reason "spam run"
expect_eq "a domain cPanel does not list yet is nobody's" PASS "$(rcpt_check info@new-carol.test)"
echo "new-carol.test: carol" >>"$T/cpanel/etc/userdomains"
check "sync adds the domain" ctl sync
expect_match "the very next RCPT CHECK from the new domain is carol's, refused" \
    '^REFUSE 5\.7\.1 .*account carol' "$(rcpt_check info@new-carol.test)"

# limits: one whole message of bob's passes; a limit of one then defers the next
expect_eq "a whole message of bob passes" PASS "$(local_msg bob 1view-000001-01)"
check "limits bob account_messages=1/defer" ctl limits bob account_messages=1/defer
expect_match "the very next whole message is over bob's own limit" '^DEFER 4\.7\.1 Sending limit' \
    "$(local_msg bob 1view-000002-01)"
check "limits bob account_messages=default" ctl limits bob account_messages=default
expect_eq "and the next after the reset passes" PASS "$(local_msg bob 1view-000003-01)"

# A change made without mailabusectl: seen within a few seconds (PRAGMA data_version).
sqlite3 "$DB" ".timeout 5000" "INSERT INTO suspensions (target, account, kind, reason, source,
    created_by, created_at) VALUES ('alice', 'alice', 'account', 'by hand', 'test', 'test',
    strftime('%s', 'now'))"
alice_refused() { rcpt_check sales@alice.org | grep -q '^REFUSE 5\.7\.1 .*account alice'; }
check "a suspension written with sqlite3 is seen within 5 seconds" wait_until 5 alice_refused

# The view cannot be read: DEFER, never an answer from a view out of step.
sqlite3 "$DB" ".timeout 5000" "ALTER TABLE view_changes RENAME TO view_changes_away"
deferred() { rcpt_check info@example.com | grep -q '^DEFER 4\.3\.0'; }
check "a view that cannot be refreshed answers DEFER" wait_until 5 deferred
expect_match "the log says why" 'view' "$(grep -i 'cannot' "$T/daemon.log" | tail -1)"
sqlite3 "$DB" ".timeout 5000" "ALTER TABLE view_changes_away RENAME TO view_changes"
passes_again() { [ "$(rcpt_check info@example.com)" = PASS ]; }
check "and answers again once it can" wait_until 5 passes_again
expect_match "alice is still refused after the reload" '^REFUSE' "$(rcpt_check sales@alice.org)"

# The generation file: the daemon's user's, private.
expect_eq "the generation file is the daemon's, 0600" "$MAB_USER 600" \
    "$(stat -c '%U %a' "$DB-gen")"

daemon_stop
t_finish

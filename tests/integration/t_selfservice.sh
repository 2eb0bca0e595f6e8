#!/usr/bin/env bash
# The user socket: an account owner, as an unprivileged uid (setpriv),
# reads its own status and history and requests its own unblock through
# mailabusectl; the daemon decides from SO_PEERCRED which account that is,
# and nothing the client says lets it see or unblock another account.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "# t_selfservice needs root (setpriv, useradd)"; t_finish; exit; fi
# one uid may hold them all here: the per-uid cap is t_userflood's
USER_SOCKET_EXTRA="max_per_uid = 16;"
t_init
getent passwd mabowner >/dev/null || useradd -M -N -r -u 4912 -s /usr/sbin/nologin mabowner 2>/dev/null
printf 'mabowner: root\n' >>"$T/cpanel/etc/trueuserowners"
printf 'owner-site.test: mabowner\n' >>"$T/cpanel/etc/userdomains"
check "sync" ctl sync
check "daemon starts" daemon_start
check "the user socket is there, for everyone" test "$(stat -c %a "$USOCK")" = 666

as_owner() { setpriv --reuid=mabowner --regid=nogroup --clear-groups "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"; }
as_stranger() { setpriv --reuid=54321 --regid=54321 --clear-groups "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"; }

check "suspend bob" ctl suspend bob --reason "spam run"
check "complaint for mabowner with a window that ends at once, and suspend" \
    ctl complaint add mabowner --ref "bot spam via contact form" --window 0s --suspend

expect_status "the owner reads its own status" 0 as_owner status --json
expect_eq "it is the owner's own account" "mabowner suspended" \
    "$(jq -r '"\(.account) \(.state)"' "$T/last.out")"
expect_status "naming its own account is fine too" 0 as_owner status mabowner
expect_status "the owner cannot read another account's status" 77 as_owner status bob
expect_match "permission denied" 'permission denied: you may act only for your own account' \
    "$(cat "$T/last.err")"
expect_status "nor its history" 77 as_owner history bob
expect_status "nor unblock it" 77 as_owner unblock bob
expect_eq "bob stays suspended" suspended "$(ctl status bob --json | jq -r .state)"
expect_status "a raw request naming another account is refused too" 0 \
    setpriv --reuid=mabowner --regid=nogroup --clear-groups "$BUILD/mabclient" -q "$USOCK" STATUS account=bob
expect_match "with an error, not bob's data" '^ERROR 5\.7\.1 permission denied' "$(cat "$T/last.out")"
expect_status "an admin command is not for owners" 77 as_owner suspend bob --reason x
expect_status "a uid with no user name gets nothing" 77 as_stranger status
expect_status "the policy socket's verbs are not served on the user socket" 0 \
    "$BUILD/mabclient" -q "$USOCK" CHECK ctx=smtp auth=bob sender=a@b rcpt=c@d
expect_match "CHECK is refused there" '^ERROR 5\.5\.2 verb not allowed' "$(cat "$T/last.out")"
expect_status "and the user socket's verbs not on the policy socket" 0 \
    "$BUILD/mabclient" -q "$SOCK" STATUS account=bob
expect_match "STATUS is refused there" '^ERROR 5\.5\.2 verb not allowed' "$(cat "$T/last.out")"

expect_status "the owner reads its own history" 0 as_owner history --json
expect_eq "with the suspension in it" "complaint suspend" \
    "$(jq -r '[.changes[].action | select(. == "complaint" or . == "suspend")] | join(" ")' "$T/last.out")"
expect_status "the owner's unblock request is granted (the window has ended)" 0 as_owner unblock
expect_eq "it says so" "unblock granted: outgoing mail of mabowner flows again" "$(cat "$T/last.out")"
expect_eq "the account is active again" active "$(ctl status mabowner --json | jq -r .state)"
expect_eq "the audit names the owner and its uid" "mabowner (self-service, uid 4912)" \
    "$(ctl history mabowner --json | jq -r '.changes[] | select(.action == "unblock-granted") | .actor')"
check "the daemon mails the grant to the fallback address" \
    wait_until 10 sh -c "grep -l 'Subject: Outgoing mail of mabowner is unblocked' '$T'/mail/*.eml"
check "suspend mabowner again" ctl suspend mabowner --reason "again"
expect_status "another request within a minute is turned away (75)" 75 as_owner unblock
expect_match "saying why" 'one unblock request a minute' "$(cat "$T/last.err")"
expect_eq "and it is neither audited nor mailed" 1 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE account = 'mabowner' AND action LIKE 'unblock-%'")"
# a minute passes (the daemon runs on the real clock: age the last request instead)
sqlite3 "$DB" "UPDATE audit SET at = at - 120 WHERE account = 'mabowner' AND action LIKE 'unblock-%'"
expect_status "a second request within 90 days is refused (exit 1)" 1 as_owner unblock --json
expect_eq "with the reason and the date" "false wait" \
    "$(jq -r '"\(.granted) \(.unblock)"' "$T/last.out")"
expect_match "the date is 90 days after the grant" '^20[0-9-]+T[0-9:]+Z$' \
    "$(jq -r .unblock_from "$T/last.out")"
expect_status "root may name any account on the user socket" 0 \
    "$BUILD/mabclient" -q "$USOCK" STATUS account=bob
expect_match "and gets its status" '^OK \{"account":"bob"' "$(cat "$T/last.out")"
# Anyone may connect to the user socket, but not crowd out Exim's queries.
exec 3> >(setpriv --reuid=nobody --regid=nogroup --clear-groups "$BUILD/mabclient" -H 16 "$USOCK" >"$T/hold.out")
check "nobody holds 16 idle user-socket connections" wait_until 10 grep -q '^held 16' "$T/hold.out"
expect_eq "the user socket's next connection is turned away" "DEFER 4.3.2 too many connections" \
    "$("$BUILD/mabclient" -q "$USOCK" PING)"
expect_eq "while Exim's queries are still answered" PASS \
    "$(q CHECK ctx=smtp auth=alice@alice.org sender=alice@alice.org rcpt=x@remote.test)"
exec 3>&-
check "the held connections are released" wait_until 10 grep -q '^15:' "$T/hold.out"
expect_status "the owner's CLI says when the daemon is down" 69 sh -c \
    "kill -TERM $DAEMON_PID; while kill -0 $DAEMON_PID 2>/dev/null; do sleep 0.05; done; \
     setpriv --reuid=mabowner --regid=nogroup --clear-groups '$BUILD/mailabusectl' -c '$T/mailabused.conf' status"
DAEMON_PID=

t_finish

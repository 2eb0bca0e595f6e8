#!/usr/bin/env bash
# Every way a suspended account's mail could leave without being asked
# about (issue 11), through a real listening Exim 4.96 (exim -bdf on an
# ephemeral loopback port) running the project's own contrib/exim files,
# with TCP sessions opened by processes running as the accounts' uids:
# loopback SMTP without AUTH, PHP as the web server's uid naming a site in
# X-PHP-Script:, and forwarders to remote addresses.
. "$(dirname "$0")/lib.sh"
t_init
if [ "$(id -u)" != 0 ]; then
    echo "# t_escapes needs root (an Exim daemon, test users); skipped"
    t_finish; exit
fi

# two website accounts with real uids (tolerating a concurrent creation)
for u in mabesc1:4921 mabesc2:4922; do
    id "${u%%:*}" >/dev/null 2>&1 ||
        useradd -M -N -r -u "${u#*:}" -s /usr/sbin/nologin "${u%%:*}" 2>/dev/null ||
        id "${u%%:*}" >/dev/null 2>&1 || fail "cannot create user ${u%%:*}"
done
for n in 1 2; do
    printf 'mabesc%s: root\n' $n >>"$T/cpanel/etc/trueuserowners"
    printf 'esc%s.example: mabesc%s\n' $n $n >>"$T/cpanel/etc/userdomains"
    printf 'esc%s.example\n' $n >>"$T/cpanel/etc/localdomains"
    printf 'DNS=esc%s.example\nCONTACTEMAIL=owner@esc%s.test\n' $n $n \
        >"$T/cpanel/var/cpanel/users/mabesc$n"
done
EXIM_LOCAL_DOMAINS="example.com alice.org esc1.example esc2.example"
EXIM_CONF_TEMPLATE=$TOP/tests/integration/exim-bd.conf.in
exim_conf_make "$SOCK" "$T/exim" >/dev/null || { fail "exim test configuration"; t_finish; exit; }
E=$T/exim
printf 'fwd@esc1.example: far@remote.test\nfwd@esc2.example: far2@remote.test\n' >"$E/aliases"
chmod 0644 "$E/aliases"

check "sync imports the fixture" ctl sync
check "daemon starts" daemon_start

# The Exim daemon on a free port: try random ones until one binds.
EXIM_PID=
escapes_cleanup() {
    [ -n "$EXIM_PID" ] && kill "$EXIM_PID" 2>/dev/null && wait "$EXIM_PID" 2>/dev/null
    t_cleanup
}
trap escapes_cleanup EXIT
listening() { ss -Htln "sport = :$PORT" | grep -q .; }
for _ in 1 2 3 4 5 6 7 8 9 10; do
    PORT=$((20000 + RANDOM % 40000))
    listening && continue
    $EXIM -C "$E/exim.conf" -bdf -oX "$PORT" >>"$E/bd.out" 2>&1 &
    EXIM_PID=$!
    if wait_until 10 listening && kill -0 "$EXIM_PID" 2>/dev/null; then break; fi
    kill "$EXIM_PID" 2>/dev/null; wait "$EXIM_PID" 2>/dev/null; EXIM_PID=
done
if [ -z "$EXIM_PID" ]; then
    fail "exim -bd listens on a loopback port" "$(tail -5 "$E/bd.out" "$E/spool/log/mainlog" 2>/dev/null)"
    t_finish; exit
fi
pass "exim -bd listens on 127.0.0.1 port $PORT"

# send AS HOST FROM RCPT [HEADER...]: one SMTP session without AUTH, opened
# by a process of user AS; prints "CODE TEXT" (the first refusal, else the
# reply to the end of DATA)
send() {
    local as=$1 host=$2
    shift 2
    setpriv --reuid="$as" --regid="$(id -g "$as")" --clear-groups \
        "$TOP/tests/integration/smtp-client.sh" "$host" "$PORT" "$@" >"$E/client.out" 2>&1
    sed -n 's/^RESULT //p' "$E/client.out"
}
remote_has() { grep -q "$1" "$E/spool/remote-mail" 2>/dev/null; }
remote_count() { grep -c "^X-Delivered-To: $1\$" "$E/spool/remote-mail" 2>/dev/null; }
mainlog_has() { grep -q -- "$1" "$E/spool/log/mainlog" 2>/dev/null; }

expect_match "active account: loopback SMTP accepted and delivered" '^250 ' \
    "$(send mabesc1 127.0.0.1 www@esc1.example out1@remote.test)"
wait_until 10 remote_has "out1@remote.test"; expect_eq "...delivered to the remote address" 1 \
    "$(remote_count out1@remote.test)"

check "suspend mabesc1" ctl suspend mabesc1 --reason "spam from a contact form" --source report

r=$(send mabesc1 127.0.0.1 www@esc1.example out2@remote.test)
expect_match "suspended: loopback SMTP without AUTH from its uid refused with 5xx" \
    '^550 5\.7\.1 Outgoing mail of account mabesc1 is suspended' "$r"
expect_match "suspended: also over IPv6 ::1" '^550 5\.7\.1 Outgoing mail of account mabesc1' \
    "$(send mabesc1 ::1 www@esc1.example out3@remote.test)"
expect_match "suspended: whatever envelope sender it claims" '^550 ' \
    "$(send mabesc1 127.0.0.1 someone@esc2.example out4@remote.test)"
expect_match "another account's uid: accepted" '^250 ' \
    "$(send mabesc2 127.0.0.1 www@esc2.example out5@remote.test)"
expect_match "root's loopback session (a system uid): accepted" '^250 ' \
    "$(send root 127.0.0.1 root@mailabuse.test out6@remote.test)"
expect_match "the daemon logs the loopback refusal" \
    'refused ctx=smtp .*account=mabesc1 .*identified-by=loopback-uid' "$(cat "$T/daemon.log")"
wait_until 10 remote_has "out5@remote.test"
expect_eq "nothing of the suspended account reached the remote side" 0 \
    "$(grep -c -E 'out[234]@remote' "$E/spool/remote-mail")"
hist=$(ctl history mabesc1 --json)
expect_match "history shows the loopback SMTP source" \
    "\"source\": *\"loopback SMTP \\(uid $(id -u mabesc1)\\)\"" "$hist"
expect_match "history: its kind is loopback" '"source_kind": *"loopback"' "$hist"

# A loopback connection whose owner cannot be found (gone, or not local):
# policy.loopback_unknown, "pass" by default.
unknown() {
    q CHECK ctx=smtp sender=www@esc1.example rcpt=x@remote.test ip=127.0.0.1 port=1 \
        lip=127.0.0.1 lport=25
}
expect_eq "unknown loopback owner: pass by default" PASS "$(unknown)"
expect_match "...and logged" 'loopback SMTP \[127\.0\.0\.1\]:1 -> \[127\.0\.0\.1\]:25: owner not found' \
    "$(cat "$T/daemon.log")"

# PHP as the web server's uid (policy.web_uids, "nobody" by default): the
# site in cPanel's X-PHP-Script: names the account.  mail() is a local
# submission: an Exim instance of nobody's own (see exim.sh).
nobody_conf=$(EXIM_CONF_TEMPLATE=$TOP/tests/integration/exim.conf.in \
    exim_conf_make "$SOCK" "$T/exim-nobody" nobody) || fail "exim instance for nobody"
chmod 0666 "$SOCK"	# that instance's Exim runs as nobody
# php_mail AS HEADER: PHP's mail() under uid AS; prints accepted/rejected/frozen
php_mail() {
    local as=$1 hdr=$2 conf=$3 dir
    [ -f "$conf" ] || { echo "error: no exim instance"; return 1; }
    dir=$(dirname "$conf")
    printf 'From: <www@site.test>\nTo: <far@remote.test>\nX-PHP-Script: %s\nSubject: form\n\nHi.\n' \
        "$hdr" >"$dir/php.msg"
    local before after frozen
    before=$($EXIM -C "$conf" -bpc 2>/dev/null)
    frozen=$($EXIM -C "$conf" -bp 2>/dev/null | grep -c frozen)
    setpriv --reuid="$as" --regid="$(id -g "$as")" --clear-groups \
        "$EXIM" -C "$conf" -odq -oep -oi -f www@site.test -bm -- far@remote.test \
        <"$dir/php.msg" >"$dir/php.out" 2>&1
    local rc=$?
    after=$($EXIM -C "$conf" -bpc 2>/dev/null)
    if [ "$rc" != 0 ]; then echo rejected
    elif [ "$($EXIM -C "$conf" -bp 2>/dev/null | grep -c frozen)" -gt "$frozen" ]; then echo frozen
    elif [ "$after" -gt "$before" ]; then echo accepted
    else echo error; fi
}
site1="www.esc1.example/contact.php for 203.0.113.9"
expect_eq "nobody's mail() naming the suspended account's site: refused" rejected \
    "$(php_mail nobody "$site1" "$nobody_conf")"
expect_match "...with the account's suspension" 'account mabesc1 is suspended' \
    "$(cat "$T/exim-nobody/php.out")"
expect_eq "nobody's mail() naming ~mabesc1 on the server's name: refused" rejected \
    "$(php_mail nobody "server.esc2.example/~mabesc1/form.php for 203.0.113.9" "$nobody_conf")"
expect_eq "nobody's mail() naming the other account's site: accepted" accepted \
    "$(php_mail nobody "www.esc2.example/contact.php for 203.0.113.9" "$nobody_conf")"
expect_match "nobody over loopback SMTP, X-PHP-Script naming the site: refused at DATA" \
    '^550 5\.7\.1 Outgoing mail of account mabesc1' \
    "$(send nobody 127.0.0.1 www@site.test far@remote.test "X-PHP-Script: $site1")"
expect_match "the same header under another account's own uid: judged as that uid, accepted" \
    '^250 ' "$(send mabesc2 127.0.0.1 www@esc2.example out7@remote.test "X-PHP-Script: $site1")"
expect_match "...and counted as that account's script" '"source": *"www\.esc1\.example/contact\.php"' \
    "$(ctl history mabesc2 --json)"
expect_match "nobody's refused mail is in the named account's history" \
    '"source": *"www\.esc1\.example/contact\.php"' "$(ctl history mabesc1 --json)"

daemon_stop
POLICY_EXTRA='web_action = "hold"; loopback_unknown = "defer";' conf_write
check "daemon restarts with web_action = hold, loopback_unknown = defer" daemon_start
chmod 0666 "$SOCK"
expect_eq "web_action = hold: nobody's mail() naming the suspended site is held (frozen)" frozen \
    "$(php_mail nobody "$site1" "$nobody_conf")"
expect_match "loopback_unknown = defer: an unknown owner is deferred" '^DEFER 4\.7\.0 ' "$(unknown)"

daemon_stop
POLICY_EXTRA='web_uids = "";' conf_write
check "daemon restarts with web_uids empty" daemon_start
chmod 0666 "$SOCK"
expect_eq "web_uids empty: the header is never trusted, nobody's mail() passes" accepted \
    "$(php_mail nobody "$site1" "$nobody_conf")"

daemon_stop
conf_write
check "daemon restarts with the defaults" daemon_start
chmod 0666 "$SOCK"

# Forwarders: a suspended account's forwarder to a remote address is held
# on the queue by contrib/exim/mailabuse-routers.conf, then delivered once
# after unsuspend.
expect_match "mail to the suspended account's forwarder is accepted (inbound)" '^250 ' \
    "$(send root 127.0.0.1 someone@mailabuse.test fwd@esc1.example)"
expect_match "another account's forwarder is accepted" '^250 ' \
    "$(send root 127.0.0.1 someone@mailabuse.test fwd@esc2.example)"
wait_until 10 remote_has far2@remote.test
expect_eq "another account's forwarder delivers at once" 1 "$(remote_count far2@remote.test)"
wait_until 10 mainlog_has 'far@remote.test <fwd@esc1.example> R=mailabuse_suspended defer'
expect_match "the suspended account's forward is deferred by the router" \
    'far@remote.test <fwd@esc1.example> R=mailabuse_suspended defer .*4\.7\.1 Outgoing mail of account mabesc1 is suspended' \
    "$(cat "$E/spool/log/mainlog")"
expect_eq "...not delivered" 0 "$(remote_count far@remote.test)"
expect_eq "...and kept on the queue, not bounced" 1 "$($EXIM -C "$E/exim.conf" -bpc)"
$EXIM -C "$E/exim.conf" -qff >/dev/null 2>&1
expect_eq "a queue run while suspended delivers nothing" 0 "$(remote_count far@remote.test)"
check "unsuspend mabesc1" ctl unsuspend mabesc1 --reason "form fixed"
$EXIM -C "$E/exim.conf" -qff >/dev/null 2>&1
wait_until 10 remote_has far@remote.test
expect_eq "after unsuspend the queue run delivers the forward once" 1 "$(remote_count far@remote.test)"
expect_eq "...and the queue is empty" 0 "$($EXIM -C "$E/exim.conf" -bpc)"
expect_eq "no bounce was sent" 0 "$(grep -c '^Envelope-to: someone@mailabuse.test' "$E/spool/local-mail" 2>/dev/null || echo 0)"

# A local submission that reaches delivery after its ACL passed (queued
# before the suspension): the router holds it too.
printf 'Subject: queued\n\nHi.\n' | $EXIM -C "$E/exim.conf" -odq -oi -oMai mabesc1 \
    -f www@esc1.example -bm far3@remote.test >/dev/null 2>&1
expect_eq "a local submission of the active account is queued" 1 "$($EXIM -C "$E/exim.conf" -bpc)"
check "suspend mabesc1 again" ctl suspend mabesc1 --reason "queued spam"
$EXIM -C "$E/exim.conf" -qff >/dev/null 2>&1
expect_match "the queue run's router defers the suspended account's local message" \
    'far3@remote.test R=mailabuse_suspended defer .*account mabesc1 is suspended' \
    "$(cat "$E/spool/log/mainlog")"
expect_eq "...not delivered" 0 "$(remote_count far3@remote.test)"
check "unsuspend mabesc1 again" ctl unsuspend mabesc1 --reason "cleaned"
$EXIM -C "$E/exim.conf" -qff >/dev/null 2>&1
wait_until 10 remote_has far3@remote.test
expect_eq "delivered once after unsuspend" 1 "$(remote_count far3@remote.test)"

# A router whose daemon cannot answer defers
check "suspend mabesc2" ctl suspend mabesc2 --reason "test"
daemon_stop
# inbound mail from outside (not asked about in the ACLs), delivered at once
printf 'EHLO c.test\r\nMAIL FROM:<someone@outside.test>\r\nRCPT TO:<fwd@esc1.example>\r\nDATA\r\nSubject: in\r\n\r\nHi.\r\n.\r\nQUIT\r\n' |
    $EXIM -C "$E/exim.conf" -odi -oMa 192.0.2.55 -bs >"$E/bs.out" 2>&1
expect_match "daemon down: inbound mail to the forwarder is accepted" '^250 .*id=' \
    "$(tr -d '\r' <"$E/bs.out" | grep -E '^250 .*id=')"
wait_until 15 mainlog_has 'R=mailabuse_suspended defer .*policy check unavailable'
expect_match "daemon down: the router defers (nothing escapes, nothing lost)" \
    'far@remote.test <fwd@esc1.example> R=mailabuse_suspended defer .*policy check unavailable' \
    "$(cat "$E/spool/log/mainlog")"
expect_eq "...not delivered" 1 "$(remote_count far@remote.test)"
# Accounts keyed by cPanel's UUID (var/cpanel/users/<user>: UUID=).
# ctl_at "YYYY-MM-DD HH:MM:SS" ARGS...: mailabusectl at that (UTC) time
ctl_at() {
    local when=$1; shift
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0 TZ=UTC \
        FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$when" \
        "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"
}
U_OLD=6f1c2d3e-0000-4000-8000-00000000a001
U_ESC2=6f1c2d3e-0000-4000-8000-00000000b002
U_NEW2=6f1c2d3e-0000-4000-8000-00000000c003
id mabren >/dev/null 2>&1 || useradd -M -N -r -u 4923 -s /usr/sbin/nologin mabren 2>/dev/null ||
    id mabren >/dev/null 2>&1 || fail "cannot create user mabren"
C=$T/cpanel
printf 'mabold: root\n' >>"$C/etc/trueuserowners"
printf 'old.example: mabold\n' >>"$C/etc/userdomains"
printf 'old.example\n' >>"$C/etc/localdomains"
printf 'DNS=old.example\nUUID=%s\nCONTACTEMAIL=o@old.test\n' "$U_OLD" >"$C/var/cpanel/users/mabold"
printf 'UUID=%s\n' "$U_ESC2" >>"$C/var/cpanel/users/mabesc2"
check "sync: a new account with a UUID; another adopts its UUID" ctl_at "2027-01-01 00:00:00" sync
expect_eq "adopting a UUID keeps the account's suspension" suspended \
    "$(ctl status mabesc2 --json | jq -r .state)"

# the 90-day rule: an unblock on day 1, suspended again on day 2
check "suspend mabold" ctl_at "2027-01-01 12:00:00" suspend mabold --reason "spam run"
expect_status "the owner's first unblock is granted" 0 ctl_at "2027-01-02 12:00:00" unblock mabold
check "suspended again the next day" ctl_at "2027-01-03 12:00:00" suspend mabold --reason "spam again"
expect_status "an unblock request is refused by the 90-day rule" 1 \
    ctl_at "2027-01-04 12:00:00" unblock mabold
before=$(sed 's/mabold/ACCOUNT/g' "$T/last.out")
expect_match "...until 90 days after the unblock" '2027-04-02T12:00:00Z' "$before"

# cPanel renames mabold to mabren: same UUID, new name, same domain
mv "$C/var/cpanel/users/mabold" "$C/var/cpanel/users/mabren"
sed -i 's/^mabold:/mabren:/' "$C/etc/trueuserowners"
sed -i 's/: mabold$/: mabren/' "$C/etc/userdomains"
expect_status "sync after the rename" 0 ctl_at "2027-01-05 12:00:00" sync
expect_match "sync shows the rename" \
    "^~ account mabren: renamed from mabold in cPanel \\(UUID $U_OLD\\)" "$(cat "$T/last.out")"
expect_eq "...not as a removal and an addition" 0 \
    "$(grep -c -E '^[-+] account mab(old|ren)' "$T/last.out")"
expect_eq "the renamed account is still suspended" suspended \
    "$(ctl_at "2027-01-06 12:00:00" status mabren --json | jq -r .state)"
expect_status "its unblock request is still refused" 1 ctl_at "2027-01-06 12:00:00" unblock mabren
expect_eq "...with the 90-day rule's answer unchanged" "$before" "$(sed 's/mabren/ACCOUNT/g' "$T/last.out")"
expect_match "the rename is audited" '"action": *"account-renamed"' \
    "$(ctl history mabren --json)"
expect_match "its history came along (the first suspension)" 'spam run' "$(ctl history mabren --json)"
expect_status "the old name is gone (no such account)" 66 ctl status mabold
daemon_start >/dev/null || fail "daemon restarts"
chmod 0666 "$SOCK"
expect_match "the renamed account's script over loopback SMTP: still refused" \
    '^550 5\.7\.1 Outgoing mail of account mabren is suspended' \
    "$(send mabren 127.0.0.1 www@old.example out8@remote.test)"

# mabesc2 (suspended) is removed and its name given to a new customer:
# another UUID
printf 'DNS=esc2.example\nUUID=%s\n' "$U_NEW2" >"$C/var/cpanel/users/mabesc2"
expect_status "sync after the name is reused" 0 ctl_at "2027-01-07 00:00:00" sync
kept=mabesc2.removed-$(date -u -d '2027-01-07 00:00:00' +%s)
expect_match "sync says the name starts clean and where the old record is" \
    "^~ account mabesc2: the name of a removed account, now another cPanel account: it starts clean; the old record is kept as $kept" \
    "$(cat "$T/last.out")"
expect_eq "the new mabesc2 is active" active "$(ctl status mabesc2 --json | jq -r .state)"
expect_match "the reused name with a new UUID: loopback SMTP accepted" '^250 ' \
    "$(send mabesc2 127.0.0.1 www@esc2.example out9@remote.test)"
expect_eq "the old record keeps its suspension" suspended "$(ctl status "$kept" --json | jq -r .state)"
expect_status "a second sync changes nothing" 0 ctl sync
expect_eq "...and says so" "sync: no changes" "$(tail -n 1 "$T/last.out")"

# a domain moved from a suspended account to another one (one of its
# three: sync's guard wants --force for most of them)
check "suspend bob" ctl suspend bob --reason "spam"
sed -i 's/^shop-bob\.net: bob$/shop-bob.net: alice/' "$C/etc/userdomains"
expect_status "sync after the move" 0 ctl sync
expect_match "sync names both accounts and whether either is suspended" \
    '^~ domain shop-bob\.net: shop-bob\.net moved from bob \(suspended\) to alice \(not suspended\)' \
    "$(cat "$T/last.out")"
expect_match "the move is audited under the old owner" '"action": *"domain-moved"' \
    "$(ctl history bob --json)"
expect_match "...and under the new one" '"action": *"domain-moved"' "$(ctl history alice --json)"

# The detectors count loopback SMTP and nobody's mail naming a site
# under the account: a limit of 3 messages an hour (it sent one already,
# out9 above).
daemon_stop
CONF_EXTRA='detect: { account_messages_per_hour = 3; account_messages_action = "defer"; };' conf_write
check "daemon restarts with a limit of 3 messages an hour" daemon_start
chmod 0666 "$SOCK"
expect_match "mabesc2's second loopback message passes" '^250 ' \
    "$(send mabesc2 127.0.0.1 www@esc2.example c1@remote.test)"
expect_eq "nobody's mail() naming mabesc2's site counts as its third" accepted \
    "$(php_mail nobody "www.esc2.example/form.php for 203.0.113.9" "$nobody_conf")"
expect_match "the fourth, over loopback SMTP, is over the account's limit" \
    '^451 4\.7\.1 Sending limit reached, try again later: account_messages: mabesc2, 4 messages' \
    "$(send mabesc2 127.0.0.1 www@esc2.example c3@remote.test)"
check "unsuspend mabren" ctl unsuspend mabren --reason "cleaned"
expect_match "...another account's loopback mail is not" '^250 ' \
    "$(send mabren 127.0.0.1 www@old.example c5@remote.test)"

t_finish

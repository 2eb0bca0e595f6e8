#!/usr/bin/env bash
# A real Exim 4.96 with the project's own contrib/exim ACLs, asking the
# real daemon: what a suspension does to SMTP submissions and to local
# submissions, for every domain of the account, and what happens when the
# daemon is not there.
. "$(dirname "$0")/lib.sh"
t_init
EXIM_LOCAL_DOMAINS="example.com shop-bob.net blog.example.com alice.org carol.net"
exim_conf_make "$SOCK" "$T/exim" >/dev/null || { fail "exim test configuration"; t_finish; exit; }

check "sync imports the fixture" ctl sync
check "daemon starts" daemon_start

rcpt() { smtp_submit "$@"; }
remote=someone@remote.test

expect_eq "active account: SMTP mail accepted" 250 "$(rcpt info@example.com info@example.com $remote)"
expect_eq "active account: local submission accepted" accepted \
    "$(local_submit info@example.com info@example.com $remote)"

check "suspend bob" ctl suspend bob --reason "spam complaint #1" --source report

expect_eq "suspended: main domain refused at RCPT" 550 "$(rcpt info@example.com info@example.com $remote)"
expect_match "the 550 names the account" '^550 5\.7\.1 Outgoing mail of account bob is suspended' \
    "$(smtp_last_reply)"
expect_eq "suspended: addon domain refused" 550 "$(rcpt sales@shop-bob.net sales@shop-bob.net $remote)"
expect_eq "suspended: listed subdomain refused" 550 "$(rcpt me@blog.example.com me@blog.example.com $remote)"
expect_eq "suspended: unlisted subdomain refused (parent's owner)" 550 \
    "$(rcpt x@news.example.com x@news.example.com $remote)"
expect_eq "suspended: bare cPanel user name refused" 550 "$(rcpt bob bob@example.com $remote)"
expect_eq "suspended: envelope sender of another account does not help" 550 \
    "$(rcpt info@example.com alice@alice.org $remote)"
expect_eq "suspended: local recipient still accepted" 250 "$(rcpt info@example.com info@example.com alice@alice.org)"
expect_eq "suspended: local submission rejected" rejected \
    "$(local_submit info@example.com info@example.com $remote)"
expect_match "local rejection text" '5\.7\.1 Outgoing mail of account bob is suspended' \
    "$(cat "$T/exim/local.err")"
expect_eq "suspended: local submission to local mailboxes accepted" accepted \
    "$(local_submit info@example.com info@example.com alice@alice.org carol@carol.net)"
expect_eq "suspended: local submission to local and remote rejected" rejected \
    "$(local_submit info@example.com info@example.com alice@alice.org $remote)"
expect_eq "another account is unaffected" 250 "$(rcpt alice@alice.org alice@alice.org $remote)"
expect_eq "an authenticated empty sender is no bounce: refused" 550 "$(rcpt info@example.com '' $remote)"
expect_eq "cPanel's login form info+example.com is the same mailbox: refused" 550 \
    "$(rcpt info+example.com info@example.com $remote)"
expect_eq "an upper-case user name is the same account: refused" 550 "$(rcpt BOB bob@example.com $remote)"
expect_eq "a bounce from a system uid (root) passes" accepted "$(local_submit "" "" $remote)"
expect_match "daemon logs the refusal with account and reason" \
    'refused ctx=smtp .*account=bob .*reason=account-suspended' "$(cat "$T/daemon.log")"

check "unsuspend bob" ctl unsuspend bob --reason "cause fixed"
expect_eq "after unsuspend: SMTP accepted again" 250 "$(rcpt info@example.com info@example.com $remote)"
expect_eq "after unsuspend: local submission accepted again" accepted \
    "$(local_submit info@example.com info@example.com $remote)"

check "suspend one mailbox" ctl suspend info@example.com --reason "password stolen"
expect_eq "suspended mailbox refused" 550 "$(rcpt info@example.com info@example.com $remote)"
expect_match "the 550 names the mailbox" 'mailbox info@example.com is suspended' "$(smtp_last_reply)"
expect_eq "mailbox matched case-insensitively" 550 "$(rcpt INFO@Example.COM info@example.com $remote)"
expect_eq "sibling mailbox not blocked" 250 "$(rcpt sales@example.com sales@example.com $remote)"
expect_eq "the account's scripts not blocked" accepted "$(local_submit bob bob@example.com $remote)"
check "unsuspend the mailbox" ctl unsuspend info@example.com --reason "password changed"
expect_eq "mailbox flows again" 250 "$(rcpt info@example.com info@example.com $remote)"

# A website script: no authentication, identified by the submitting uid.
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null; then
    getent passwd mabtest >/dev/null || useradd -M -N -r -u 4911 -s /usr/sbin/nologin mabtest 2>/dev/null
    uid_conf=$(exim_conf_make "$SOCK" "$T/exim-uid" mabtest) || fail "exim instance for mabtest"
    # sendmail -bs: SMTP on standard input, no AUTH, no client address
    bs_rcpt() {
        printf 'EHLO script.test\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nQUIT\r\n' "$1" "$2" |
            setpriv --reuid=mabtest --regid="$(id -g mabtest)" --clear-groups "$EXIM" -C "$uid_conf" -bs 2>/dev/null |
            awk '/^[0-9][0-9][0-9] / { n++; if (n == 4) print substr($0, 1, 3) }'
    }
    printf 'mabtest: root\n' >>"$T/cpanel/etc/trueuserowners"
    printf 'mabtest.example: mabtest\n' >>"$T/cpanel/etc/userdomains"
    check "sync picks up the script account" ctl sync
    # the daemon's peer is the test uid's Exim: let it reach the socket
    chmod 0666 "$SOCK"
    expect_eq "script of an active account accepted" accepted \
        "$(EXIM_CONF=$uid_conf local_submit_as mabtest "" www@mabtest.example $remote)"
    expect_eq "sendmail -bs of an active account accepted" 250 "$(bs_rcpt www@mabtest.example $remote)"
    check "suspend the script account" ctl suspend mabtest --reason "hacked contact form"
    expect_eq "script of a suspended account (by uid) rejected" rejected \
        "$(EXIM_CONF=$uid_conf local_submit_as mabtest "" www@mabtest.example $remote)"
    expect_eq "an empty envelope sender does not hide the script's uid" rejected \
        "$(EXIM_CONF=$uid_conf local_submit_as mabtest "" "" $remote)"
    expect_eq "sendmail -bs by the suspended account's uid is refused at RCPT" 550 \
        "$(bs_rcpt www@mabtest.example $remote)"
    check "the history names the script" \
        wait_until 5 sh -c "'$BUILD/mailabusectl' -c '$T/mailabused.conf' history mabtest | grep -q '^script  *contact.php '"
    EXIM_CONF=$T/exim/exim.conf
fi

# The daemon stops: nothing is lost, nothing escapes.
daemon_stop
expect_eq "daemon stops on SIGTERM with status 0" 0 "$DAEMON_STATUS"
check "SIGTERM removed the socket" test ! -e "$SOCK"
expect_eq "daemon down: SMTP gets 451" 451 "$(rcpt info@example.com info@example.com $remote)"
expect_eq "daemon down: local submission is frozen" frozen \
    "$(local_submit info@example.com info@example.com $remote)"
check "daemon comes back" daemon_start
expect_eq "daemon back: SMTP accepted" 250 "$(rcpt info@example.com info@example.com $remote)"

t_finish

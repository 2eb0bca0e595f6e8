#!/usr/bin/env bash
# Input hygiene, sync's guard and notices that never hold enforcement up:
# forged log lines and terminal escape sequences from logins, CONTACTEMAIL
# and complaint references come out escaped (and as proper JSON); a
# CONTACTEMAIL that is not one plain address is not used; a notice that
# keeps failing is given up after notify.give_up; a truncated
# etc/userdomains cannot lift a suspension; suspend works without its
# template directory.
. "$(dirname "$0")/lib.sh"
t_init
remote=someone@remote.test
ESC=$'\e'
has_esc() { grep -q "$ESC" "$1"; }
mails() { ls "$T/mail" | grep -c '\.eml$'; }
mail_n() { cat "$T/mail/$1.eml"; }
# the header block of a captured notice
mail_headers() { sed '/^$/q' "$T/mail/$1.eml"; }

# ctl_at "YYYY-MM-DD HH:MM:SS" ARGS...: mailabusectl at that (UTC) time
ctl_at() {
    local when=$1; shift
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0 TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$when" \
        "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"
}

printf 'dave.test: dave\n' >>"$T/cpanel/etc/userdomains"
printf 'dave: root\n' >>"$T/cpanel/etc/trueuserowners"
printf 'DNS=dave.test\nCONTACTEMAIL=dave@contact.test\n' >"$T/cpanel/var/cpanel/users/dave"
# alice's contact address hides a TAB, carol's a CR and a header, dave's an ESC
printf 'DNS=alice.org\nCONTACTEMAIL=alice\t@contact.test\n' >"$T/cpanel/var/cpanel/users/alice"
printf 'DNS=carol.net\nX=1\nCONTACTEMAIL=carol@contact.test\rBcc: victim@evil.test\n' \
    >"$T/cpanel/var/cpanel/users/carol"

# --- CONTACTEMAIL: one plain address, or notify.fallback --------------------
expect_status "sync" 0 ctl sync
users=$T/cpanel/var/cpanel/users
expect_match "a CONTACTEMAIL with a TAB is refused with file:line" \
    "warning: $users/alice:2: CONTACTEMAIL \"alice\\\\t@contact.test\" is not one plain address; notices go to notify.fallback" \
    "$(cat "$T/last.err")"
expect_match "a CONTACTEMAIL with a CR is refused with file:line" \
    "warning: $users/carol:3: CONTACTEMAIL \"carol@contact.test\\\\rBcc: victim@evil.test\" is not one plain address" \
    "$(cat "$T/last.err")"
expect_eq "neither is stored" "||dave@contact.test" \
    "$(sqlite3 "$DB" "SELECT group_concat(contact, '|') FROM (SELECT contact FROM accounts WHERE name IN ('alice', 'carol', 'dave') ORDER BY name)")"
check "the daemon starts" daemon_start
expect_status "suspend alice" 0 ctl suspend alice --reason "spam run"
expect_eq "her notice went out" 1 "$(mails)"
expect_match "to notify.fallback" '^To: abuse-fallback@server\.test$' "$(mail_headers 1)"
expect_status "suspend carol" 0 ctl suspend carol --reason "spam run"
expect_match "carol's notice goes to notify.fallback too" '^To: abuse-fallback@server\.test$' \
    "$(mail_headers 2)"
if mail_headers 2 | grep -qi '^Bcc:' || grep -q $'\r' "$T/mail/2.eml"; then
    fail "no header is injected through CONTACTEMAIL" "$(mail_headers 2)"
else pass "no header is injected through CONTACTEMAIL"; fi
check "unsuspend alice" ctl unsuspend alice --reason "done" --no-count
check "unsuspend carol" ctl unsuspend carol --reason "done" --no-count

# --- forged log lines --------------------------------------------------------
check "suspend bob" ctl suspend bob --reason "stolen password"
forged=$'info\nmailabused: conn 1: refused forged=yes account=alice'
expect_match "a login with a newline in its mailbox part is bob's, refused" '^REFUSE' \
    "$(q CHECK ctx=smtp "auth=$forged@example.com" sender=x@example.com rcpt=$remote)"
check "the refusal is logged" wait_until 10 grep -q 'forged=yes' "$T/daemon.log"
expect_eq "no forged second log line" 0 "$(grep -c '^mailabused: conn 1: refused forged' "$T/daemon.log")"
expect_match "the newline is logged escaped, on the refusal's own line" \
    'refused .*account=bob mailbox=info\\nmailabused: conn 1: refused forged=yes account=alice@example\.com identified-by=auth-mailbox auth=info\\nmailabused: conn 1: refused forged=yes' \
    "$(grep 'forged=yes' "$T/daemon.log")"
if has_esc "$T/daemon.log"; then fail "no raw ESC in the log"; else pass "no raw ESC in the log"; fi

# --- escape sequences in history, status, sync, complaint ---------------------
evil_login=$'\e]0;owned\a\e[31mevil@alice.org'
expect_eq "a login with escape sequences passes (alice is active)" PASS \
    "$(q CHECK ctx=smtp stage=data "auth=$evil_login" sender=x@alice.org rcpt=$remote msgid=1abcde-000001-AB ip=192.0.2.7)"
check "it is recorded" wait_until 10 sh -c "'$BUILD/mailabusectl' -c '$T/mailabused.conf' history alice --json | jq -e '.sources | length > 0'"
expect_status "history alice" 0 ctl history alice --messages
if has_esc "$T/last.out" || grep -q $'\a' "$T/last.out"; then
    fail "history prints no raw ESC or BEL" "$(cat -v "$T/last.out")"
else pass "history prints no raw ESC or BEL"; fi
expect_match "history shows the login escaped" '^mailbox \\x1b\]0;owned\\x07\\x1b\[31mevil@alice\.org' \
    "$(cat "$T/last.out")"
ctl history alice --json >"$T/h.json"
expect_eq "history --json parses and round-trips the raw login" "$evil_login" \
    "$(jq -r '.sources[] | select(.kind == "mailbox") | .source' "$T/h.json")"

evil_ref=$'\e[2J\e[31m<spam@remote.test>\nforged: line'
expect_status "complaint add with escape sequences in --ref" 0 \
    ctl complaint add dave --ref "$evil_ref" --source fbl
if has_esc "$T/last.out"; then fail "complaint add prints no raw ESC"; else pass "complaint add prints no raw ESC"; fi
expect_match "it prints the reference escaped" '\(fbl: \\x1b\[2J\\x1b\[31m<spam@remote\.test>\\nforged: line\)' \
    "$(cat "$T/last.out")"
expect_status "status dave" 0 ctl status dave
if has_esc "$T/last.out"; then fail "status prints no raw ESC"; else pass "status prints no raw ESC"; fi
expect_match "status shows the reference escaped, on one line" \
    '^complaint:    #[0-9]+ fbl "\\x1b\[2J\\x1b\[31m<spam@remote\.test>\\nforged: line" received' \
    "$(cat "$T/last.out")"
expect_eq "status --json round-trips the raw reference" "$evil_ref" \
    "$(ctl status dave --json | jq -r '.complaints[0].ref')"
expect_status "complaint list" 0 ctl complaint list dave
if has_esc "$T/last.out"; then fail "complaint list prints no raw ESC"; else pass "complaint list prints no raw ESC"; fi

# a contact address with ESC left in the database by an earlier version
sqlite3 "$DB" "UPDATE accounts SET contact = char(27) || '[5mdave@contact.test' WHERE name = 'dave'"
expect_status "status of an account with an ESC in its contact" 0 ctl status dave
expect_match "status shows the contact escaped" '^contact:      \\x1b\[5mdave@contact\.test$' "$(cat "$T/last.out")"
expect_eq "status --json round-trips the raw contact" "$ESC[5mdave@contact.test" \
    "$(ctl status dave --json | jq -r .contact)"
expect_status "list" 0 ctl list
if has_esc "$T/last.out"; then fail "list prints no raw ESC"; else pass "list prints no raw ESC"; fi
# and sync, which puts cPanel's address back, prints the old one escaped
printf 'DNS=dave.test\nCONTACTEMAIL=\e[1mdave@contact.test\n' >"$users/dave"
expect_status "sync with an ESC in a CONTACTEMAIL" 0 ctl sync
if has_esc "$T/last.out" || has_esc "$T/last.err"; then
    fail "sync prints no raw ESC" "$(cat -v "$T/last.out" "$T/last.err")"
else pass "sync prints no raw ESC"; fi
expect_match "sync shows the change escaped" '^~ account dave: owner=root contact=\\x1b\[5mdave@contact\.test main=dave\.test -> owner=root contact= main=dave\.test$' \
    "$(cat "$T/last.out")"
expect_match "and refuses the new address with file:line, escaped" \
    "$users/dave:2: CONTACTEMAIL \"\\\\x1b\[1mdave@contact\.test\" is not one plain address" \
    "$(cat "$T/last.err")"
printf 'DNS=dave.test\nCONTACTEMAIL=dave@contact.test\n' >"$users/dave"
check "sync back" ctl sync

# a reason that tries to add headers to the notice
n=$(mails)
expect_status "suspend dave with a reason holding a newline and a header" 0 \
    ctl suspend dave --reason $'spam\nBcc: victim@evil.test'
expect_eq "its notice went out" $((n + 1)) "$(mails)"
if mail_headers $((n + 1)) | grep -qi '^Bcc:'; then
    fail "no header is injected through a reason" "$(mail_headers $((n + 1)))"
else pass "no header is injected through a reason"; fi
check "unsuspend dave" ctl unsuspend dave --reason done --no-count

# --- a truncated etc/userdomains lifts no suspension -------------------------
ud=$T/cpanel/etc/userdomains
cp "$ud" "$T/userdomains.orig"
check "suspend the mailbox info@example.com too" ctl suspend info@example.com --reason "password stolen"
expect_match "bob's mailbox is refused" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=$remote)"
: >"$ud"
expect_status "sync with an empty etc/userdomains is refused (exit 65)" 65 ctl sync
expect_match "it says why" 'refusing to remove 6 of 6 domains \(is etc/userdomains under .* complete\?\); use --force' \
    "$(cat "$T/last.err")"
grep -v -e example.com -e shop-bob.net "$T/userdomains.orig" >"$ud"
expect_status "sync with bob's domains cut out of etc/userdomains is refused (exit 65)" 65 ctl sync
expect_match "it names the suspended account" 'refusing to take 3 of the 3 domains of suspended account bob' \
    "$(cat "$T/last.err")"
expect_match "and each domain it would lose" 'warning: suspended account bob loses domain shop-bob\.net' \
    "$(cat "$T/last.err")"
expect_match "bob's mailbox is still refused" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=$remote)"
expect_match "and bob's other logins" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=sales@shop-bob.net sender=sales@shop-bob.net rcpt=$remote)"
expect_eq "status still lists bob's domains" 3 "$(ctl status bob --json | jq '.domains | length')"
cp "$T/userdomains.orig" "$ud"
printf 'bob: reseller1\n' >"$T/cpanel/etc/trueuserowners"
expect_status "sync with a truncated etc/trueuserowners is refused (exit 65)" 65 ctl sync
expect_match "it says the owners would go" 'refusing to drop the owner of 3 of 4 accounts' "$(cat "$T/last.err")"
printf 'bob: reseller1\nalice: root\ncarol: root\ndave: root\n' >"$T/cpanel/etc/trueuserowners"
grep -v blog.example.com "$T/userdomains.orig" >"$ud"
expect_status "one domain of a suspended account going is not refused" 0 ctl sync
expect_match "but always said" 'warning: suspended account bob loses domain blog\.example\.com' \
    "$(cat "$T/last.err")"
cp "$T/userdomains.orig" "$ud"
check "sync back" ctl sync
expect_match "bob is still refused" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=$remote)"
check "unsuspend the mailbox" ctl unsuspend info@example.com --reason done

# --- suspend never waits on a template ----------------------------------------
sed -i "s|templates = .*|templates = \"$T/no-such-directory\";|" "$T/mailabused.conf"
n=$(mails)
expect_status "suspend with the template directory missing succeeds" 0 \
    ctl suspend alice --reason "templates gone"
expect_match "with a warning" "warning: notice template $T/no-such-directory/suspended\.txt: No such file or directory; the built-in text is used instead" \
    "$(cat "$T/last.err")"
expect_eq "Exim refuses alice now" REFUSE \
    "$(q CHECK ctx=smtp auth=alice@alice.org sender=alice@alice.org rcpt=$remote | cut -d' ' -f1)"
expect_eq "the notice went out" $((n + 1)) "$(mails)"
expect_match "with the built-in subject" '^Subject: Outgoing mail of alice is suspended$' "$(mail_n $((n + 1)))"
if grep -Fxq "$(sed -n 8p "$TOP/conf/notices/suspended.txt")" "$T/mail/$((n + 1)).eml"; then
    pass "and the built-in text"; else fail "and the built-in text" "$(mail_n $((n + 1)))"; fi
expect_match "with its reason" 'templates gone' "$(mail_n $((n + 1)))"
check "unsuspend alice" ctl unsuspend alice --reason done --no-count
expect_eq "doctor: the built-in templates render" \
    "true 4 render, 0 from $T/no-such-directory, 4 built in" \
    "$(ctl doctor --json | jq -r '.checks[] | select(.check == "notice templates") | "\(.ok) \(.detail)"')"
expect_status "complaint add --suspend with the template directory missing succeeds" 0 \
    ctl complaint add alice --ref "<x@remote.test>" --suspend
expect_match "alice is suspended" '^state: +suspended$' "$(ctl status alice)"
check "unsuspend alice" ctl unsuspend alice --reason done --no-count
# an automatic suspension, by the daemon, without its templates
printf 'detect: { mailbox_new_hosts_per_hour = 1; mailbox_new_hosts_action = "suspend"; };\n' \
    >>"$T/mailabused.conf"
kill -HUP "$DAEMON_PID"
check "the daemon reloads" wait_until 10 grep -q 'configuration reloaded' "$T/daemon.log"
carol_notices() { grep -l '^Subject: Outgoing mail of carol is suspended$' "$T/mail/"*.eml | wc -l; }
c0=$(carol_notices)
for i in 1 2; do
    q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt=$remote \
        msgid=1auto0-00000$i-AB ip=198.51.100.$i >/dev/null
done
check "the detector suspends carol although the templates are gone" \
    wait_until 10 sh -c "'$BUILD/mailabusectl' -c '$T/mailabused.conf' status carol | grep -q '^state: *suspended'"
expect_match "the daemon warns and uses the built-in text" \
    "warning: notice template $T/no-such-directory/suspended\.txt: No such file or directory; the built-in text is used instead" \
    "$(cat "$T/daemon.log")"
ctl expire >/dev/null 2>&1	# sends it, unless the daemon did already
# (both send niced: on a loaded machine that takes longer than the rest)
check "its notice goes out with the built-in subject" wait_until 30 \
    sh -c "[ \$(grep -l '^Subject: Outgoing mail of carol is suspended\$' '$T/mail/'*.eml | wc -l) -gt $c0 ]"
check "unsuspend carol" ctl unsuspend carol --reason done --no-count
mkdir -p "$T/tpl"
printf 'Subject: broken ${nosuch}\n\nbody\n' >"$T/tpl/suspended.txt"
sed -i "s|templates = .*|templates = \"$T/tpl\";|" "$T/mailabused.conf"
n=$(mails)
expect_status "suspend with a broken override succeeds" 0 ctl suspend alice --reason "broken override"
expect_match "with a warning naming the file" "warning: notice template $T/tpl/suspended\.txt: unknown variable \\$\{nosuch\} in template; the built-in text is used instead" \
    "$(cat "$T/last.err")"
expect_match "and the built-in text" '^Subject: Outgoing mail of alice is suspended$' "$(mail_n $((n + 1)))"
check "unsuspend alice" ctl unsuspend alice --reason done --no-count
printf 'Subject: custom notice for ${account}\n\nour own words\n' >"$T/tpl/suspended.txt"
expect_status "suspend with a valid override" 0 ctl suspend alice --reason "override"
expect_match "the override is used" '^Subject: custom notice for alice$' "$(mail_n $((n + 2)))"
check "unsuspend alice" ctl unsuspend alice --reason done --no-count

# --- a notice that keeps failing is given up after notify.give_up -------------
check "unsuspend bob" ctl unsuspend bob --reason done --no-count
expect_eq "nothing is queued" 0 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE sent_at IS NULL")"
sed -i "s|sendmail = .*|sendmail = \"/bin/false\";|" "$T/mailabused.conf"
expect_status "a complaint suspends dave while the mail command fails" 0 \
    ctl_at "2027-01-01 12:00:00" complaint add dave --ref "fbl-1" --suspend
expect_match "the notice stays queued" '1 notice not sent yet' "$(cat "$T/last.err")"
expect_status "expire six days later" 0 ctl_at "2027-01-07 12:00:00" expire
expect_match "retries it" ', 0 notices sent, 1 failed, 0 given up' "$(cat "$T/last.out")"
expect_status "expire seven days after it was queued" 0 ctl_at "2027-01-08 12:00:00" expire
expect_match "gives it up" ', 0 notices sent, 0 failed, 1 given up' "$(cat "$T/last.out")"
expect_match "and logs it" 'warning: dave: notice #[0-9]+ \(suspended\) to dave@contact\.test given up after 3 attempts since 2027-01-01T12:00:00Z \(notify\.give_up\): notify\.sendmail exited with status 1' \
    "$(cat "$T/last.err")"
expect_status "status dave" 0 ctl_at "2027-01-08 12:00:01" status dave
expect_match "status says the notice failed" '^notice:       #[0-9]+ suspended to dave@contact\.test FAILED: given up 2027-01-08T12:00:00Z after 3 attempts since 2027-01-01T12:00:00Z' \
    "$(cat "$T/last.out")"
expect_eq "status --json says so" "suspended 2027-01-08T12:00:00Z 3" \
    "$(ctl_at "2027-01-08 12:00:01" status dave --json | jq -r '.notices_failed[] | "\(.kind) \(.failed_at) \(.attempts)"')"
expect_eq "and it is audited" 1 \
    "$(ctl history dave --json | jq '[.changes[] | select(.action == "notice-failed")] | length')"
expect_status "expire a day later" 0 ctl_at "2027-01-09 12:00:00" expire
expect_match "does not retry it" ', 0 notices sent, 0 failed, 0 given up' "$(cat "$T/last.out")"
expect_eq "its attempts stay at 3" 3 \
    "$(sqlite3 "$DB" "SELECT attempts FROM outbox WHERE failed_at IS NOT NULL")"

check "daemon stops" daemon_stop
t_finish

#!/usr/bin/env bash
# What each account sends, through a real Exim 4.96 that delivers (the
# project's own contrib/exim ACLs and event_action): per-source history
# with delivery outcomes, and every detector tripping and applying its
# action; the detectors' windows survive a restart; a write-locked
# database does not delay the answers.
. "$(dirname "$0")/lib.sh"
t_init
if [ "$(id -u)" != 0 ]; then
    echo "# t_history needs root (Exim instances, a test user); skipped"
    t_finish; exit
fi
CONF_EXTRA='detect:
{
  account_messages_per_hour = 1000;
  mailbox_messages_per_hour = 500;
  mailbox_new_hosts_per_hour = 3;
  mailbox_new_hosts_action = "suspend";
  script_rcpts_per_hour = 5;
  script_rcpts_action = "hold";
  bounce_percent = 50;
  bounce_min = 3;
  bounce_action = "defer";
};'
MAX_LINE=65536 conf_write
EXIM_LOCAL_DOMAINS="example.com shop-bob.net blog.example.com alice.org carol.net form.example"
EXIM_CONF_TEMPLATE=$TOP/tests/integration/exim-deliver.conf.in
exim_conf_make "$SOCK" "$T/exim" >/dev/null || { fail "exim test configuration"; t_finish; exit; }

# a website account with a real uid, for its scripts
getent passwd mabform >/dev/null || useradd -M -N -r -u 4913 -s /usr/sbin/nologin mabform 2>/dev/null
printf 'mabform: root\n' >>"$T/cpanel/etc/trueuserowners"
printf 'form.example: mabform\n' >>"$T/cpanel/etc/userdomains"
printf 'form.example\n' >>"$T/cpanel/etc/localdomains"
printf 'DNS=form.example\nCONTACTEMAIL=owner@form.test\n' >"$T/cpanel/var/cpanel/users/mabform"
form_conf=$(exim_conf_make "$SOCK" "$T/exim-form" mabform) || fail "exim instance for mabform"

check "sync imports the fixture" ctl sync
check "daemon starts" daemon_start
chmod 0666 "$SOCK"	# the mabform instance's Exim runs as mabform

# smtp_send AUTH IP FROM RCPT...: one message over exim -bs, delivered at
# once (-odi); prints the reply to DATA's end (or to the failed command)
smtp_send() {
    local auth=$1 ip=$2 from=$3 dir=$T/exim
    shift 3
    {
        printf 'EHLO client.test\r\n'
        printf 'AUTH PLAIN %s\r\n' "$(printf '\0%s\0%s' "$auth" secret | base64 -w0)"
        printf 'MAIL FROM:<%s>\r\n' "$from"
        for r in "$@"; do printf 'RCPT TO:<%s>\r\n' "$r"; done
        printf 'DATA\r\nFrom: <%s>\r\nSubject: test\r\n\r\nHello.\r\n.\r\nQUIT\r\n' "$from"
    } >"$dir/send.in"
    $EXIM -C "$dir/exim.conf" -odi -oMa "$ip" -bs <"$dir/send.in" >"$dir/send.out" 2>&1
    # the reply after the last one to DATA's "354", else the first failure
    tr -d '\r' <"$dir/send.out" | awk '
        /^354 / { data = 1; next }
        data && /^[0-9][0-9][0-9] / { print substr($0, 1, 3); exit }
        /^[45][0-9][0-9] / && !fail { fail = substr($0, 1, 3) }
        END { if (!data && fail) print fail }'
}
# the failure reply of the last smtp_send, its continuation lines joined
last_send() {
    tr -d '\r' <"$T/exim/send.out" | grep -E '^[45][0-9][0-9]' |
        awk '{ code = substr($0, 1, 3); t = t (t == "" ? "" : " ") substr($0, 5) }
             /^[0-9][0-9][0-9] / { print code " " t; t = "" }' | head -n 1
}

# form_send SCRIPT-HEADER RCPT...: PHP's mail() in mabform's site
form_send() {
    local hdr=$1 dir=$T/exim-form
    shift
    {
        printf 'From: <www@form.example>\nTo: %s\nSubject: contact\n' "$1"
        [ -n "$hdr" ] && printf 'X-PHP-Script: %s\n' "$hdr"
        printf '\nHello.\n'
    } >"$dir/form.msg"
    setpriv --reuid=mabform --regid="$(id -g mabform)" --clear-groups \
        "$EXIM" -C "$form_conf" -odi -oep -oi -f www@form.example -bm -- "$@" \
        <"$dir/form.msg" >"$dir/form.out" 2>&1
}
hist() { ctl history "$@" --json; }
src() { jq -c --arg s "$2" '.sources[] | select(.source == $s)' <<<"$1"; }

# 1. A mailbox's messages, their recipients, and what Exim did with them.
expect_eq "alice sends one message to five recipients" 250 \
    "$(smtp_send alice@alice.org 192.0.2.10 alice@alice.org ok1@remote.test bounce1@remote.test \
        bounce2@other.test defer1@remote.test carol@carol.net)"
outcomes() { hist alice | jq -e '.sources[0] | .delivered == 1 and .bounced == 2 and .deferred >= 1' >/dev/null; }
check "event_action reported every outcome" wait_until 10 outcomes
h=$(hist alice)
s=$(src "$h" alice@alice.org)
expect_eq "one source: the mailbox" mailbox "$(jq -r .kind <<<"$s")"
expect_eq "one message" 1 "$(jq -r .messages <<<"$s")"
expect_eq "one local recipient" 1 "$(jq -r .rcpts_local <<<"$s")"
expect_eq "four external recipients" 4 "$(jq -r .rcpts_external <<<"$s")"
expect_eq "top domain first" "remote.test 3" "$(jq -r '.top_domains[0] | "\(.domain) \(.rcpts)"' <<<"$s")"
expect_eq "the client host, new in the period" "192.0.2.10 true" \
    "$(jq -r '.hosts[0] | "\(.ip) \(.new)"' <<<"$s")"
expect_match "--messages lists the message with its Exim id" \
    'PASS +smtp +mailbox alice@alice.org from 192.0.2.10 .*1 delivered, [0-9]+ deferred, 2 bounced.* id [0-9A-Za-z-]+' \
    "$(ctl history alice --messages)"

# 2. Bounce detector (50% of at least 4 outcomes, action defer).
expect_eq "over the bounce rate, the next message is deferred" 451 \
    "$(smtp_send alice@alice.org 192.0.2.10 alice@alice.org ok2@remote.test)"
expect_match "the 451 says why" '^451 4\.7\.1 .*bounce: alice, 75% bounced or deferred in the last hour \(limit 50%\)' \
    "$(last_send)"
expect_match "and Exim logs it" 'mailabuse: deferred message from auth=alice@alice.org' \
    "$(cat "$T/exim/spool/log/mainlog")"

# 3. Stolen password: one mailbox from more new hosts than allowed (3, suspend).
for i in 1 2 3; do
    expect_eq "info@example.com from new host $i accepted" 250 \
        "$(smtp_send info@example.com 203.0.113.$i info@example.com friend$i@remote.test)"
done
expect_eq "a fourth new host: deferred while the account is suspended" 451 \
    "$(smtp_send info@example.com 203.0.113.4 info@example.com friend4@remote.test)"
expect_match "saying so" '^451 4\.7\.1 Outgoing mail of account bob is being suspended: mailbox_new_hosts: info@example.com, 4 new client hosts' \
    "$(last_send)"
suspended() { ctl status bob --json | jq -e '.state == "suspended"' >/dev/null; }
check "the suspension is written" wait_until 10 suspended
expect_eq "by the detection, audited" "mailabused (detection)" \
    "$(ctl history bob --json | jq -r '[.changes[] | select(.action == "suspend")][-1].actor')"
expect_match "with a detection complaint (the owner waits out its window)" '^#[0-9]+ +detection ' \
    "$(ctl complaint list bob)"
notified() { grep -qs 'bob.owner@contact.test' "$T"/mail/*; }
check "the owner is told by mail" wait_until 10 notified
expect_eq "the next message is refused at RCPT" 550 \
    "$(smtp_send info@example.com 203.0.113.1 info@example.com friend1@remote.test)"
# the writer takes up to a tenth of a second to gather a batch
refused_recorded() { [ "$(src "$(hist bob)" info@example.com | jq -r .refused)" = 1 ]; }
check "the refusal is recorded" wait_until 10 refused_recorded
ctl history bob >"$T/bob-history.txt"
s=$(src "$(hist bob)" info@example.com)
expect_eq "history: the mailbox's hosts, all new" "4 4" \
    "$(jq -r '"\(.hosts | length) \([.hosts[] | select(.new)] | length)"' <<<"$s")"
expect_eq "history: 3 passed, 1 limited, 1 refused" "5 1 1" \
    "$(jq -r '"\(.messages) \(.limited) \(.refused)"' <<<"$s")"

# 4. A contact form abused: one script, many distinct recipients (5, hold).
for i in 1 2 3 4 5; do
    form_send "www.form.example/contact.php for 198.51.100.$i" "victim$i@remote$i.test"
    expect_eq "contact form message $i delivered" "" "$(grep -h ' frozen' "$T/exim-form/form.out")"
done
form_send "www.form.example/contact.php for 198.51.100.6" victim6@remote6.test
held() { grep -q 'held for review' "$T/exim-form/form.out"; }
check "the sixth distinct recipient is held (frozen)" held
form_id=$("$EXIM" -C "$form_conf" -bp 2>/dev/null | awk '$3 ~ /-/ { print $3 }' | tail -n 1)
expect_eq "and stays on the queue frozen" frozen \
    "$(EXIM_CONF=$form_conf exim_queue_state "$form_id")"
# an infected site: a backdoor calling sendmail without PHP's header
form_send "" spam1@far.test spam2@far.test
delivered6() {
    hist mabform | jq -e '[.sources[] | select(.source == "www.form.example/contact.php")][0].delivered == 5' >/dev/null
}
check "the form's deliveries are reported" wait_until 10 delivered6
# the backdoor's recipients count with the form's: the same uid, over the limit
backdoor() { hist mabform | jq -e '.sources[] | select(.source | startswith("sendmail")) | .held == 1' >/dev/null; }
check "the backdoor's message is held too (the account's uid is over its limit)" wait_until 10 backdoor
h=$(hist mabform)
s=$(src "$h" www.form.example/contact.php)
expect_eq "history: the script, 6 messages, 6 external, 1 held" "script 6 6 1" \
    "$(jq -r '"\(.kind) \(.messages) \(.rcpts_external) \(.held)"' <<<"$s")"
expect_eq "history: its six web clients" 6 "$(jq -r '.hosts | length' <<<"$s")"
expect_eq "history: the backdoor is a source of its own" "local 1 2" \
    "$(jq -r '.sources[] | select(.source | startswith("sendmail")) | "\(.kind) \(.messages) \(.rcpts_external)"' <<<"$h")"
ctl history mabform >"$T/form-history.txt"
expect_match "the text view names the script and its numbers" \
    '^script +www\.form\.example/contact\.php +6 +0 +6 +5 ' "$(cat "$T/form-history.txt")"

# 5. The windows survive a restart.
daemon_stop
check "daemon restarts" daemon_start
chmod 0666 "$SOCK"
form_send "www.form.example/contact.php for 198.51.100.7" victim7@remote7.test
check "after the restart the form is still over its limit (held)" held

# a forged header does not dodge the count: every script of the account runs as its uid
form_send "www.form.example/random-8.php for 198.51.100.8" victim8@remote8.test
check "a script under another name is still over the limit (held)" held
expect_match "and the reason names it" 'script_rcpts: www\.form\.example/random-8\.php' \
    "$(cat "$T/exim-form/form.out")"
# a suspension and its lift start the account afresh
check "suspend mabform" ctl suspend mabform --reason "contact form abused"
check "lift it (the form is fixed)" ctl unsuspend mabform --reason "captcha added" --no-count
form_send "www.form.example/contact.php for 198.51.100.9" victim9@remote9.test
not_held() { ! held && ! grep -q 'frozen' "$T/exim-form/form.out"; }
check "after the lift the form's next message goes out" not_held

# 6. Per-account limits, and the defer action.
check "limits: carol may send 2 messages an hour" ctl limits carol account_messages=2/defer
expect_match "limits shows the account's own value" '^account_messages +2/defer +account' \
    "$(ctl limits carol)"
expect_match "and audits it" 'limits .*account_messages = 2/defer \(was 1000/defer\)' \
    "$(ctl history carol)"
cq() { q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt=x@remote.test ip=192.0.2.50 msgid="$1"; }
expect_eq "carol's first message" PASS "$(cq m1 | cut -d' ' -f1)"
expect_eq "carol's second message" PASS "$(cq m2 | cut -d' ' -f1)"
expect_match "carol's third message is deferred" '^DEFER 4\.7\.1 Sending limit reached.*account_messages: carol, 3 messages' "$(cq m3)"
check "limits back to the configuration's" ctl limits carol account_messages=default
expect_eq "and carol sends again" PASS "$(cq m4 | cut -d' ' -f1)"
# the other detectors, each with its own action, set for carol alone
check "limits: four messages an hour for a mailbox, then hold" ctl limits carol mailbox_messages=4/hold
expect_eq "the mailbox's fourth message (one was deferred, not counted)" PASS "$(cq m5 | cut -d' ' -f1)"
expect_match "its fifth is held" '^HOLD held for review: mailbox_messages: carol@carol.net, 5 messages in the last hour \(limit 4\)' "$(cq m6)"
check "limits: mailbox back, 3 external recipients per mailbox, defer" \
    ctl limits carol mailbox_messages=default mailbox_rcpts=3/defer
cq4() { q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt="$1" ip=192.0.2.50 msgid="$2"; }
expect_match "four external recipients at once: deferred" \
    '^DEFER 4\.7\.1 .*mailbox_rcpts: carol@carol.net, [0-9]+ external recipients' \
    "$(cq4 'a@r.test, b@r.test, c@r.test, d@r.test' m7)"
expect_eq "local recipients are not external" PASS \
    "$(cq4 'alice@alice.org, info@example.com, x@form.example, y@form.example' m8 | cut -d' ' -f1)"
check "limits: 10 external recipients an hour for the account, then suspend" \
    ctl limits carol mailbox_rcpts=off account_rcpts=10/suspend
expect_match "over the account's recipients: suspension under way" \
    '^DEFER 4\.7\.1 Outgoing mail of account carol is being suspended: account_rcpts: carol' \
    "$(cq4 'a@r.test, b@r.test, c@r.test, d@r.test, e@r.test, f@r.test, g@r.test, h@r.test' m9)"
carol_suspended() { ctl status carol --json | jq -e '.state == "suspended" and .source == "detection"' >/dev/null; }
check "carol is suspended by the detection" wait_until 10 carol_suspended
expect_match "and refused from then on" '^REFUSE 5\.7\.1' "$(cq m10)"
check "unsuspend carol" ctl unsuspend carol --reason "test over" --no-count
expect_eq "after the lift carol's counts start afresh (8 of 10)" PASS \
    "$(cq4 'a@r.test, b@r.test, c@r.test, d@r.test, e@r.test, f@r.test, g@r.test, h@r.test' m11 | cut -d' ' -f1)"
check "carol's limits back to the configuration's" ctl limits carol account_rcpts=default
expect_status "an unknown detector is refused" 64 ctl limits carol nonsense=3
expect_status "a bad action is refused" 64 ctl limits carol bounce=20/explode

# 7. The operator's view.
top=$(ctl top --json)
expect_eq "top: most external recipients first" \
    "$(jq -c '[.[].rcpts_external] | sort | reverse' <<<"$top")" "$(jq -c '[.[].rcpts_external]' <<<"$top")"
expect_eq "top: the form account's busiest source" www.form.example/contact.php \
    "$(jq -r '.[] | select(.account == "mabform") | .busiest_source.source' <<<"$top")"
expect_eq "top: alice's bounce rate" 75 "$(jq -r '.[] | select(.account == "alice") | .bounce_percent' <<<"$top")"
ctl top >"$T/top.txt"
expect_match "top as text" '^mabform ' "$(cat "$T/top.txt")"

# 8. A write-locked history does not delay the answers: the writer waits.
mkfifo "$T/lock.fifo"
sqlite3 "$HDB" <"$T/lock.fifo" >/dev/null 2>&1 &
lock_pid=$!
exec 7>"$T/lock.fifo"
echo "BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('lock', 1);" >&7
locked() { ! sqlite3 -cmd '.timeout 0' "$HDB" 'BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null; }
check "another process holds the write lock" wait_until 5 locked
slow=0 bad=0
for i in $(seq 1 50); do
    t0=$(date +%s%N)
    r=$(q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt=y$i@remote.test ip=192.0.2.51 msgid=lock$i)
    t1=$(date +%s%N)
    [ "${r%% *}" = PASS ] || bad=$((bad + 1))
    [ $(((t1 - t0) / 1000000)) -lt 500 ] || slow=$((slow + 1))
done
expect_eq "50 checks answered PASS while locked" 0 "$bad"
expect_eq "and Exim's SMTP submission is accepted while locked" 250 \
    "$(smtp_send carol@carol.net 192.0.2.52 carol@carol.net ok9@remote.test)"
expect_eq "none took 500 ms (the writer waits, not the answers)" 0 "$slow"
exec 7>&-
wait "$lock_pid" 2>/dev/null
written() { [ "$(sqlite3 "$HDB" "SELECT count(*) FROM messages WHERE msgid LIKE 'lock%'")" = 50 ]; }
check "once the lock is gone, all 50 are written" wait_until 15 written
exim_written() { ctl history carol --json | jq -e '[.sources[] | select(.delivered >= 1)] | length >= 1' >/dev/null; }
check "and so is Exim's message, with its delivery" wait_until 15 exim_written

# 9. A message with 200 recipients: a long request, counted in full.
many=()
for i in $(seq 1 200); do many+=("recipient-number-$i@remote-domain-$((i % 7)).test"); done
expect_eq "200 recipients in one SMTP message are accepted" 250 \
    "$(smtp_send carol@carol.net 192.0.2.50 carol@carol.net "${many[@]}")"
big() { ctl history carol --json --messages | jq -e '[.messages[] | select(.rcpts_external == 200)] | length == 1' >/dev/null; }
check "and recorded with its 200 external recipients" wait_until 15 big

# 10. Exim reports a deferral at every try: it counts once.
ev() { q EVENT event=msg:defer msgid=1xAbcd-000001-01 auth=carol@carol.net sender=carol@carol.net rcpt=slow@remote.test age=30; }
q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt=slow@remote.test ip=192.0.2.50 msgid=1xAbcd-000001-01 >/dev/null
expect_eq "the first deferral counts" "OK deferred" "$(ev)"
expect_eq "the next tries do not" "OK deferred again" "$(ev)"
expect_eq "nor the third" "OK deferred again" "$(ev)"
deferred_once() {
    [ "$(sqlite3 "$HDB" "SELECT deferred FROM messages WHERE msgid = '1xAbcd-000001-01'")" = 1 ]
}
check "the message shows one deferral" wait_until 10 deferred_once
expect_match "an event without its name is an error" '^ERROR 5\.5\.2 field event is required' \
    "$(q EVENT msgid=x)"

t_finish

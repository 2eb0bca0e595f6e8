#!/usr/bin/env bash
# Debian's own Exim configuration, split and unsplit, set up exactly as
# README.md tells the administrator: the test extracts the README's blocks
# ("<!-- t_debexim.sh: NAME -->") and runs them, changing only the socket
# path and the fragments' directory.  Then a real "exim -bd" on a loopback
# port takes real mail: SMTP with AUTH from swaks, sendmail as an account's
# uid, with the daemon up and down, Debian's freeze_tell = postmaster in
# force.
#
# So that Exim's default paths are the scratch ones (sendmail as a
# non-root uid cannot use "exim -C": Exim drops its privilege for that),
# the test runs in a private mount namespace where /etc/exim4,
# /var/lib/exim4, /var/spool/exim4, /var/log/exim4 and /var/mail are
# scratch directories bound over the real ones.  Nothing outside $T is
# touched.
if [ -z "${MAB_DEBEXIM_NS:-}" ]; then
    if ! MAB_DEBEXIM_NS=1 exec unshare -m --propagation private bash "$0" "$@"; then
        echo "not ok - t_debexim: unshare -m failed (needs root)"; exit 1
    fi
fi
. "$(dirname "$0")/lib.sh"
t_init

SHARE=$T/share/exim            # stands for /usr/share/mailabuse/exim
mkdir -p "$SHARE" && cp "$TOP"/contrib/exim/*.acl "$TOP"/contrib/exim/*.conf "$SHARE"/
chmod 0755 "$T/share" "$SHARE"; chmod 0644 "$SHARE"/*
# the pristine Debian configuration, before anything is bound over it
cp -a /etc/exim4 "$T/etc-exim4.orig"

# an account whose scripts run as their own uid, and a local mailbox to deliver to
# (home /: Debian's mail_spool transport changes to the home directory)
for u in mabdeb:4917 mabrcpt:4918; do
    id "${u%:*}" >/dev/null 2>&1 ||
        useradd -M -N -r -u "${u#*:}" -d / -s /usr/sbin/nologin "${u%:*}" 2>/dev/null
    id "${u%:*}" >/dev/null 2>&1 || { fail "test user ${u%:*}"; t_finish; exit; }
    [ "$(getent passwd "${u%:*}" | cut -d: -f6)" = / ] || usermod -d / "${u%:*}"
done
printf 'mabdeb: root\n' >>"$T/cpanel/etc/trueuserowners"
printf 'mabdeb.example: mabdeb\n' >>"$T/cpanel/etc/userdomains"
check "sync imports the fixture" ctl sync

RCPT=mabrcpt@localhost
MBOX_PASSWORD='mailbox password'     # the one in the README's passwd block

# readme_block NAME: the README's ```sh block after "<!-- t_debexim.sh: NAME -->"
readme_block() {
    awk -v tag="<!-- t_debexim.sh: $1 -->" '
        $0 == tag { found = 1; next }
        found == 1 && /^```sh$/ { found = 2; next }
        found == 2 && /^```$/ { exit }
        found == 2 { print }' "$TOP/README.md" |
        sed -e "s|/usr/share/mailabuse/exim|$SHARE|g" -e "s|/run/mailabuse/policy.sock|$SOCK|g"
}

queue_count() { exim -bpc 2>/dev/null; }
mbox_count() { grep -c '^From ' "$L/mail/$1" 2>/dev/null || echo 0; }
frozen_ids() { exim -bp 2>/dev/null | awk '/\*\*\* frozen \*\*\*/ { print $3 }'; }

# sendmail as the account's uid (what PHP's mail() runs); over 2 KB, so
# that exim -bp gives its size as "2.4K"
PAD=$(printf '%02000d' 0)
send_local() {
    printf 'From: mabdeb <www@mabdeb.example>\nTo: %s\nSubject: %s\n\nHello.\n%s\n' "$RCPT" "$1" "$PAD" |
        setpriv --reuid=mabdeb --regid="$(id -g mabdeb)" --init-groups /usr/sbin/sendmail -i "$RCPT"
}

# swaks_auth USER: one SMTP AUTH submission to $RCPT; prints swaks' exit status
swaks_auth() {
    swaks --server 127.0.0.1 --port "$PORT" --auth PLAIN --auth-user "$1" \
        --auth-password "$MBOX_PASSWORD" --from "$1" --to "$RCPT" \
        --header "Subject: swaks $1" --timeout 20 >"$L/swaks.out" 2>&1
    echo $?
}

exim_daemon_start() {
    local tries
    for tries in 1 2 3 4 5; do
        PORT=$((20000 + RANDOM % 40000))
        ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q . && continue
        rm -f "$L/exim.pid"
        exim -bd -oX "$PORT" -oP "$L/exim.pid" || continue
        wait_until 10 swaks --server 127.0.0.1 --port "$PORT" --quit-after CONNECT --timeout 2 && return 0
        exim_daemon_stop
    done
    return 1
}

exim_daemon_stop() {
    local pid
    pid=$(cat "$L/exim.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    wait_until 10 sh -c "! kill -0 $pid"
}

# one_layout split|unsplit
one_layout() {
    local layout=$1 d n max c rc
    L=$T/$layout
    mkdir -p "$L"
    cp -a "$T/etc-exim4.orig" "$L/etc"
    mkdir -p "$L/varlib" "$L/spool" "$L/log" "$L/mail"
    chown Debian-exim:Debian-exim "$L/spool"; chmod 0750 "$L/spool"
    chown Debian-exim:adm "$L/log"; chmod 2750 "$L/log"
    chown root:mail "$L/mail"; chmod 2775 "$L/mail"
    for d in /etc/exim4:etc /var/lib/exim4:varlib /var/spool/exim4:spool \
             /var/log/exim4:log /var/mail:mail; do
        umount "${d%%:*}" 2>/dev/null
        mount --bind "$L/${d#*:}" "${d%%:*}" || { fail "$layout: bind $L/${d#*:} on ${d%%:*}"; return; }
    done
    if [ "$layout" = split ]; then
        sed -i "s/^dc_use_split_config=.*/dc_use_split_config='true'/" /etc/exim4/update-exim4.conf.conf
        # not a README step: the tests have no TLS certificate
        echo 'AUTH_SERVER_ALLOW_NOTLS_PASSWORDS = true' >/etc/exim4/conf.d/main/000_localmacros
    else
        sed -i "s/^dc_use_split_config=.*/dc_use_split_config='false'/" /etc/exim4/update-exim4.conf.conf
        echo 'AUTH_SERVER_ALLOW_NOTLS_PASSWORDS = true' >/etc/exim4/exim4.conf.localmacros
    fi
    readme_block "$layout" >"$L/readme-$layout.sh"
    readme_block passwd >"$L/readme-passwd.sh"
    expect_match "$layout: the README has the block" 'update-exim4.conf$' "$(tail -n 1 "$L/readme-$layout.sh")"
    check "$layout: the README's block runs" bash -e "$L/readme-$layout.sh"
    check "$layout: the README's passwd block runs" bash -e "$L/readme-passwd.sh"
    check "$layout: Exim accepts the generated configuration" exim -bV
    expect_eq "$layout: acl_not_smtp is the fragment's" "acl_not_smtp = acl_check_not_smtp" \
        "$(exim -bP acl_not_smtp)"
    expect_eq "$layout: Debian's freeze_tell stays" "freeze_tell = postmaster" "$(exim -bP freeze_tell)"
    expect_match "$layout: mailabuse's router comes before Debian's remote routers" \
        '(^| )mailabuse_suspended .*(dnslookup|smarthost|nonlocal)' "$(exim -bP router_list 2>&1 | tr '\n' ' ')"
    expect_match "$layout: the events reach the remote transport" 'event_action = .*readsocket' \
        "$(exim -bP transport remote_smtp 2>&1 | grep event_action)"
    expect_eq "$layout: doctor finds the fragments, the socket and the events in it" \
        '[["exim rcpt acl",true],["exim not-smtp acl",true],["exim events",true],["policy socket",true]]' \
        "$(ctl doctor --json 2>/dev/null | jq -c '[.checks[] | select(.check | test("^exim (rcpt|not-smtp|events)|^policy socket")) | [.check, .ok]] | sort_by(.[0] | test("policy"))')"
    if ! exim_daemon_start; then fail "$layout: exim -bd starts"; return; fi
    pass "$layout: exim -bd listens on 127.0.0.1:$PORT"

    # the daemon up: an active mailbox, then a suspended one, over SMTP AUTH
    c=$(mbox_count mabrcpt)
    expect_eq "$layout: active mailbox: AUTH SMTP accepted" 0 "$(swaks_auth info@example.com)"
    check "$layout: ... and delivered" wait_until 10 sh -c "[ \$(grep -c '^From ' '$L/mail/mabrcpt') -gt $c ]"
    expect_eq "$layout: a wrong password is refused by the authenticator" 28 \
        "$(MBOX_PASSWORD=wrong swaks_auth info@example.com)"
    check "$layout: suspend bob" ctl suspend bob --reason "spam run"
    expect_eq "$layout: suspended mailbox: swaks fails at RCPT" 24 "$(swaks_auth info@example.com)"
    expect_match "$layout: ... with the daemon's 550" '<\*\* +550[ -]5\.7\.1 Outgoing mail of account bob is suspended' \
        "$(cat "$L/swaks.out")"
    check "$layout: unsuspend bob" ctl unsuspend bob --reason "password changed" --no-count
    c=$(mbox_count mabrcpt)
    check "$layout: sendmail as the account's uid, daemon up" send_local "up"
    check "$layout: ... delivered" wait_until 10 sh -c "[ \$(grep -c '^From ' '$L/mail/mabrcpt') -gt $c ]"
    check "$layout: ... the daemon knew the uid" \
        wait_until 5 sh -c "'$BUILD/mailabusectl' -c '$T/mailabused.conf' history mabdeb | grep -q 'uid 4917'"
    wait_until 10 sh -c '[ "$(exim -bpc)" = 0 ]'
    expect_eq "$layout: the queue is empty" 0 "$(queue_count)"

    # the daemon down: one local message, exactly one frozen message for 10 s
    daemon_stop
    check "$layout: sendmail as the account's uid, daemon down" send_local "down"
    max=0
    d=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$d" ]; do
        n=$(queue_count); [ "${n:-0}" -gt "$max" ] && max=$n
        sleep 0.2
    done
    n=$(queue_count)
    expect_eq "$layout: daemon down: the queue never held more than one message in 10 s" 1 "$max"
    expect_eq "$layout: daemon down: after 10 s, one message on the queue" 1 "$n"
    expect_eq "$layout: ... and it is frozen" 1 "$(frozen_ids | wc -l)"
    expect_match "$layout: the main log says why, no notice was sent" \
        'mailabuse: policy check failed for local message from uid 4917' "$(cat "$L/log/mainlog")"
    expect_eq "$layout: frozen lists it as unreachable" unreachable \
        "$(ctl frozen --json | jq -r '.messages[0].reason')"
    expect_status "$layout: frozen --release with the daemon down: 69, nothing released" 69 \
        ctl frozen --release
    expect_eq "$layout: ... still frozen" 1 "$(frozen_ids | wc -l)"

    # Exim's own message flows without the daemon: a bounce (exim -Mg on a second one)
    check "$layout: a second local message, daemon down" send_local "down 2"
    wait_until 5 sh -c '[ "$(exim -bp | grep -c "frozen")" = 2 ]'
    c=$(mbox_count mabdeb)
    check "$layout: give up on it (exim -Mg): Exim bounces it" exim -Mg "$(frozen_ids | tail -n 1)"
    check "$layout: the bounce passes without the daemon and is delivered" \
        wait_until 10 sh -c "[ \$(grep -c '^From ' '$L/mail/mabdeb' 2>/dev/null || echo 0) -gt $c ]"
    wait_until 10 sh -c '[ "$(exim -bpc)" = 1 ]'
    expect_eq "$layout: back to one message on the queue, no loop" 1 "$(queue_count)"

    # the daemon back: release it; it is delivered
    check "$layout: the daemon comes back" daemon_start
    c=$(mbox_count mabrcpt)
    ctl frozen --release --json >"$L/release.json" 2>"$L/release.err"; rc=$?
    expect_eq "$layout: frozen --release succeeds" 0 "$rc"
    if [ "$(jq -r .released "$L/release.json" 2>/dev/null)" = 1 ]; then pass "$layout: ... released one"
    else fail "$layout: ... released one" "$(head -c 1500 "$L/release.json")" "$(head -c 500 "$L/release.err")"; fi
    check "$layout: the released message is delivered" \
        wait_until 15 sh -c "[ \$(grep -c '^From ' '$L/mail/mabrcpt') -gt $c ]"
    check "$layout: ... the queue is empty" wait_until 10 sh -c '[ "$(exim -bpc)" = 0 ]'
    expect_match "$layout: the release is audited" 'frozen-released' \
        "$(sqlite3 "$DB" "SELECT action FROM audit" 2>/dev/null)"

    # a detector's HOLD is listed, never released
    check "$layout: hold mabdeb's second message an hour" ctl limits mabdeb account_messages=1/hold
    check "$layout: sendmail, over the limit" send_local "held"
    check "$layout: ... frozen" wait_until 5 sh -c '[ "$(exim -bp | grep -c frozen)" = 1 ]'
    expect_eq "$layout: frozen lists the hold" hold "$(ctl frozen --json | jq -r '.messages[0].reason')"
    check "$layout: frozen --release" ctl frozen --release
    expect_eq "$layout: the held message stays frozen" 1 "$(frozen_ids | wc -l)"
    exim -Mrm $(frozen_ids) >/dev/null 2>&1
    ctl limits mabdeb account_messages=default >/dev/null

    # frozen during an outage, suspended since: the release asks again, it stays
    daemon_stop
    check "$layout: daemon down again: a local message" send_local "down 3"
    check "$layout: ... frozen" wait_until 5 sh -c '[ "$(exim -bp | grep -c frozen)" = 1 ]'
    check "$layout: the daemon comes back" daemon_start
    check "$layout: suspend mabdeb meanwhile" ctl suspend mabdeb --reason "hacked form"
    ctl frozen --release --json >"$L/release.json" 2>"$L/release.err"; rc=$?
    expect_eq "$layout: frozen --release: the daemon refuses it now, nothing released" "0 refused" \
        "$rc $(jq -r '"\(.released) \(.messages[0].action)"' "$L/release.json" | cut -d' ' -f2)"
    expect_eq "$layout: ... released none" 0 "$(jq -r .released "$L/release.json")"
    expect_eq "$layout: ... it stays frozen" 1 "$(frozen_ids | wc -l)"
    exim -Mrm $(frozen_ids) >/dev/null 2>&1
    check "$layout: unsuspend mabdeb" ctl unsuspend mabdeb --reason "form fixed" --no-count

    exim_daemon_stop
}

check "daemon starts" daemon_start
one_layout split
daemon_alive || daemon_start >/dev/null
one_layout unsplit
daemon_stop

t_finish

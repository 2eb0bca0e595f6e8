#!/usr/bin/env bash
# Owners never slow Exim: account owners (unprivileged uids, setpriv) hold
# and flood the user socket.  One uid gets at most user_socket.max_per_uid
# connections, and the next is told so; another owner still gets its
# STATUS; and while every connection the owners can get loops HISTORY over
# a history of 200,000 messages, policy CHECKs through the real socket keep
# answering within a second each.  Reload and stop act on the user
# socket's thread too.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "# t_userflood needs root (setpriv, useradd)"; t_finish; exit; fi
FLOOD_ROWS=${FLOOD_ROWS:-200000}
FLOOD_SECONDS=${FLOOD_SECONDS:-10}
t_init
FLOODERS=
# the flood loops end with the test, whatever happens
trap 'touch "$T/flood.stop" 2>/dev/null; kill $FLOODERS 2>/dev/null; t_cleanup' EXIT
for u in mabflood1 mabflood2 mabflood3; do
    id "$u" >/dev/null 2>&1 || useradd -M -N -r -s /usr/sbin/nologin "$u" 2>/dev/null || true
    id "$u" >/dev/null 2>&1 || { fail "user $u exists"; t_finish; exit 1; }
    printf '%s: root\n' "$u" >>"$T/cpanel/etc/trueuserowners"
    printf '%s.test: %s\n' "$u" "$u" >>"$T/cpanel/etc/userdomains"
done
check "sync" ctl sync

# A large history for the flooders, written straight into the history file
# (made by mailabusectl) as the writer would: in time order, each account's
# records chained, the first record of each hour noted.
history_sql() {
    cat <<X
.timeout 10000
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $FLOOD_ROWS)
INSERT INTO messages (at, account, mailbox, ctx, uid, ip, sender, rcpt, verdict, msgid,
    source_kind, source, n_local, n_external, domains, delivered)
SELECT strftime('%s', 'now') - i * 2, 'mabflood' || (1 + i % 2),
    'u' || (i % 50) || '@mabflood' || (1 + i % 2) || '.test', 'smtp', -1,
    '192.0.2.' || (i % 200), 'u' || (i % 50) || '@mabflood' || (1 + i % 2) || '.test',
    'r' || i || '@d' || (i % 300) || '.test', 'PASS', 'flood' || i, 'mailbox',
    'u' || (i % 50) || '@mabflood' || (1 + i % 2) || '.test', 0, 1,
    'd' || (i % 300) || '.test:1', 1
FROM n ORDER BY i DESC;
UPDATE messages SET prev = c.p FROM (SELECT id, lag(id) OVER (PARTITION BY account
    ORDER BY id) AS p FROM messages) AS c WHERE c.id = messages.id;
INSERT OR REPLACE INTO account_last (account, id) SELECT account, max(id) FROM messages
    GROUP BY account;
INSERT OR IGNORE INTO hours (hour, id) SELECT at / 3600, min(id) FROM messages GROUP BY at / 3600;
COMMIT;
X
}
ctl history mabflood1 >/dev/null
history_sql | sqlite3 "$HDB"
hist_rows() { ctl history "$1" --since 30d --json | jq '[.sources[].messages] | add'; }
expect_eq "$FLOOD_ROWS history rows" "$FLOOD_ROWS" \
    "$(($(hist_rows mabflood1) + $(hist_rows mabflood2)))"
check "daemon starts" daemon_start

as() { local u=$1; shift; setpriv --reuid="$u" --regid=nogroup --clear-groups "$@"; }
uq() { as "$1" "$BUILD/mabclient" -q "$USOCK" "${@:2}"; }

# --- the per-uid cap (default 4) -------------------------------------------
exec 3> >(as mabflood1 "$BUILD/mabclient" -H 4 "$USOCK" >"$T/hold1.out")
check "one owner holds 4 idle user-socket connections" wait_until 10 grep -q '^held 4' "$T/hold1.out"
expect_eq "its 5th connection is turned away, saying why" \
    "DEFER 4.3.2 too many connections from your uid" "$(uq mabflood1 PING)"
expect_match "another owner still gets its STATUS" '^OK \{"account":"mabflood2"' \
    "$(uq mabflood2 STATUS)"
expect_match "root is not held to the per-uid cap" '^OK mailabused' "$("$BUILD/mabclient" -q "$USOCK" PING)"
check "the refusal is logged with the uid" \
    wait_until 10 grep -q "user socket: uid $(id -u mabflood1) over user_socket.max_per_uid (4)" "$T/daemon.log"
exec 3>&-
check "the held connections are released" wait_until 10 grep -q '^3:' "$T/hold1.out"
check "then the owner is served again" wait_until 10 sh -c \
    "setpriv --reuid=mabflood1 --regid=nogroup --clear-groups '$BUILD/mabclient' -q '$USOCK' PING | grep -q '^OK'"

# --- the flood ---------------------------------------------------------------
# Two owners loop HISTORY over their history on every connection they can
# get (5 loops each, one over their cap of 4: it is turned away at once,
# and paces itself so as not to load the machine rather than the daemon).
flood_loop() {
    local u=$1 i=$2 r
    while [ -d "$T" ] && [ ! -e "$T/flood.stop" ]; do
        r=$(as "$u" "$BUILD/mabclient" -t 30 -q "$USOCK" HISTORY since=30d limit=1000 |
            cut -c1-60)
        echo "$r" >>"$T/flood.$u.$i"
        case $r in "DEFER 4.3.2"*) sleep 0.1 ;; esac
    done
}
rm -f "$T/flood.stop"
for u in mabflood1 mabflood2; do
    for i in 1 2 3 4 5; do flood_loop "$u" "$i" & FLOODERS="$FLOODERS $!"; done
done
# A HISTORY answer: the summary, or its time bound reached (the work was done).
flood_count() {
    cat "$T"/flood.mabflood* 2>/dev/null |
        grep -cE '^(OK \{"account":"mabflood|DEFER 4\.3\.0 the history is too long)' || true
}
check "the flood is answering HISTORY" wait_until 60 sh -c "[ \$(cat '$T'/flood.mabflood* 2>/dev/null | grep -cE '^(OK|DEFER 4.3.0)') -ge 2 ]"

# Exim's queries meanwhile, timed by one client (connect to answer, each),
# and a third owner's STATUS over and over.
as mabflood3 "$BUILD/mabclient" -R "$FLOOD_SECONDS" -q "$USOCK" STATUS >"$T/other.out" &
other=$!
r=$("$BUILD/mabclient" -R "$FLOOD_SECONDS" -q "$SOCK" CHECK ctx=smtp auth=alice@alice.org \
    sender=alice@alice.org rcpt=x@remote.test)
wait "$other"
histories=$(flood_count)
n=$(echo "$r" | awk '{ print $2 }')
max=$(echo "$r" | awk '{ print $4 }')
passed=$(echo "$r" | sed -n 's/.* PASS=\([0-9]*\).*/\1/p')
other_ok=$(sed -n 's/.* OK=\([0-9]*\).*/\1/p' "$T/other.out")
echo "# CHECKs during the flood: $r; $histories HISTORY answers; a third owner: $(cat "$T/other.out")"
touch "$T/flood.stop"
for p in $FLOODERS; do wait "$p" 2>/dev/null; done
if daemon_alive && [ -S "$SOCK" ]; then pass "the daemon survived the flood"; else
    fail "the daemon survived the flood" "$(tail -30 "$T/daemon.log" 2>&1)"; fi
expect_eq "every CHECK during the flood answered PASS" "$n" "${passed:-0}"
check "and none took a second or more (slowest ${max} ms)" test "$max" -lt 1000
check "enough CHECKs were made to tell ($n)" test "$n" -ge 20
check "the flood really ran: HISTORY answers over the large history ($histories)" \
    test "$histories" -ge 4
check "a third owner got its STATUS during the flood (${other_ok:-0} times)" test "${other_ok:-0}" -ge 1
check "over-cap flooders were turned away" grep -q '^DEFER 4.3.2 too many connections from your uid' \
    "$T"/flood.mabflood1.*

# --- reload and stop act on the user socket's thread ----------------------------
USER_SOCKET_EXTRA="max_per_uid = 2;" conf_write
kill -HUP "$DAEMON_PID"
check "the reload is logged" wait_until 10 grep -q 'configuration reloaded' "$T/daemon.log"
exec 3> >(as mabflood2 "$BUILD/mabclient" -H 2 "$USOCK" >"$T/hold2.out")
check "an owner holds 2 connections" wait_until 10 grep -q '^held 2' "$T/hold2.out"
# the thread reads its copy after the loop has logged: poll until it has it
check "after the reload, the per-uid cap is 2" wait_until 10 sh -c \
    "setpriv --reuid=mabflood2 --regid=nogroup --clear-groups '$BUILD/mabclient' -q '$USOCK' PING | grep -q 'too many connections from your uid'"
exec 3>&-
check "the held connections are released" wait_until 10 grep -q '^1:' "$T/hold2.out"
exec 3> >(as mabflood1 "$BUILD/mabclient" -H 1 "$USOCK" >"$T/hold3.out")
check "an owner holds a connection at the stop" wait_until 10 grep -q '^held 1' "$T/hold3.out"
t0=$SECONDS
daemon_stop
expect_eq "SIGTERM stops the daemon cleanly with a user connection open" 0 "$DAEMON_STATUS"
check "within the stop deadline" test $((SECONDS - t0)) -le 5
check "both sockets are removed" sh -c "! test -e '$SOCK' && ! test -e '$USOCK'"
exec 3>&-
t_finish

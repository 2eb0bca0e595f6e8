#!/usr/bin/env bash
# The daemon on its socket: the protocol, its limits, bad input, signals.
# Bad input never stops it from answering the next query.
. "$(dirname "$0")/lib.sh"
t_init
check "sync" ctl sync
check "daemon starts" daemon_start

expect_eq "PING" "OK mailabused 0.1.0" "$(q PING)"
remote=x@remote.test
expect_eq "active account passes" PASS \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=$remote)"
check "suspend bob" ctl suspend bob --reason "spam run"
expect_match "the very next query sees the suspension" '^REFUSE 5\.7\.1 .*account bob' \
    "$(q CHECK ctx=smtp auth=info@example.com sender=info@example.com rcpt=$remote)"

# Field values are base64: nothing in a value can become another field.
expect_match "a value holding ' rcpt=<local>' cannot inject a local recipient" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=info@example.com \
        "sender=info@example.com rcpt=$(printf alice@alice.org | base64)" rcpt=$remote)"
expect_match "a quoted local part with spaces, = and % is one value" '^REFUSE' \
    "$(q CHECK ctx=local uid= sender=x@example.com "rcpt=\"a b=c%d\"@alice.org, $remote" \
        auth=bob)"
expect_match "a duplicate field is an error" '^ERROR 5\.5\.2 field auth given twice' \
    "$(q CHECK ctx=smtp auth=bob auth=alice sender=a@b rcpt=$remote)"
expect_eq "a quoted local part to a local domain is local" PASS \
    "$(q CHECK ctx=local auth=bob sender=bob@example.com "rcpt=\"a, b\"@alice.org, c@carol.net")"
expect_eq "Exim's own bounce passes" PASS "$(q CHECK ctx=local uid=102 sender= rcpt=$remote)"
expect_match "an empty sender does not hide an authenticated mailbox" '^REFUSE' \
    "$(q CHECK ctx=smtp auth=info@example.com sender= rcpt=$remote)"
expect_eq "root passes" PASS "$(q CHECK ctx=local uid=0 sender=root@host rcpt=$remote)"
expect_eq "a system uid passes" PASS "$(q CHECK ctx=local uid=999 sender=www@host rcpt=$remote)"
expect_eq "an unknown sender passes" PASS \
    "$(q CHECK ctx=smtp auth=who@nowhere.test sender=who@nowhere.test rcpt=$remote)"
expect_eq "the envelope sender alone identifies nobody" PASS \
    "$(q CHECK ctx=local sender=info@example.com rcpt=$remote)"
expect_match "an unknown protocol version is an error" '^ERROR 5\.5\.2 unsupported protocol' \
    "$(printf 'MAILABUSE/9 PING\n' | "$BUILD/mabclient" "$SOCK")"
expect_match "bad base64 is an error" '^ERROR 5\.5\.2 field auth: invalid base64' \
    "$(printf 'MAILABUSE/1 CHECK ctx=c210cA== auth=***\n' | "$BUILD/mabclient" "$SOCK")"

# Limits.  max_line is 1024 in this configuration.
long=$(head -c 2000 /dev/zero | tr '\0' A)
expect_eq "an over-long line without newline gets an error" "ERROR 5.5.2 request line too long" \
    "$(printf '%s' "$long" | "$BUILD/mabclient" -n "$SOCK")"
expect_eq "an over-long line with newline gets an error" "ERROR 5.5.2 request line too long" \
    "$(printf 'MAILABUSE/1 PING %s\n' "$long" | "$BUILD/mabclient" "$SOCK")"
expect_eq "a line of exactly max_line bytes is read" "OK mailabused 0.1.0" \
    "$(printf 'MAILABUSE/1 PING xy=%s\n' "$(printf 'QUFB%.0s' $(seq 251))" | "$BUILD/mabclient" "$SOCK")"
expect_eq "a line of max_line + 1 bytes is not" "ERROR 5.5.2 request line too long" \
    "$(printf 'MAILABUSE/1 PING xyz=%s\n' "$(printf 'QUFB%.0s' $(seq 251))" | "$BUILD/mabclient" "$SOCK")"
expect_eq "daemon answers after over-long lines" "OK mailabused 0.1.0" "$(q PING)"
expect_match "binary garbage gets an error" '^ERROR 5\.5\.2' \
    "$(head -c 3000 /dev/urandom | tr -d '\n' | head -c 900 | { cat; echo; } | "$BUILD/mabclient" "$SOCK")"
expect_match "a NUL byte gets an error" '^ERROR' \
    "$(printf 'MAILABUSE/1 PING\0\n' | "$BUILD/mabclient" "$SOCK")"
expect_eq "daemon answers after garbage" "OK mailabused 0.1.0" "$(q PING)"

# A client that never sends is cut off after read_timeout (1s) ...
"$BUILD/mabclient" -n -t 10 "$SOCK" </dev/null >"$T/silent.out" &
silent=$!
# ... and meanwhile the daemon serves others.
expect_eq "daemon answers while a client stays silent" "OK mailabused 0.1.0" "$(q PING)"
wait "$silent"
expect_eq "the silent client gets a timeout error" "ERROR 4.4.2 timeout waiting for the request" \
    "$(cat "$T/silent.out")"

# max_connections: hold them all, the next one is turned away, then served again.
daemon_stop
MAX_CONNECTIONS=4 READ_TIMEOUT=30s conf_write
check "daemon restarts with max_connections = 4" daemon_start
exec 3> >("$BUILD/mabclient" -H 4 "$SOCK" >"$T/hold.out")
wait_until 10 grep -q '^held 4' "$T/hold.out"
expect_eq "over max_connections: DEFER and close" "DEFER 4.3.2 too many connections" \
    "$(q PING)"
exec 3>&-
check "the held connections are released" wait_until 10 grep -q '^3:' "$T/hold.out"
check "served again below the limit" wait_until 10 ping_ok
expect_match "the limit is logged" 'connection limit of 4 reached' "$(cat "$T/daemon.log")"

# EMFILE: with few descriptors the daemon must pause accept, not spin.
daemon_stop
MAX_CONNECTIONS=200 READ_TIMEOUT=30s conf_write
( ulimit -n 40; exec "$BUILD/mailabused" -f -c "$T/mailabused.conf" >>"$T/daemon.log" 2>&1 ) &
DAEMON_PID=$!
check "daemon starts with 40 descriptors" wait_until 10 ping_ok
exec 3> >("$BUILD/mabclient" -H 60 "$SOCK" >"$T/hold.out")
wait_until 10 grep -q '^held 60' "$T/hold.out"
check "EMFILE is logged" wait_until 10 grep -q 'accept: Too many open files; pausing' "$T/daemon.log"
# Measure the daemon's CPU time over a one-second window while it is out of
# descriptors: a busy accept loop would burn the whole second.
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
before=$(cpu); sleep 1; after=$(cpu)
ticks=$((after - before))
if [ "$ticks" -lt 30 ]; then pass "no busy loop on EMFILE ($ticks ticks in 1s)"; else
    fail "no busy loop on EMFILE" "daemon used $ticks clock ticks in one second"; fi
exec 3>&-
check "served again once descriptors are free" wait_until 10 ping_ok

# SIGHUP: a valid file is applied, an invalid one is refused and the old kept.
daemon_stop
conf_write
check "daemon restarts" daemon_start
req500="MAILABUSE/1 PING x=$(printf 'QUFB%.0s' $(seq 120))"
MAX_LINE=300 conf_write
sed -i 's/^log_level = /log_levle = /' "$T/mailabused.conf"
kill -HUP "$DAEMON_PID"
check "an invalid file is refused on SIGHUP, naming file:line" \
    wait_until 10 grep -Eq "reload failed, keeping the current configuration: .*mailabused.conf:[0-9]+: unknown setting 'log_levle'" "$T/daemon.log"
expect_eq "the old configuration stays in force" "OK mailabused 0.1.0" \
    "$(printf '%s\n' "$req500" | "$BUILD/mabclient" "$SOCK")"
MAX_LINE=300 conf_write
kill -HUP "$DAEMON_PID"
check "a valid file is applied on SIGHUP" wait_until 10 grep -q 'configuration reloaded' "$T/daemon.log"
expect_eq "the new max_line is in force" "ERROR 5.5.2 request line too long" \
    "$(printf '%s\n' "$req500" | "$BUILD/mabclient" "$SOCK")"
# A key read at start only: named on SIGHUP, its running value kept.
sed -i "s|^pid_file = .*|pid_file = \"$T/run/other.pid\";|" "$T/mailabused.conf"
kill -HUP "$DAEMON_PID"
check "a changed start-only key is named on SIGHUP" \
    wait_until 10 grep -q 'reload: pid_file takes effect at the next restart' "$T/daemon.log"
check "the running pid file stays, no other is made" \
    sh -c "test -f '$T/run/mailabused.pid' && ! test -e '$T/run/other.pid'"
MAX_LINE=300 conf_write

# One daemon per socket; a stale socket of a dead one is replaced.  (The
# second daemon has a pid file of its own: the same one stops it sooner,
# see t_privilege.sh.)
sed "s|^pid_file = .*|pid_file = \"$T/run/second.pid\";|" "$T/mailabused.conf" >"$T/second.conf"
expect_status "a second daemon on the same socket refuses to start" 69 \
    "$BUILD/mailabused" -f -c "$T/second.conf"
expect_match "it says why" 'another daemon is listening' "$(cat "$T/last.err")"
expect_eq "the first one still answers" "OK mailabused 0.1.0" "$(q PING)"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
check "a killed daemon leaves its socket behind" test -S "$SOCK"
check "a new daemon replaces the stale socket" daemon_start
daemon_stop
expect_eq "SIGTERM: exit status 0" 0 "$DAEMON_STATUS"
check "SIGTERM: socket removed" test ! -e "$SOCK"
check "SIGTERM: pid file removed" test ! -e "$T/run/mailabused.pid"

# A regular file where the socket should be is never removed.
: >"$SOCK"
expect_status "a non-socket at the socket path is left alone" 69 \
    "$BUILD/mailabused" -f -c "$T/mailabused.conf"
check "the file is still there" test -f "$SOCK"

t_finish

#!/usr/bin/env bash
# The metrics endpoint (metrics.listen): a bad address is a file:line
# error; on a socket path with its mode; known traffic through the daemon
# (policy and user sockets, the cap, timeouts, the writer), then each
# counter checked in the exposition, which promtool accepts; scrapes while
# the daemon answers; mailabusectl stats; and a real Prometheus server
# (Debian's, as an unprivileged user) scraping the daemon every second,
# whose HTTP API gives a counter's value after known traffic.
. "$(dirname "$0")/lib.sh"
for p in curl promtool prometheus perl jq; do
    command -v "$p" >/dev/null || { fail "$p is installed (.ci/deps)"; t_finish; exit; }
done
t_init
PROM_PID=
trap '[ -z "$PROM_PID" ] || { kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; }; t_cleanup' EXIT

# A loopback port free now (the kernel's choice), for a server started next.
free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp")->sockport'; }
# metrics_conf LISTEN [MORE]: the configuration with metrics.listen
metrics_conf() {
    MAX_CONNECTIONS=${MAX_CONNECTIONS:-3} READ_TIMEOUT=1s \
        CONF_EXTRA="metrics: { listen = \"$1\"; ${2:-} };" conf_write
}

# --- a bad metrics.listen: file:line, exit 78, nothing started
line_of() { grep -n 'listen = ' "$T/mailabused.conf" | cut -d: -f1; }
for bad in 192.0.2.1:9226 0.0.0.0:9226 '[2001:db8::1]:9226' '[::]:9226' localhost:9226 \
    127.0.0.1:0 127.0.0.1:70000 127.0.0.1 relative/metrics.sock; do
    metrics_conf "$bad"
    expect_status "metrics.listen = \"$bad\": refused" 78 "$BUILD/mailabused" -n -c "$T/mailabused.conf"
    expect_match "... with file:line" "^mailabused: $T/mailabused.conf:$(line_of): metrics.listen" \
        "$(cat "$T/last.err")"
done
expect_match "a non-loopback address is named as such" 'not a loopback address' \
    "$(metrics_conf 10.0.0.1:9226; "$BUILD/mailabused" -n -c "$T/mailabused.conf" 2>&1)"
metrics_conf "$T/run/m.sock" 'mode = "0999";'
expect_status "metrics.mode \"0999\": refused" 78 "$BUILD/mailabused" -n -c "$T/mailabused.conf"
expect_match "... with file:line" "^mailabused: $T/mailabused.conf:[0-9]+: metrics.mode" "$(cat "$T/last.err")"
for good in 127.0.0.1:9226 127.1.2.3:9226 '[::1]:9226' "$T/run/m.sock"; do
    metrics_conf "$good"
    expect_status "metrics.listen = \"$good\": accepted" 0 "$BUILD/mailabused" -n -c "$T/mailabused.conf"
done

ctl sync >/dev/null
ctl suspend carol --reason "metrics test" >/dev/null

# --- on a socket path, with its mode; removed at stop
metrics_conf "$T/run/metrics.sock" 'mode = "0640";'
check "daemon starts with metrics on a socket path" daemon_start
expect_eq "the socket has metrics.mode" "socket 640" "$(stat -c '%F %a' "$T/run/metrics.sock")"
curl -s -o "$T/m.txt" -w '%{http_code}' --unix-socket "$T/run/metrics.sock" http://localhost/metrics >"$T/code"
expect_eq "GET /metrics on the socket: 200" 200 "$(cat "$T/code")"
check "promtool check metrics accepts the exposition" promtool check metrics <"$T/m.txt"
expect_match "accounts by state, from the database" '^mailabuse_accounts\{state="suspended"\} 1$' \
    "$(cat "$T/m.txt")"
expect_match "build info" '^mailabuse_build_info\{version="0\.1\.0"\} 1$' "$(cat "$T/m.txt")"
daemon_stop
expect_eq "the daemon stops cleanly" 0 "$DAEMON_STATUS"
check "the metrics socket is removed at stop" test ! -e "$T/run/metrics.sock"
ctl stats --json >"$T/stats.json" 2>"$T/stats.err"
expect_eq "stats with the daemon down: the database's figures, and why" \
    '["database",true,1]' "$(jq -c '[.source, (.daemon_error | test("does not answer at")),
    (.metrics[] | select(.name == "mailabuse_accounts" and .labels.state == "suspended") | .value)]' \
    "$T/stats.json")"
expect_match "... said on stderr" 'stats: the daemon does not answer at .*metrics.sock' "$(cat "$T/stats.err")"

# --- on a loopback port: known traffic, then each counter
start_on_port() {
    local i
    for i in 1 2 3 4 5; do
        PORT=$(free_port)
        metrics_conf "127.0.0.1:$PORT"
        daemon_start && return 0
        daemon_stop
    done
    return 1
}
check "daemon starts with metrics on a loopback port" start_on_port
URL=http://127.0.0.1:$PORT/metrics
scrape() { curl -sf "$URL" >"$T/m.txt"; }
# value NAME{LABELS}: the sample's value in the last scrape
value() { awk -v k="$1" '$1 == k { print $2 }' "$T/m.txt"; }
# counter_is NAME{LABELS} WANT: scrape until the sample has that value
counter_is() { scrape && [ "$(value "$1")" = "$2" ]; }

for i in 1 2 3; do q CHECK ctx=smtp auth=info@example.com rcpt="r$i@remote.test" >/dev/null; done
expect_eq "a suspended account refused" REFUSE "$(q CHECK ctx=smtp auth=carol rcpt=x@remote.test | cut -d' ' -f1)"
q CHECK ctx=smtp stage=data auth=info@example.com rcpt=a@remote.test,b@remote.test \
    msgid=1abcde-000001-AB nrcpt=2 >/dev/null
q CHECK ctx=local uid=0 rcpt=x@remote.test >/dev/null
printf 'MAILABUSE/1 NOSUCH\n' | "$BUILD/mabclient" "$SOCK" >/dev/null
"$BUILD/mabclient" -q "$USOCK" PING >/dev/null
printf 'MAILABUSE/1 STATUS\n' | "$BUILD/mabclient" "$USOCK" >/dev/null
printf 'garbage\n' | "$BUILD/mabclient" "$USOCK" >/dev/null
check "the exposition is served" scrape
expect_eq "verdicts: rcpt pass" 3 "$(value 'mailabuse_verdicts_total{context="rcpt",verdict="pass"}')"
expect_eq "verdicts: rcpt refuse" 1 "$(value 'mailabuse_verdicts_total{context="rcpt",verdict="refuse"}')"
expect_eq "verdicts: data pass" 1 "$(value 'mailabuse_verdicts_total{context="data",verdict="pass"}')"
expect_eq "verdicts: local pass" 1 "$(value 'mailabuse_verdicts_total{context="local",verdict="pass"}')"
expect_eq "verdicts: a line that was no request" 1 \
    "$(value 'mailabuse_verdicts_total{context="invalid",verdict="error"}')"
expect_eq "user requests: ping" 1 "$(value 'mailabuse_user_requests_total{verb="ping"}')"
expect_eq "user requests: status" 1 "$(value 'mailabuse_user_requests_total{verb="status"}')"
expect_eq "user requests: malformed" 1 "$(value 'mailabuse_user_requests_total{verb="invalid"}')"
expect_eq "user socket: connections accepted" 3 \
    "$(value 'mailabuse_connections_accepted_total{socket="user"}')"
check "history: the writer wrote what was queued (records and the refusal)" \
    wait_until 10 counter_is mailabuse_history_records_written_total 2
expect_eq "history: queued" 2 "$(value mailabuse_history_records_queued_total)"
expect_eq "history: nothing waiting" 0 "$(value mailabuse_history_queue_records)"
expect_eq "history: no lag" 0.000 "$(value mailabuse_history_lag_seconds)"
expect_eq "history: nothing dropped" 0 \
    "$(value 'mailabuse_history_records_dropped_total{reason="queue_full"}')"
# the database's figures are cached 5 s: a scrape made before the writer
# wrote bob's records shows them at the next refresh
bob_limits() {
    scrape && [ "$(value 'mailabuse_account_usage{account="bob",detector="account_messages"}') $(value 'mailabuse_account_limit{account="bob",detector="account_messages"}') $(value 'mailabuse_account_usage{account="bob",detector="account_rcpts"}') $(value 'mailabuse_account_limit{account="bob",detector="account_rcpts"}')" = '1 1000 2 2000' ]
}
check "bob is the top sender, against his limit (1 of 1000 messages, 2 of 2000 recipients)" \
    wait_until 15 bob_limits
start=$(value mailabuse_start_time_seconds)
now=$(date +%s)
if [ -n "$start" ] && [ "$start" -le "$now" ] && [ "$start" -gt $((now - 600)) ]; then
    pass "start time: $start"; else fail "start time" "got: $start, now $now"; fi
curl -s "$URL" | promtool check metrics >"$T/promtool.out" 2>&1
expect_eq "promtool check metrics: no complaint" "0 " "$? $(cat "$T/promtool.out")"
expect_eq "another path: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")"
expect_eq "POST: 501 (evhttp: a method not allowed)" 501 "$(curl -s -o /dev/null -w '%{http_code}' -d x "$URL")"

# The cap (max_connections = 3) and the read timeout (1s): held
# connections time out, the one over the cap is turned away.
exec 3> >("$BUILD/mabclient" -H 3 "$SOCK" >"$T/hold.out")
wait_until 10 grep -q '^held 3' "$T/hold.out"
expect_eq "over the cap: turned away" "DEFER 4.3.2 too many connections" "$(q PING)"
check "the held connections time out" wait_until 10 counter_is \
    'mailabuse_connections_timed_out_total{socket="policy"}' 3
exec 3>&-
expect_eq "refused at the cap: counted" 1 \
    "$(value 'mailabuse_connections_refused_total{socket="policy",reason="cap"}')"

# The user socket's per-uid cap (4, root exempt): a fifth connection of nobody's.
as_nobody() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
exec 3> >(as_nobody "$BUILD/mabclient" -H 4 "$USOCK" >"$T/uhold.out")
wait_until 10 grep -q '^held 4' "$T/uhold.out"
expect_eq "user socket, over the per-uid cap: turned away" "DEFER 4.3.2 too many connections from your uid" \
    "$(as_nobody "$BUILD/mabclient" -q "$USOCK" PING)"
exec 3>&-
check "refused at the per-uid cap: counted" wait_until 10 counter_is \
    'mailabuse_connections_refused_total{socket="user",reason="uid"}' 1
check "... and the held ones timed out or were closed" wait_until 10 grep -q '^3:' "$T/uhold.out"

# A detector's action: bob's mailbox limit lowered to 1 message an hour.
ctl limits bob account_messages=1/defer --reason "metrics test" >/dev/null
expect_eq "over a detector's limit: DEFER" DEFER "$(q CHECK ctx=smtp stage=data \
    auth=info@example.com rcpt=c@remote.test msgid=1abcde-000002-AB nrcpt=1 | cut -d' ' -f1)"
check "detector actions: account_messages defer" wait_until 5 counter_is \
    'mailabuse_detector_actions_total{detector="account_messages",action="defer"}' 1

# Scrapes while the daemon answers: every query answered, every scrape
# served, the counter exactly the sum.
before=$(value 'mailabuse_verdicts_total{context="rcpt",verdict="pass"}')
"$BUILD/mabclient" -q "$SOCK" -R 2 CHECK ctx=smtp auth=alice rcpt=x@remote.test >"$T/load.out" &
load=$!
scrapes=0 bad=0
while kill -0 "$load" 2>/dev/null; do
    if curl -sf "$URL" >/dev/null; then scrapes=$((scrapes + 1)); else bad=$((bad + 1)); fi
done
wait "$load"
n=$(sed -n 's/^queries \([0-9]*\).*/\1/p' "$T/load.out")
expect_match "under scrapes every query passed" "PASS=$n( |$)" "$(cat "$T/load.out")"
# (the endpoint's thread yields the CPU to the policy loop: few, but served)
if [ "$scrapes" -ge 2 ] && [ "$bad" = 0 ]; then pass "$scrapes scrapes during $n queries, none failed"
else fail "scrapes during the queries" "$scrapes served, $bad failed"; fi
check "the counter is the sum" counter_is 'mailabuse_verdicts_total{context="rcpt",verdict="pass"}' \
    $((before + n))

# mailabusectl stats: the daemon's figures
ctl stats >"$T/stats.txt"
expect_eq "stats: from the daemon" "# figures from the daemon" "$(head -1 "$T/stats.txt")"
expect_match "stats: the same counter" "^mailabuse_verdicts_total\{context=\"rcpt\",verdict=\"refuse\"\} 1$" \
    "$(cat "$T/stats.txt")"
ctl stats --json >"$T/stats.json"
expect_eq "stats --json: a counter's value" '["daemon",null,1]' "$(jq -c '[.source, .daemon_error,
    (.metrics[] | select(.name == "mailabuse_verdicts_total" and .labels.context == "rcpt"
    and .labels.verdict == "refuse") | .value)]' "$T/stats.json")"

# Out of descriptors: accept pauses, and says so in the counter once it
# can be scraped again.
daemon_stop
start_emfile() {
    local i
    for i in 1 2 3 4 5; do
        PORT=$(free_port)
        MAX_CONNECTIONS=200 metrics_conf "127.0.0.1:$PORT"
        ( ulimit -n 48; exec "$BUILD/mailabused" -f -c "$T/mailabused.conf" >>"$T/daemon.log" 2>&1 ) &
        DAEMON_PID=$!
        wait_until 10 ping_ok && return 0
        daemon_stop
    done
    return 1
}
check "daemon starts with 48 descriptors" start_emfile
URL=http://127.0.0.1:$PORT/metrics
exec 3> >("$BUILD/mabclient" -H 60 "$SOCK" >"$T/hold.out")
wait_until 10 grep -q '^held 60' "$T/hold.out"
check "EMFILE is logged" wait_until 10 grep -q 'accept: Too many open files; pausing' "$T/daemon.log"
exec 3>&-
wait_until 10 grep -q '^59:' "$T/hold.out"
check "EMFILE on the policy socket: counted" wait_until 10 scrape
emfile=$(value 'mailabuse_connections_refused_total{socket="policy",reason="emfile"}')
if [ "${emfile:-0}" -ge 1 ]; then pass "emfile counted ($emfile pauses)"; else fail "emfile counted" "got: $emfile"; fi

# --- a real Prometheus server scraping the daemon (the plain pass only:
# it runs none of our code, and is heavy)
if [ "$(basename "$BUILD")" = build-san ]; then
    echo "# t_metrics: Prometheus skipped in the sanitizer pass (it runs in the plain pass)"
    daemon_stop
    t_finish; exit
fi
P=$T/prom
mkdir -p "$P/data"
cat >"$P/prometheus.yml" <<X
global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: mailabuse
    static_configs: [ { targets: ["127.0.0.1:$PORT"] } ]
X
chown -R nobody: "$P"
prom_start() {
    PPORT=$(free_port)
    setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
        prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
        --web.listen-address="127.0.0.1:$PPORT" >>"$P/log" 2>&1 &
    PROM_PID=$!
    wait_until 30 curl -sf "http://127.0.0.1:$PPORT/-/ready" && return 0
    kill "$PROM_PID" 2>/dev/null; wait "$PROM_PID" 2>/dev/null; PROM_PID=
    return 1
}
prom_started() { local i; for i in 1 2 3; do prom_start && return 0; done; return 1; }
if ! prom_started; then
    fail "Prometheus starts" "$(tail -5 "$P/log")"; daemon_stop; t_finish; exit
fi
pass "Prometheus runs as nobody on 127.0.0.1:$PPORT"
# promql QUERY: the value of an instant vector's one sample, or nothing
promql() {
    curl -sf -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
        jq -r '.data.result[0].value[1] // empty'
}
prom_is() { [ "$(promql "$1")" = "$2" ]; }
check "Prometheus scrapes the daemon: up is 1" wait_until 30 prom_is 'up{job="mailabuse"}' 1
# known traffic after Prometheus started: 5 refusals more
want=$(( $(promql 'mailabuse_verdicts_total{context="rcpt",verdict="refuse"}') + 5 ))
for i in 1 2 3 4 5; do q CHECK ctx=smtp auth=carol rcpt="p$i@remote.test" >/dev/null; done
check "Prometheus's API gives the counter after the traffic ($want)" wait_until 30 prom_is \
    'mailabuse_verdicts_total{context="rcpt",verdict="refuse"}' "$want"
check "... and the accounts by state" wait_until 10 prom_is 'mailabuse_accounts{state="suspended"}' 1
check "the README's alert on the limits evaluates (bob at 2 of 1 message)" wait_until 10 prom_is \
    'mailabuse_account_usage / on(account, detector) (mailabuse_account_limit > 0) > 0.8' 2
daemon_stop
check "with the daemon down, up is 0" wait_until 30 prom_is 'up{job="mailabuse"}' 0
kill "$PROM_PID"; wait "$PROM_PID" 2>/dev/null; PROM_PID=
t_finish

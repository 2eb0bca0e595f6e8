#!/usr/bin/env bash
# Benchmarks (not tests) of mailabused for Exim's connect-per-query
# pattern at 100,000 accounts, each figure next to a minimal raw-epoll
# server (mabfloor) measured in the same run on the same machine.
#   tests/bench/run.sh [BUILD]
# Environment (defaults): REPS=3 repetitions, RUN_SECONDS=3 per load run,
# ACCOUNTS=100000, REQUESTS=100000 request lines (one pass), STALE=100
# suspends per repetition timed for staleness, KINDS_ROUNDS=2000 rounds of the per-kind
# table (0: skip it), BENCH_LONG=1 adds LONG_QUERIES=10000000 queries for
# the memory and constant-cost figures, in LONG_SEGMENTS=10 equal parts
# (CPU per query and RSS of each part: the first part next to the last);
# BENCH_ONLY=long runs the long run alone.  USERFLOOD_ROWS=200000 history rows for the owners
# who flood HISTORY on the user socket (as root only: they are real uids),
# USERFLOOD_SECONDS=5 per load run there; BENCH_ONLY=userflood runs that
# scenario alone.  NOTICES=5000 notices sent by the `expire` timed under
# load; BENCH_ONLY=writers runs only the p99 during `sync` and `expire`,
# next to the p99 beside a process that only spins at SCHED_IDLE (what any
# background work costs the daemon on this machine, whatever its priority).
# The load is the whole mix of REQUESTS-FILE (RCPT and DATA of SMTP
# submissions, local submissions); the RCPT-stage CHECK alone (what
# contrib/exim/mailabuse-rcpt.acl sends per recipient, not recorded) is
# measured too at 16 clients ("rcpt" rows).
# Prints every run's figures, then the medians and their ratios to the floor.
set -eu
BUILD=${1:-build}
REPS=${REPS:-3}
RUN_SECONDS=${RUN_SECONDS:-3}
ACCOUNTS=${ACCOUNTS:-100000}
REQUESTS=${REQUESTS:-100000}
STALE=${STALE:-100}
KINDS_ROUNDS=${KINDS_ROUNDS:-2000}
BENCH_LONG=${BENCH_LONG:-}
LONG_QUERIES=${LONG_QUERIES:-10000000}
LONG_SEGMENTS=${LONG_SEGMENTS:-10}
USERFLOOD_ROWS=${USERFLOOD_ROWS:-200000}
USERFLOOD_SECONDS=${USERFLOOD_SECONDS:-5}
BENCH_ONLY=${BENCH_ONLY:-}
NOTICES=${NOTICES:-5000}
cd "$(dirname "$0")/../.."
B=$(mktemp -d /tmp/mailabuse-bench.XXXXXX)
# the daemon runs as its user ("mailabuse", .ci/deps): it must reach $B;
# its database directory $B/state is made by mailabusectl, for it; the
# owners of the HISTORY flood reach the user socket
chmod 0711 "$B"
R=$B/results		# one figure a line: repetition, name, key, value
D= F= L= FL= S=
cleanup() {
	for p in $L $D $F $FL $S; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$B"
}
trap cleanup EXIT
: >"$R"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
ctl() { "$BUILD/mailabusectl" -c "$B/mailabused.conf" "$@"; }
# cmd_ms ARGS...: one mailabusectl command, exec to exit: "WALL CPU" in
# milliseconds (CPU: its user + system time, which the machine's load
# does not inflate as it does the wall time)
cmd_ms() {
	local t TIMEFORMAT='%3R %3U %3S'
	t=$( { time ctl "$@" >/dev/null 2>&1; } 2>&1 )
	echo "$t" | awk '{ printf "%.1f %.1f", $1 * 1000, ($2 + $3) * 1000 }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# mabload exits 1 when a query failed: the errors are counted, not fatal.
load() { "$BUILD/mabload" "$@" || true; }
# rec REP NAME "key=value ...": keep the figures, echo them.
rec() {
	local rep=$1 name=$2 kv
	shift 2
	echo "  $name: $*"
	for kv in $*; do
		echo "$rep $name ${kv%%=*} ${kv#*=}" >>"$R"
	done
}
start_daemon() {
	"$BUILD/mailabused" -f -c "$B/mailabused.conf" 2>>"$B/daemon.log" &
	D=$!
	"$BUILD/mabload" -W 10 "$B/policy.sock"
}
stop_daemon() {
	kill -TERM "$D"
	wait "$D" || true
	D=
}
# Count the sleeps of SQLite's busy handler in the daemon while a writer
# runs: each is a query waiting on a lock.  perf is optional.
busy_watch() {
	if command -v perf >/dev/null 2>&1; then
		perf stat -x, -o "$B/perf.out" -e syscalls:sys_enter_nanosleep \
		    -e syscalls:sys_enter_clock_nanosleep -p "$D" 2>/dev/null &
		P=$!
	else
		P=
	fi
}
busy_count() {
	if [ -n "$P" ]; then
		kill -INT "$P" 2>/dev/null || true
		wait "$P" 2>/dev/null || true
		awk -F, '/nanosleep/ { n += $1 } END { print n + 0 }' "$B/perf.out" 2>/dev/null
	else
		echo -1
	fi
}
# Start a background load of 16 clients that runs until stopped.
bg_load() {
	"$BUILD/mabload" -c 16 -d 3600 -f "$B/requests" "$B/policy.sock" >"$B/bg.out" &
	L=$!
}
bg_stop() {
	kill -TERM "$L"
	wait "$L" || true
	L=
	cat "$B/bg.out"
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -srm), $(nproc) cores," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "SQLite $(sqlite3 --version | cut -d' ' -f1), libevent $(pkg-config --modversion libevent)"
echo "# $(git log -1 --format='%h %s' 2>/dev/null || echo 'not a git checkout')"
t0=$(now)
"$BUILD/mabgen" -a "$ACCOUNTS" -r "$REQUESTS" "$B/cpanel" "$B/requests" "$B/suspended"
# the RCPT-stage requests alone: SMTP (ctx=smtp, "c210cA==") without a stage
grep ' ctx=c210cA== ' "$B/requests" | grep -v ' stage=' >"$B/requests.rcpt"
echo "# data: $ACCOUNTS accounts, $(grep -vc '^\*' "$B/cpanel/etc/userdomains") domains," \
    "$(wc -l <"$B/suspended") suspended, $REQUESTS request lines ($(since "$t0") s)"
# Four account owners with a uid each, for the HISTORY flood (root only).
OWNERS=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	for u in mabbench1 mabbench2 mabbench3 mabbench4; do
		id "$u" >/dev/null 2>&1 || useradd -M -N -r -s /usr/sbin/nologin "$u" 2>/dev/null || true
		id "$u" >/dev/null 2>&1 || continue
		OWNERS="$OWNERS $u"
		echo "$u.test: $u" >>"$B/cpanel/etc/userdomains"
		echo "$u: root" >>"$B/cpanel/etc/trueuserowners"
	done
fi
printf 'MAILABUSE/1 HISTORY since=%s limit=%s\n' "$(printf 30d | base64)" \
    "$(printf 1000 | base64)" >"$B/history"
chmod 0644 "$B/history"
for f in userdomains trueuserowners localdomains; do
	cp "$B/cpanel/etc/$f" "$B/cpanel/etc/$f.orig"
done
cat >"$B/mailabused.conf" <<X
database: { path = "$B/state/db"; };
policy_socket: { path = "$B/policy.sock"; max_connections = 512; };
user_socket: { path = "$B/user.sock"; };
pid_file = "";
log_level = "warning";
cpanel: { root = "$B/cpanel"; };
notify: { sendmail = "/bin/dd of=/dev/null status=none"; templates = "$PWD/conf/notices"; };
# Every message is recorded and counted by every detector.  The rate limits
# are raised so that the busiest accounts of the Zipf law are not all
# deferred; the two whose memory is a set keep their shipped values (new
# hosts 10, script recipients 500, both "hold"): the busiest scripts are held.
detect: { account_messages_per_hour = 100000000; account_rcpts_per_hour = 100000000;
  mailbox_messages_per_hour = 100000000; mailbox_rcpts_per_hour = 100000000; };
X
# The accounts whose suspension is timed: not among those already suspended.
awk -v n="$ACCOUNTS" -v k="$STALE" 'BEGIN {
	for (i = 0; i < k; i++) printf "u%06d\n", 11 + int(i * (n - 20) / k) }' |
    grep -vxFf "$B/suspended" >"$B/stale" || true

# The 1% suspended, in one transaction (as mailabusectl suspend records them).
suspend_sql() {
	awk 'BEGIN { print ".timeout 10000"; print "BEGIN;" }
	{ printf "INSERT INTO suspensions (target, account, kind, reason, source," \
	    " created_by, created_at) VALUES (\x27%s\x27, \x27%s\x27, \x27account\x27," \
	    " \x27bench\x27, \x27bench\x27, \x27bench\x27, strftime(\x27%%s\x27, \x27now\x27));\n", $1, $1 }
	END { print "COMMIT;" }' "$B/suspended"
}
# expire's work: 5 x NOTICES accounts with a complaint and a suspension,
# a fifth of the complaint windows already ended (each needs a notice).
# The owners of the suspensions made so far count as told already.
expire_sql() {
	local k=$((ACCOUNTS / (5 * NOTICES)))
	[ "$k" -ge 1 ] || k=1
	cat <<X
.timeout 10000
BEGIN;
UPDATE suspensions SET eligible_notified_at = created_at WHERE eligible_notified_at IS NULL;
INSERT INTO complaints (account, source, ref, created_at, created_by, window_end)
  SELECT name, 'bench', 'ref', strftime('%s','now') - 40*86400, 'bench',
         strftime('%s','now') + (CASE WHEN (rn / $k) % 5 = 0 THEN -10 ELSE 10 END) * 86400
  FROM (SELECT name, row_number() OVER (ORDER BY name) AS rn FROM accounts
        WHERE name NOT IN (SELECT account FROM suspensions WHERE lifted_at IS NULL))
  WHERE rn % $k = $((k / 2));
INSERT INTO suspensions (target, account, kind, reason, source, created_by, created_at)
  SELECT account, account, 'account', 'bench', 'bench', 'bench', created_at
  FROM complaints WHERE source = 'bench';
COMMIT;
X
}
# sync's work: 1% of the accounts change owner, 1% gain an addon domain.
mutate_cpanel() {
	awk 'NR % 100 == 0 { $2 = "res99" } 1' "$B/cpanel/etc/trueuserowners.orig" \
	    >"$B/cpanel/etc/trueuserowners"
	awk 'NR % 100 == 1 && $1 != "*:" { n++; print "added-" n ".test: " $2 >>added } 1' \
	    added="$B/added" "$B/cpanel/etc/userdomains.orig" >"$B/cpanel/etc/userdomains"
	cat "$B/added" >>"$B/cpanel/etc/userdomains"
	cut -d: -f1 "$B/added" | cat "$B/cpanel/etc/localdomains.orig" - \
	    >"$B/cpanel/etc/localdomains"
	rm -f "$B/added"
}

# USERFLOOD_ROWS messages of the owners, over the last week, in one
# transaction, into the history file as the writer appends them (in time
# order, each account's records chained, the first of each hour noted).
history_sql() {
	local n=0
	for u in $OWNERS; do n=$((n + 1)); done
	cat <<X
.timeout 10000
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $USERFLOOD_ROWS)
INSERT INTO messages (at, account, mailbox, ctx, uid, ip, sender, rcpt, verdict, msgid,
    source_kind, source, n_local, n_external, domains, delivered)
SELECT strftime('%s', 'now') - i * 3, 'mabbench' || (1 + i % $n),
    'u' || (i % 50) || '@mabbench' || (1 + i % $n) || '.test', 'smtp', -1,
    '192.0.2.' || (i % 200), 'u' || (i % 50) || '@mabbench' || (1 + i % $n) || '.test',
    'r' || i || '@d' || (i % 300) || '.test', 'PASS', 'flood' || i, 'mailbox',
    'u' || (i % 50) || '@mabbench' || (1 + i % $n) || '.test', 0, 1,
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
# The policy socket's load next to the same load while every owner loops
# HISTORY on each of its user_socket.max_per_uid connections: 4 owners x 4
# = user_socket.max_connections, every connection of the user socket.
userflood() {
	local r=$1 u f
	[ -n "$OWNERS" ] || { echo "  userflood: skipped (needs root and setpriv)"; return 0; }
	rec "$r" userflood_idle $(load -c 16 -d "$USERFLOOD_SECONDS" -f "$B/requests" \
	    "$B/policy.sock")
	for u in $OWNERS; do
		setpriv --reuid="$u" --regid=nogroup --clear-groups "$BUILD/mabload" -c 4 -d 3600 \
		    -T 120 -f "$B/history" "$B/user.sock" >"$B/flood.$u" 2>"$B/flood.$u.err" &
		FL="$FL $!"
	done
	# every connection taken before the measured run: the next one is turned away
	f=0
	until "$BUILD/mabclient" -q "$B/user.sock" PING | grep -q '^DEFER 4.3.2'; do
		f=$((f + 1)); [ "$f" -lt 200 ] || break; sleep 0.05
	done
	rec "$r" userflood $(load -c 16 -d "$USERFLOOD_SECONDS" -f "$B/requests" "$B/policy.sock")
	for f in $FL; do kill -TERM "$f" 2>/dev/null || true; done
	for f in $FL; do wait "$f" 2>/dev/null || true; done
	FL=
	# what the owners' failed queries were (turned away: read errors)
	cat "$B"/flood.*.err | sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -3 |
	    sed 's/^/    owners: /'
	rec "$r" userflood_owners $(cat "$B"/flood.mabbench? | awk '
	    { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
	    END { printf "history_answers=%d history_ok=%d history_defer=%d history_errors=%d",
	        v["queries"], v["OK"], v["DEFER"], v["errors"] }')
}

# Latency while mailabusectl writes (a sync with 1% changed, then an
# expire sending NOTICES notices), next to the same load without.
writers() {
	local r=$1 t0 s3 s4 n out
	rec "$r" writers_idle $(load -c 16 -d 5 -f "$B/requests" "$B/policy.sock")
	# the machine's own floor for background work: a process that only
	# spins, at SCHED_IDLE (the scheduler never gives it a CPU the daemon
	# or the load generator wants), next to the same load
	chrt -i 0 sh -c 'while :; do :; done' &
	S=$!
	rec "$r" writers_spin $(load -c 16 -d 5 -f "$B/requests" "$B/policy.sock")
	kill "$S"
	wait "$S" 2>/dev/null || true
	S=
	mutate_cpanel
	bg_load; busy_watch
	t0=$(now); ctl sync >/dev/null; s3=$(since "$t0")
	n=$(busy_count)
	rec "$r" writers_sync $(bg_stop) "sync_s=$s3" "busy_sleeps=$n"
	expire_sql | sqlite3 "$B/state/db"
	bg_load; busy_watch
	t0=$(now); out=$(ctl expire --json); s4=$(since "$t0")
	n=$(busy_count)
	rec "$r" writers_expire $(bg_stop) "expire_s=$s4" "busy_sleeps=$n" \
	    "notices_sent=$(echo "$out" | sed -n 's/.*"notices_sent": *\([0-9]*\).*/\1/p')"
}

for r in $(seq 1 "$REPS"); do
	echo "== repetition $r of $REPS"
	rm -f "$B"/state/db*
	for f in userdomains trueuserowners localdomains; do
		cp "$B/cpanel/etc/$f.orig" "$B/cpanel/etc/$f"
	done
	t0=$(now); ctl sync >/dev/null; s1=$(since "$t0")
	t0=$(now); ctl sync >/dev/null; s2=$(since "$t0")
	rec "$r" sync "first_s=$s1" "nochange_s=$s2"
	if [ "$BENCH_ONLY" = writers ]; then
		suspend_sql | sqlite3 "$B/state/db"
		start_daemon
		writers "$r"
		stop_daemon
		continue
	fi
	# sync --account (what cPanel's hooks run), the whole command from exec
	# to exit, for 20 accounts spread over the file: unchanged, then with
	# an addon domain added, then with it removed again; next to the
	# cheapest command (status: start, open the database, one read).
	same= changed= cpu= base=
	for i in $(seq 1 20); do
		a=$(printf 'u%06d' $((i * ACCOUNTS / 21)))
		set -- $(cmd_ms status "$a"); base="$base $1"
		set -- $(cmd_ms sync --account "$a"); same="$same $1"; cpu="$cpu $2"
		printf 'bench-hook-%s.test: %s\n' "$a" "$a" >>"$B/cpanel/etc/userdomains"
		set -- $(cmd_ms sync --account "$a"); changed="$changed $1"; cpu="$cpu $2"
		cp "$B/cpanel/etc/userdomains.orig" "$B/cpanel/etc/userdomains"
		set -- $(cmd_ms sync --account "$a"); changed="$changed $1"; cpu="$cpu $2"
	done
	rec "$r" sync_account "unchanged_ms=$(median $same)" "changed_ms=$(median $changed)" \
	    "max_ms=$(printf '%s\n' $same $changed | sort -g | tail -1)" "cpu_ms=$(median $cpu)" \
	    "status_ms=$(median $base)"
	suspend_sql | sqlite3 "$B/state/db"
	if [ -n "$OWNERS" ]; then
		ctl history mabbench1 >/dev/null	# the history file, made for the daemon
		history_sql | sqlite3 "$B/state/db-history.db"
	fi
	[ "$BENCH_ONLY" != long ] || break
	if [ "$BENCH_ONLY" = userflood ]; then
		start_daemon
		userflood "$r"
		stop_daemon
		continue
	fi
	rec "$r" startup $("$BUILD/mabload" -S "$B/policy.sock" -- \
	    "$BUILD/mailabused" -f -c "$B/mailabused.conf" 2>>"$B/daemon.log")
	"$BUILD/mabfloor" "$B/floor.sock" & F=$!
	"$BUILD/mabload" -W 10 "$B/floor.sock"
	start_daemon
	rec "$r" floor_pass $(load -c 16 -n "$REQUESTS" -p "$F" -f "$B/requests" "$B/floor.sock")
	rec "$r" daemon_pass $(load -c 16 -n "$REQUESTS" -p "$D" -f "$B/requests" "$B/policy.sock")
	rec "$r" mem "daemon_rss_kib=$(rss "$D")" "floor_rss_kib=$(rss "$F")"
	for c in 1 4 16 64; do
		rec "$r" "floor_c$c" $(load -c "$c" -d "$RUN_SECONDS" -p "$F" -f "$B/requests" \
		    "$B/floor.sock")
		rec "$r" "daemon_c$c" $(load -c "$c" -d "$RUN_SECONDS" -p "$D" -f "$B/requests" \
		    "$B/policy.sock")
	done
	rec "$r" floor_rcpt16 $(load -c 16 -d "$RUN_SECONDS" -p "$F" -f "$B/requests.rcpt" \
	    "$B/floor.sock")
	rec "$r" daemon_rcpt16 $(load -c 16 -d "$RUN_SECONDS" -p "$D" -f "$B/requests.rcpt" \
	    "$B/policy.sock")
	kill "$F"; wait "$F" 2>/dev/null || true; F=

	# Staleness: each suspend is followed at once by a CHECK of the account.
	bg_load
	stale=0 n=0
	t0=$(now)
	while read -r a; do
		ctl suspend "$a" --reason bench-staleness >/dev/null
		reply=$("$BUILD/mabclient" -q "$B/policy.sock" CHECK ctx=smtp \
		    "auth=info@$a.example" "sender=info@$a.example" rcpt=someone@remote.test)
		case $reply in REFUSE*) ;; *) stale=$((stale + 1)) ;; esac
		n=$((n + 1))
	done <"$B/stale"
	s5=$(since "$t0")
	rec "$r" stale $(bg_stop) "checked=$n" "stale_answers=$stale" \
	    "suspend_check_ms=$(awk -v t="$s5" -v n="$n" 'BEGIN { printf "%.1f", t * 1000 / n }')"

	writers "$r"

	if [ "$r" = 1 ] && [ "$KINDS_ROUNDS" -gt 0 ]; then
		# The cost of each kind of request, one client (as before).
		ctl suspend u000002 --reason bench >/dev/null 2>&1 || true
		ctl suspend info@u000003.example --reason bench >/dev/null 2>&1 || true
		b64() { printf '%s' "$1" | base64 -w0; }
		req() { echo "MAILABUSE/1 CHECK ctx=$(b64 smtp) auth=$(b64 "$1") sender=$(b64 "$2") rcpt=$(b64 "$3") ip=$(b64 192.0.2.1)"; }
		"$BUILD/mabbench" "$B/policy.sock" "$KINDS_ROUNDS" \
		    "PING(baseline)=MAILABUSE/1 PING" \
		    "CHECK_active_mailbox=$(req info@u050001.example info@u050001.example x@remote.test)" \
		    "CHECK_subdomain=$(req a@deep.sub.u070000.example a@deep.sub.u070000.example x@remote.test)" \
		    "CHECK_suspended=$(req info@u000002.example info@u000002.example x@remote.test)" \
		    "CHECK_susp_local_rcpt=$(req info@u000002.example info@u000002.example y@u000009.example)" \
		    "CHECK_mailbox_susp=$(req info@u000003.example info@u000003.example x@remote.test)" \
		    "CHECK_unknown=$(req who@nowhere.test who@nowhere.test x@remote.test)" \
		    "ROUTE_forward_active=MAILABUSE/1 CHECK ctx=$(b64 route) parent=$(b64 info@u050001.example) rcpt=$(b64 x@remote.test) sender=$(b64 a@b.test)" \
		    "ROUTE_forward_suspended=MAILABUSE/1 CHECK ctx=$(b64 route) parent=$(b64 info@u000002.example) rcpt=$(b64 x@remote.test) sender=$(b64 a@b.test)" \
		    2>/dev/null | sed 's/^/  /'
	fi
	userflood "$r"
	stop_daemon
done

# The owner of a loopback connection (sockdiag.c), as the daemon looks it
# up for SMTP from the server itself without AUTH: 1 and 1,000 open
# connections in the table.
if [ -z "$BENCH_ONLY" ]; then
	echo "== loopback owner lookup"
	"$BUILD/mabsockdiag" -n 100000
	"$BUILD/mabsockdiag" -n 100000 -c 1000
	"$BUILD/mabsockdiag" -6 -n 100000
fi

if [ -n "$BENCH_LONG" ]; then
	echo "== long run: $LONG_QUERIES queries in $LONG_SEGMENTS parts, 16 clients"
	start_daemon
	load -c 16 -n "$REQUESTS" -f "$B/requests" "$B/policy.sock" >/dev/null
	r0=$(rss "$D")
	t0=$(now)
	# each part: its throughput, latency and the daemon's CPU per query, and
	# the RSS and file sizes at its end
	seg=$((LONG_QUERIES / LONG_SEGMENTS))
	for i in $(seq 1 "$LONG_SEGMENTS"); do
		rec L "long$i" $(load -c 16 -n "$seg" -p "$D" -f "$B/requests" "$B/policy.sock") \
		    "rss_kib=$(rss "$D")" \
		    "wal_mib=$(du -cm "$B"/state/*-wal 2>/dev/null | tail -1 | cut -f1)" \
		    "db_mib=$(du -cm "$B"/state/db "$B"/state/*.db 2>/dev/null | tail -1 | cut -f1)"
	done
	rec L long "queries=$((seg * LONG_SEGMENTS))" "segments=$LONG_SEGMENTS" \
	    "rss_before_kib=$r0" "rss_after_kib=$(rss "$D")"
	echo "  ($(since "$t0") s)"
	stop_daemon
fi

echo "== medians of $REPS repetitions; ratio = daemon / floor of the same repetition, median"
awk -v long="$BENCH_LONG" -v accounts="$ACCOUNTS" -v only="$BENCH_ONLY" -v rows="$USERFLOOD_ROWS" '
function med(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	if (n == 0)
		return "n/a"
	for (i = 2; i <= n; i++) {
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--)
			a[j + 1] = a[j]
		a[j + 1] = t
	}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function m(name, key) { return med(val[name, key]) }
# p99 during the writers, next to the same load without
function writers() {
	printf "p99 at 16 clients: no writer %.1f us; during sync %.1f us (x%.2f); during expire %.1f us (x%.2f, expire %.2f s, %d notices sent)\n",
	    m("writers_idle", "p99_us"), m("writers_sync", "p99_us"),
	    ratio("writers_sync", "writers_idle", "p99_us"), m("writers_expire", "p99_us"),
	    ratio("writers_expire", "writers_idle", "p99_us"), m("writers_expire", "expire_s"),
	    m("writers_expire", "notices_sent")
	printf "p99 next to a CPU spinner at SCHED_IDLE (the floor of this machine for any background work): %.1f us (x%.2f)\n",
	    m("writers_spin", "p99_us"), ratio("writers_spin", "writers_idle", "p99_us")
	printf "p99.9 / max: no writer %.1f / %.1f us; sync %.1f / %.1f us; expire %.1f / %.1f us\n",
	    m("writers_idle", "p999_us"), m("writers_idle", "max_us"),
	    m("writers_sync", "p999_us"), m("writers_sync", "max_us"),
	    m("writers_expire", "p999_us"), m("writers_expire", "max_us")
	printf "queries waiting on a lock (busy-handler sleeps; -1: perf unavailable): sync %d, expire %d; DEFER: sync %d, expire %d; errors: sync %d, expire %d\n",
	    m("writers_sync", "busy_sleeps"), m("writers_expire", "busy_sleeps"),
	    m("writers_sync", "DEFER"), m("writers_expire", "DEFER"),
	    m("writers_sync", "errors"), m("writers_expire", "errors")
}
function ratio(num, den, key,   r, s) {
	s = ""
	for (r in reps)
		if (((r, den, key) in one) && one[r, den, key] > 0)
			s = s " " one[r, num, key] / one[r, den, key]
	return med(s)
}
# the figure of each repetition, or its ratio to den
function each(num, den, key,   r, s) {
	s = ""
	for (r = 1; (r, num, key) in one; r++)
		s = s " " (den == "" ? one[r, num, key] : \
		    sprintf("%.2f", one[r, num, key] / one[r, den, key]))
	return s
}
{ val[$2, $3] = val[$2, $3] " " $4; one[$1, $2, $3] = $4; if ($1 != "L") reps[$1] = 1 }
END {
	if (("1", "userflood", "p99_us") in one)
		printf "owners flooding HISTORY on all 16 user-socket connections over %d history rows, CHECK at 16 clients: p99 %.1f us (x%.2f the %.1f us without), max %.1f us (without %.1f us), errors %d; p99 ratio per repetition:%s; max per repetition:%s us; HISTORY answers during the runs %d (OK %d, time-bounded DEFER %d, errors %d)\n",
		    rows, m("userflood", "p99_us"), ratio("userflood", "userflood_idle", "p99_us"),
		    m("userflood_idle", "p99_us"), m("userflood", "max_us"),
		    m("userflood_idle", "max_us"), m("userflood", "errors"),
		    each("userflood", "userflood_idle", "p99_us"), each("userflood", "", "max_us"),
		    m("userflood_owners", "history_answers"), m("userflood_owners", "history_ok"),
		    m("userflood_owners", "history_defer"), m("userflood_owners", "history_errors")
	if (long != "") {
		n = one["L", "long", "segments"]
		printf "long run: %d queries in %d parts of %d; RSS %.1f MiB before, %.1f MiB after (%+.1f%%)\n",
		    one["L", "long", "queries"], n, one["L", "long", "queries"] / n,
		    one["L", "long", "rss_before_kib"] / 1024, one["L", "long", "rss_after_kib"] / 1024,
		    (one["L", "long", "rss_after_kib"] / one["L", "long", "rss_before_kib"] - 1) * 100
		printf "  %-5s %9s %9s %9s %11s %9s %7s %8s %7s\n", "part", "qps", "p99_us",
		    "max_us", "cpu_us/q", "rss_MiB", "errors", "files_MiB", "wal_MiB"
		for (i = 1; i <= n; i++)
			printf "  %-5d %9.0f %9.1f %9.1f %11.2f %9.1f %7d %8d %7d\n", i,
			    one["L", "long" i, "qps"], one["L", "long" i, "p99_us"],
			    one["L", "long" i, "max_us"], one["L", "long" i, "server_cpu_us_per_query"],
			    one["L", "long" i, "rss_kib"] / 1024, one["L", "long" i, "errors"],
			    one["L", "long" i, "db_mib"], one["L", "long" i, "wal_mib"]
		printf "long run, last part against the first: CPU per query %+.1f%% (target within 10%%), RSS %+.1f%% (target within 5%%)\n",
		    (one["L", "long" n, "server_cpu_us_per_query"] / one["L", "long1", "server_cpu_us_per_query"] - 1) * 100,
		    (one["L", "long" n, "rss_kib"] / one["L", "long1", "rss_kib"] - 1) * 100
	}
	if (only == "writers") {
		writers()
		exit
	}
	if (only != "")
		exit
	printf "%-8s %-7s %9s %9s %9s %9s %11s %7s\n", "clients", "server", "qps",
	    "p50_us", "p99_us", "p99.9_us", "cpu_us/q", "errors"
	for (c = 1; c <= 64; c *= 4) {
		printf "%-8d %-7s %9.0f %9.1f %9.1f %9.1f %11.2f %7d\n", c, "floor",
		    m("floor_c" c, "qps"), m("floor_c" c, "p50_us"), m("floor_c" c, "p99_us"),
		    m("floor_c" c, "p999_us"), m("floor_c" c, "server_cpu_us_per_query"),
		    m("floor_c" c, "errors")
		printf "%-8s %-7s %9.0f %9.1f %9.1f %9.1f %11.2f %7d\n", "", "daemon",
		    m("daemon_c" c, "qps"), m("daemon_c" c, "p50_us"), m("daemon_c" c, "p99_us"),
		    m("daemon_c" c, "p999_us"), m("daemon_c" c, "server_cpu_us_per_query"),
		    m("daemon_c" c, "errors")
		printf "%-8s %-7s %9.2f %9.2f %9.2f %9.2f %11.2f\n", "", "ratio",
		    ratio("daemon_c" c, "floor_c" c, "qps"), ratio("daemon_c" c, "floor_c" c, "p50_us"),
		    ratio("daemon_c" c, "floor_c" c, "p99_us"),
		    ratio("daemon_c" c, "floor_c" c, "p999_us"),
		    ratio("daemon_c" c, "floor_c" c, "server_cpu_us_per_query")
	}
	printf "RCPT-stage CHECK alone, 16 clients: floor %.0f q/s p99 %.1f us %.2f cpu_us/q; daemon %.0f q/s p99 %.1f us %.2f cpu_us/q; ratio qps %.2f p99 %.2f cpu/q %.2f; errors %d\n",
	    m("floor_rcpt16", "qps"), m("floor_rcpt16", "p99_us"),
	    m("floor_rcpt16", "server_cpu_us_per_query"), m("daemon_rcpt16", "qps"),
	    m("daemon_rcpt16", "p99_us"), m("daemon_rcpt16", "server_cpu_us_per_query"),
	    ratio("daemon_rcpt16", "floor_rcpt16", "qps"),
	    ratio("daemon_rcpt16", "floor_rcpt16", "p99_us"),
	    ratio("daemon_rcpt16", "floor_rcpt16", "server_cpu_us_per_query"),
	    m("daemon_rcpt16", "errors")
	printf "verdicts at 16 clients (daemon, median): PASS %d REFUSE %d HOLD %d DEFER %d ERROR %d OTHER %d\n",
	    m("daemon_c16", "PASS"), m("daemon_c16", "REFUSE"), m("daemon_c16", "HOLD"),
	    m("daemon_c16", "DEFER"), m("daemon_c16", "ERROR"), m("daemon_c16", "OTHER")
	printf "one pass (%d queries, 16 clients): daemon %.0f q/s, %.2f cpu_us/q; floor %.0f q/s, %.2f cpu_us/q\n",
	    m("daemon_pass", "queries"), m("daemon_pass", "qps"),
	    m("daemon_pass", "server_cpu_us_per_query"), m("floor_pass", "qps"),
	    m("floor_pass", "server_cpu_us_per_query")
	printf "RSS after start and one pass: daemon %.1f MiB (floor %.1f MiB)\n",
	    m("mem", "daemon_rss_kib") / 1024, m("mem", "floor_rss_kib") / 1024
	printf "start-up (exec to first PING answered): %.1f ms\n", m("startup", "startup_ms")
	printf "sync of %d accounts: first import %.2f s, no changes %.2f s, 1%% changed (under load) %.2f s\n",
	    accounts, m("sync", "first_s"), m("sync", "nochange_s"), m("writers_sync", "sync_s")
	printf "sync --account of one account (exec to exit, 20 accounts): median %.1f ms unchanged, %.1f ms with a domain added or removed, max %.1f ms; CPU %.1f ms; status of one account %.1f ms\n",
	    m("sync_account", "unchanged_ms"), m("sync_account", "changed_ms"), m("sync_account", "max_ms"),
	    m("sync_account", "cpu_ms"), m("sync_account", "status_ms")
	writers()
	for (r in reps) {
		st += one[r, "stale", "stale_answers"]
		sc += one[r, "stale", "checked"]
	}
	printf "staleness: %d of %d CHECKs right after suspend returned were not REFUSE (all repetitions); %.1f ms per suspend + CHECK; load meanwhile %.0f q/s, p99 %.1f us\n",
	    st, sc, m("stale", "suspend_check_ms"),
	    m("stale", "qps"), m("stale", "p99_us")
}' "$R"

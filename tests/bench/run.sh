#!/usr/bin/env bash
# Benchmarks (not tests): the hot path at 100,000 accounts, sync, expire.
#   tests/bench/run.sh [BUILD] [ROUNDS]
# Prints the figures BENCHMARKS.md quotes.  Needs root only for nothing;
# runs the real daemon and CLI on a private directory.
set -eu
BUILD=${1:-build}
ROUNDS=${2:-20000}
ACCOUNTS=${ACCOUNTS:-100000}
cd "$(dirname "$0")/../.."
B=$(mktemp -d /tmp/mailabuse-bench.XXXXXX)
trap 'kill $dpid 2>/dev/null; wait 2>/dev/null; rm -rf "$B"' EXIT
mkdir -p "$B/cpanel/etc" "$B/cpanel/var/cpanel/users"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# $ACCOUNTS accounts, 2 domains each; SQLite $(sqlite3 --version | cut -d' ' -f1)"
awk -v n="$ACCOUNTS" -v root="$B/cpanel" 'BEGIN {
    for (i = 1; i <= n; i++) {
        u = sprintf("u%06d", i)
        printf "%s.example: %s\nshop-%s.test: %s\n", u, u, u, u > (root "/etc/userdomains")
        printf "%s: res%d\n", u, i % 50 > (root "/etc/trueuserowners")
        printf "%s.example\nshop-%s.test\n", u, u > (root "/etc/localdomains")
    }
}'
cat >"$B/mailabused.conf" <<X
database: { path = "$B/db"; };
policy_socket: { path = "$B/policy.sock"; max_connections = 512; };
user_socket: { path = "$B/user.sock"; };
pid_file = "";
log_level = "warning";
cpanel: { root = "$B/cpanel"; };
notify: { sendmail = "/bin/dd of=/dev/null status=none"; templates = "$PWD/conf/notices"; };
X
ctl() { "$BUILD/mailabusectl" -c "$B/mailabused.conf" "$@"; }
t0=$(date +%s.%N); ctl sync >/dev/null; t1=$(date +%s.%N)
echo "sync, first import: $(echo "$t1 - $t0" | bc) s"
t0=$(date +%s.%N); ctl sync >/dev/null; t1=$(date +%s.%N)
echo "sync, no changes:   $(echo "$t1 - $t0" | bc) s"
ctl suspend u000002 --reason bench >/dev/null
ctl suspend info@u000003.example --reason bench >/dev/null
"$BUILD/mailabused" -f -c "$B/mailabused.conf" 2>/dev/null &
dpid=$!
until "$BUILD/mabclient" -q "$B/policy.sock" PING >/dev/null 2>&1; do sleep 0.05; done
b64() { printf '%s' "$1" | base64 -w0; }
req() { echo "MAILABUSE/1 CHECK ctx=$(b64 smtp) auth=$(b64 "$1") sender=$(b64 "$2") rcpt=$(b64 "$3") ip=$(b64 192.0.2.1)"; }
"$BUILD/mabbench" "$B/policy.sock" "$ROUNDS" \
    "PING(baseline)=MAILABUSE/1 PING" \
    "CHECK_active_mailbox=$(req info@u050000.example info@u050000.example x@remote.test)" \
    "CHECK_subdomain=$(req a@deep.sub.u070000.example a@deep.sub.u070000.example x@remote.test)" \
    "CHECK_suspended=$(req info@u000002.example info@u000002.example x@remote.test)" \
    "CHECK_susp_local_rcpt=$(req info@u000002.example info@u000002.example y@u000009.example)" \
    "CHECK_mailbox_susp=$(req info@u000003.example info@u000003.example x@remote.test)" \
    "CHECK_unknown=$(req who@nowhere.test who@nowhere.test x@remote.test)"
kill -TERM $dpid; wait $dpid || true
# expire at scale: 10% of the accounts with a complaint, half of the windows ended
sqlite3 "$B/db" "BEGIN;
  INSERT INTO complaints (account, source, ref, created_at, created_by, window_end)
    SELECT name, 'bench', 'ref', strftime('%s','now') - 40*86400, 'bench',
           strftime('%s','now') + (CASE WHEN (rowid / 10) % 2 THEN -10 ELSE 10 END) * 86400
    FROM (SELECT name, row_number() OVER () AS rowid FROM accounts) WHERE rowid % 10 = 0;
  INSERT INTO suspensions (target, account, kind, reason, source, created_by, created_at)
    SELECT account, account, 'account', 'bench', 'bench', 'bench', created_at
    FROM complaints WHERE source = 'bench';
  COMMIT;"
echo "expire: $(sqlite3 "$B/db" "SELECT count(*) FROM complaints") complaints, $(sqlite3 "$B/db" "SELECT count(*) FROM suspensions WHERE lifted_at IS NULL") active suspensions"
t0=$(date +%s.%N); ctl expire; t1=$(date +%s.%N)
echo "expire, first run (5,000 windows end, 5,001 notices via dd of=/dev/null):  $(echo "$t1 - $t0" | bc) s"
t0=$(date +%s.%N); ctl expire; t1=$(date +%s.%N)
echo "expire, second run (nothing to do): $(echo "$t1 - $t0" | bc) s"

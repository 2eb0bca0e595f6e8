#!/usr/bin/env bash
# The cost of recording and detection on the hot path: this tree's daemon
# next to the daemon of an earlier commit (default 879e0bf, before the
# writer thread and the detectors), both on the same fixture of 100,000
# accounts, queried interleaved by one client in the same run (mabbench),
# so that machine noise falls on both alike.
#   tests/bench/recording.sh [BUILD] [ROUNDS] [BASE-REV]
set -eu
BUILD=${1:-build}
ROUNDS=${2:-20000}
BASE=${3:-879e0bf}
ACCOUNTS=${ACCOUNTS:-100000}
cd "$(dirname "$0")/../.."
TOP=$PWD
B=$(mktemp -d /tmp/mailabuse-rec.XXXXXX)
old_pid= new_pid=
cleanup() {
	for p in $old_pid $new_pid; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	git -C "$TOP" worktree remove --force "$B/base" 2>/dev/null || true
	rm -rf "$B"
}
trap cleanup EXIT
git worktree add -q --detach "$B/base" "$BASE"
make -s -C "$B/base" >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# base: $(git -C "$B/base" log -1 --format='%h %s'); this tree: $(git log -1 --format='%h %s')"
mkdir -p "$B/cpanel/etc" "$B/cpanel/var/cpanel/users"
awk -v n="$ACCOUNTS" -v root="$B/cpanel" 'BEGIN {
    for (i = 1; i <= n; i++) {
        u = sprintf("u%06d", i)
        printf "%s.example: %s\nshop-%s.test: %s\n", u, u, u, u > (root "/etc/userdomains")
        printf "%s: res%d\n", u, i % 50 > (root "/etc/trueuserowners")
        printf "%s.example\nshop-%s.test\n", u, u > (root "/etc/localdomains")
    }
}'
for v in old new; do
    cat >"$B/$v.conf" <<X
database: { path = "$B/$v.db"; };
policy_socket: { path = "$B/$v.sock"; max_connections = 512; };
user_socket: { path = "$B/$v-user.sock"; };
pid_file = "";
log_level = "warning";
cpanel: { root = "$B/cpanel"; };
notify: { sendmail = "/bin/true"; templates = "$TOP/conf/notices"; };
X
done
# the detectors count everything and never trip: what is measured is their cost
cat >>"$B/new.conf" <<X
detect: { account_messages_per_hour = 100000000; account_rcpts_per_hour = 100000000;
  mailbox_messages_per_hour = 100000000; mailbox_rcpts_per_hour = 100000000;
  mailbox_new_hosts_per_hour = 100000000; script_rcpts_per_hour = 100000000; };
X
"$B/base/build/mailabusectl" -c "$B/old.conf" sync >/dev/null
"$BUILD/mailabusectl" -c "$B/new.conf" sync >/dev/null
"$B/base/build/mailabused" -f -c "$B/old.conf" 2>"$B/old.log" & old_pid=$!
"$BUILD/mailabused" -f -c "$B/new.conf" 2>"$B/new.log" & new_pid=$!
for v in old new; do
    until "$BUILD/mabclient" -q "$B/$v.sock" PING >/dev/null 2>&1; do sleep 0.05; done
done
b64() { printf '%s' "$1" | base64 -w0; }
smtp() { echo "MAILABUSE/1 CHECK ctx=$(b64 smtp)$1 auth=$(b64 info@u050000.example) sender=$(b64 info@u050000.example) rcpt=$(b64 "$2") ip=$(b64 192.0.2.1) msgid=$(b64 1xXzgt-00024g-1x)"; }
local_() { echo "MAILABUSE/1 CHECK ctx=$(b64 local) auth=$(b64 u060000) sender=$(b64 www@u060000.example) rcpt=$(b64 "$1") msgid=$(b64 1xXzgt-00024g-1y) script=$(b64 'u060000.example/contact.php for 198.51.100.7')"; }
"$BUILD/mabbench" "$B/new.sock" "$ROUNDS" \
    "PING(baseline)=MAILABUSE/1 PING" \
    "before:smtp_rcpt@$B/old.sock=$(smtp "" x@remote.test)" \
    "after:smtp_rcpt=$(smtp "" x@remote.test)" \
    "after:smtp_data=$(smtp " stage=$(b64 data)" "x@remote.test, y@other.test")" \
    "before:local@$B/old.sock=$(local_ "a@remote.test, b@other.test")" \
    "after:local=$(local_ "a@remote.test, b@other.test")"
kill -TERM $old_pid $new_pid; wait $old_pid $new_pid || true; old_pid= new_pid=
echo "# records written: before $(sqlite3 "$B/old.db" 'SELECT count(*) FROM messages'), after $(sqlite3 "$B/new.db" 'SELECT count(*) FROM messages')"

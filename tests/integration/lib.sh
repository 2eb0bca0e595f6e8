# lib.sh -- shared set-up for the mailabuse integration tests (bash, sourced)
# shellcheck shell=bash
#
# Each test script gets a private directory $T with its own configuration,
# database, socket and cPanel fixture tree, runs the real mailabused and
# mailabusectl from $BUILD, and counts its assertions.  Waiting is done by
# polling with a deadline, never by fixed sleeps.

set -u
: "${BUILD:?BUILD must name the build directory}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "$TOP" && cd "$BUILD" && pwd)
# shellcheck source=exim.sh
. "$TOP/tests/integration/exim.sh"

T_NAME=$(basename "$0" .sh)
T_PASS=0
T_FAIL=0
DAEMON_PID=

pass() { T_PASS=$((T_PASS + 1)); echo "ok - $T_NAME: $1"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $T_NAME: $1"; shift; [ $# -gt 0 ] && printf '#   %s\n' "$@"; return 0; }

# check DESC CMD...: the command succeeds
check() {
    local d=$1; shift
    if "$@" >"$T/check.out" 2>&1; then pass "$d"; else
        fail "$d" "command failed: $*" "$(head -c 500 "$T/check.out")"; fi
}
# expect_eq DESC WANT GOT
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want: $2" "got:  $3"; fi
}
# expect_match DESC REGEX TEXT
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then pass "$1"; else fail "$1" "want /$2/" "got: $3"; fi
}
# expect_status DESC WANT CMD...: exit status of CMD
expect_status() {
    local d=$1 want=$2 got; shift 2
    "$@" >"$T/last.out" 2>"$T/last.err"; got=$?
    if [ "$got" = "$want" ]; then pass "$d"; else
        fail "$d" "want exit $want, got $got: $*" "stderr: $(head -c 300 "$T/last.err")"; fi
}

# wait_until SECONDS CMD...: poll until CMD succeeds or the deadline passes
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

t_cleanup() {
    daemon_stop >/dev/null 2>&1
    [ -n "${T:-}" ] && [ -z "${KEEP:-}" ] && rm -rf "$T"
}

t_finish() {
    echo "# $T_NAME: $T_PASS passed, $T_FAIL failed"
    echo "$T_PASS $T_FAIL" >"${RESULTS:-/dev/null}"
    [ "$T_FAIL" -eq 0 ]
}

# The cPanel account data of the fixture server.
#   bob:   example.com (main), shop-bob.net (addon), blog.example.com (sub)
#   alice: alice.org;  carol: carol.net;  plus the "*: nobody" line
fixture_write() {
    local r=$T/cpanel
    mkdir -p "$r/etc" "$r/var/cpanel/users"
    cat >"$r/etc/userdomains" <<'X'
example.com: bob
shop-bob.net: bob
blog.example.com: bob
alice.org: alice
carol.net: carol
*: nobody
X
    cat >"$r/etc/trueuserowners" <<'X'
bob: reseller1
alice: root
carol: root
X
    printf '%s\n' example.com shop-bob.net blog.example.com alice.org carol.net \
        >"$r/etc/localdomains"
    printf 'DNS=example.com\nCONTACTEMAIL=bob.owner@contact.test\n' >"$r/var/cpanel/users/bob"
    printf 'DNS=alice.org\nCONTACTEMAIL=alice@contact.test\n' >"$r/var/cpanel/users/alice"
    printf 'DNS=carol.net\n' >"$r/var/cpanel/users/carol"
}

# The daemon's own unprivileged user (the configuration key "user"), made
# by .ci/deps; created here too if missing, tolerating a concurrent run.
MAB_USER=${MAB_USER:-mailabuse}
mab_user_make() {
    id "$MAB_USER" >/dev/null 2>&1 && return 0
    useradd --system --no-create-home --home-dir /var/lib/mailabuse --shell /usr/sbin/nologin \
        "$MAB_USER" 2>/dev/null
    id "$MAB_USER" >/dev/null 2>&1
}

# conf_write [EXTRA POLICY LINES]: the daemon's configuration in $T
conf_write() {
    local group=
    if [ "$(id -u)" = 0 ] && getent group Debian-exim >/dev/null; then group=Debian-exim; fi
    cat >"$T/mailabused.conf" <<X
user = "$MAB_USER";
database: { path = "$DB"; };
policy_socket:
{
  path = "$T/run/policy.sock";
  mode = "0660";
  group = "$group";
  max_line = ${MAX_LINE:-1024};
  read_timeout = "${READ_TIMEOUT:-1s}";
  max_connections = ${MAX_CONNECTIONS:-64};
};
pid_file = "$T/run/mailabused.pid";
user_socket: { path = "$T/run/user.sock"; ${USER_SOCKET_EXTRA:-} };
notify:
{
  sendmail = "${NOTIFY_SENDMAIL:-$TOP/tests/integration/capture-sendmail $T/mail}";
  timeout = "${NOTIFY_TIMEOUT:-60s}";
  templates = "$TOP/conf/notices";
  fallback = "abuse-fallback@server.test";
};
log_level = "${LOG_LEVEL:-info}";
cpanel: { root = "$T/cpanel"; };
policy: { allow_local_delivery = ${ALLOW_LOCAL:-true}; ${POLICY_EXTRA:-} };
${CONF_EXTRA:-}
X
}

# t_init: private directory, fixture, configuration
t_init() {
    T=$(mktemp -d /tmp/mailabuse-it.XXXXXX)
    chmod 0711 "$T"
    mab_user_make || { echo "# cannot create the user $MAB_USER"; exit 1; }
    # the runtime directory and the notices' mailbox are the daemon user's,
    # as systemd's RuntimeDirectory= with User= makes them; the database
    # directory $T/db is made by mailabused or mailabusectl themselves
    mkdir -p "$T/run" "$T/mail"
    chown "$MAB_USER:" "$T/run" "$T/mail"
    chmod 0755 "$T/run"
    SOCK=$T/run/policy.sock
    USOCK=$T/run/user.sock
    DB=$T/db/mailabuse.db
    HDB=$T/db/mailabuse-history.db	# database.history_path's default, beside DB
    trap t_cleanup EXIT
    fixture_write
    conf_write
}

ctl() { "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"; }

# q VERB [name=value ...]: one request through the socket, values base64-encoded
q() { "$BUILD/mabclient" -q "$SOCK" "$@"; }

ping_ok() { [ "$(q PING 2>/dev/null)" = "OK mailabused 0.1.0" ]; }

# daemon_start [ARGS]: run mailabused in the foreground, wait until it answers
daemon_start() {
    "$BUILD/mailabused" -f -c "$T/mailabused.conf" "$@" >>"$T/daemon.log" 2>&1 &
    DAEMON_PID=$!
    if ! wait_until 10 ping_ok; then
        echo "# mailabused did not come up; its log:"; sed 's/^/#   /' "$T/daemon.log"
        return 1
    fi
}

# daemon_start_as USER [ARGS]: the same, started as USER (as systemd's User= does)
daemon_start_as() {
    local u=$1; shift
    setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups \
        "$BUILD/mailabused" -f -c "$T/mailabused.conf" "$@" >>"$T/daemon.log" 2>&1 &
    DAEMON_PID=$!
    if ! wait_until 10 ping_ok; then
        echo "# mailabused did not come up; its log:"; sed 's/^/#   /' "$T/daemon.log"
        return 1
    fi
}

# daemon_stop: SIGTERM, and wait for it to exit; its status in DAEMON_STATUS
# (call it directly, not in $(...): only this shell can wait for the daemon)
daemon_stop() {
    DAEMON_STATUS=
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID"; DAEMON_STATUS=$?
    DAEMON_PID=
}

daemon_alive() { [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; }

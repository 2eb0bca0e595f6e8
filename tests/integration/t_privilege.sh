#!/usr/bin/env bash
# t_privilege.sh -- least privilege and private state (issue 9): the daemon
# serves as its own user, the database is that user's alone whoever creates
# it, the policy socket is Exim's alone, the pid file is locked and never
# followed.  Each attack is run as an ordinary uid (setpriv).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
t_init

U=$MAB_USER
UID_U=$(id -u "$U")
GID_U=$(id -g "$U")
# an ordinary local user: another customer, the web server, anyone
as_other() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# the daemon's own user (what a compromised daemon could do)
as_user() { setpriv --reuid="$U" --regid="$GID_U" --init-groups "$@"; }
mode_owner() { stat -c '%a %U' "$1"; }
# files under the database directory that are another's or open to others
db_leaks() { find "$T/db" -mindepth 1 \( ! -user "$U" -o ! -group "$GID_U" -o -perm /077 \) -printf '%p %m %u\n'; }
line_of() { grep -n -- "$1" "$2" | head -n 1 | cut -d: -f1; }

# --- mailabusectl as root creates the database for the daemon's user ---
check "sync as root before the daemon's first start" ctl sync
expect_eq "the database directory is the user's, 0700" "700 $U" "$(mode_owner "$T/db")"
expect_eq "the database is the user's, 0600" "600 $U" "$(mode_owner "$DB")"
expect_eq "nothing in it is another's or open to others" "" "$(db_leaks)"
# while another root connection keeps them, the -wal and -shm files root's
# writes create are the user's too
mkfifo "$T/hold.fifo"
sqlite3 "$DB" <"$T/hold.fifo" >/dev/null 2>&1 &
hold_pid=$!
exec 4>"$T/hold.fifo"
echo 'BEGIN; SELECT count(*) FROM accounts;' >&4
check "a root connection holds the database open" wait_until 10 test -e "$DB-shm"
check "suspend carol as root meanwhile" ctl suspend carol --reason "privilege test"
check "the write-ahead log is there" test -e "$DB-wal"
expect_eq "-wal: the user's, 0600" "600 $U" "$(mode_owner "$DB-wal")"
expect_eq "-shm: the user's, 0600" "600 $U" "$(mode_owner "$DB-shm")"
echo 'COMMIT;' >&4
exec 4>&-
wait "$hold_pid" 2>/dev/null
expect_eq "still nothing another's or open to others" "" "$(db_leaks)"

# --- the daemon: root only to start, then its user ---
check "the daemon starts as root" daemon_start
expect_eq "ps shows it as the configured user while it serves" "$U" \
    "$(ps -o user:32= -p "$DAEMON_PID" | tr -d ' ')"
expect_eq "real, effective, saved and file-system uids: the user's, in every thread" \
    "$UID_U $UID_U $UID_U $UID_U" \
    "$(cat /proc/"$DAEMON_PID"/task/*/status | awk '/^Uid:/ { print $2, $3, $4, $5 }' | sort -u)"
expect_eq "and gids" "$GID_U $GID_U $GID_U $GID_U" \
    "$(cat /proc/"$DAEMON_PID"/task/*/status | awk '/^Gid:/ { print $2, $3, $4, $5 }' | sort -u)"
expect_eq "supplementary groups: the user's own" "$(id -G "$U" | tr ' ' '\n' | sort -n | xargs)" \
    "$(awk '/^Groups:/ { $1 = ""; print }' /proc/"$DAEMON_PID"/status | tr ' ' '\n' | sed '/^$/d' | sort -n | xargs)"
expect_eq "no capabilities left" 0000000000000000 \
    "$(awk '/^CapEff:/ { print $2 }' /proc/"$DAEMON_PID"/status)"
expect_match "its log says so" "listening on .* as user $U" "$(cat "$T/daemon.log")"
expect_eq "the runtime directory is the user's, writable by no one else" "755 $U" \
    "$(mode_owner "$T/run")"
expect_eq "the pid file holds its pid" "$DAEMON_PID" "$(cat "$T/run/mailabused.pid")"

# --- the database: neither readable nor lockable by anyone else ---
check "the daemon keeps -shm open" test -e "$DB-shm"
expect_status "another uid cannot read the database (sqlite3 -readonly)" 1 \
    as_other sqlite3 -readonly "$DB" 'SELECT count(*) FROM accounts'
expect_match "refused by the system" 'unable to open|authorization|Permission denied' \
    "$(cat "$T/last.err")"
expect_status "another uid cannot open -shm, so cannot take SQLite's write lock" 2 \
    as_other sh -c 'exec 3<"$1"' sh "$DB-shm"
expect_match "EACCES" 'Permission denied' "$(cat "$T/last.err")"
expect_status "nor open it for writing" 2 as_other sh -c 'exec 3<>"$1"' sh "$DB-shm"
expect_status "nor list the database directory" 2 as_other ls "$T/db"
expect_status "nor put anything in the runtime directory" 1 as_other touch "$T/run/planted"
check "the administrator still writes at once" ctl suspend bob --reason "lock test"
expect_eq "and nothing there is another's or open to others while the daemon runs" "" "$(db_leaks)"

# --- the policy socket: Exim's alone ---
expect_eq "the policy socket has the configured mode" 660 "$(stat -c %a "$SOCK")"
expect_status "another uid cannot connect to it" 1 as_other "$BUILD/mabclient" -q "$SOCK" PING
expect_match "EACCES" 'Permission denied' "$(cat "$T/last.err")"
for m in 0666 0662 0661 0604 0777; do
    sed "s|mode = \"0660\"|mode = \"$m\"|" "$T/mailabused.conf" >"$T/open.conf"
    line=$(line_of "mode = \"$m\"" "$T/open.conf")
    expect_status "policy_socket.mode $m is refused by mailabused -n" 78 \
        "$BUILD/mailabused" -n -c "$T/open.conf"
    expect_match "with file:line" "open.conf:$line: policy_socket.mode: \"$m\" gives other users access" \
        "$(cat "$T/last.err")"
done
expect_status "and by a daemon start" 78 "$BUILD/mailabused" -f -c "$T/open.conf"

# --- the user's notices are sent as the user ---
n_before=$(find "$T/mail" -name '*.eml' | wc -l)
expect_match "an unblock through the user socket" '^OK' "$("$BUILD/mabclient" -q "$USOCK" UNBLOCK account=carol)"
check "its notice goes out" wait_until 10 sh -c "[ \$(find '$T/mail' -name '*.eml' | wc -l) -gt $n_before ]"
newest=$(ls -t "$T"/mail/*.eml | head -n 1)
expect_eq "notify.sendmail ran as the user" "$U" "$(stat -c %U "$newest")"

# --- the pid file: locked for the daemon's lifetime ---
expect_status "a second daemon with the same configuration refuses to start" 69 \
    "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_match "it says the pid file is locked, naming the running one" \
    "mailabused.pid is locked: another mailabused \\(pid $DAEMON_PID\\) is running" "$(cat "$T/last.err")"
sed -e "s|$T/run/policy.sock|$T/run/policy2.sock|" -e "s|$T/run/user.sock|$T/run/user2.sock|" \
    "$T/mailabused.conf" >"$T/second.conf"
expect_status "a second daemon on other sockets but the same pid file refuses too" 69 \
    "$BUILD/mailabused" -f -c "$T/second.conf"
check "it made no socket" test ! -e "$T/run/policy2.sock"
expect_eq "the first one's pid file is left alone" "$DAEMON_PID" "$(cat "$T/run/mailabused.pid")"
expect_eq "the first one still answers" "OK mailabused 0.1.0" "$(q PING)"
first=$DAEMON_PID
daemon_stop
expect_eq "it stops cleanly" 0 "$DAEMON_STATUS"
check "its pid file is removed" test ! -e "$T/run/mailabused.pid"
check "its sockets are removed" test ! -e "$SOCK" -a ! -e "$USOCK"

echo "$first" >"$T/run/mailabused.pid"
check "a stale pid file, unlocked, is taken over" daemon_start
expect_eq "with the new pid" "$DAEMON_PID" "$(cat "$T/run/mailabused.pid")"
daemon_stop

# The daemon's user owns the runtime directory: a compromised daemon could
# put a link there to make root write a file at the next start.
echo precious >"$T/victim"
chmod 0644 "$T/victim"
check "the user plants a symbolic link at the pid file" as_user ln -s "$T/victim" "$T/run/mailabused.pid"
expect_status "the daemon refuses to start" 73 "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_match "saying why" 'mailabused.pid: a symbolic link: refused' "$(cat "$T/last.err")"
expect_eq "the link's target is untouched" precious "$(cat "$T/victim")"
check "no socket was made" test ! -e "$SOCK"
rm -f "$T/run/mailabused.pid"
as_user ln "$T/victim" "$T/run/mailabused.pid" 2>/dev/null ||
    ln "$T/victim" "$T/run/mailabused.pid"
expect_status "a hard link is refused too" 73 "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_eq "its target is untouched" precious "$(cat "$T/victim")"
rm -f "$T/run/mailabused.pid"
as_user ln -s "$T/victim" "$SOCK"
expect_status "a link at the socket path is refused" 69 "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_eq "its target is untouched" "644 precious" "$(stat -c %a "$T/victim") $(cat "$T/victim")"
rm -f "$SOCK"
as_user ln -s "$T/victim" "$DB-journal"
expect_status "a link among the database files is refused" 73 "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_eq "its target is untouched" "644 root precious" \
    "$(stat -c '%a %U' "$T/victim") $(cat "$T/victim")"
rm -f "$DB-journal"

# --- start-up errors: clear, and before anything is served ---
sed "s|^user = .*|user = \"mab-no-such-user\";|" "$T/mailabused.conf" >"$T/nouser.conf"
expect_status "a missing user stops the daemon (EX_NOUSER)" 67 "$BUILD/mailabused" -f -c "$T/nouser.conf"
expect_match "naming it" 'user "mab-no-such-user" does not exist' "$(cat "$T/last.err")"
expect_status "mailabused -n says so too" 67 "$BUILD/mailabused" -n -c "$T/nouser.conf"
expect_status "mailabusectl as root will not create a database for no one" 67 \
    "$BUILD/mailabusectl" -c "$T/nouser.conf" list
mkdir -m 0700 "$T/rootdb"
sed "s|path = \"$DB\"|path = \"$T/rootdb/mailabuse.db\"|" "$T/mailabused.conf" >"$T/rootdb.conf"
expect_status "a database directory the user does not own stops it (EX_CANTCREAT)" 73 \
    "$BUILD/mailabused" -f -c "$T/rootdb.conf"
expect_match "naming the path and the owner it expected" \
    "$T/rootdb: the database directory is owned by root, expected $U" "$(cat "$T/last.err")"
check "and nothing was created there" test -z "$(ls -A "$T/rootdb")"
check "no socket is left" test ! -e "$SOCK"

# Started as the user itself (systemd User=): it runs as is.  (It must
# then belong to policy_socket.group to give the socket to it: not here.)
cp "$T/mailabused.conf" "$T/root.conf"
sed -i 's|^  group = .*|  group = "";|' "$T/mailabused.conf"
check "started as the user, it serves" daemon_start_as "$U"
expect_eq "as the user" "$U" "$(ps -o user:32= -p "$DAEMON_PID" | tr -d ' ')"
expect_eq "with the pid file" "$DAEMON_PID" "$(cat "$T/run/mailabused.pid")"
daemon_stop
expect_eq "and stops cleanly" 0 "$DAEMON_STATUS"
chown root: "$DB"
expect_status "as the user, a database file of root's stops it (EX_CANTCREAT)" 73 \
    as_user "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_match "naming the path and the owner it expected" "$DB: .*owned by root, expected $U" \
    "$(cat "$T/last.err")"
chown "$U:" "$DB"
expect_status "another unprivileged uid cannot start it" 77 \
    as_other "$BUILD/mailabused" -f -c "$T/mailabused.conf"
expect_match "saying as whom to start it" "start mailabused as root or as user $U" "$(cat "$T/last.err")"
cp "$T/root.conf" "$T/mailabused.conf"

# Old files of a root-run daemon (0644, root's) are given to the user at start.
chown root: "$DB"
chmod 0644 "$DB"
check "a root start takes over a database left by root" daemon_start
expect_eq "now the user's, 0600" "600 $U" "$(mode_owner "$DB")"
expect_eq "nothing another's or open to others" "" "$(db_leaks)"
daemon_stop

t_finish

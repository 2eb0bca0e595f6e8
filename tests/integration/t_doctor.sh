#!/usr/bin/env bash
# mailabusectl doctor on a real setup: the daemon on its socket, a private
# database directory owned by the daemon's user, the real Exim reading a
# private configuration (exim -C) that includes contrib/exim, a cron file.
# Healthy: every line OK, exit 0.  Then one thing broken at a time (daemon
# down, database file 0644, a fragment missing, ...): that line fails with
# what to do, the others stay OK, exit 1.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "# t_doctor needs root (setuid to Exim's user)"; t_finish; exit; fi
t_init
id mailabuse >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mailabuse \
        2>/dev/null || id mailabuse >/dev/null 2>&1 || { fail "cannot create user mailabuse"; t_finish; exit; }
install -d -o mailabuse -m 0700 "$T/db"
CONF_EXTRA='detect: { bounce_percent = 0; };'
conf_write
sed -i "s|^database: .*|database: { path = \"$T/db/mailabuse.db\"; };|" "$T/mailabused.conf"
grep -q '^user = ' "$T/mailabused.conf" || sed -i '1i user = "mailabuse";' "$T/mailabused.conf"
install -m 0644 "$TOP/contrib/cron/mailabuse" "$T/cron"
EXIM_CONF=$(exim_conf_make "$SOCK" "$T/exim") || { fail "exim_conf_make"; t_finish; exit; }
check "daemon starts" daemon_start
check "sync" ctl sync
# the files the daemon and the CLI made belong to the daemon's user, private
private_db() { chown mailabuse "$T"/db/mailabuse.db*; chmod 0600 "$T"/db/mailabuse.db*; }
private_db

doc() { ctl doctor --exim-config "$EXIM_CONF" --cron-file "$T/cron" "$@"; }
# line CHECK: the line of that check in the last output
line() { grep -E "^(OK|FAIL) +$1  " "$T/last.out"; }

expect_status "a healthy setup: doctor exits 0" 0 doc
expect_eq "every line is OK" "" "$(grep -v '^OK ' "$T/last.out" | grep -v '^all checks passed$')"
expect_eq "ten checks (no events check with detect.bounce_percent = 0)" 10 "$(grep -c '^OK ' "$T/last.out")"
expect_match "the database is private and writable by the daemon's user, the history private" \
    "^OK +database +$T/db/mailabuse.db: private \(0700/0600\) and writable by mailabuse; the history $T/db/mailabuse-history.db private too" \
    "$(line database)"
expect_match "the policy socket answers a PING as Exim's user (from exim -bP exim_user)" \
    '^OK +policy socket .* answers Exim.s user Debian-exim: OK mailabused' "$(line 'policy socket')"
expect_match "the Exim configuration in use includes the rcpt fragment" \
    '^OK +exim rcpt acl +ACL acl_rcpt \(acl_smtp_rcpt\) includes mailabuse-rcpt.acl' \
    "$(line 'exim rcpt acl')"
expect_match "and the not-smtp one" '^OK +exim not-smtp acl ' "$(line 'exim not-smtp acl')"
expect_match "the user socket answers an ordinary user" '^OK +user socket .* answers an ordinary user' \
    "$(line 'user socket')"
expect_status "doctor --json on the healthy setup exits 0" 0 doc --json
expect_eq "--json: ok, no failure" "true 0" "$(jq -r '"\(.ok) \(.failed)"' "$T/last.out")"

# The daemon down.
daemon_stop
expect_status "daemon down: doctor exits 1" 1 doc
expect_match "the policy socket line says to start it" \
    '^FAIL +policy socket .*mailabused is not running: start it' "$(line 'policy socket')"
expect_match "so does the user socket's" '^FAIL +user socket .*start mailabused' "$(line 'user socket')"
expect_eq "only those lines fail" 2 "$(grep -c '^FAIL ' "$T/last.out")"
check "daemon starts again" daemon_start
private_db

# Exim's user may not connect: another user than the socket's group.
expect_status "as a user outside the socket's group: doctor exits 1" 1 doc --exim-user nobody
expect_match "it says which group to give the socket" \
    '^FAIL +policy socket .*Exim.s user nobody may not connect .*set policy_socket.group = ' \
    "$(line 'policy socket')"

# The database file readable by others.
chmod 0644 "$T/db/mailabuse.db"
expect_status "database file 0644: doctor exits 1" 1 doc
expect_match "the database line says to chmod 0600" \
    "^FAIL +database +$T/db/mailabuse.db is mode 0644, readable by others: chmod 0600 $T/db/mailabuse.db" \
    "$(line database)"
expect_eq "only that line fails" 1 "$(grep -c '^FAIL ' "$T/last.out")"
private_db
# The history file readable by others: who sent what to whom.
hist=$(ls "$T"/db/*-history.db)
chmod 0644 "$hist"
expect_status "history file 0644: doctor exits 1" 1 doc
expect_match "the database line says to chmod 0600 the history file" \
    "^FAIL +database +$hist is mode 0644, readable by others: chmod 0600 $hist" \
    "$(line database)"
chmod 0600 "$hist"
chown root "$T/db/mailabuse.db"
expect_status "database file owned by root: doctor exits 1" 1 doc
expect_match "it says to chown it to the daemon's user" \
    "^FAIL +database .*belongs to uid 0, not to mailabuse: chown mailabuse " "$(line database)"
private_db
chmod 0755 "$T/db"
expect_status "database directory 0755: doctor exits 1" 1 doc
expect_match "it says to chmod 0700" "^FAIL +database +$T/db is mode 0755.*chmod 0700 $T/db" \
    "$(line database)"
chmod 0700 "$T/db"

# A fragment missing from the Exim configuration in use.
mkdir -p "$T/exim2"
(umask 022; grep -v 'mailabuse-notsmtp.acl' "$EXIM_CONF" >"$T/exim2/exim.conf")
expect_status "without the not-smtp fragment: doctor exits 1" 1 \
    ctl doctor --exim-config "$T/exim2/exim.conf" --cron-file "$T/cron"
expect_match "that line says to include it" \
    '^FAIL +exim not-smtp acl +ACL acl_notsmtp \(acl_not_smtp\) does not include mailabuse-notsmtp.acl: add ".include ' \
    "$(line 'exim not-smtp acl')"
expect_match "the rcpt one is still OK" '^OK +exim rcpt acl ' "$(line 'exim rcpt acl')"
expect_eq "only that line fails" 1 "$(grep -c '^FAIL ' "$T/last.out")"
(umask 022; sed "s|^MAILABUSE_SOCKET = .*|MAILABUSE_SOCKET = /run/elsewhere.sock|" "$EXIM_CONF" \
    >"$T/exim2/exim.conf")
expect_status "Exim asking another socket: doctor exits 1" 1 \
    ctl doctor --exim-config "$T/exim2/exim.conf" --cron-file "$T/cron"
expect_match "it says to set MAILABUSE_SOCKET" \
    "^FAIL +exim rcpt acl +ACL acl_rcpt asks /run/elsewhere.sock, but mailabused listens on $SOCK: set MAILABUSE_SOCKET = $SOCK" \
    "$(line 'exim rcpt acl')"
expect_status "no exim binary: doctor exits 1" 1 doc --exim /nonexistent/exim
expect_match "the Exim lines say so" '^FAIL +exim rcpt acl +cannot read Exim.s configuration' \
    "$(line 'exim rcpt acl')"

# A broken notice template.
cp -r "$TOP/conf/notices" "$T/notices"
printf 'Subject: x\n\n${nosuch}\n' >"$T/notices/eligible.txt"
sed -i "s|templates = \"$TOP/conf/notices\"|templates = \"$T/notices\"|" "$T/mailabused.conf"
expect_status "a template with an unknown variable: doctor exits 1" 1 doc
expect_match "the template line names file and error" \
    "^FAIL +notice templates +$T/notices/eligible.txt: unknown variable \\$\\{nosuch\\}" \
    "$(line 'notice templates')"
sed -i "s|templates = \"$T/notices\"|templates = \"$TOP/conf/notices\"|" "$T/mailabused.conf"

# cPanel's files missing.
mv "$T/cpanel/etc/localdomains" "$T/localdomains"
expect_status "etc/localdomains missing: doctor exits 1" 1 doc
expect_match "the cpanel line names it" "^FAIL +cpanel files +$T/cpanel/etc/localdomains: No such file" \
    "$(line 'cpanel files')"
mv "$T/localdomains" "$T/cpanel/etc/localdomains"

# The cron job missing, or commented out.
expect_status "no cron file: doctor exits 1" 1 ctl doctor --exim-config "$EXIM_CONF" --cron-file "$T/nocron"
expect_match "the cron line says to install it" '^FAIL +cron .*install it' "$(line cron)"
sed -i 's/^\*\/5/#*\/5/' "$T/cron"
expect_status "expire commented out: doctor exits 1" 1 doc
expect_match "the cron line says expire does not run" "^FAIL +cron +$T/cron runs no 'mailabusectl expire'" \
    "$(line cron)"
install -m 0644 "$TOP/contrib/cron/mailabuse" "$T/cron"

# The configuration broken: said first, then nothing else can be checked.
cp "$T/mailabused.conf" "$T/good.conf"
sed -i 's/allow_local_delivery/allow_local_delivry/' "$T/mailabused.conf"
expect_status "a misspelt key: doctor exits 1 (not EX_CONFIG: it is a check)" 1 doc
expect_match "the configuration line gives file:line" \
    "^FAIL +configuration +$T/mailabused.conf:[0-9]+: unknown setting 'policy.allow_local_delivry'" \
    "$(line configuration)"
cp "$T/good.conf" "$T/mailabused.conf"

expect_status "all repaired: doctor exits 0 again" 0 doc
t_finish

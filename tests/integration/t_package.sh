#!/usr/bin/env bash
# The Debian package and the RPM: make deb, lintian, apt install of the
# .deb on this machine, the installed daemon run as its unit runs it (the
# shipped configuration, then a test configuration through a real Exim
# with the installed /usr/share/mailabuse/exim fragments), the notice
# path under the unit's capability bounding set, an upgrade that keeps
# the administrator's files, remove, purge and what purge leaves.  Then
# make rpm, rpmlint.
# Packaging gains nothing from a sanitizer build: plain build only.
. "$(dirname "$0")/lib.sh"
if [ "$(basename "$BUILD")" != build ]; then
    echo "# $T_NAME: packaging is tested on the plain build only"; t_finish; exit
fi
if [ "$(id -u)" != 0 ]; then
    echo "# $T_NAME: not root: no package installed"; t_finish; exit
fi
t_init
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold)
PKGSTATE=
pkg_cleanup() {
    daemon_stop >/dev/null 2>&1
    [ -n "$PKGSTATE" ] && "${APT[@]}" purge mailabuse >/dev/null 2>&1
    [ -n "${MAILBOX_MADE:-}" ] && rm -f /var/mail/mailabuse
    t_cleanup
}
trap pkg_cleanup EXIT

# System-wide: one such test at a time on this machine (t_install too).
exec 9>/tmp/mailabuse-system-install.lock
flock -w 900 9 || { fail "lock /tmp/mailabuse-system-install.lock"; t_finish; exit; }

for tool in dpkg-buildpackage dh lintian systemd-analyze rpmbuild rpmlint; do
    command -v "$tool" >/dev/null || fail "$tool is installed (.ci/deps)"
done
if dpkg-query -W -f='${Status}' mailabuse 2>/dev/null | grep -q installed; then
    fail "mailabuse is not installed already (left alone)"; t_finish; exit
fi

# -- build, lintian --------------------------------------------------------
started=$SECONDS
if make -C "$TOP" --no-print-directory deb >"$T/deb.log" 2>&1; then pass "make deb"; else
    fail "make deb" "$(tail -n 20 "$T/deb.log")"; t_finish; exit; fi
echo "# make deb: $((SECONDS - started)) s"
deb=$(ls "$TOP"/build-deb/mailabuse_*_*.deb)
lintian "$deb" >"$T/lintian.out" 2>&1
expect_eq "lintian: no errors" "" "$(grep '^E:' "$T/lintian.out")"
echo "# lintian: $(grep -c '^W:' "$T/lintian.out") warnings"; grep '^W:' "$T/lintian.out" | sed 's/^/#   /'

# -- install -----------------------------------------------------------------
find_ours() {
    find /etc /lib/systemd /usr/bin /usr/sbin /usr/lib/tmpfiles.d /usr/lib/sysusers.d \
        /usr/share/doc /usr/share/man /usr/share/mailabuse /var/lib /run \
        \( -name '*mailabuse*' -o -name '*mailabused*' \) 2>/dev/null | sort
}
find_ours >"$T/before"
PKGSTATE=installed
check "apt install ./mailabuse_*.deb" "${APT[@]}" install "$deb"
expect_match "dpkg: installed" '^install ok installed' "$(dpkg-query -W -f='${Status}' mailabuse)"
expect_eq "the system user mailabuse, no login shell" "mailabuse:/usr/sbin/nologin" \
    "$(getent passwd mailabuse | awk -F: '{ print $1 ":" $7 }')"
expect_eq "/var/lib/mailabuse: 0700 mailabuse" "700 mailabuse:mailabuse" "$(stat -c '%a %U:%G' /var/lib/mailabuse)"
expect_eq "/run/mailabuse: 0755 mailabuse (tmpfiles.d)" "755 mailabuse:mailabuse" "$(stat -c '%a %U:%G' /run/mailabuse)"
expect_match "the configuration is a conffile" '/etc/mailabuse/mailabused.conf [0-9a-f]+' \
    "$(dpkg-query -W -f='${Conffiles}' mailabuse)"
expect_match "... giving the socket to Debian-exim" '^  group = "Debian-exim";' \
    "$(grep '^  group' /etc/mailabuse/mailabused.conf)"
expect_eq "mailabused -n accepts the installed configuration" "configuration OK" \
    "$(/usr/sbin/mailabused -n -c /etc/mailabuse/mailabused.conf 2>&1)"
expect_eq "mailabusectl on an ordinary user's PATH" /usr/bin/mailabusectl \
    "$(setpriv --reuid=nobody --regid=nogroup --clear-groups env -i HOME=/ sh -lc 'command -v mailabusectl')"
unit=/lib/systemd/system/mailabused.service
expect_eq "systemd-analyze verify: the installed unit is clean" "0 " \
    "$(systemd-analyze verify "$unit" 2>&1; echo "$? ")" 
expect_eq "the unit is enabled" "$unit" \
    "$(readlink /etc/systemd/system/multi-user.target.wants/mailabused.service)"
expect_eq "the cron jobs do nothing without cPanel's files" "0:" \
    "$(out=$(sed -n 's/^[^#A-Z][^\t]*\troot\t//p' /etc/cron.d/mailabuse | sh 2>&1); echo "$?:$out")"

# The daemon as its unit runs it: User=, Group=, SupplementaryGroups=.
groups=$(sed -n 's/^SupplementaryGroups=//p' "$unit")
as_unit() { setpriv --reuid=mailabuse --regid=mailabuse --groups="$groups" "$@"; }
unit_start() {  # CONF: start the installed daemon as the unit does, wait for PING
    (umask 0077; exec setpriv --reuid=mailabuse --regid=mailabuse --groups="$groups" \
        /usr/sbin/mailabused -f -c "$1" >>"$T/daemon.log" 2>&1) &
    DAEMON_PID=$!
    wait_until 10 ping_ok || { sed 's/^/#   /' "$T/daemon.log"; return 1; }
}
SOCK=/run/mailabuse/policy.sock
check "the shipped configuration: the daemon starts as mailabuse" unit_start /etc/mailabuse/mailabused.conf
expect_eq "... its policy socket is Exim's" "660 mailabuse:Debian-exim" "$(stat -c '%a %U:%G' "$SOCK")"
expect_eq "... its database is private" "mailabuse 0" \
    "$(stat -c %U /var/lib/mailabuse/mailabuse.db) $(find /var/lib/mailabuse -perm /o+rwx | wc -l)"
# doctor: what the package set up passes; only the Exim wiring and cPanel
# are left to the administrator on this host.
/usr/bin/mailabusectl doctor --json >"$T/doctor.json" 2>&1
expect_eq "doctor: the package's configuration, user, database, sockets, templates, cron pass" \
    "configuration,cron,daemon user,database,notice templates,policy socket,user socket" \
    "$(jq -r '[.checks[] | select(.ok) | .check] | unique | join(",")' "$T/doctor.json" 2>&1)"
daemon_stop
expect_eq "... and stops cleanly" 0 "$DAEMON_STATUS"

# The same through a real Exim using the installed fragments (test data).
SOCK=$T/run/policy.sock
NOTIFY_SENDMAIL=/bin/true conf_write
sed -i -e "s|\"$T/mailabuse.db\"|\"$T/db/mailabuse.db\"|" \
    -e "s|templates = \"$TOP/conf/notices\"|templates = \"/etc/mailabuse/notices\"|" "$T/mailabused.conf"
install -d -o mailabuse -g mailabuse -m 0700 "$T/db"
chown mailabuse:mailabuse "$T/run"; chmod 0755 "$T/run"
check "test configuration: the installed daemon starts" unit_start "$T/mailabused.conf"
expect_eq "it answers PING" "OK mailabused 0.1.0" "$(q PING)"
ictl() { /usr/bin/mailabusectl -c "$T/mailabused.conf" "$@"; }
check "installed mailabusectl: sync" ictl sync
EXIM_CONTRIB=/usr/share/mailabuse/exim
EXIM_LOCAL_DOMAINS="example.com shop-bob.net blog.example.com alice.org carol.net"
exim_conf_make "$SOCK" "$T/exim" >/dev/null || fail "exim configuration with /usr/share/mailabuse/exim"
expect_match "Exim includes the installed fragments" '/usr/share/mailabuse/exim/mailabuse-rcpt.acl' \
    "$(cat "$T/exim/exim.conf")"
expect_eq "Exim: active account accepted" 250 "$(smtp_submit info@example.com info@example.com x@remote.test)"
check "installed mailabusectl: suspend bob" ictl suspend bob --reason "package smoke test" --source report
expect_eq "Exim: suspended account refused" 550 "$(smtp_submit info@example.com info@example.com x@remote.test)"
expect_match "... with the daemon's words" '^550 5\.7\.1 Outgoing mail of account bob is suspended' \
    "$(smtp_last_reply)"
daemon_stop

# The notice path: sendmail (the setuid Exim) as the unit's user, with
# the unit's capability bounding set, through Debian's own Exim.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
[ -e /var/mail/mailabuse ] || MAILBOX_MADE=1
msgid="notice.$$.$RANDOM@mailabuse.test"
printf 'To: mailabuse@localhost\nFrom: root\nMessage-ID: <%s>\nSubject: notice\n\ntest\n' "$msgid" >"$T/notice"
as_unit setpriv --bounding-set=-all,"$caps" /usr/sbin/sendmail -t -i <"$T/notice" >"$T/notice.out" 2>&1
expect_eq "notice: sendmail -t -i accepts it under the unit's bounding set" 0 "$?"
eximid() { grep -F "id=$msgid" /var/log/exim4/mainlog | awk '/ <= /{ print $3; exit }'; }
# delivered, or deferred for a reason of the host (a home directory): the
# delivery ran; a missing capability shows as a spool or permission error
attempted() { id=$(eximid); [ -n "$id" ] && grep -Eq "$id (=>|==) " /var/log/exim4/mainlog; }
if wait_until 20 attempted; then
    expect_eq "notice: Exim queues and delivers it with no privilege error" "" \
        "$(grep -F " $id " /var/log/exim4/mainlog | grep -Ei 'permission denied|not permitted|spool error|couldn.t')"
    echo "# notice delivery: $(grep -F " $id " /var/log/exim4/mainlog | grep -E ' (=>|==) ' | cut -c1-160)"
    exim -Mrm "$id" >/dev/null 2>&1
else
    fail "notice: Exim queues and delivers it" "$(tail -n 5 /var/log/exim4/mainlog)"
fi
printf 'To: mailabuse@localhost\nSubject: nnp\n\ntest\n' |
    as_unit setpriv --no-new-privs /usr/sbin/sendmail -t -i >/dev/null 2>&1
expect_eq "notice: with NoNewPrivileges sendmail fails (why the unit leaves it off)" failed \
    "$([ "$?" != 0 ] && echo failed)"

# -- upgrade -------------------------------------------------------------------
echo "# local edit" >>/etc/mailabuse/mailabused.conf
uid=$(id -u mailabuse)
rm -rf "$T/repack"
dpkg-deb -R "$deb" "$T/repack"
sed -i 's/^Version: .*/&+upgrade1/' "$T/repack/DEBIAN/control"
newver=$(sed -n 's/^Version: //p' "$T/repack/DEBIAN/control")
dpkg-deb -b "$T/repack" "$T/mailabuse_upgrade.deb" >/dev/null
check "upgrade with apt install" "${APT[@]}" install "$T/mailabuse_upgrade.deb"
expect_eq "upgraded" "$newver" "$(dpkg-query -W -f='${Version}' mailabuse)"
expect_eq "upgrade keeps the administrator's configuration" "# local edit" "$(tail -n 1 /etc/mailabuse/mailabused.conf)"
expect_eq "upgrade keeps the database and the user" "yes $uid" \
    "$([ -s /var/lib/mailabuse/mailabuse.db ] && echo yes) $(id -u mailabuse)"

# -- remove, purge -------------------------------------------------------------
check "apt remove" "${APT[@]}" remove mailabuse
expect_eq "remove: programs gone, configuration and database kept" "no yes yes" \
    "$([ -e /usr/sbin/mailabused ] && echo yes || echo no) $([ -e /etc/mailabuse/mailabused.conf ] && echo yes) $([ -s /var/lib/mailabuse/mailabuse.db ] && echo yes)"
check "apt purge" "${APT[@]}" purge mailabuse
PKGSTATE=
expect_eq "purge: dpkg knows nothing of it" "" "$(dpkg-query -W -f='${Status}' mailabuse 2>/dev/null | grep -v not-installed)"
find_ours >"$T/after"
expect_eq "purge leaves no file behind" "" "$(diff "$T/before" "$T/after" | grep '^[<>]')"
expect_eq "purge keeps the system user (Debian practice)" "$uid" "$(id -u mailabuse)"

# -- RPM -------------------------------------------------------------------------
rpmlint "$TOP/contrib/rpm/mailabuse.spec" >"$T/rpmlint.out" 2>&1
expect_match "rpmlint: the spec has no errors" ' 0 errors' "$(cat "$T/rpmlint.out")"
if make -C "$TOP" --no-print-directory rpm >"$T/rpm.log" 2>&1; then pass "make rpm (rpmbuild)"; else
    fail "make rpm (rpmbuild)" "$(tail -n 20 "$T/rpm.log")"; fi
rpmfile=$(ls "$TOP"/build-rpm/RPMS/*/mailabuse-*.rpm 2>/dev/null | head -n 1)
rpmlint -r "$TOP/contrib/rpm/mailabuse-rpmlint.conf" "$rpmfile" >"$T/rpmlint.out" 2>&1
expect_match "rpmlint: the RPM has no errors" ' 0 errors' "$(cat "$T/rpmlint.out")"
expect_match "the RPM carries the unit, the cPanel drop-in and the private state directory" \
    'mailabused.service.d/cpanel.conf.*drwx------ +[0-9]+ +mailabus +mailabus .*/var/lib/mailabuse' \
    "$(rpm -qlvp "$rpmfile" | tr '\n' ' ')"
expect_eq "the RPM's configuration gives the socket to cPanel's Exim group" '  group = "mail";' \
    "$(rpm2cpio "$rpmfile" | (cd "$T" && cpio -id --quiet ./etc/mailabuse/mailabused.conf) && grep '^  group' "$T/etc/mailabuse/mailabused.conf")"
t_finish

#!/usr/bin/env bash
# make install / make uninstall: into a DESTDIR (every file, where it
# goes, what the unit and the cron jobs say), then for real as root with
# PREFIX=/usr/local (the user, the state directory, mailabusectl on an
# ordinary user's PATH, systemd-analyze verify), then the leftovers of
# make uninstall: only the configuration and the database.
# Packaging gains nothing from a sanitizer build: plain build only.
. "$(dirname "$0")/lib.sh"
if [ "$(basename "$BUILD")" != build ]; then
    echo "# $T_NAME: packaging is tested on the plain build only"; t_finish; exit
fi
t_init
mk() { make -C "$TOP" --no-print-directory "$@"; }

# -- DESTDIR --------------------------------------------------------------
D=$T/dest
check "make install into a DESTDIR" mk install DESTDIR="$D" PREFIX=/usr/local EXIM_GROUP=Debian-exim
want="etc/cron.d/mailabuse
etc/mailabuse/mailabused.conf
etc/mailabuse/notices/eligible.txt
etc/mailabuse/notices/suspended.txt
etc/mailabuse/notices/unblock-granted.txt
etc/mailabuse/notices/unblock-refused.txt
usr/local/bin/mailabusectl
usr/local/lib/systemd/system/mailabused.service
usr/local/lib/sysusers.d/mailabuse.conf
usr/local/lib/tmpfiles.d/mailabuse.conf
usr/local/sbin/mailabused
usr/local/share/doc/mailabuse/PROTOCOL.md
usr/local/share/doc/mailabuse/README.md
usr/local/share/man/man5/mailabused.conf.5
usr/local/share/man/man8/mailabusectl.8
usr/local/share/man/man8/mailabused.8
$(cd "$TOP/contrib/exim" && find . -maxdepth 1 -type f | sed 's|^\./|usr/local/share/mailabuse/exim/|')"
expect_eq "DESTDIR install: exactly these files" "$(sort <<<"$want")" \
    "$(cd "$D" && find . -type f | sed 's|^\./||' | sort)"
unit=$D/usr/local/lib/systemd/system/mailabused.service
expect_match "the unit starts the installed daemon in the foreground" \
    '^ExecStart=/usr/local/sbin/mailabused -f -c /etc/mailabuse/mailabused.conf$' "$(grep ^ExecStart= "$unit")"
expect_eq "the unit's supplementary group is Exim's" "SupplementaryGroups=Debian-exim" \
    "$(grep ^SupplementaryGroups= "$unit")"
expect_match "the installed configuration gives the socket to Exim's group" \
    '^  group = "Debian-exim";$' "$(grep '^  group = ' "$D/etc/mailabuse/mailabused.conf")"
expect_eq "the installed configuration is otherwise the shipped one" 1 \
    "$(diff "$TOP/conf/mailabused.conf" "$D/etc/mailabuse/mailabused.conf" | grep -c '^>')"
"$D/usr/local/sbin/mailabused" -n -c "$D/etc/mailabuse/mailabused.conf" >"$T/n.out" 2>&1
expect_eq "mailabused -n accepts the installed configuration" "configuration OK" "$(cat "$T/n.out")"

# systemd-analyze verify: the shipped unit and the installed one, each
# pointed at a daemon that exists here, with its man pages.
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$T/verify"
    sed "s|^ExecStart=/usr/local/sbin/|ExecStart=$D/usr/local/sbin/|" "$unit" >"$T/verify/mailabused.service"
    MANPATH=$D/usr/local/share/man systemd-analyze verify "$T/verify/mailabused.service" >"$T/verify.out" 2>&1
    expect_eq "systemd-analyze verify: the installed unit is clean" "0 " "$? $(cat "$T/verify.out")"
    sed "s|^ExecStart=/usr/sbin/|ExecStart=$D/usr/local/sbin/|" "$TOP/contrib/systemd/mailabused.service" \
        >"$T/verify/mailabused.service"
    MANPATH=$D/usr/local/share/man systemd-analyze verify "$T/verify/mailabused.service" >"$T/verify.out" 2>&1
    expect_eq "systemd-analyze verify: contrib/systemd/mailabused.service is clean" "0 " "$? $(cat "$T/verify.out")"
    systemd-analyze security --offline=yes "$TOP/contrib/systemd/mailabused.service" >"$T/security.out" 2>&1
    expect_match "systemd-analyze security rates the unit" 'Overall exposure level for mailabused.service: [0-9.]+' \
        "$(cat "$T/security.out")"
    echo "# $(grep -o 'Overall exposure level.*' "$T/security.out")"
else
    fail "systemd-analyze is installed (.ci/deps: systemd)"
fi

# The cron jobs: nothing, silently, without cPanel's files; the job with them.
cronjobs() {  # print each job's command with /etc/userdomains -> $1
    sed -n 's/^[^#A-Z][^\t]*\troot\t//p' "$D/etc/cron.d/mailabuse" |
        sed -e "s|/etc/userdomains|$1|g" -e "s|/usr/local/bin/mailabusectl|$T/fakectl|g"
}
printf '#!/bin/sh\necho "$*" >>%s/fakectl.log\necho "to stdout"\n' "$T" >"$T/fakectl"
chmod +x "$T/fakectl"
n=0 out=
while read -r job; do
    out+=$(sh -c "$job" 2>&1); n=$((n + $?))
done < <(cronjobs "$T/none/userdomains")
expect_eq "cron jobs without /etc/userdomains: no output, status 0, nothing run" "0::" \
    "$n:$out:$(cat "$T/fakectl.log" 2>/dev/null)"
out=
while read -r job; do out+=$(sh -c "$job" 2>&1); done < <(cronjobs "$T/cpanel/etc/userdomains")
expect_eq "cron jobs with cPanel's files: expire and sync run, stdout dropped" "expire sync :" \
    "$(tr '\n' ' ' <"$T/fakectl.log"):$out"
expect_match "cron jobs name the installed mailabusectl" '/usr/local/bin/mailabusectl expire' \
    "$(cat "$D/etc/cron.d/mailabuse")"

echo "# admin's edit" >>"$D/etc/mailabuse/mailabused.conf"
check "make install again keeps the administrator's configuration" \
    mk install DESTDIR="$D" PREFIX=/usr/local EXIM_GROUP=Debian-exim
expect_eq "... edit still there" "# admin's edit" "$(tail -n 1 "$D/etc/mailabuse/mailabused.conf")"
check "make uninstall from the DESTDIR" mk uninstall DESTDIR="$D" PREFIX=/usr/local
expect_eq "DESTDIR uninstall leaves the configuration only" "etc/mailabuse/mailabused.conf
etc/mailabuse/notices/eligible.txt
etc/mailabuse/notices/suspended.txt
etc/mailabuse/notices/unblock-granted.txt
etc/mailabuse/notices/unblock-refused.txt" "$(cd "$D" && find . -type f | sed 's|^\./||' | sort)"

# -- a real install, as root ------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "# $T_NAME: not root: no real install"; t_finish; exit
fi
# System-wide: one such test at a time on this machine (t_package too).
exec 9>/tmp/mailabuse-system-install.lock
flock -w 600 9 || { fail "lock /tmp/mailabuse-system-install.lock"; t_finish; exit; }

snap() { find /usr/local /etc/cron.d /etc/mailabuse /var/lib/mailabuse 2>/dev/null | sort; }
snap >"$T/before"
had_conf=; [ -e /etc/mailabuse ] && had_conf=1
had_state=; [ -e /var/lib/mailabuse ] && had_state=1
check "make install (PREFIX=/usr/local, as root)" mk install PREFIX=/usr/local
expect_eq "the system user mailabuse, no login shell" "mailabuse:/usr/sbin/nologin" \
    "$(getent passwd mailabuse | awk -F: '{ print $1 ":" $7 }')"
expect_eq "/var/lib/mailabuse: 0700, owned by mailabuse" "700 mailabuse:mailabuse" \
    "$(stat -c '%a %U:%G' /var/lib/mailabuse)"
expect_eq "an ordinary user's login shell finds mailabusectl" /usr/local/bin/mailabusectl \
    "$(setpriv --reuid=nobody --regid=nogroup --clear-groups env -i HOME=/ sh -lc 'command -v mailabusectl')"
expect_eq "mailabused stays in sbin" /usr/local/sbin/mailabused "$(command -v mailabused)"
check "the installed mailabused accepts the installed configuration" \
    /usr/local/sbin/mailabused -n -c /etc/mailabuse/mailabused.conf
check "systemd-analyze verify: the installed unit, as installed" \
    systemd-analyze verify /usr/local/lib/systemd/system/mailabused.service
expect_eq "... and says nothing" "" "$(systemd-analyze verify /usr/local/lib/systemd/system/mailabused.service 2>&1)"
check "make uninstall" mk uninstall PREFIX=/usr/local
snap >"$T/after"
(cat "$T/before"; printf '%s\n' /etc/mailabuse /etc/mailabuse/mailabused.conf /etc/mailabuse/notices \
    /etc/mailabuse/notices/{eligible,suspended,unblock-granted,unblock-refused}.txt /var/lib/mailabuse) |
    sort -u >"$T/want"
expect_eq "uninstall leaves only the configuration and the database" "" \
    "$(diff "$T/want" "$T/after" | grep '^[<>]' | head -20)"
# leave the machine as it was
[ -n "$had_conf" ] || rm -rf /etc/mailabuse
[ -n "$had_state" ] || rm -rf /var/lib/mailabuse
t_finish

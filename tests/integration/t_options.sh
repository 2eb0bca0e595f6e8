#!/usr/bin/env bash
# Command-line conventions of both programs: --version and --help, errors
# in options that name the program, MAILABUSE_CONF, and owners' messages
# in words without SMTP status codes.
. "$(dirname "$0")/lib.sh"
t_init

for p in mailabused mailabusectl; do
    expect_status "$p --version exits 0" 0 "$BUILD/$p" --version
    expect_eq "$p --version prints its name and version" "$p 0.1.0" "$(cat "$T/last.out")"
    expect_status "$p -V too" 0 "$BUILD/$p" -V
    expect_status "$p --help exits 0" 0 "$BUILD/$p" --help
    expect_match "$p --help prints the usage on stdout" "^usage: $p " "$(cat "$T/last.out")"
    expect_status "$p with an unknown option: usage error" 64 "$BUILD/$p" --frobnicate
    expect_match "the error names the program, not its path" \
        "^$p: unknown option --frobnicate\$" "$(head -n 1 "$T/last.err")"
    expect_status "$p -c without its value: usage error" 64 "$BUILD/$p" -c
    expect_match "which says so" "^$p: option -c needs a value\$" "$(head -n 1 "$T/last.err")"
done
expect_status "a command's unknown option: usage error" 64 ctl list --jsn
expect_eq "named with the program and the command" "mailabusectl: list: unknown option --jsn" \
    "$(cat "$T/last.err")"
expect_status "a subcommand's unknown option" 64 ctl complaint add bob --ref x --bogus
expect_eq "named with the command and subcommand" \
    "mailabusectl: complaint add: unknown option --bogus" "$(cat "$T/last.err")"
expect_status "a command's option without its value" 64 ctl suspend bob --reason
expect_eq "says so" "mailabusectl: suspend: option --reason needs a value" "$(cat "$T/last.err")"

# The configuration: -c, else MAILABUSE_CONF, else the compiled-in path.
check "sync" ctl sync
expect_status "MAILABUSE_CONF names the configuration when -c is absent" 0 \
    env MAILABUSE_CONF="$T/mailabused.conf" "$BUILD/mailabusectl" list --json
expect_eq "and it is used" "alice bob carol" "$(jq -r '[.[].account] | join(" ")' "$T/last.out")"
printf 'bogus\n' >"$T/bad.conf"
expect_status "-c wins over MAILABUSE_CONF" 0 \
    env MAILABUSE_CONF="$T/bad.conf" "$BUILD/mailabusectl" -c "$T/mailabused.conf" list
expect_status "MAILABUSE_CONF wins over the default" 78 \
    env MAILABUSE_CONF="$T/bad.conf" "$BUILD/mailabusectl" list
expect_match "the error names that file" "$T/bad.conf" "$(cat "$T/last.err")"
if [ ! -e /etc/mailabuse/mailabused.conf ]; then
    expect_status "an empty MAILABUSE_CONF is as none: the default path" 78 \
        env MAILABUSE_CONF= "$BUILD/mailabusectl" list
    expect_match "which the error names" '/etc/mailabuse/mailabused.conf: cannot read' \
        "$(cat "$T/last.err")"
fi
expect_match "make run prints the mailabusectl line to use with it" \
    'mailabusectl -c .*/state/mailabused.conf' "$(make -C "$TOP" -n run 2>/dev/null)"

# Owners see the daemon's refusals in words.
if [ "$(id -u)" = 0 ]; then
    check "daemon starts" daemon_start
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"; }
    expect_status "an owner asking for another account: EX_NOPERM" 77 as_nobody status bob
    expect_eq "the message is in words, without 5.7.1" \
        "mailabusectl: permission denied: you may act only for your own account" \
        "$(cat "$T/last.err")"
    expect_status "a user that is no account: EX_NOINPUT" 66 as_nobody status
    expect_eq "no 5.1.1 either" "mailabusectl: no such account: nobody" "$(cat "$T/last.err")"
fi
t_finish

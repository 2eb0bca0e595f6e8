#!/usr/bin/env bash
# mailabusectl's command table: the options each command declares are
# the ones it takes, numbers are checked against their range there,
# subcommands are found by name; output that cannot be written fails;
# export --json gives its time in ISO 8601 like every other command.
. "$(dirname "$0")/lib.sh"
t_init

# Standard output that cannot be written: an error, not a silent success.
for a in --help --version; do
    expect_status "mailabusectl $a >/dev/full fails with EX_IOERR" 74 \
        sh -c '"$1" "$2" >/dev/full' sh "$BUILD/mailabusectl" "$a"
    expect_eq "and says why on stderr" "mailabusectl: standard output: No space left on device" \
        "$(cat "$T/last.err")"
done
check "sync" ctl sync
expect_status "a command's output to /dev/full fails too" 74 \
    sh -c '"$@" >/dev/full' sh "$BUILD/mailabusectl" -c "$T/mailabused.conf" list

# Options as the table declares them.
expect_status "a number option below its range" 64 ctl history bob --limit 0
expect_eq "names the command, the option and the range" \
    "mailabusectl: history: --limit must be 1 to 1000000" "$(cat "$T/last.err")"
expect_status "top's own range" 64 ctl top --limit 100001
expect_eq "is top's" "mailabusectl: top: --limit must be 1 to 100000" "$(cat "$T/last.err")"
expect_status "not a number" 64 ctl top --limit 5x
expect_status "an option another command takes is unknown here" 64 \
    ctl unsuspend bob --reason x --source admin
expect_eq "says so" "mailabusectl: unsuspend: unknown option --source" "$(cat "$T/last.err")"
expect_status "too many arguments: the command's usage error" 64 ctl export bob carol
expect_eq "as documented" \
    "mailabusectl: usage: export ACCOUNT [--with-history] [--output FILE] [--json]" \
    "$(cat "$T/last.err")"
expect_status "no argument where one is needed" 64 ctl limits
expect_eq "says so" "mailabusectl: limits: name the account" "$(cat "$T/last.err")"
expect_status "frozen with an argument" 64 ctl frozen now
expect_eq "names it" "mailabusectl: frozen: unexpected argument 'now'" "$(cat "$T/last.err")"
expect_status "a command without its subcommand" 64 ctl complaint
expect_eq "lists them" "mailabusectl: usage: complaint add|list|close ..." "$(cat "$T/last.err")"
expect_status "an unknown subcommand" 64 ctl complaint frob
expect_eq "names it" "mailabusectl: complaint: unknown subcommand 'frob'" "$(cat "$T/last.err")"
expect_status "a limit value of the limits command, one parser" 64 ctl limits bob bounce=101
expect_eq "its range" "mailabusectl: limits: bounce=101: the limit is a number from 1 to 100 (percent), or off" \
    "$(cat "$T/last.err")"
check "a limit value with its action" ctl limits bob account_rcpts=300/hold
expect_match "is set" "account_rcpts +300/hold +account" "$(ctl limits bob)"
expect_status "complaint close of no number" 64 ctl complaint close 12x --reason x
expect_eq "says so" "mailabusectl: complaint close: 12x is not a complaint number" \
    "$(cat "$T/last.err")"

# export --json: exported_at in ISO 8601 as the other commands' times;
# the document keeps the epoch beside its text.
TZ=UTC check "export --output --json" sh -c '"$@" >"$0"' "$T/export.json" \
    "$BUILD/mailabusectl" -c "$T/mailabused.conf" export bob --output "$T/bob.json" --json
expect_match "exported_at is an ISO 8601 time" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
    "$(jq -r .exported_at "$T/export.json")"
expect_eq "the document's exported_at_text, the same time" "$(jq -r .exported_at "$T/export.json")" \
    "$(jq -r .exported_at_text "$T/bob.json")"
expect_eq "the document's exported_at stays the epoch" "number" "$(jq -r '.exported_at | type' "$T/bob.json")"
t_finish

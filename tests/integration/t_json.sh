#!/usr/bin/env bash
# Every mailabusectl command with --json: the output parses (jq), write
# commands say what they did and the ids they made, absent values are
# null, and every command of `mailabusectl --help` is covered here.
. "$(dirname "$0")/lib.sh"
t_init
CONF_EXTRA='detect: { bounce_percent = 0; };'
conf_write

covered=
# j DESC CMD...: run CMD (--json given by the caller), keep its output in
# $T/j.json; passes when it parses as one JSON document
j() {
    local d=$1 rc; shift
    covered="$covered ${1}"
    ctl "$@" >"$T/j.json" 2>"$T/j.err"; rc=$?
    J_RC=$rc
    if jq -e . "$T/j.json" >/dev/null 2>&1 && [ "$(jq -s length "$T/j.json")" = 1 ]; then
        pass "$d: parses (exit $rc)"
    else
        fail "$d: output does not parse" "exit $rc" "$(head -c 300 "$T/j.json")" \
            "$(head -c 300 "$T/j.err")"
    fi
}
# jq_eq DESC FILTER WANT: jq -c FILTER on the last output
jq_eq() { expect_eq "$1" "$3" "$(jq -c "$2" "$T/j.json" 2>&1)"; }

check "daemon starts" daemon_start

j "sync --json" sync --json
jq_eq "sync counts the changes" .count 13
jq_eq "an added account has its owner as new, and old null" \
    '[.changes[] | select(.change == "account-added" and .name == "bob")][0] | [.old, .new]' \
    '[null,"reseller1"]'
jq_eq "a local domain has neither" \
    '[.changes[] | select(.change == "localdomain-added")][0] | [.old, .new]' '[null,null]'
j "sync --json again" sync --json
jq_eq "nothing changed" '[.count, .changes]' '[0,[]]'

j "suspend --json" suspend bob --reason "spam run" --json
jq_eq "suspend says it suspended, what and why" '[.suspended, .kind, .target, .reason]' \
    '[true,"account","bob","spam run"]'
sid=$(jq .suspension "$T/j.json")
expect_match "and the id of the suspension it made" '^[0-9]+$' "$sid"
j "suspend of a mailbox --json" suspend info@example.com --reason "stolen password" --json
jq_eq "a mailbox suspension names its account" '[.kind, .target, .account]' \
    '["mailbox","info@example.com","bob"]'

j "complaint add --suspend --json" complaint add alice --ref "FBL 1" --suspend --json
jq_eq "complaint add: the complaint's id, and the suspension it made" \
    '[(.complaint | type), .suspended, (.suspension | type), .already_suspended]' \
    '["number",true,"number",false]'
cid=$(jq .complaint "$T/j.json")
j "complaint add --suspend on a suspended account --json" complaint add bob --ref "FBL 2" --suspend --json
jq_eq "it says the account was already suspended, with that suspension" \
    '[.suspended, .already_suspended, .suspension]' "[false,true,$sid]"
j "complaint add without suspending --json" complaint add carol --ref "FBL 3" --json
jq_eq "suspension is null when none" '[.suspended, .suspension]' '[false,null]'
j "complaint list --json" complaint list alice --json
jq_eq "an open complaint has closed_by and close_reason null" \
    '.[0] | [.id, .closed_by, .close_reason]' "[$cid,null,null]"
j "complaint close --json" complaint close "$cid" --reason unfounded --json
jq_eq "complaint close says what it closed" '[.complaint, .account, .closed, .reason]' \
    "[$cid,\"alice\",true,\"unfounded\"]"
j "complaint list --json after the close" complaint list alice --json
jq_eq "closed_by is set now" '.[0].close_reason' '"unfounded"'

j "status --json" status carol --json
jq_eq "an account without a contact address has contact null" '[.state, .contact]' \
    '["active",null]'
jq_eq "and a not-suspended one since, reason, source null" '[.since, .reason, .source]' \
    '[null,null,null]'
jq_eq "cPanel's own outgoing state null when cPanel lists none" \
    '[.cpanel_outgoing, .cpanel_outgoing_since]' '[null,null]'
j "status --json of a suspended account" status bob --json
jq_eq "suspended, with its reason" '[.state, .reason, .owner]' '["suspended","spam run","reseller1"]'
j "list --json" list --json
jq_eq "list: contact null where cPanel has none" \
    '[.[] | select(.account == "carol")][0].contact' null
jq_eq "list: the states" '[.[] | .account + ":" + .state] | join(" ")' \
    '"alice:suspended bob:suspended carol:active"'

expect_eq "a message through the policy socket" PASS \
    "$(q CHECK ctx=smtp stage=data auth=carol@carol.net sender=carol@carol.net rcpt=x@remote.test ip=192.0.2.7)"
check "is recorded" wait_until 10 sh -c \
    "'$BUILD/mailabusectl' -c '$T/mailabused.conf' history carol --messages --json | jq -e '.messages | length == 1'"
j "history --json" history carol --messages --json
jq_eq "a message's absent values are null (no script, no uid, no message id)" \
    '.messages[0] | [.ctx, .ip, .script, .uid, .msgid]' '["smtp","192.0.2.7",null,null,null]'
jq_eq "the changes are listed" '[.changes[].action] | index("complaint") != null' true
j "top --json" top --json
jq_eq "top: an array of accounts" '[type, (.[0].account | type)]' '["array","string"]'

j "limits --json with a change (it used to crash after committing)" \
    limits carol account_messages=5/hold script_rcpts=off --json
expect_eq "limits --json exits 0" 0 "$J_RC"
jq_eq "the changes made" '[.changes[] | [.detector, .was, .now]]' \
    '[["account_messages","1000/defer","5/hold"],["script_rcpts","500/hold","off"]]'
jq_eq "the account's limits: limit, action, from" \
    '[.limits[] | select(.detector == "account_messages")][0] | [.limit, .action, .from, .set_by]' \
    '[5,"hold","account","root"]'
jq_eq "off is limit 0" '[.limits[] | select(.detector == "script_rcpts")][0].limit' 0
jq_eq "a detector without an hourly count has last_hour null, and set_by null from the configuration" \
    '[.limits[] | select(.detector == "mailbox_rcpts")][0] | [.last_hour, .set_by, .set_at]' \
    '[null,null,null]'
expect_eq "the change was audited once each" 2 \
    "$(sqlite3 "${DB:-$T/mailabuse.db}" "SELECT count(*) FROM audit WHERE action = 'limits' AND account = 'carol'")"
j "limits --json back to the default" limits carol account_messages=default --json
jq_eq "now is null for a reset" '.changes[0] | [.was, .now]' '["5/hold",null]'
j "limits --json without changes" limits carol --json
jq_eq "no changes" '.changes' '[]'

j "unsuspend --json" unsuspend info@example.com --reason "password changed" --json
jq_eq "unsuspend says what it lifted" '[.unsuspended, .kind, .target, .counts_as_unblock]' \
    '[true,"mailbox","info@example.com",false]'
j "unsuspend of an account --json" unsuspend alice --reason "cleaned" --no-count --json
jq_eq "--no-count: not the account's unblock" '[.account, .counts_as_unblock]' '["alice",false]'

j "unblock --json (refused: a complaint window is open)" unblock bob --json
expect_eq "unblock refused exits 1, with its JSON" 1 "$J_RC"
jq_eq "granted false" '[.granted, .unblock]' '[false,"wait"]'

j "expire --json" expire --json
jq_eq "expire: what it did, in numbers" \
    '[.complaint_windows_ended, .eligibility_notices_queued, .notices_sent, .notices_failed, .records_purged] | map(type) | unique' \
    '["number"]'

j "doctor --json" doctor --json --cron-file /nonexistent
expect_eq "doctor with a failing check exits 1" 1 "$J_RC"
jq_eq "doctor: ok false, a list of checks" '[.ok, (.checks | type), .checks[0].check, .checks[0].ok]' \
    '[false,"array","configuration",true]'
jq_eq "the failing check says what to do" \
    '[.checks[] | select(.check == "cron")][0] | [.ok, (.detail | test("install it"))]' '[false,true]'

j "sync --account --json" sync --account bob --json
jq_eq "sync --account: nothing changed" '[.count, .changes]' '[0,[]]'
j "export --json" export bob --output "$T/bob-export.json" --json
jq_eq "export: the account, the file, no history" '[.account, .file, .with_history]' \
    "[\"bob\",\"$T/bob-export.json\",false]"
j "import --json" import "$T/bob-export.json" --json
jq_eq "import of the same record: nothing changed" '[.account, .changed, .rows, .replaced]' \
    '["bob",false,0,false]'
exim_conf_make "$SOCK" "$T/exim" >/dev/null || fail "exim test configuration"
j "frozen --json" frozen --json --exim-config "$EXIM_CONF"
jq_eq "frozen: an empty queue, an empty list" .messages '[]'
j "frozen --release --json" frozen --release --json --exim-config "$EXIM_CONF"
jq_eq "frozen --release: nothing to release" '[.messages, .released]' '[[],0]'
# metrics.listen is off here: the database's figures, and why not the daemon's
j "stats --json" stats --json
jq_eq "stats: from the database, why, accounts by state" \
    '[.source, .daemon_error, ([.metrics[] | select(.name == "mailabuse_accounts") | .labels.state] | sort)]' \
    '["database","metrics.listen is off",["active","removed","suspended"]]'

# An error never prints half a document on standard output.
expect_status "suspend --json of an unknown account" 66 ctl suspend nosuch --reason x --json
expect_eq "prints nothing on stdout" "" "$(cat "$T/last.out")"

# Every command of the usage is covered above.
for cmd in $("$BUILD/mailabusectl" --help | sed -n 's/^ *\(usage: \)\{0,1\}mailabusectl \[-c FILE\] \([a-z-]*\).*/\2/p' | sort -u); do
    case " $covered " in
        *" $cmd "*) pass "command $cmd has --json and is tested here" ;;
        *) fail "command $cmd is not tested with --json in t_json.sh" ;;
    esac
done

t_finish

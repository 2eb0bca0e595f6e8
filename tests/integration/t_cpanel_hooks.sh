#!/usr/bin/env bash
# contrib/cpanel/mailabuse-hook fed, for every event its --describe
# lists, the JSON cPanel documents for it (tests/integration/cpanel-hooks/,
# one file per event, named CATEGORY-EVENT-STAGE with "::" as "-"): right
# after the hook, without a full sync, the account's state is the new
# one, through the CLI and the daemon's answers.  A failing hook exits 0
# and logs.
. "$(dirname "$0")/lib.sh"
t_init
HOOK=$TOP/contrib/cpanel/mailabuse-hook
FIX=$TOP/tests/integration/cpanel-hooks
export MAILABUSECTL=$BUILD/mailabusectl MAILABUSE_CONF=$T/mailabused.conf MAILABUSE_HOOK_LOG=$T/hook.log
ud=$T/cpanel/etc/userdomains
ld=$T/cpanel/etc/localdomains
uo=$T/cpanel/etc/trueuserowners
remote=x@remote.test

check "sync" ctl sync
check "daemon starts" daemon_start
# An account the hooks are never told about: only a full sync would add it.
printf 'zed.test: zed\n' >>"$ud"
printf 'zed: root\n' >>"$uo"

# --describe: what manage_hooks registers.
"$HOOK" --describe >"$T/describe.json"
expect_eq "--describe prints a JSON list" array "$(jq -r type "$T/describe.json")"
expect_eq "of the events handled" \
    "Cpanel Api2::AddonDomain::addaddondomain post,Cpanel Api2::AddonDomain::deladdondomain post,Cpanel Api2::Park::park post,Cpanel Api2::Park::unpark post,Cpanel Api2::SubDomain::addsubdomain post,Cpanel Api2::SubDomain::delsubdomain post,Cpanel UAPI::SubDomain::addsubdomain post,PkgAcct Create preFinalize,PkgAcct Restore post,Whostmgr Accounts::Create post,Whostmgr Accounts::Modify post,Whostmgr Accounts::Remove post" \
    "$(jq -r '[.[] | "\(.category) \(.event) \(.stage)"] | sort | join(",")' "$T/describe.json")"
expect_eq "each a script hook naming this script, never blocking" "[\"$HOOK\",\"script\",0]" \
    "$(jq -c '[.[] | [.hook, .exectype, .blocking]] | unique | .[0]' "$T/describe.json")"
expect_eq "Cpanel events (run as the user) ask for root" "[1]" \
    "$(jq -c '[.[] | select(.category == "Cpanel") | .escalateprivs] | unique' "$T/describe.json")"

fed=" "
# feed NAME: the fixture NAME.json through the hook, as cPanel runs it
feed() {
    fed="$fed$1 "
    sed "s|@T@|$T|g" "$FIX/$1.json" | "$HOOK" >"$T/hook.out" 2>&1
    expect_eq "hook $1: exits 0" 0 "$?"
}
verdict() { q CHECK ctx=smtp "auth=$1" "sender=$1" "rcpt=$remote" | cut -d' ' -f1; }
st() { ctl status "$1" --json | jq -r "$2"; }
domains() { ctl status "$1" --json | jq -r '[.domains[] | "\(.domain) \(.kind)"] | join(",")'; }
# drop LINE FILE: remove an exact line
drop() { grep -vxF -- "$1" "$2" >"$2.new"; mv "$2.new" "$2"; }

# Account created in WHM.
printf 'dave.test: dave\n' >>"$ud"; printf 'dave.test\n' >>"$ld"; printf 'dave: root\n' >>"$uo"
printf 'DNS=dave.test\nCONTACTEMAIL=dave@contact.test\n' >"$T/cpanel/var/cpanel/users/dave"
expect_status "before the hook dave is unknown" 66 ctl status dave
feed Whostmgr-Accounts-Create-post
expect_eq "after it dave is there, with its contact" "true dave@contact.test root" \
    "$(st dave '"\(.in_cpanel) \(.contact) \(.owner)"')"
expect_eq "and its main domain" "dave.test main" "$(domains dave)"
check "dave can be suspended at once" ctl suspend dave --reason test
expect_eq "dave's mailbox is refused" REFUSE "$(verdict info@dave.test)"

# Addon domain added through API 2 while bob is suspended.
check "suspend bob" ctl suspend bob --reason "spam run"
printf 'bob-addon.test: bob\n' >>"$ud"; printf 'bob-addon.test\n' >>"$ld"
expect_eq "before the hook the new domain's mailbox is nobody's" PASS "$(verdict info@bob-addon.test)"
feed Cpanel-Api2-AddonDomain-addaddondomain-post
expect_eq "after it the mailbox is bob's, refused while bob is suspended" REFUSE \
    "$(verdict info@bob-addon.test)"
expect_match "the domain is bob's addon" "bob-addon.test addon" "$(domains bob)"
expect_match "and the hook logged what it did" "sync --account bob: \+ domain bob-addon.test -> bob \(addon\)" \
    "$(cat "$T/hook.log")"
drop 'bob-addon.test: bob' "$ud"; drop bob-addon.test "$ld"
feed Cpanel-Api2-AddonDomain-deladdondomain-post
expect_eq "addon removed: the mailbox is nobody's again" PASS "$(verdict info@bob-addon.test)"

# Subdomains, API 2 and UAPI.
printf 'shop.example.com: bob\n' >>"$ud"; printf 'shop.example.com\n' >>"$ld"
feed Cpanel-Api2-SubDomain-addsubdomain-post
expect_match "subdomain added: bob's, a sub" "shop.example.com sub" "$(domains bob)"
drop 'shop.example.com: bob' "$ud"; drop shop.example.com "$ld"
feed Cpanel-Api2-SubDomain-delsubdomain-post
expect_eq "subdomain removed" "" "$(domains bob | tr ',' '\n' | grep -F shop.example.com)"
printf 'news.example.com: bob\n' >>"$ud"; printf 'news.example.com\n' >>"$ld"
feed Cpanel-UAPI-SubDomain-addsubdomain-post
expect_match "UAPI subdomain added" "news.example.com sub" "$(domains bob)"

# Parked domain (alias).
printf 'bob-alias.test: bob\n' >>"$ud"; printf 'bob-alias.test\n' >>"$ld"
feed Cpanel-Api2-Park-park-post
expect_eq "parked domain: its mailbox is bob's, refused" REFUSE "$(verdict info@bob-alias.test)"
drop 'bob-alias.test: bob' "$ud"; drop bob-alias.test "$ld"
feed Cpanel-Api2-Park-unpark-post
expect_eq "unparked: nobody's" PASS "$(verdict info@bob-alias.test)"

# Rename carol -> carla in WHM: both names synced.  carol has cPanel's
# UUID and a suspension: the record follows the account to its new name.
printf 'UUID=6e1f3c2a-1b7d-4f0e-9a51-2c8d9e0f4a11\n' >>"$T/cpanel/var/cpanel/users/carol"
check "carol's UUID is known" ctl sync --account carol
check "suspend carol" ctl suspend carol --reason "phishing"
sed -i 's/^carol\.net: carol$/carol.net: carla/' "$ud"
sed -i 's/^carol: root$/carla: root/' "$uo"
mv "$T/cpanel/var/cpanel/users/carol" "$T/cpanel/var/cpanel/users/carla"
feed Whostmgr-Accounts-Modify-post
expect_eq "the new name is there, with carol's domain" "true carol.net main" \
    "$(st carla .in_cpanel) $(domains carla)"
expect_status "the old name's record is now carla's" 66 ctl status carol
expect_match "the record followed the rename" "sync --account carla: .*renamed from carol" \
    "$(cat "$T/hook.log")"
expect_eq "carla is suspended for carol's reason" "suspended phishing" \
    "$(st carla '"\(.state) \(.reason)"')"
expect_eq "and carla's mailbox is refused" REFUSE "$(verdict info@carol.net)"

# Owner change in WHM.
sed -i 's/^alice: root$/alice: reseller2/' "$uo"
feed Whostmgr-Accounts-Modify-post.owner
expect_eq "alice's new owner" reseller2 "$(st alice .owner)"

# Account removed in WHM.
drop 'alice.org: alice' "$ud"; drop alice.org "$ld"; drop 'alice: reseller2' "$uo"
feed Whostmgr-Accounts-Remove-post
expect_eq "alice is gone from cPanel" false "$(st alice .in_cpanel)"
expect_eq "her mailbox is nobody's" PASS "$(verdict info@alice.org)"

# Transfer: pkgacct packages bob (suspended) ...
mkdir -p "$T/cpmove-bob"
feed PkgAcct-Create-preFinalize
expect_eq "the archive's work directory has bob's record" "bob suspended spam run" \
    "$(jq -r '"\(.account) \(.status.state) \(.status.reason)"' "$T/cpmove-bob/mailabuse/record.json")"
# ... and the archive is restored on another server.
mkdir -p "$T/b"
cp -r "$T/cpanel" "$T/b/cpanel"
sed -e "s|$DB|$T/b/db/mailabuse.db|" -e "s|root = \"$T/cpanel\"|root = \"$T/b/cpanel\"|" \
    "$T/mailabused.conf" >"$T/b/mailabused.conf"
MAILABUSE_CONF=$T/b/mailabused.conf feed PkgAcct-Restore-post
expect_eq "on the new server bob is suspended, for the same reason" "suspended spam run" \
    "$(ctl -c "$T/b/mailabused.conf" status bob --json | jq -r '"\(.state) \(.reason)"')"
expect_eq "with the same suspension time" "$(st bob .since)" \
    "$(ctl -c "$T/b/mailabused.conf" status bob --json | jq -r .since)"
expect_match "the import is audited with the archive" "imported from $T/cpmove-bob/mailabuse/record.json" \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT detail FROM audit WHERE action = 'import'")"
MAILABUSE_CONF=$T/b/mailabused.conf feed PkgAcct-Restore-post
expect_eq "restoring twice imports once" 1 \
    "$(sqlite3 "$T/b/db/mailabuse.db" "SELECT count(*) FROM audit WHERE action = 'import'")"

# Without jq: Perl's JSON::PP reads the input.
if perl -MJSON::PP -e 1 2>/dev/null; then
    printf 'bob-alias.test: bob\n' >>"$ud"; printf 'bob-alias.test\n' >>"$ld"
    MAILABUSE_HOOK_PARSER=perl feed Cpanel-Api2-Park-park-post
    expect_eq "parsed with Perl: the parked domain is bob's" REFUSE "$(verdict info@bob-alias.test)"
else
    fail "perl with JSON::PP is not installed"
fi

# A half-written etc/userdomains does not take a suspended account's domains.
cp "$ud" "$ud.full"
grep -v ': bob$' "$ud.full" >"$ud"
: >"$T/hook.log"
feed Cpanel-Api2-Park-unpark-post
expect_match "a suspended account losing most of its domains: refused, logged" \
    "sync --account bob failed \(exit 65.*refusing to take" "$(cat "$T/hook.log")"
expect_eq "bob's mailbox is still bob's, refused" REFUSE "$(verdict info@example.com)"
mv "$ud.full" "$ud"

# A hook never blocks cPanel: its own failures exit 0 and are logged.
: >"$T/hook.log"
sed "s|@T@|$T|g" "$FIX/Whostmgr-Accounts-Create-post.json" |
    MAILABUSECTL=/nonexistent/mailabusectl "$HOOK" >/dev/null 2>&1
expect_eq "mailabusectl missing: exit 0" 0 "$?"
expect_match "and logged" "sync --account dave failed .*the cron sync catches up" "$(cat "$T/hook.log")"
mv "$ud" "$ud.away"
sed "s|@T@|$T|g" "$FIX/Whostmgr-Accounts-Create-post.json" | "$HOOK" >/dev/null 2>&1
expect_eq "cPanel's files missing: exit 0" 0 "$?"
expect_match "and logged with mailabusectl's reason" "failed \(exit 66.*userdomains: No such file" \
    "$(cat "$T/hook.log")"
mv "$ud.away" "$ud"
printf 'not json' | "$HOOK" >/dev/null 2>&1
expect_eq "input that is not JSON: exit 0" 0 "$?"
expect_match "logged as unexpected" "unexpected event" "$(cat "$T/hook.log")"
printf '{"context": {"category": "Whostmgr", "event": "Accounts::Create", "stage": "post"}, "data": {"user": "x; rm -rf /"}}' |
    "$HOOK" >/dev/null 2>&1
expect_match "a user name that is not one is refused and logged" "no valid account name" \
    "$(cat "$T/hook.log")"

expect_status "zed, never hooked, is still unknown: no full sync ran" 66 ctl status zed

# Every described event was fed its documented JSON.
while read -r name; do
    case "$fed" in
    *" $name "*) pass "described event $name was fed $name.json" ;;
    *) fail "described event $name has no test fixture $name.json" ;;
    esac
done < <(jq -r '.[] | "\(.category)-\(.event | gsub("::"; "-"))-\(.stage)"' "$T/describe.json")

t_finish

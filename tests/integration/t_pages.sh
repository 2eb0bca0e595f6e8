#!/usr/bin/env bash
# The cPanel owner's page (contrib/cpanel/plugin/) and the WHM abuse desk's
# page (contrib/cpanel/whm/), served by a real CGI web server (busybox
# httpd) on an ephemeral loopback port -- as the account's own uid for the
# owner's page, as root behind HTTP authentication for WHM, as cPanel runs
# them -- and read by a real headless Chromium: the DOM of each state, the
# confirmation, the refusal with its date; an unblock asked through the
# page is granted or refused exactly as the CLI says; the WHM page suspends
# and unsuspends with the audit naming the WHM user.  The screenshots of
# each state are kept in $BUILD/screenshots/.  Earlier events are dated in
# the past with faketime; the daemon and the pages run on the real clock.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then echo "# t_pages needs root (setpriv, useradd)"; t_finish; exit; fi
if [ "$(basename "$BUILD")" = build-san ]; then
    # Chromium is heavy and runs no code of ours: the pages run the plain
    # build's programs once; the sanitizer pass covers the CLI elsewhere.
    echo "# t_pages: skipped in the sanitizer pass (Chromium runs in the plain pass)"
    t_finish; exit
fi
for p in chromium busybox perl curl; do
    command -v "$p" >/dev/null || { fail "$p is installed (.ci/deps)"; t_finish; exit; }
done
t_init
SHOTS=$BUILD/screenshots
mkdir -p "$SHOTS"
HTTPD_PIDS=
trap 'for p in $HTTPD_PIDS; do kill "$p" 2>/dev/null; done; t_cleanup' EXIT

# The owners: two accounts with their own uids (tolerating a concurrent run).
for n in mabpage1 mabpage2; do
    id "$n" >/dev/null 2>&1 || useradd -M -N -r -s /usr/sbin/nologin "$n" 2>/dev/null ||
        id "$n" >/dev/null 2>&1
    printf '%s: root\n' "$n" >>"$T/cpanel/etc/trueuserowners"
    printf '%s.test: %s\n' "$n" "$n" >>"$T/cpanel/etc/userdomains"
done
UID2=$(id -u mabpage2)
check "sync" ctl sync
check "daemon starts" daemon_start

# The document roots, laid out as cPanel installs the pages.
mkdir -p "$T/www-owner" "$T/www-whm"
cp -r "$TOP/contrib/cpanel/plugin/mailabuse" "$T/www-owner/"
cp -r "$TOP/contrib/cpanel/whm/mailabuse" "$T/www-whm/"
chmod -R a+rX "$T/www-owner" "$T/www-whm"
printf '*.pl:/usr/bin/perl\n' >"$T/httpd-owner.conf"
# WHM authenticates its users and hands the name to the page in REMOTE_USER
printf '*.cgi:/usr/bin/perl\n/mailabuse:deskuser:s3cret\n' >"$T/httpd-whm.conf"
chmod a+r "$T"/httpd-*.conf

# httpd_start VAR AS CONF ROOT: busybox httpd as user AS (root, or a setpriv
# uid) on a free ephemeral loopback port; its base URL in VAR
httpd_start() {
    local var=$1 as=$2 conf=$3 root=$4 port pid i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        port=$((32768 + RANDOM % 28000))
        if [ "$as" = root ]; then
            env MAILABUSECTL="$BUILD/mailabusectl" MAILABUSE_CONF="$T/mailabused.conf" \
                busybox httpd -f -p "127.0.0.1:$port" -h "$root" -c "$conf" 2>>"$T/httpd.log" &
        else
            setpriv --reuid="$as" --regid=nogroup --clear-groups \
                env MAILABUSECTL="$BUILD/mailabusectl" MAILABUSE_CONF="$T/mailabused.conf" \
                busybox httpd -f -p "127.0.0.1:$port" -h "$root" -c "$conf" 2>>"$T/httpd.log" &
        fi
        pid=$!
        if wait_until 5 curl -s -o /dev/null "http://127.0.0.1:$port/"; then
            HTTPD_PIDS="$HTTPD_PIDS $pid"
            printf -v "$var" 'http://127.0.0.1:%s' "$port"
            return 0
        fi
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    done
    return 1
}

# chrome ARGS... URL: headless Chromium, its own profile, no GPU
chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --hide-scrollbars --user-data-dir="$T/chrome" "$@" 2>>"$T/chrome.log"
}
# dom URL: the DOM after load, in $T/dom.html
dom() { chrome --dump-dom "$1" >"$T/dom.html"; }
# shot NAME URL: a screenshot kept as $SHOTS/NAME.png
shot() {
    rm -f "$SHOTS/$1.png"
    chrome --window-size=1100,1000 --screenshot="$SHOTS/$1.png" "$2" >/dev/null &&
        test -s "$SHOTS/$1.png"
}
# the text of the element with id $1 in $T/dom.html (tags stripped)
el() {
    ID=$1 perl -0ne 'if (/<(\w+)[^>]* id="\Q$ENV{ID}\E"[^>]*>(.*?)<\/\1>/s) { $_ = $2;
        s/<[^>]*>/ /g; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&#39;/\x27/g; s/&amp;/&/g;
        s/\s+/ /g; s/^ | $//g; print }' "$T/dom.html"
}
# iso EPOCH: the time as the programs print it
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -u -d "$1" +%s; }
# ctl_at EPOCH ARGS...: mailabusectl with the clock stopped at that time
ctl_at() {
    local when; when=$(date -u -d "@$1" '+%Y-%m-%d %H:%M:%S'); shift
    TZ=UTC FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$when" \
        "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"
}
as_owner() {
    local u=$1; shift
    setpriv --reuid="$u" --regid=nogroup --clear-groups "$BUILD/mailabusectl" -c "$T/mailabused.conf" "$@"
}
# a minute passes for the user socket's one request a minute: age the requests
age_requests() {
    sqlite3 "$DB" "UPDATE audit SET at = at - 120 WHERE account = '$1' AND action LIKE 'unblock-%'"
}
# post_unblock URL: the confirmation form's POST, as the browser sends it; the
# result page in $T/post.html (and read back by Chromium into $T/dom.html)
post_unblock() {
    curl -s -o "$T/post.html" -w '%{http_code}' -H "Origin: $1" -H "Referer: $1/mailabuse/index.live.pl?step=confirm" \
        --data-urlencode step=unblock --data-urlencode token=mailabuse-unblock --data-urlencode fixed=yes \
        "$1/mailabuse/index.live.pl"
}

check "the owner's page is served as mabpage1" httpd_start U1 mabpage1 "$T/httpd-owner.conf" "$T/www-owner"
check "and as mabpage2" httpd_start U2 mabpage2 "$T/httpd-owner.conf" "$T/www-owner"
PAGE1=$U1/mailabuse/index.live.pl
PAGE2=$U2/mailabuse/index.live.pl

# --- Active, having sent three messages from a mailbox.
for i in 1 2 3; do
    q CHECK ctx=smtp stage=data auth=info@mabpage1.test ip=192.0.2.7 sender=info@mabpage1.test \
        rcpt=a@remote.test,b@remote.test nrcpt=2 msgid="1pages-00000$i-AB" >>"$T/q.out"
done
expect_eq "the daemon lets them go" "PASS PASS PASS" "$(tr '\n' ' ' <"$T/q.out" | sed 's/ $//')"
check "and records them" wait_until 10 sh -c \
    "'$BUILD/mailabusectl' -c '$T/mailabused.conf' history mabpage1 --json | jq -e '.sources[0].messages == 3'"
check "Chromium loads the owner's page" dom "$PAGE1"
expect_eq "it names the owner's own account" mabpage1 "$(el account)"
expect_eq "the state: active" active "$(el state)"
expect_eq "no unblock to ask for" "" "$(el ask)"
check "screenshot: active" shot active "$PAGE1"

# --- Suspended, a complaint window open for 7 days.
now=$(date -u +%s)
check "a complaint with a 7-day window suspends mabpage1" \
    ctl_at "$now" complaint add mabpage1 --ref "<spam-7@remote.test>" --source fbl --window 7d --suspend
wend=$(iso $((now + 7 * 86400)))
check "Chromium loads the page" dom "$PAGE1"
expect_eq "the state: suspended" suspended "$(el state)"
expect_eq "since when" "$(iso "$now")" "$(el since)"
expect_eq "the reason" "complaint #1 (fbl): <spam-7@remote.test>" "$(el reason)"
expect_match "the complaint and when its window ends" "<spam-7@remote.test>.*$wend.*open" \
    "$(perl -0ne 'print $1 if /<table id="complaints">(.*?)<\/table>/s' "$T/dom.html" | sed 's/<[^>]*>/ /g; s/&lt;/</g; s/&gt;/>/g' | tr -s ' \n' ' ')"
expect_eq "from when an unblock can succeed" "$wend" "$(el unblock-from)"
expect_match "the explanation, as the CLI gives it" "^A complaint window is open until $wend" "$(el explanation)"
expect_match "what each source sent: the mailbox, 3 messages to 6 external recipients" \
    "mailbox info@mabpage1.test 3 0 6 0 " "$(el sources)"
expect_match "the changes: the suspension" "suspend" "$(el changes)"
check "screenshot: suspended in a window" shot suspended-window "$PAGE1"
check "the confirmation step" dom "$PAGE1?step=confirm"
expect_match "says this is the one unblock of the next 90 days" \
    "This is the one unblock of the next 90 days\." "$(el confirm-text)"
expect_match "and that the cause must be fixed first" "Fix the cause first\." "$(el confirm-text)"
expect_match "and that this request would be refused now" "refused: a complaint window is open until $wend" "$(el unblock)"
check "screenshot: the confirmation" shot confirm "$PAGE1?step=confirm"
expect_eq "the unblock asked through the page is answered" 200 "$(post_unblock "$U1")"
check "Chromium reads the answer" dom "file://$T/post.html"
expect_eq "refused" refused "$(el outcome)"
expect_eq "with the date from which it can succeed" "$wend" "$(el unblock-from)"
page_why=$(el result)
age_requests mabpage1
expect_status "the CLI refuses the same request (exit 1)" 1 as_owner mabpage1 unblock --json
expect_eq "with the same explanation" "Unblock refused : $(jq -r .explanation "$T/last.out")." "$page_why"
check "screenshot: the refusal in a window" shot refused-window "file://$T/post.html"

# --- Eligible: suspended 30 days ago, the complaint's 7-day window long over.
check "a complaint 30 days ago suspended mabpage2" ctl_at $((now - 30 * 86400)) \
    complaint add mabpage2 --ref "<spam-30@remote.test>" --source fbl --window 7d --suspend
expect_eq "the CLI says an unblock is possible" possible "$(ctl status mabpage2 --json | jq -r .unblock)"
check "Chromium loads mabpage2's page" dom "$PAGE2"
expect_eq "it is mabpage2's" mabpage2 "$(el account)"
expect_eq "suspended" suspended "$(el state)"
expect_eq "an unblock can succeed now" "An unblock request can succeed now ." "$(el unblock)"
expect_match "the complaint's window ended" "$(iso $((now - 23 * 86400))) ended" "$(el complaints)"
check "screenshot: eligible" shot eligible "$PAGE2"
expect_eq "the unblock asked through the page is answered" 200 "$(post_unblock "$U2")"
check "Chromium reads the answer" dom "file://$T/post.html"
expect_eq "granted" granted "$(el outcome)"
check "screenshot: granted" shot granted "file://$T/post.html"
expect_eq "the CLI agrees: mabpage2 is active" active "$(ctl status mabpage2 --json | jq -r .state)"
expect_eq "the audit names the owner, through the user socket" "mabpage2 (self-service, uid $UID2)" \
    "$(ctl history mabpage2 --json | jq -r '.changes[] | select(.action == "unblock-granted") | .actor')"
check "Chromium shows mabpage2 active again" dom "$PAGE2"
expect_eq "active" active "$(el state)"

# --- Refused within the 90 days: suspended again after the grant.
check "the abuse desk suspends mabpage2 again" ctl suspend mabpage2 --reason "spam run again"
cend=$(ctl status mabpage2 --json | jq -r .cooldown_end)
d=$(( $(epoch "$cend") - now - 90 * 86400 ))
expect_match "the 90 days run from the grant" "^-?[0-9]{1,3}$" "$d"
check "Chromium loads the page" dom "$PAGE2"
expect_eq "suspended" suspended "$(el state)"
expect_eq "from when an unblock can succeed: 90 days after the grant" "$cend" "$(el unblock-from)"
expect_match "saying why" "only one is granted every 90d .*stays blocked until $cend" "$(el explanation)"
check "screenshot: suspended within the 90 days" shot suspended-90d "$PAGE2"
age_requests mabpage2
expect_eq "the unblock asked through the page is answered" 200 "$(post_unblock "$U2")"
check "Chromium reads the answer" dom "file://$T/post.html"
expect_eq "refused" refused "$(el outcome)"
expect_eq "with the date the 90 days end" "$cend" "$(el unblock-from)"
page_why=$(el result)
check "screenshot: refused within the 90 days" shot refused-90d "file://$T/post.html"
age_requests mabpage2
expect_status "the CLI refuses the same request (exit 1)" 1 as_owner mabpage2 unblock --json
expect_eq "with the same date" "$cend" "$(jq -r .unblock_from "$T/last.out")"
expect_eq "and the same explanation" "Unblock refused : $(jq -r .explanation "$T/last.out")." "$page_why"

# --- The owner's page refuses what does not come from its form.
expect_eq "a GET cannot unblock" 200 "$(curl -s -o "$T/get.html" -w '%{http_code}' "$PAGE1?step=unblock&token=mailabuse-unblock&fixed=yes")"
expect_match "it says so" 'must be sent with the form' "$(cat "$T/get.html")"
expect_eq "a POST from another site is refused" 200 "$(curl -s -o "$T/x.html" -w '%{http_code}' \
    -H 'Origin: http://evil.test' -d step=unblock -d token=mailabuse-unblock -d fixed=yes "$PAGE1")"
expect_match "it says so" 'did not come from this page' "$(cat "$T/x.html")"
expect_eq "a POST without the confirmation is refused" 200 "$(curl -s -o "$T/x.html" -w '%{http_code}' \
    -d step=unblock -d token=mailabuse-unblock "$PAGE1")"
expect_match "it asks for it" 'confirm that you have found and fixed the cause' "$(cat "$T/x.html")"
expect_eq "none of them reached the daemon (the page's and the CLI's only)" 2 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE account = 'mabpage1' AND action LIKE 'unblock-%'")"
check "sync, after a reference with markup in it" ctl complaint add mabpage1 --ref '<script>alert(1)</script>&"x"'
check "Chromium loads the owner's page" dom "$PAGE1"
expect_eq "markup in a value is shown as text, never run" 0 "$(grep -c '<script>' "$T/dom.html")"
expect_match "the text is there" '<script>alert\(1\)</script>&"x"' "$(el complaints)"

# --- The abuse desk's WHM page, as root, for the authenticated WHM user.
check "the WHM page is served as root" httpd_start W root "$T/httpd-whm.conf" "$T/www-whm"
WHM=http://deskuser:s3cret@${W#http://}/mailabuse/index.cgi
expect_eq "WHM's authentication stands in front of it" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' "$W/mailabuse/index.cgi")"
# desk_post FIELD=VALUE...: a form of the WHM page, POSTed as the browser would
desk_post() {
    local a=() f
    for f in "$@"; do a+=(--data-urlencode "$f"); done
    curl -s -o "$T/desk.html" -w '%{http_code}' -u deskuser:s3cret -H "Origin: $W" \
        --data-urlencode token=mailabuse-desk "${a[@]}" "$W/mailabuse/index.cgi"
}
check "Chromium loads the WHM page" dom "$WHM"
expect_eq "it names the WHM user" deskuser "$(el whm-user)"
expect_match "the suspended accounts, with reason and since when" \
    "mabpage1 $(iso "$now") complaint #1 \(fbl\): <spam-7@remote.test> fbl root from [-0-9T:Z]+ " "$(el suspended)"
expect_match "and mabpage2's" "mabpage2 [-0-9T:Z]+ spam run again .* root from $cend" "$(el suspended)"
expect_match "the top senders of the last hour" "mabpage1 3 6 0 0 0 0 0% mailbox info@mabpage1.test" "$(el top)"
expect_match "nobody near a limit yet" "No account used 80%" "$(el near)"
expect_eq "the WHM page sets a limit, with a reason" 200 \
    "$(desk_post action=limits target=mabpage1 limits=account_messages=3 'reason=asked by the owner')"
expect_match "it says what changed" 'mabpage1: account_messages = 3/defer \(was 1000/defer\): asked by the owner' \
    "$(cat "$T/desk.html")"
expect_eq "the audit names the WHM user, with the reason" \
    "deskuser (via root)|account_messages = 3/defer (was 1000/defer): asked by the owner" \
    "$(ctl history mabpage1 --json | jq -r '[.changes[] | select(.action == "limits")][-1] | "\(.actor)|\(.detail)"')"
check "Chromium loads the WHM page" dom "$WHM"
expect_match "mabpage1 is at 100% of its limit" "mabpage1 3 6 0 0 0 0 100%" "$(el top)"
expect_match "and listed near a limit" "mabpage1 100% 3" "$(el near)"
expect_eq "an action without a reason is refused" 200 "$(desk_post action=suspend target=alice reason=)"
expect_match "saying so" 'Every action needs a reason' "$(cat "$T/desk.html")"
expect_eq "alice is still active" active "$(ctl status alice --json | jq -r .state)"
expect_eq "the WHM page suspends alice" 200 "$(desk_post action=suspend target=alice 'reason=phishing; rm -rf / $(id)')"
expect_match "saying so" 'suspended account alice' "$(cat "$T/desk.html")"
expect_eq "alice is suspended, the reason taken as it is (no shell)" 'suspended|phishing; rm -rf / $(id)' \
    "$(ctl status alice --json | jq -r '"\(.state)|\(.reason)"')"
expect_eq "the audit names the WHM user" "deskuser (via root)" \
    "$(ctl history alice --json | jq -r '[.changes[] | select(.action == "suspend")][-1].actor')"
check "Chromium loads the WHM page" dom "$WHM"
expect_match "alice among the suspended accounts" 'alice [-0-9T:Z]+ phishing; rm -rf / \$\(id\)' "$(el suspended)"
check "screenshot: the WHM page" shot whm "$WHM"
expect_eq "the WHM page unsuspends alice, not counted" 200 \
    "$(desk_post action=unsuspend target=alice 'reason=our mistake' nocount=yes)"
expect_eq "alice is active" active "$(ctl status alice --json | jq -r .state)"
expect_eq "the audit names the WHM user, uncounted" "deskuser (via root)|unsuspend-nocount" \
    "$(ctl history alice --json | jq -r '.changes[-1] | "\(.actor)|\(.action)"')"
expect_eq "the WHM page adds a complaint that suspends carol" 200 \
    "$(desk_post action=complaint target=carol 'reason=<abuse-9@remote.test>' source=fbl window=2d suspend=yes)"
expect_eq "carol is suspended for it, by the WHM user" "suspended|deskuser (via root)" \
    "$(ctl status carol --json | jq -r '"\(.state)|\(.suspended_by)"')"
expect_eq "the WHM page unsuspends carol, counted" 200 "$(desk_post action=unsuspend target=carol 'reason=cleaned up')"
expect_eq "the audit names the WHM user" "deskuser (via root)|unsuspend" \
    "$(ctl history carol --json | jq -r '.changes[-1] | "\(.actor)|\(.action)"')"
expect_eq "a POST from another site is refused" 200 "$(curl -s -o "$T/desk.html" -w '%{http_code}' \
    -u deskuser:s3cret -H 'Origin: http://evil.test' -d action=suspend -d target=alice -d reason=x \
    -d token=mailabuse-desk "$W/mailabuse/index.cgi")"
expect_match "saying so" 'did not come from this page' "$(cat "$T/desk.html")"
expect_eq "alice stays active" active "$(ctl status alice --json | jq -r .state)"

t_finish

# exim.sh -- Exim helpers for the mailabuse integration tests (bash, sourced)
# shellcheck shell=bash
#
# Runs the real Exim binary with a private configuration instantiated from
# exim.conf.in, which .includes contrib/exim/*.acl.  Nothing is delivered.
#
#   EXIM_CONF=$(exim_conf_make "$T/policy.sock" "$T/exim")
#   code=$(smtp_submit bob@example.com bob@example.com rcpt@example.org)
#   reply=$(smtp_last_reply)         # "550 5.7.1 Outgoing mail of ..."
#   state=$(local_submit bob@example.com bob@example.com a@example.org)
#                                    # accepted | rejected | frozen
#
# Privileges (Exim 4.96, Debian build: TRUSTED_CONFIG_LIST is
# /etc/exim4/trusted_configs, absent and left alone; no ALT_CONFIG_PREFIX,
# any -C path is accepted):
# * root calling exim -C keeps its privilege; Exim then does its work as
#   exim_user (Debian-exim): the ACLs, and so ${readsocket}, run as
#   Debian-exim, which must be able to write the spool and to reach the
#   daemon's socket (every directory above it needs o+x).
# * a non-root caller of exim -C (config not in TRUSTED_CONFIG_LIST) makes
#   Exim give up root entirely ("exim user lost privilege for using -C
#   option"); it then works only if the config names that very user as
#   exim_user/exim_group (else chown of spool files to Debian-exim fails)
#   and the spool belongs to it.  That user is then trusted (-oMai, -f
#   work) and Exim writes its log lines to stderr, not to log_file_path.
#   So a non-root submitter needs its own instance, and a passwd entry
#   (else Exim fails: "cannot run initgroups(): no passwd entry"):
#     conf=$(exim_conf_make "$T/policy.sock" "$T/exim-nobody" nobody)
#     EXIM_CONF=$conf local_submit_as nobody "" nobody@example.com x@example.org
#   When the tests themselves run as non-root, exim_conf_make defaults to
#   such an instance for the caller, and all helpers work unprivileged.
#
# Files next to the config (in DIR): spool/, spool/log/mainlog (root
# instances only), localdomains, and the last session: smtp.in, smtp.out,
# smtp.err (-bh prints log lines there as "LOG: ..."), smtp_reply,
# local.msg, local.out, local.err, local.rc, local.id.

EXIM=${EXIM:-exim}
EXIM_TEST_IP=${EXIM_TEST_IP:-192.0.2.10}
# readsocket timeout written into the config (MAILABUSE_TIMEOUT)
EXIM_POLICY_TIMEOUT=${EXIM_POLICY_TIMEOUT:-2s}
# local domains written into DIR/localdomains
EXIM_LOCAL_DOMAINS=${EXIM_LOCAL_DOMAINS:-mailabuse.test localhost}

_exim_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXIM_CONF_TEMPLATE=${EXIM_CONF_TEMPLATE:-$_exim_here/exim.conf.in}
EXIM_CONTRIB=${EXIM_CONTRIB:-$(cd "$_exim_here/../../contrib/exim" && pwd)}

_exim_die() { echo "exim.sh: $*" >&2; return 1; }

# _exim_ids USER -> "uid gid" ; USER is a name, a uid, or uid:gid
_exim_ids() {
    local u=$1 uid gid
    if [[ $u == *:* ]]; then
        uid=${u%%:*} gid=${u#*:}
    else
        uid=$(id -u "$u" 2>/dev/null) || { _exim_die "no such user: $u"; return 1; }
        gid=$(id -g "$u" 2>/dev/null) || gid=$uid
    fi
    echo "$uid $gid"
}

# can USER (uid gid) reach PATH (search every directory, optionally write)?
_exim_can() {
    local uid=$1 gid=$2 test=$3 path=$4
    setpriv --reuid="$uid" --regid="$gid" --clear-groups test "$test" "$path"
}

# exim_conf_make SOCKET DIR [USER]
# Instantiate exim.conf.in into DIR/exim.conf (DIR is created), make the
# spool and the local domains file, print the config's path and set
# EXIM_CONF (when not called in a subshell).  USER is the Exim user of the
# instance: default Debian-exim when running as root, else the caller.
exim_conf_make() {
    local socket=${1:-} dir=${2:-} user=${3:-} ids uid gid d own
    if [ -z "$socket" ] || [ -z "$dir" ]; then
        _exim_die "usage: exim_conf_make SOCKET DIR [USER]"; return 1
    fi
    if [ -z "$user" ]; then
        if [ "$(id -u)" = 0 ]; then user=$($EXIM -bP -n exim_user 2>/dev/null); user=${user:-Debian-exim}
        else user=$(id -u):$(id -g); fi
    fi
    ids=$(_exim_ids "$user") || return 1
    read -r uid gid <<<"$ids"
    [[ $socket == /* ]] || socket=$PWD/$socket
    mkdir -p "$dir/spool/log" || return 1
    dir=$(cd "$dir" && pwd)
    chmod 0755 "$dir"
    # shellcheck disable=SC2086 # one domain a line
    printf '%s\n' $EXIM_LOCAL_DOMAINS >"$dir/localdomains"
    chmod 0644 "$dir/localdomains"
    if [ "$(id -u)" = 0 ]; then chown -R "$uid:$gid" "$dir/spool" || return 1; fi
    chmod 0750 "$dir/spool"
    # Exim's own messages are those of its user, unless it runs as a script's
    if [ "$(id -u)" = 0 ] && [ "$user" = "$($EXIM -bP -n exim_user 2>/dev/null)" ]; then own='$exim_uid'
    else own=none; fi
    # Exim refuses a config writable by group or others
    (umask 022; sed -e "s|@EXIMOWNUID@|$own|g" -e "s|@SOCKET@|$socket|g" -e "s|@SPOOL@|$dir/spool|g" \
        -e "s|@CONTRIB@|$EXIM_CONTRIB|g" -e "s|@LOCALDOMAINS@|$dir/localdomains|g" \
        -e "s|@TIMEOUT@|$EXIM_POLICY_TIMEOUT|g" \
        -e "s|@EXIMUSER@|$uid|g" -e "s|@EXIMGROUP@|$gid|g" \
        "$EXIM_CONF_TEMPLATE" >"$dir/exim.conf") || return 1
    chmod 0644 "$dir/exim.conf"
    # Exim's ACLs run as the Exim user: it must reach spool and socket
    if [ "$(id -u)" = 0 ]; then
        _exim_can "$uid" "$gid" -w "$dir/spool" ||
            { _exim_die "uid $uid cannot write $dir/spool (chmod o+x the directories above it)"; return 1; }
        d=$(dirname "$socket")
        _exim_can "$uid" "$gid" -x "$d" ||
            { _exim_die "uid $uid cannot reach $d, so neither the socket (chmod o+x the directories)"; return 1; }
    fi
    $EXIM -C "$dir/exim.conf" -bV >"$dir/bV.out" 2>&1 ||
        { cat "$dir/bV.out" >&2; _exim_die "exim rejects $dir/exim.conf"; return 1; }
    EXIM_CONF=$dir/exim.conf
    echo "$EXIM_CONF"
}

_exim_dir() {
    if [ -z "${EXIM_CONF:-}" ] || [ ! -f "$EXIM_CONF" ]; then
        _exim_die "EXIM_CONF is not set (exim_conf_make)"; return 1
    fi
    dirname "$EXIM_CONF"
}

# smtp_submit AUTH_ID FROM RCPT [IP]
# One SMTP session through exim -bh (nothing is received for real): EHLO,
# AUTH PLAIN AUTH_ID (any password; none when AUTH_ID is ""), MAIL FROM,
# RCPT TO, QUIT.  FROM and RCPT go between <> as given, so a quoted local
# part is passed with its quotes.  Prints the RCPT reply's code (000 if
# there was none) and sets SMTP_CODE and SMTP_REPLY (the reply, lines
# joined by newlines), which smtp_last_reply prints from a subshell too.
smtp_submit() {
    local auth=${1:-} from=${2:-} rcpt=${3:-} ip=${4:-$EXIM_TEST_IP} dir n
    dir=$(_exim_dir) || return 1
    {
        printf 'EHLO client.test\r\n'
        if [ -n "$auth" ]; then
            printf 'AUTH PLAIN %s\r\n' "$(printf '\0%s\0%s' "$auth" secret | base64 -w0)"
        fi
        printf 'MAIL FROM:<%s>\r\n' "$from"
        printf 'RCPT TO:<%s>\r\n' "$rcpt"
        printf 'QUIT\r\n'
    } >"$dir/smtp.in"
    $EXIM -C "$EXIM_CONF" -bh "$ip" <"$dir/smtp.in" >"$dir/smtp.out" 2>"$dir/smtp.err"
    # replies, in order: banner, EHLO, [AUTH], MAIL, RCPT, QUIT
    if [ -n "$auth" ]; then n=5; else n=4; fi
    SMTP_REPLY=$(tr -d '\r' <"$dir/smtp.out" | awk -v n="$n" '
        /^[0-9][0-9][0-9][- ]/ { cur = cur $0 "\n" }
        /^[0-9][0-9][0-9] /    { k++; if (k == n) { printf "%s", cur; exit } cur = "" }')
    SMTP_CODE=${SMTP_REPLY:0:3}
    [ -n "$SMTP_CODE" ] || SMTP_CODE=000
    printf '%s\n' "$SMTP_REPLY" >"$dir/smtp_reply"
    echo "$SMTP_CODE"
    [ "$SMTP_CODE" != 000 ]
}

# the RCPT reply of the last smtp_submit with this EXIM_CONF
smtp_last_reply() {
    local dir
    dir=$(_exim_dir) || return 1
    cat "$dir/smtp_reply"
}

# exim_queue_ids: message ids on the private queue, one a line
exim_queue_ids() {
    # (mawk, Debian's awk, has no {n} in regular expressions: use grep)
    $EXIM -C "$EXIM_CONF" -bp 2>/dev/null | awk '{ print $3 }' |
        grep -E '^[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}$'
}

# exim_queue_state ID: frozen | queued | absent
exim_queue_state() {
    local line
    line=$($EXIM -C "$EXIM_CONF" -bp 2>/dev/null | awk -v id="$1" '$3 == id')
    if [ -z "$line" ]; then echo absent
    elif [[ $line == *'*** frozen ***'* ]]; then echo frozen
    else echo queued; fi
}

# local_submit AUTH_ID FROM RCPT...   (as root; or as the caller when not root)
# Submits a message on the command line, as PHP's mail() would:
#   exim -C $EXIM_CONF -odq -oep -oi [-oMai AUTH_ID] -f FROM -bm -- RCPT...
# with an X-PHP-Originating-Script: 1001:contact.php header.  -oep: an ACL
# rejection is reported on stderr with a non-zero exit, and no bounce is
# generated (the default -oem would queue one to FROM).  Prints accepted,
# rejected or frozen and returns 0; prints error and returns 1 otherwise.
# Sets LOCAL_RC, LOCAL_ID, LOCAL_ERR (stderr: the rejection text; for an
# unprivileged instance also Exim's log lines).
local_submit() { _exim_local_submit "" "$@"; }

# local_submit_as USER AUTH_ID FROM RCPT...   (as root)
# The same, run as USER (name, uid or uid:gid) through setpriv.  EXIM_CONF
# must be an instance made for that user (exim_conf_make SOCKET DIR USER):
# Exim drops root for -C of a non-root caller.
local_submit_as() { local who=${1:-}; shift; _exim_local_submit "$who" "$@"; }

_exim_local_submit() {
    local who=${1:-} auth=${2:-} from=${3:-} dir ids uid gid before state
    shift 3
    local -a cmd=()
    dir=$(_exim_dir) || return 1
    {
        printf 'From: <%s>\n' "$from"
        printf 'To: %s\n' "$(IFS=,; echo "$*")"
        printf 'Subject: mailabuse integration test\n'
        printf 'X-PHP-Originating-Script: 1001:contact.php\n'
        printf '\nHello.\n'
    } >"$dir/local.msg"
    if [ -n "$who" ]; then
        ids=$(_exim_ids "$who") || return 1
        read -r uid gid <<<"$ids"
        cmd=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
    fi
    cmd+=("$EXIM" -C "$EXIM_CONF" -odq -oep -oi)
    [ -n "$auth" ] && cmd+=(-oMai "$auth")
    cmd+=(-f "$from" -bm -- "$@")
    before=$(exim_queue_ids)
    "${cmd[@]}" <"$dir/local.msg" >"$dir/local.out" 2>"$dir/local.err"
    LOCAL_RC=$?
    # shellcheck disable=SC2034 # for the caller
    LOCAL_ERR=$(cat "$dir/local.err")
    LOCAL_ID=$(exim_queue_ids | grep -vxF -f <(printf '%s\n' "$before") | tail -n 1)
    echo "$LOCAL_RC" >"$dir/local.rc"
    echo "$LOCAL_ID" >"$dir/local.id"
    if [ "$LOCAL_RC" != 0 ]; then
        [ -z "$LOCAL_ID" ] && { echo rejected; return 0; }
    elif [ -n "$LOCAL_ID" ]; then
        state=$(exim_queue_state "$LOCAL_ID")
        case $state in
            frozen) echo frozen; return 0 ;;
            queued) echo accepted; return 0 ;;
        esac
    fi
    echo error
    return 1
}

# wait_for_socket PATH [SECONDS]: poll (no fixed sleep) until PATH is a socket
wait_for_socket() {
    local path=${1:-} deadline=$((SECONDS + ${2:-10}))
    until [ -S "$path" ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

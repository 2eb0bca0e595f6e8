#!/usr/bin/env bash
# smtp-client.sh HOST PORT FROM RCPT [HEADER...]
# One SMTP session without AUTH over TCP (bash's /dev/tcp), as a site's
# script would open it to the server's own port 25: EHLO, MAIL, RCPT,
# DATA (the HEADER lines, a Subject, a body), QUIT.  Run it as the
# account's uid (setpriv) so that the connection is that user's.
# Prints the dialogue, then "RESULT <code> <text>": the first refusal,
# else the reply to the end of DATA; exits 0, or 2 if it cannot connect.
host=$1 port=$2 from=$3 rcpt=$4
shift 4
exec 3<>"/dev/tcp/$host/$port" || exit 2
code=000 text=
# a reply's lines joined: "451-a" "451 b" -> code 451, text "a b"
reply() {
    local line all=
    while IFS= read -r -t 20 line <&3; do
        line=${line%$'\r'}
        echo "<<< $line"
        all=${all:+$all }${line:4}
        if [[ $line =~ ^[0-9][0-9][0-9]\  ]]; then
            code=${line:0:3} text=$all
            return 0
        fi
    done
    code=000 text="no reply"
}
say() { echo ">>> $1"; printf '%s\r\n' "$1" >&3; }
finish() { say QUIT; reply; echo "RESULT $1"; exit 0; }
reply
say "EHLO client.test"; reply
say "MAIL FROM:<$from>"; reply
[ "$code" = 250 ] || finish "$code $text"
say "RCPT TO:<$rcpt>"; reply
[ "$code" = 250 ] || finish "$code $text"
say DATA; reply
[ "$code" = 354 ] || finish "$code $text"
{
    printf 'From: <%s>\r\nTo: <%s>\r\n' "$from" "$rcpt"
    for h in "$@"; do printf '%s\r\n' "$h"; done
    printf 'Subject: mailabuse loopback test\r\n\r\nHello.\r\n.\r\n'
} >&3
reply
finish "$code $text"

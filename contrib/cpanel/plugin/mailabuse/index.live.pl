#!/usr/bin/perl
# index.live.pl -- the account owner's "Mail Abuse" page in cPanel (Jupiter).
#
# A CGI that cPanel runs as the logged-in account's user.  It asks the
# daemon through its user socket, by running `mailabusectl status --json`,
# `history --json` and `unblock --json` as that user: the daemon knows the
# account from the socket's peer credentials, so this page needs no
# privilege and can show or unblock no other account.  Everything is
# rendered on the server (no JavaScript) and every value is HTML-escaped.
#
# Steps: GET shows the state; GET ?step=confirm shows what an unblock
# request means and asks for a confirmation; POST step=unblock (with the
# confirmation, the form's token and from the same origin) makes the request.
#
# Environment: MAILABUSECTL, the mailabusectl program (else the first of
# /usr/local/bin, /usr/bin, /usr/local/sbin, /usr/sbin); MAILABUSE_CONF as
# for mailabusectl.
use strict;
use warnings;
use IPC::Open3 qw(open3);
use JSON::PP ();
use Symbol qw(gensym);

my @CTL_PATHS = ('/usr/local/bin/mailabusectl', '/usr/bin/mailabusectl',
                 '/usr/local/sbin/mailabusectl', '/usr/sbin/mailabusectl');

# HTML-escape one value (undef is shown as an empty string).
sub h {
    my ($s) = @_;
    return '' unless defined $s;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    $s =~ s/"/&quot;/g;
    $s =~ s/'/&#39;/g;
    return $s;
}

# The mailabusectl program to run.
sub ctl_path {
    return $ENV{MAILABUSECTL} if defined $ENV{MAILABUSECTL} && $ENV{MAILABUSECTL} ne '';
    for my $p (@CTL_PATHS) { return $p if -x $p; }
    return $CTL_PATHS[0];
}

# Run mailabusectl with an argument vector (never a shell): its exit
# status, standard output and standard error.
sub ctl_run {
    my @args = @_;
    my $err = gensym;
    my ($in, $out);
    my $pid = eval { open3($in, $out, $err, ctl_path(), @args) };
    return (127, '', "cannot run mailabusectl: $@") unless $pid;
    close $in;
    local $/;
    my $o = <$out> // '';
    my $e = <$err> // '';
    waitpid($pid, 0);
    return ($? >> 8, $o, $e);
}

# Run a --json command: (status, decoded JSON or undef, error text).
sub ctl_json {
    my ($rc, $o, $e) = ctl_run(@_, '--json');
    my $j;
    $j = eval { JSON::PP->new->utf8->decode($o) } if $o ne '';
    $e =~ s/^mailabusectl: //mg;
    return ($rc, $j, $e);
}

# The request's parameters, from the query string or a form POST.
sub params {
    my %p;
    my $q = $ENV{QUERY_STRING} // '';
    if (($ENV{REQUEST_METHOD} // 'GET') eq 'POST') {
        my $len = $ENV{CONTENT_LENGTH} // 0;
        $len = 65536 if $len !~ /^\d+$/ || $len > 65536;
        read(STDIN, my $body, $len);
        $q = defined $body ? $body : '';
    }
    for my $pair (split /[&;]/, $q) {
        my ($k, $v) = split /=/, $pair, 2;
        next unless defined $k;
        for ($k, $v) {
            next unless defined;
            tr/+/ /;
            s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge;
        }
        $p{$k} = $v // '';
    }
    return \%p;
}

# The token a form must send back: cPanel's session token when cPanel
# runs the page (it is in the URL already), else a fixed word; together
# with POST, the confirmation field and the origin check below.
sub form_token {
    my $t = $ENV{cp_security_token} // '';
    $t =~ s{^/}{};
    return $t ne '' ? $t : 'mailabuse-unblock';
}

# Whether a POST comes from this page: no Origin or Referer naming
# another host (browsers send them with form POSTs).
sub same_origin {
    my $host = $ENV{HTTP_HOST} // '';
    for my $h ($ENV{HTTP_ORIGIN}, $ENV{HTTP_REFERER}) {
        next unless defined $h && $h ne '' && $h ne 'null';
        return 0 unless $h =~ m{^https?://([^/]+)} && lc($1) eq lc($host);
    }
    return 1;
}

my $SELF = $ENV{SCRIPT_NAME} // 'index.live.pl';
$SELF =~ s{.*/}{};

# Page header and footer.
sub page_start {
    my ($title) = @_;
    print "Content-Type: text/html; charset=utf-8\r\n";
    print "Cache-Control: no-store\r\n";
    print "X-Frame-Options: SAMEORIGIN\r\n\r\n";
    print <<"HTML";
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@{[h($title)]}</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em;color:#222;max-width:60em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
.state{padding:.8em 1em;border-radius:4px;margin:1em 0}
.active{background:#e3f4e1;border:1px solid #7bb974}
.suspended{background:#fbe4e2;border:1px solid #d9776d}
.note{background:#fff6d9;border:1px solid #e0c15a;padding:.8em 1em;border-radius:4px}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right}td.t{white-space:nowrap}
button{font-size:1em;padding:.4em 1em}
</style></head><body>
HTML
}

sub page_end { print "</body></html>\n"; }

# A whole page saying something went wrong.
sub page_error {
    my ($msg) = @_;
    page_start('Mail Abuse');
    print '<h1>Mail Abuse</h1><p id="error" class="note">', h($msg), "</p>\n";
    print qq{<p><a href="@{[h($SELF)]}">Back</a></p>\n};
    page_end();
    exit 0;
}

# The state, its reason, the complaints and from when an unblock can succeed.
sub show_status {
    my ($s) = @_;
    my $state = $s->{state} // 'unknown';
    my $cls = $state eq 'suspended' ? 'suspended' : 'active';
    print '<h1>Mail Abuse: account <span id="account">', h($s->{account}), "</span></h1>\n";
    print qq{<div class="state $cls">Outgoing mail is <strong id="state">}, h($state), "</strong>";
    if ($state eq 'suspended') {
        print ' since <span id="since">', h($s->{since}), '</span>';
        print '<br>Because of: <span id="reason">', h($s->{reason}), '</span>';
    }
    print "</div>\n";
    return unless $state eq 'suspended';
    print '<h2>When can it be unblocked?</h2>', "\n";
    my $u = $s->{unblock} // '';
    if ($u eq 'possible') {
        print '<p id="unblock">An unblock request can succeed <strong>now</strong>.</p>', "\n";
    } elsif ($u eq 'wait') {
        print '<p id="unblock">An unblock request can succeed from <strong id="unblock-from">',
            h($s->{unblock_from}), "</strong>.</p>\n";
    } else {
        print '<p id="unblock">Only the abuse desk can lift this suspension.</p>', "\n";
    }
    print '<p id="explanation">', h(ucfirst($s->{explanation} // '')), ".</p>\n";
    my $c = $s->{complaints} // [];
    if (@$c) {
        print "<h2>Complaints</h2>\n<table id=\"complaints\"><tr><th>#</th><th>Source</th>",
            "<th>Reference</th><th>Received</th><th>Window ends</th><th></th></tr>\n";
        for my $x (@$c) {
            print '<tr><td>', h($x->{id}), '</td><td>', h($x->{source}), '</td><td>', h($x->{ref}),
                '</td><td>', h($x->{received}), '</td><td class="window-end">', h($x->{window_end}),
                '</td><td>', ($x->{window_open} ? 'open' : 'ended'), "</td></tr>\n";
        }
        print "</table>\n";
    }
    if ($u eq 'possible' || $u eq 'wait') {
        print qq{<form method="get" action="@{[h($SELF)]}"><input type="hidden" name="step" value="confirm">},
            qq{<button type="submit" id="ask">Ask for the unblock&hellip;</button></form>\n};
    }
}

# What each source of the account sent, and the recent changes.
sub show_history {
    my ($hj) = @_;
    print '<h2>What the account sent</h2>', "\n";
    print '<p>From ', h($hj->{since}), ' to ', h($hj->{until}), ".</p>\n";
    my $src = $hj->{sources} // [];
    if (!@$src) {
        print "<p id=\"sources\">Nothing was sent in that time.</p>\n";
    } else {
        print "<table id=\"sources\"><tr><th>Kind</th><th>Source</th><th>Messages</th>",
            "<th>Local rcpts</th><th>External rcpts</th><th>Delivered</th><th>Deferred</th>",
            "<th>Bounced</th><th>Refused</th><th>Held</th></tr>\n";
        for my $x (@$src) {
            print '<tr><td>', h($x->{kind}), '</td><td>', h($x->{source}), '</td>';
            print '<td class="n">', h($x->{$_} // 0), '</td>'
                for qw(messages rcpts_local rcpts_external delivered deferred bounced refused held);
            print "</tr>\n";
        }
        print "</table>\n";
    }
    my $ch = $hj->{changes} // [];
    return unless @$ch;
    print "<h2>Changes</h2>\n<table id=\"changes\"><tr><th>When</th><th>What</th><th>By</th><th>Detail</th></tr>\n";
    for my $x (sort { ($b->{at} // '') cmp ($a->{at} // '') } @$ch) {
        print '<tr><td class="t">', h($x->{at}), '</td><td>', h($x->{action}), '</td><td>', h($x->{actor}),
            '</td><td>', h($x->{detail}), "</td></tr>\n";
    }
    print "</table>\n";
}

# The confirmation step: what an unblock request means, then the POST form.
sub show_confirm {
    my ($s) = @_;
    my $cd = $s->{unblock_cooldown} // '90d';
    (my $words = $cd) =~ s/^(\d+)d$/$1 days/;
    print "<h1>Ask for the unblock of <span id=\"account\">", h($s->{account}), "</span></h1>\n";
    print qq{<div class="note" id="confirm-text"><p><strong>This is the one unblock of the next },
        h($words), qq{.</strong> Only one unblock request is granted every }, h($words),
        qq{: if the account is suspended again within that time, it stays blocked until the },
        h($words), qq{ have passed.</p>\n<p><strong>Fix the cause first.</strong> Find what sent },
        qq{the mail (the table of what each source sent shows which mailbox or script), },
        qq{update or remove a hacked script, change the stolen passwords.  Ask only then.</p></div>\n};
    if (($s->{unblock} // '') eq 'wait') {
        print '<p id="unblock">Right now the request would be refused: ', h($s->{explanation}), ".</p>\n";
    }
    print qq{<form method="post" action="@{[h($SELF)]}">},
        qq{<input type="hidden" name="step" value="unblock">},
        qq{<input type="hidden" name="token" value="@{[h(form_token())]}">},
        qq{<p><label><input type="checkbox" name="fixed" value="yes" required> },
        qq{I have found and fixed the cause</label></p>},
        qq{<button type="submit" id="confirm">Ask for the unblock now</button> },
        qq{<a href="@{[h($SELF)]}">Cancel</a></form>\n};
}

# The answer to an unblock request, as the CLI gives it.
sub show_unblock {
    my ($rc, $j, $e) = @_;
    print "<h1>Unblock request</h1>\n";
    if ($rc == 0 && $j && $j->{granted}) {
        print qq{<div class="state active" id="result">Unblock <strong id="outcome">granted</strong>: },
            qq{outgoing mail of }, h($j->{account}), " flows again.</div>\n";
    } elsif ($rc == 1 && $j) {
        print qq{<div class="state suspended" id="result">Unblock <strong id="outcome">refused</strong>: },
            h($j->{explanation}), ".</div>\n";
        if (defined $j->{unblock_from} && $j->{unblock_from} ne 'now') {
            print '<p>A request can succeed from <strong id="unblock-from">', h($j->{unblock_from}),
                "</strong>.</p>\n";
        }
    } else {
        print qq{<div class="note" id="result">The request could not be made: <span id="outcome">},
            h($e ne '' ? $e : "mailabusectl exited $rc"), "</span></div>\n";
    }
    print qq{<p><a href="@{[h($SELF)]}">Back to the Mail Abuse page</a></p>\n};
}

my $p = params();
my $method = $ENV{REQUEST_METHOD} // 'GET';
my $step = $p->{step} // '';

if ($step eq 'unblock') {
    page_error('An unblock request must be sent with the form.') if $method ne 'POST';
    page_error('The request did not come from this page.')
        if !same_origin() || ($p->{token} // '') ne form_token();
    page_error('Please confirm that you have found and fixed the cause.')
        if ($p->{fixed} // '') ne 'yes';
    my @r = ctl_json('unblock');
    page_start('Mail Abuse: unblock request');
    show_unblock(@r);
    page_end();
    exit 0;
}

my ($rc, $s, $e) = ctl_json('status');
page_error($e ne '' ? $e : "mailabusectl status exited $rc") if $rc != 0 || !$s;
if ($step eq 'confirm') {
    page_start('Mail Abuse: confirm the unblock request');
    show_confirm($s);
    page_end();
    exit 0;
}
page_start('Mail Abuse');
show_status($s);
my ($hrc, $hj, $he) = ctl_json('history');
if ($hrc == 0 && $hj) {
    show_history($hj);
} else {
    print '<p class="note">The history is not available: ', h($he), "</p>\n";
}
page_end();

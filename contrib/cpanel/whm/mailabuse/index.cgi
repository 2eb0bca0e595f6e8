#!/usr/bin/perl
# index.cgi -- the abuse desk's "Mail Abuse" page in WHM.
#
# A CGI that WHM runs as root (AppConfig: contrib/cpanel/whm/mailabuse.conf)
# after authenticating the WHM user, whose name it gets in REMOTE_USER.
# It shows the suspended accounts with their reasons and since when, the
# top senders of the last hour with how much of their limit they used, and
# the accounts near a limit; its forms suspend, unsuspend (counted or not),
# add a complaint and set limits, each with a reason.  Everything goes
# through mailabusectl, run with an argument vector (never a shell) and
# --actor REMOTE_USER, so that each change is audited as made by the WHM
# user.  Rendered on the server, every value HTML-escaped.
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
my $NEAR_PERCENT = 80;		# "near a limit": this much of the hourly limit used
my $MAX_STATUS = 200;		# suspended accounts shown with their details

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

# The WHM user, for the audit: REMOTE_USER, if it is a plain user name.
sub whm_user {
    my $u = $ENV{REMOTE_USER} // '';
    return $u =~ /^[A-Za-z0-9._@+-]{1,64}$/ ? $u : undef;
}

# Run mailabusectl with an argument vector (never a shell), acting for
# the WHM user: its exit status, standard output and standard error.
sub ctl_run {
    my @args = @_;
    my $err = gensym;
    my ($in, $out);
    my $pid = eval { open3($in, $out, $err, ctl_path(), '--actor', whm_user(), @args) };
    return (127, '', "cannot run mailabusectl: $@") unless $pid;
    close $in;
    local $/;
    my $o = <$out> // '';
    my $e = <$err> // '';
    waitpid($pid, 0);
    $e =~ s/^mailabusectl: //mg;
    return ($? >> 8, $o, $e);
}

# Run a --json command: (status, decoded JSON or undef, error text).
sub ctl_json {
    my ($rc, $o, $e) = ctl_run(@_, '--json');
    my $j;
    $j = eval { JSON::PP->new->utf8->decode($o) } if $o ne '';
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

# The token a form must send back: WHM's session token when WHM runs the
# page (it is in the URL already), else a fixed word; with POST and the
# origin check below.
sub form_token {
    my $t = $ENV{cp_security_token} // '';
    $t =~ s{^/}{};
    return $t ne '' ? $t : 'mailabuse-desk';
}

# Whether a POST comes from this page: no Origin or Referer naming another host.
sub same_origin {
    my $host = $ENV{HTTP_HOST} // '';
    for my $h ($ENV{HTTP_ORIGIN}, $ENV{HTTP_REFERER}) {
        next unless defined $h && $h ne '' && $h ne 'null';
        return 0 unless $h =~ m{^https?://([^/]+)} && lc($1) eq lc($host);
    }
    return 1;
}

my $SELF = $ENV{SCRIPT_NAME} // 'index.cgi';
$SELF =~ s{.*/}{};

# Page header and footer.
sub page_start {
    print "Content-Type: text/html; charset=utf-8\r\n";
    print "Cache-Control: no-store\r\n";
    print "X-Frame-Options: SAMEORIGIN\r\n\r\n";
    print <<'HTML';
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mail Abuse</title>
<style>
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:1.5em;color:#222;max-width:75em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right}td.t{white-space:nowrap}
.ok{background:#e3f4e1;border:1px solid #7bb974;padding:.6em 1em;border-radius:4px}
.err{background:#fbe4e2;border:1px solid #d9776d;padding:.6em 1em;border-radius:4px}
.near{background:#fff6d9}
form.action{display:inline-block;vertical-align:top;border:1px solid #ccc;border-radius:4px;padding:.6em 1em;margin:0 .6em .6em 0}
form.action label{display:block;margin:.3em 0}
</style></head><body>
HTML
}

sub page_end { print "</body></html>\n"; }

# One of the action forms: its fields, each [name, label, kind].
sub form_action {
    my ($id, $title, @fields) = @_;
    print qq{<form class="action" id="form-$id" method="post" action="@{[h($SELF)]}">},
        qq{<strong>@{[h($title)]}</strong>},
        qq{<input type="hidden" name="action" value="@{[h($id)]}">},
        qq{<input type="hidden" name="token" value="@{[h(form_token())]}">\n};
    for my $f (@fields) {
        my ($name, $label, $kind) = @$f;
        if ($kind eq 'check') {
            print qq{<label><input type="checkbox" name="$name" value="yes"> @{[h($label)]}</label>\n};
        } else {
            my $req = $kind eq 'required' ? ' required' : '';
            print qq{<label>@{[h($label)]} <input type="text" name="$name" size="24"$req></label>\n};
        }
    }
    print qq{<button type="submit">@{[h($title)]}</button></form>\n};
}

# Carry out a POSTed action through mailabusectl; its outcome as HTML.
sub do_action {
    my ($p) = @_;
    my $a = $p->{action} // '';
    my $reason = $p->{reason} // '';
    my @argv;
    return 'The request did not come from this page.'
        if !same_origin() || ($p->{token} // '') ne form_token();
    return 'Every action needs a reason.' if $reason !~ /\S/;
    my $target = $p->{target} // '';
    return 'Name the account (or mailbox).' if $target !~ /\S/;
    if ($a eq 'suspend') {
        @argv = ('suspend', $target, '--reason', $reason);
        push @argv, '--source', $p->{source} if ($p->{source} // '') =~ /\S/;
    } elsif ($a eq 'unsuspend') {
        @argv = ('unsuspend', $target, '--reason', $reason);
        push @argv, '--no-count' if ($p->{nocount} // '') eq 'yes';
    } elsif ($a eq 'complaint') {
        @argv = ('complaint', 'add', $target, '--ref', $reason);
        push @argv, '--source', $p->{source} if ($p->{source} // '') =~ /\S/;
        push @argv, '--window', $p->{window} if ($p->{window} // '') =~ /\S/;
        push @argv, '--suspend' if ($p->{suspend} // '') eq 'yes';
    } elsif ($a eq 'limits') {
        my @set = split ' ', ($p->{limits} // '');
        return 'Give the limits to set, e.g. account_messages=200.' unless @set;
        @argv = ('limits', $target, @set, '--reason', $reason);
    } else {
        return 'Unknown action.';
    }
    my ($rc, $o, $e) = ctl_run(@argv);
    my $cls = $rc == 0 ? 'ok' : 'err';
    my $text = $rc == 0 ? $o : ($e ne '' ? $e : "mailabusectl exited $rc");
    return qq{<div class="$cls" id="outcome"><pre>@{[h($text)]}</pre></div>};
}

# The suspended accounts, with the reason and since when.
sub show_suspended {
    my ($rc, $l, $e) = ctl_json('list', '--state', 'suspended');
    print "<h2>Suspended accounts</h2>\n";
    if ($rc != 0 || !$l) {
        print '<p class="err">', h($e), "</p>\n";
        return;
    }
    if (!@$l) {
        print "<p id=\"suspended\">No account is suspended.</p>\n";
        return;
    }
    print "<table id=\"suspended\"><tr><th>Account</th><th>Since</th><th>Reason</th><th>Source</th>",
        "<th>By</th><th>Owner can unblock</th></tr>\n";
    my $n = 0;
    for my $x (@$l) {
        my $s;
        (undef, $s) = ctl_json('status', $x->{account}) if $n++ < $MAX_STATUS;
        $s //= {};
        my $u = ($s->{unblock} // '') eq 'wait' ? 'from ' . ($s->{unblock_from} // '')
            : ($s->{unblock} // '') eq 'possible' ? 'now' : ($s->{unblock} // '');
        print '<tr><td>', h($x->{account}), '</td><td class="t">', h($s->{since}), '</td><td>',
            h($s->{reason}), '</td><td>', h($s->{source}), '</td><td>', h($s->{suspended_by}),
            '</td><td class="t">', h($u), "</td></tr>\n";
    }
    print "</table>\n";
}

# The top senders of the last hour, and who is near a limit.
sub show_top {
    my ($rc, $t, $e) = ctl_json('top', '--since', '1h', '--limit', '50');
    print "<h2>Top senders of the last hour</h2>\n";
    if ($rc != 0 || !$t) {
        print '<p class="err">', h($e), "</p>\n";
        return;
    }
    if (!@$t) {
        print "<p id=\"top\">No account sent mail in the last hour.</p>\n";
    } else {
        print "<table id=\"top\"><tr><th>Account</th><th>Messages</th><th>External rcpts</th>",
            "<th>Bounced %</th><th>Refused</th><th>Held</th><th>Limited</th>",
            "<th>Hourly limit used</th><th>Busiest source</th></tr>\n";
        for my $x (@$t) {
            my $pc = $x->{percent_of_limit} // 0;
            my $b = $x->{busiest_source};
            print '<tr', ($pc >= $NEAR_PERCENT ? ' class="near"' : ''), '><td>', h($x->{account}), '</td>';
            print '<td class="n">', h($x->{$_} // 0), '</td>'
                for qw(messages rcpts_external bounce_percent refused held limited);
            print '<td class="n">', h($pc), '%</td><td>',
                ($b ? h("$b->{kind} $b->{source}") : '-'), "</td></tr>\n";
        }
        print "</table>\n";
    }
    my @near = grep { ($_->{percent_of_limit} // 0) >= $NEAR_PERCENT } @$t;
    print "<h2>Accounts near a limit</h2>\n";
    if (!@near) {
        print "<p id=\"near\">No account used $NEAR_PERCENT% of its hourly limit.</p>\n";
        return;
    }
    print "<table id=\"near\"><tr><th>Account</th><th>Hourly limit used</th><th>Messages</th></tr>\n";
    print '<tr><td>', h($_->{account}), '</td><td class="n">', h($_->{percent_of_limit}),
        '%</td><td class="n">', h($_->{messages}), "</td></tr>\n" for @near;
    print "</table>\n";
}

my $p = params();
my $outcome;
page_start();
if (!defined whm_user()) {
    print '<h1>Mail Abuse</h1><p class="err" id="outcome">No WHM user: this page runs in WHM.</p>';
    page_end();
    exit 0;
}
if (($ENV{REQUEST_METHOD} // 'GET') eq 'POST') {
    $outcome = do_action($p);
    $outcome = qq{<div class="err" id="outcome">@{[h($outcome)]}</div>} if $outcome !~ /^<div/;
}
print '<h1>Mail Abuse</h1><p>Signed in to WHM as <strong id="whm-user">', h(whm_user()),
    "</strong>: every change below is recorded in the audit under this name.</p>\n";
print $outcome, "\n" if defined $outcome;
show_suspended();
show_top();
print "<h2>Actions</h2>\n";
form_action('suspend', 'Suspend', ['target', 'Account or mailbox', 'required'],
    ['reason', 'Reason', 'required'], ['source', 'Source (optional)', 'text']);
form_action('unsuspend', 'Unsuspend', ['target', 'Account or mailbox', 'required'],
    ['reason', 'Reason', 'required'], ['nocount', 'Do not count it (a mistake)', 'check']);
form_action('complaint', 'Add a complaint', ['target', 'Account', 'required'],
    ['reason', 'Reference (the reason)', 'required'], ['source', 'Source (optional)', 'text'],
    ['window', 'Window (optional, e.g. 30d)', 'text'], ['suspend', 'Suspend the account', 'check']);
form_action('limits', 'Set limits', ['target', 'Account', 'required'],
    ['limits', 'Limits (e.g. account_messages=200)', 'required'], ['reason', 'Reason', 'required']);
page_end();

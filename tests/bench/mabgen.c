/*
 * mabgen: the data of a large cPanel server for the benchmark.
 *
 *   mabgen [-a ACCOUNTS] [-r REQUESTS] [-s SEED] ROOT REQUESTS-FILE SUSPENDED-FILE
 *
 * Under ROOT, cPanel's files for ACCOUNTS accounts (default 100,000)
 * with three domains each on average: every account has a main domain;
 * 40% add two subdomains of it, 30% an addon domain and a subdomain,
 * 30% two addon domains.  etc/userdomains, etc/trueuserowners (50
 * resellers), etc/localdomains (every domain) and var/cpanel/users/USER.
 *
 * REQUESTS-FILE gets REQUESTS messages (default 200,000) as the CHECK
 * lines Exim's ACLs write for them: 60% authenticated SMTP submissions
 * by a mailbox of the account, each two lines (its RCPT, then the whole
 * message at DATA, recorded and counted by the daemon), 40% local
 * submissions by the account's scripts (one line, recorded and counted)
 * (identified, as Exim does for local callers, by $authenticated_id =
 * the login name, with the account's uid alongside).  The account of
 * each request is drawn from a Zipf distribution (s = 1) over a random
 * order of the accounts; 20% of the requests go to local recipients.
 *
 * SUSPENDED-FILE gets the names of 1% of the accounts, drawn at random:
 * the benchmark suspends them.
 *
 * The same seed gives the same files.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESELLERS	50

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: fast, and the same sequence everywhere. */
static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1). */
static double
rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* Uniform in [0, n). */
static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

/* The domains of account i (1-based): 3, main first; returns their kinds. */
static void
account_domains(unsigned i, char d[3][64], const char *kind[3])
{
	unsigned shape = i % 10;

	snprintf(d[0], sizeof d[0], "u%06u.example", i);
	kind[0] = "main";
	if (shape < 4) {
		snprintf(d[1], sizeof d[1], "blog.u%06u.example", i);
		snprintf(d[2], sizeof d[2], "shop.u%06u.example", i);
		kind[1] = kind[2] = "sub";
	} else if (shape < 7) {
		snprintf(d[1], sizeof d[1], "brand-%06u.test", i);
		snprintf(d[2], sizeof d[2], "www2.u%06u.example", i);
		kind[1] = "addon";
		kind[2] = "sub";
	} else {
		snprintf(d[1], sizeof d[1], "brand-%06u.test", i);
		snprintf(d[2], sizeof d[2], "store-%06u.example.net", i);
		kind[1] = kind[2] = "addon";
	}
}

/* Create a file under ROOT, or exit. */
static FILE *
open_out(const char *root, const char *rel)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "mabgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return f;
}

/* The directories of ROOT that the files need. */
static void
mkdirs(const char *root)
{
	const char *sub[] = { "", "/etc", "/var", "/var/cpanel", "/var/cpanel/users" };
	char path[4096];

	for (size_t k = 0; k < sizeof sub / sizeof sub[0]; k++) {
		snprintf(path, sizeof path, "%s%s", root, sub[k]);
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			fprintf(stderr, "mabgen: %s: %s\n", path, strerror(errno));
			exit(1);
		}
	}
}

/* etc/userdomains, etc/trueuserowners, etc/localdomains, var/cpanel/users/. */
static void
write_cpanel(const char *root, unsigned n)
{
	FILE *ud, *uo, *ld;

	mkdirs(root);
	ud = open_out(root, "etc/userdomains");
	uo = open_out(root, "etc/trueuserowners");
	ld = open_out(root, "etc/localdomains");
	fprintf(ud, "*: nobody\n");
	for (unsigned i = 1; i <= n; i++) {
		char d[3][64], rel[128];
		const char *kind[3];
		FILE *u;

		account_domains(i, d, kind);
		for (int k = 0; k < 3; k++) {
			fprintf(ud, "%s: u%06u\n", d[k], i);
			fprintf(ld, "%s\n", d[k]);
		}
		if (i % 7 == 0)
			fprintf(uo, "u%06u: root\n", i);
		else
			fprintf(uo, "u%06u: res%02u\n", i, i % RESELLERS);
		snprintf(rel, sizeof rel, "var/cpanel/users/u%06u", i);
		u = open_out(root, rel);
		fprintf(u, "# cPanel -- If you edit this file directly, run /scripts/updateuserdomains\n"
		    "BWLIMIT=unlimited\nCONTACTEMAIL=owner%u@mail.example.org\nCONTACTEMAIL2=\n"
		    "DEMO=0\nDNS=%s\nFEATURELIST=default\nHASCGI=1\nIP=192.0.2.%u\n"
		    "LANG=en\nMAXADDON=unlimited\nMAXPOP=unlimited\nOWNER=%s\nPLAN=default\n"
		    "RS=jupiter\nSTARTDATE=%u\nUSER=u%06u\n", i, d[0], 10 + i % 200,
		    i % 7 == 0 ? "root" : "reseller", 1600000000 + i * 97, i);
		for (int k = 1; k < 3; k++)
			if (strcmp(kind[k], "addon") == 0)
				fprintf(u, "DNS%d=%s\n", k, d[k]);
		fclose(u);
	}
	fclose(ud);
	fclose(uo);
	fclose(ld);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Write " name=<base64 of value>". */
static void
field(FILE *f, const char *name, const char *v)
{
	size_t n = strlen(v), i;

	fprintf(f, " %s=", name);
	for (i = 0; i + 2 < n; i += 3) {
		unsigned x = (unsigned char)v[i] << 16 | (unsigned char)v[i + 1] << 8 |
		    (unsigned char)v[i + 2];

		putc(b64chars[x >> 18], f);
		putc(b64chars[(x >> 12) & 63], f);
		putc(b64chars[(x >> 6) & 63], f);
		putc(b64chars[x & 63], f);
	}
	if (n - i == 1) {
		unsigned x = (unsigned char)v[i] << 16;

		fprintf(f, "%c%c==", b64chars[x >> 18], b64chars[(x >> 12) & 63]);
	} else if (n - i == 2) {
		unsigned x = (unsigned char)v[i] << 16 | (unsigned char)v[i + 1] << 8;

		fprintf(f, "%c%c%c=", b64chars[x >> 18], b64chars[(x >> 12) & 63],
		    b64chars[(x >> 6) & 63]);
	}
}

/* One recipient address: local (a domain of some account) or remote. */
static void
recipient(char *buf, size_t len, unsigned n, int local)
{
	static const char *const remote[] = {
		"gmail.test", "outlook.test", "yahoo.test", "example.org", "mail.test"
	};

	if (local) {
		char d[3][64];
		const char *kind[3];

		account_domains(1 + rng_below(n), d, kind);
		snprintf(buf, len, "contact@%s", d[rng_below(3)]);
	} else
		snprintf(buf, len, "user%u@%s", rng_below(1000000),
		    remote[rng_below(sizeof remote / sizeof remote[0])]);
}

/* The request lines: who sends follows a Zipf law over the accounts. */
static void
write_requests(const char *path, unsigned n, unsigned count)
{
	static const char *const locals[] = {
		"info", "sales", "admin", "john", "mary", "support", "billing", "noreply"
	};
	static const char *const scripts[] = {
		NULL, NULL, "wp-includes/class-phpmailer.php", "index.php", "contact/send.php"
	};
	unsigned *order;
	double *cdf, sum = 0;
	FILE *f;

	if ((order = calloc(n, sizeof *order)) == NULL ||
	    (cdf = calloc(n, sizeof *cdf)) == NULL) {
		perror("mabgen");
		exit(1);
	}
	/* Rank r sends with weight 1/r; ranks are given to accounts at random. */
	for (unsigned r = 0; r < n; r++) {
		sum += 1.0 / (double)(r + 1);
		cdf[r] = sum;
		order[r] = r + 1;
	}
	for (unsigned r = n - 1; r > 0; r--) {
		unsigned j = rng_below(r + 1), t = order[r];

		order[r] = order[j];
		order[j] = t;
	}
	if ((f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "mabgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (unsigned q = 0; q < count; q++) {
		double x = rng_unit() * sum;
		unsigned lo = 0, hi = n - 1, acct;
		char user[32], d[3][64], addr[128], rcpt[512], tmp[128];
		const char *kind[3];
		int local = rng_below(100) < 20;

		while (lo < hi) {
			unsigned mid = (lo + hi) / 2;

			if (cdf[mid] < x)
				lo = mid + 1;
			else
				hi = mid;
		}
		acct = order[lo];
		snprintf(user, sizeof user, "u%06u", acct);
		account_domains(acct, d, kind);
		fputs("MAILABUSE/1 CHECK", f);
		if (rng_below(100) < 60) {
			char ip[32];

			snprintf(addr, sizeof addr, "%s@%s", locals[rng_below(8)], d[rng_below(3)]);
			recipient(rcpt, sizeof rcpt, n, local);
			/* a mailbox is used from its own host or two, as people do */
			snprintf(ip, sizeof ip, "203.0.113.%u",
			    1 + (unsigned)((strlen(addr) * 131u + acct + (rng_below(10) == 0)) % 254));
			/* as Exim asks: at RCPT, then the whole message at DATA */
			field(f, "ctx", "smtp");
			field(f, "auth", addr);
			field(f, "sender", addr);
			field(f, "rcpt", rcpt);
			field(f, "ip", ip);
			fputs("\nMAILABUSE/1 CHECK", f);
			field(f, "ctx", "smtp");
			field(f, "stage", "data");
			snprintf(tmp, sizeof tmp, "1bench-%06u-%02u", q, acct % 100);
			field(f, "msgid", tmp);
			field(f, "auth", addr);
			field(f, "sender", addr);
			field(f, "rcpt", rcpt);
			field(f, "nrcpt", "1");
			field(f, "ip", ip);
		} else {
			char uid[16], script[256];
			const char *sn;
			unsigned nr = 1 + rng_below(3);

			rcpt[0] = '\0';
			for (unsigned k = 0; k < nr; k++) {
				recipient(tmp, sizeof tmp, n, local);
				if (k > 0)
					strcat(rcpt, ",");
				strcat(rcpt, tmp);
			}
			snprintf(uid, sizeof uid, "%u", 1000 + acct);
			snprintf(addr, sizeof addr, "%s@%s", rng_below(2) ? user : "wordpress", d[0]);
			sn = scripts[rng_below(5)];
			snprintf(script, sizeof script, "/home/%s/public_html/%s", user, sn ? sn : "");
			field(f, "ctx", "local");
			field(f, "auth", user);
			field(f, "uid", uid);
			snprintf(tmp, sizeof tmp, "1bench-%06u-%02u", q, acct % 100);
			field(f, "msgid", tmp);
			field(f, "sender", addr);
			field(f, "rcpt", rcpt);
			if (sn != NULL)
				field(f, "script", script);
		}
		putc('\n', f);
	}
	if (fclose(f) == EOF) {
		fprintf(stderr, "mabgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(order);
	free(cdf);
}

/* 1% of the accounts, drawn without replacement. */
static void
write_suspended(const char *path, unsigned n)
{
	unsigned char *picked = calloc(n + 1, 1);
	unsigned want = n / 100, got = 0;
	FILE *f;

	if (picked == NULL || (f = fopen(path, "w")) == NULL) {
		fprintf(stderr, "mabgen: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (got < want) {
		unsigned i = 1 + rng_below(n);

		if (picked[i])
			continue;
		picked[i] = 1;
		got++;
		fprintf(f, "u%06u\n", i);
	}
	fclose(f);
	free(picked);
}

int
main(int argc, char **argv)
{
	unsigned accounts = 100000, requests = 200000;
	int ch;

	while ((ch = getopt(argc, argv, "a:r:s:")) != -1) {
		switch (ch) {
		case 'a':
			accounts = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			requests = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10) | 1;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 3 || accounts < 100 || accounts > 999999 || requests == 0)
		goto usage;
	write_cpanel(argv[optind], accounts);
	write_suspended(argv[optind + 2], accounts);
	write_requests(argv[optind + 1], accounts, requests);
	return 0;
usage:
	fprintf(stderr, "usage: mabgen [-a ACCOUNTS] [-r REQUESTS] [-s SEED]"
	    " ROOT REQUESTS-FILE SUSPENDED-FILE\n");
	return 2;
}

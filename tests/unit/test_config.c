/*
 * Unit tests for config.c: defaults, every key, types, ranges, unknown
 * keys and sections, and "file:line" in every error.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "detect.h"

#define N(a) (sizeof (a) / sizeof (a)[0])
#define NAME "test.conf"
#define NO_GROUP "mailabuse-no-such-group-xyz"

/* Fail unless haystack contains needle. */
static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Load text that must be accepted. */
static void
load_ok(const char *text, struct config *cfg)
{
	char err[512] = "";

	if (config_load_string(text, NAME, cfg, err, sizeof err) != 0)
		fail_msg("rejected: %s\n--- config ---\n%s", err, text);
}

/* Load text that must be rejected; err receives the message. */
static void
load_bad(const char *text, char *err, size_t errlen)
{
	struct config cfg;

	err[0] = '\0';
	if (config_load_string(text, NAME, &cfg, err, errlen) != -1) {
		config_free(&cfg);
		fail_msg("accepted:\n%s", text);
	}
	if (err[0] == '\0')
		fail_msg("no error message for:\n%s", text);
}

/* Write text to a fresh file under /tmp; path receives its name. */
static void
temp_write(const char *text, char *path, size_t len)
{
	FILE *fp;
	int fd;

	snprintf(path, len, "/tmp/mailabuse-test-config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd != -1);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* A group that exists here, for policy_socket.group. */
static const char *
group_existing(void)
{
	struct group *gr = getgrgid(getegid());

	assert_non_null(gr);
	return gr->gr_name;
}

/* An empty file gives the documented defaults. */
static void
test_defaults(void **state)
{
	struct config cfg;
	(void)state;

	load_ok("", &cfg);
	assert_string_equal(cfg.file, NAME);
	assert_string_equal(cfg.database_path, "/var/lib/mailabuse/mailabuse.db");
	assert_int_equal(cfg.database_busy_timeout, 5);
	assert_string_equal(cfg.policy_socket_path, "/run/mailabuse/policy.sock");
	assert_string_equal(cfg.policy_socket_mode, "0660");
	assert_int_equal(cfg.policy_socket_mode_bits, 0660);
	assert_string_equal(cfg.policy_socket_group, "");
	assert_int_equal(cfg.policy_socket_max_line, 65536);
	assert_int_equal(cfg.policy_socket_read_timeout, 5);
	assert_int_equal(cfg.policy_socket_max_connections, 512);
	assert_int_equal(cfg.user_socket_max_connections, 16);
	assert_int_equal(cfg.user_socket_max_per_uid, 4);
	assert_string_equal(cfg.pid_file, "/run/mailabuse/mailabused.pid");
	assert_string_equal(cfg.user, "mailabuse");
	assert_string_equal(cfg.log_level, "info");
	assert_string_equal(cfg.cpanel_root, "/");
	assert_int_equal(cfg.policy_allow_local_delivery, 1);
	assert_int_equal(cfg.policy_system_uid_max, 999);
	assert_int_equal(cfg.history_queue_max, 8192);
	assert_int_equal(cfg.detect_limit[DET_ACCOUNT_MESSAGES], 1000);
	assert_string_equal(cfg.detect_action[DET_ACCOUNT_MESSAGES], "defer");
	assert_int_equal(cfg.detect_limit[DET_MAILBOX_NEW_HOSTS], 10);
	assert_int_equal(cfg.detect_limit[DET_BOUNCE], 50);
	assert_int_equal(cfg.detect_bounce_min, 50);
	assert_int_equal(cfg.notify_give_up, 7 * 86400);
	assert_string_equal(cfg.metrics_listen, "");
	assert_int_equal(cfg.metrics_mode_bits, 0660);
	assert_string_equal(cfg.metrics_group, "");
	config_free(&cfg);

	/* metrics.listen: a socket path, or a loopback address:port */
	load_ok("metrics: { listen = \"127.0.0.1:9226\"; };\n", &cfg);
	assert_string_equal(cfg.metrics_listen, "127.0.0.1:9226");
	config_free(&cfg);
	load_ok("metrics: { listen = \"[::1]:65535\"; mode = \"0600\"; };\n", &cfg);
	assert_int_equal(cfg.metrics_mode_bits, 0600);
	config_free(&cfg);
	load_ok("metrics: { listen = \"/run/mailabuse/metrics.sock\"; group = \"adm\"; };\n", &cfg);
	assert_string_equal(cfg.metrics_group, "adm");
	config_free(&cfg);

	/* the detectors, as the daemon sees them */
	load_ok("detect: { script_rcpts_per_hour = 0; script_rcpts_action = \"suspend\";"
	    " bounce_min = 7; };\n", &cfg);
	{
		struct detect_limits lim;

		config_detect_limits(&cfg, &lim);
		assert_int_equal(lim.l[DET_SCRIPT_RCPTS].value, 0);
		assert_int_equal(lim.l[DET_SCRIPT_RCPTS].action, ACTION_SUSPEND);
		assert_int_equal(lim.l[DET_ACCOUNT_RCPTS].value, 2000);
		assert_int_equal(lim.l[DET_ACCOUNT_RCPTS].action, ACTION_HOLD);
		assert_int_equal(lim.bounce_min, 7);
	}
	config_free(&cfg);

	/* comments and empty groups change nothing */
	load_ok("# nothing\n// here\ndatabase: { };\npolicy: { };\n", &cfg);
	assert_int_equal(cfg.policy_socket_max_line, 65536);
	assert_string_equal(cfg.database_path, "/var/lib/mailabuse/mailabuse.db");
	config_free(&cfg);
}

/* Every key, set to something other than its default. */
static void
test_every_key(void **state)
{
	struct config cfg;
	char text[2048];
	(void)state;

	snprintf(text, sizeof text,
	    "database:\n"
	    "{\n"
	    "  path = \"/srv/db/m.db\";\n"
	    "  busy_timeout = \"2m\";\n"
	    "};\n"
	    "policy_socket:\n"
	    "{\n"
	    "  path = \"/tmp/x/policy.sock\";\n"
	    "  mode = \"0600\";\n"
	    "  group = \"%s\";\n"
	    "  max_line = 8192;\n"
	    "  read_timeout = \"1h\";\n"
	    "  max_connections = 7;\n"
	    "};\n"
	    "pid_file = \"\";\n"
	    "log_level = \"debug\";\n"
	    "cpanel:\n"
	    "{\n"
	    "  root = \"/tmp/fakecpanel\";\n"
	    "};\n"
	    "policy:\n"
	    "{\n"
	    "  allow_local_delivery = false;\n"
	    "  system_uid_max = 499;\n"
	    "};\n", group_existing());
	load_ok(text, &cfg);
	assert_string_equal(cfg.database_path, "/srv/db/m.db");
	assert_int_equal(cfg.database_busy_timeout, 120);
	assert_string_equal(cfg.policy_socket_path, "/tmp/x/policy.sock");
	assert_string_equal(cfg.policy_socket_mode, "0600");
	assert_int_equal(cfg.policy_socket_mode_bits, 0600);
	assert_string_equal(cfg.policy_socket_group, group_existing());
	assert_int_equal(cfg.policy_socket_max_line, 8192);
	assert_int_equal(cfg.policy_socket_read_timeout, 3600);
	assert_int_equal(cfg.policy_socket_max_connections, 7);
	assert_string_equal(cfg.pid_file, "");
	assert_string_equal(cfg.log_level, "debug");
	assert_string_equal(cfg.cpanel_root, "/tmp/fakecpanel");
	assert_int_equal(cfg.policy_allow_local_delivery, 0);
	assert_int_equal(cfg.policy_system_uid_max, 499);
	config_free(&cfg);

	/* libconfig's other syntaxes: '=' for groups, 64-bit integers */
	load_ok("policy = { allow_local_delivery = true; system_uid_max = 4294967295L; };\n"
	    "policy_socket = { max_line = 300L; };\n", &cfg);
	assert_int_equal(cfg.policy_allow_local_delivery, 1);
	assert_true(cfg.policy_system_uid_max == 4294967295LL);
	assert_int_equal(cfg.policy_socket_max_line, 300);
	config_free(&cfg);
}

struct bad_case {
	const char *text;
	const char *where;	/* "test.conf:N" expected in the message */
	const char *what;	/* and this */
};

/* Unknown names, wrong types, out-of-range values: rejected with file:line. */
static void
test_rejected_with_line(void **state)
{
	static const struct bad_case cases[] = {
		/* unknown keys and sections */
		{ "bogus = 1;\n", NAME ":1:", "unknown setting 'bogus'" },
		{ "database:\n{\n  path = \"/x\";\n  bogus = 1;\n};\n", NAME ":4:",
		    "unknown setting 'database.bogus'" },
		{ "\n\npolicy: { system_uid_mx = 5; };\n", NAME ":3:",
		    "unknown setting 'policy.system_uid_mx'" },
		{ "\nnosuch:\n{\n  a = 1;\n};\n", NAME ":2:", "unknown section 'nosuch'" },
		{ "database: { sub: { path = \"/x\"; }; };\n", NAME ":1:",
		    "unknown section 'database.sub'" },
		{ "log_level: { a = 1; };\n", NAME ":1:", "unknown section" },
		{ "path = \"/x\";\n", NAME ":1:", "unknown setting 'path'" },
		{ "Database: { path = \"/x\"; };\n", NAME ":1:", "unknown section 'Database'" },

		/* metrics.listen: loopback only, numeric, a port */
		{ "\nmetrics: { listen = \"192.0.2.1:9226\"; };\n", NAME ":2:",
		    "metrics.listen: \"192.0.2.1:9226\" is not a loopback address" },
		{ "metrics:\n{\n  listen = \"[::]:9226\";\n};\n", NAME ":3:", "not a loopback address" },
		{ "metrics: { listen = \"0.0.0.0:1\"; };\n", NAME ":1:", "not a loopback address" },
		{ "metrics: { listen = \"localhost:9226\"; };\n", NAME ":1:", "not a numeric address" },
		{ "metrics: { listen = \"127.0.0.1:0\"; };\n", NAME ":1:", "from 1 to 65535" },
		{ "metrics: { listen = \"127.0.0.1:65536\"; };\n", NAME ":1:", "from 1 to 65535" },
		{ "metrics: { listen = \"127.0.0.1:\"; };\n", NAME ":1:", "from 1 to 65535" },
		{ "metrics: { listen = \"127.0.0.1\"; };\n", NAME ":1:", "neither a socket path" },
		{ "metrics: { listen = \"/run/mailabuse/policy.sock\"; };\n", NAME ":1:",
		    "differ from the other sockets" },
		{ "metrics: { mode = \"0999\"; };\n", NAME ":1:", "metrics.mode" },

		/* wrong types */
		{ "policy:\n{\n  allow_local_delivery = \"yes\";\n};\n", NAME ":3:",
		    "policy.allow_local_delivery must be true or false" },
		{ "policy: { allow_local_delivery = 1; };\n", NAME ":1:", "true or false" },
		{ "\ndatabase: { busy_timeout = 5; };\n", NAME ":2:",
		    "database.busy_timeout must be a string" },
		{ "policy_socket: { read_timeout = 5.0; };\n", NAME ":1:", "must be a string" },
		{ "policy_socket: { max_line = \"4096\"; };\n", NAME ":1:",
		    "policy_socket.max_line must be an integer" },
		{ "policy_socket: { max_connections = 1.5; };\n", NAME ":1:", "must be an integer" },
		{ "policy_socket: { max_connections = true; };\n", NAME ":1:", "must be an integer" },
		{ "pid_file = 5;\n", NAME ":1:", "pid_file must be a string" },
		{ "policy_socket: { mode = 0660; };\n", NAME ":1:", "must be a string" },
		{ "log_level = [\"info\"];\n", NAME ":1:", "log_level must be a string" },

		/* integer ranges, at and around the limits */
		{ "policy_socket:\n{\n  max_line = 255;\n};\n", NAME ":3:",
		    "policy_socket.max_line must be between 256 and 1048576" },
		{ "policy_socket: { max_line = 1048577; };\n", NAME ":1:", "max_line must be between" },
		{ "policy_socket: { max_line = -1; };\n", NAME ":1:", "max_line must be between" },
		{ "policy_socket: { max_connections = 0; };\n", NAME ":1:", "between 1 and 1000000" },
		{ "policy_socket: { max_connections = 1000001; };\n", NAME ":1:", "between 1 and 1000000" },
		{ "user_socket: { max_per_uid = 0; };\n", NAME ":1:",
		    "user_socket.max_per_uid must be between 1 and 10000" },
		{ "user_socket: { max_per_uid = 10001; };\n", NAME ":1:", "max_per_uid must be between" },
		{ "policy: { system_uid_max = -1; };\n", NAME ":1:", "system_uid_max must be between" },
		{ "policy: { system_uid_max = 4294967296L; };\n", NAME ":1:", "system_uid_max must be between" },

		/* detectors */
		{ "detect:\n{\n  script_rcpts_action = \"drop\";\n};\n", NAME ":3:",
		    "detect.script_rcpts_action: \"drop\" is not one of the allowed values" },
		{ "detect: { bounce_percent = 101; };\n", NAME ":1:", "between 0 and 100" },
		{ "detect: { mailbox_new_hosts_per_hour = -1; };\n", NAME ":1:", "between 0 and" },
		{ "detect: { bounce_min = 0; };\n", NAME ":1:", "between 1 and" },
		{ "detect: { messages_per_hour = 5; };\n", NAME ":1:",
		    "unknown setting 'detect.messages_per_hour'" },
		{ "history: { queue_max = 15; };\n", NAME ":1:", "between 16 and 1048576" },

		/* durations */
		{ "database:\n{\n  busy_timeout = \"5\";\n};\n", NAME ":3:",
		    "database.busy_timeout: invalid duration" },
		{ "database: { busy_timeout = \"3w\"; };\n", NAME ":1:", "unit" },
		{ "database: { busy_timeout = \"\"; };\n", NAME ":1:", "empty duration" },
		{ "database: { busy_timeout = \"0s\"; };\n", NAME ":1:", "between 1s and 1h" },
		{ "database: { busy_timeout = \"3601s\"; };\n", NAME ":1:", "between 1s and 1h" },
		{ "policy_socket: { read_timeout = \"61m\"; };\n", NAME ":1:", "between 1s and 1h" },
		{ "policy_socket: { read_timeout = \"1d\"; };\n", NAME ":1:", "read_timeout must be between" },

		/* modes */
		{ "policy_socket:\n{\n  mode = \"0999\";\n};\n", NAME ":3:", "not an octal mode" },
		{ "policy_socket: { mode = \"abc\"; };\n", NAME ":1:", "\"abc\" is not an octal mode" },
		{ "policy_socket: { mode = \"01000\"; };\n", NAME ":1:", "not an octal mode" },
		{ "policy_socket: { mode = \"\"; };\n", NAME ":1:", "not an octal mode" },
		{ "policy_socket: { mode = \"0660x\"; };\n", NAME ":1:", "not an octal mode" },
		{ "policy_socket: { mode = \"-1\"; };\n", NAME ":1:", "not an octal mode" },
		/* the policy socket is Exim's alone: no bit for other users */
		{ "policy_socket:\n{\n  mode = \"0666\";\n};\n", NAME ":3:", "gives other users access" },
		{ "policy_socket: { mode = \"0662\"; };\n", NAME ":1:", "gives other users access" },
		{ "policy_socket: { mode = \"0661\"; };\n", NAME ":1:", "gives other users access" },
		{ "policy_socket: { mode = \"0777\"; };\n", NAME ":1:", "gives other users access" },
		{ "policy_socket: { mode = \"4\"; };\n", NAME ":1:", "gives other users access" },

		/* user */
		{ "\nuser = \"\";\n", NAME ":2:", "user: \"\" is not a user name" },
		{ "user = \"a b\";\n", NAME ":1:", "is not a user name" },
		{ "user = \"-x\";\n", NAME ":1:", "is not a user name" },
		{ "user = 1000;\n", NAME ":1:", "user must be a string" },

		/* log level */
		{ "\n\n\nlog_level = \"warn\";\n", NAME ":4:", "not one of the allowed values" },
		{ "log_level = \"INFO\";\n", NAME ":1:", "not one of the allowed values" },
		{ "log_level = \"\";\n", NAME ":1:", "not one of the allowed values" },

		/* libconfig syntax errors and duplicates */
		{ "database:\n{\n  path = ;\n};\n", NAME ":3:", "syntax error" },
		{ "pid_file = \"/a\";\n\npid_file = \"/b\";\n", NAME ":3:", "duplicate setting" },
		{ "log_level = \"info\n", NAME ":", "" },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		char err[512];

		load_bad(cases[i].text, err, sizeof err);
		if (strncmp(err, cases[i].where, strlen(cases[i].where)) != 0)
			fail_msg("case %zu: \"%s\" does not start with \"%s\"", i, err, cases[i].where);
		if (strstr(err, cases[i].what) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].what);
	}
}

struct int_ok_case {
	const char *text;
	size_t offset;
	long long value;
};

/* Values exactly at the limits are accepted. */
static void
test_limits_accepted(void **state)
{
	static const struct int_ok_case cases[] = {
		{ "policy_socket: { max_line = 256; };", offsetof(struct config, policy_socket_max_line), 256 },
		{ "policy_socket: { max_line = 1048576; };", offsetof(struct config, policy_socket_max_line), 1048576 },
		{ "policy_socket: { max_connections = 1; };", offsetof(struct config, policy_socket_max_connections), 1 },
		{ "policy_socket: { max_connections = 1000000; };", offsetof(struct config, policy_socket_max_connections), 1000000 },
		{ "user_socket: { max_per_uid = 1; };", offsetof(struct config, user_socket_max_per_uid), 1 },
		{ "user_socket: { max_per_uid = 10000; };", offsetof(struct config, user_socket_max_per_uid), 10000 },
		{ "policy: { system_uid_max = 0; };", offsetof(struct config, policy_system_uid_max), 0 },
		{ "database: { busy_timeout = \"1s\"; };", offsetof(struct config, database_busy_timeout), 1 },
		{ "database: { busy_timeout = \"3600s\"; };", offsetof(struct config, database_busy_timeout), 3600 },
		{ "database: { busy_timeout = \"60m\"; };", offsetof(struct config, database_busy_timeout), 3600 },
		{ "policy_socket: { read_timeout = \"1h\"; };", offsetof(struct config, policy_socket_read_timeout), 3600 },
		{ "policy_socket: { read_timeout = \"45s\"; };", offsetof(struct config, policy_socket_read_timeout), 45 },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		struct config cfg;
		long long got;

		load_ok(cases[i].text, &cfg);
		memcpy(&got, (const char *)&cfg + cases[i].offset, sizeof got);
		if (got != cases[i].value)
			fail_msg("\"%s\": got %lld", cases[i].text, got);
		config_free(&cfg);
	}
}

struct mode_case {
	const char *text;
	unsigned bits;
};

/* Octal modes that are accepted, with their bits. */
static void
test_mode_accepted(void **state)
{
	static const struct mode_case cases[] = {
		{ "0660", 0660 },
		{ "0600", 0600 },
		{ "0770", 0770 },
		{ "0640", 0640 },
		{ "660", 0660 },
		{ "0", 0 },
		{ "00660", 0660 },
	};
	(void)state;

	for (size_t i = 0; i < N(cases); i++) {
		struct config cfg;
		char text[128];

		snprintf(text, sizeof text, "policy_socket: { mode = \"%s\"; };", cases[i].text);
		load_ok(text, &cfg);
		assert_int_equal(cfg.policy_socket_mode_bits, cases[i].bits);
		assert_string_equal(cfg.policy_socket_mode, cases[i].text);
		config_free(&cfg);
	}
}

/* strtoul skips white space and takes a sign: the mode must start with a digit. */
static void
test_mode_rejects_sign_and_space(void **state)
{
	static const char *const bad[] = { " 0660", "+0660", "-0", "\t0600" };
	(void)state;

	for (size_t i = 0; i < N(bad); i++) {
		char text[128], err[512];

		snprintf(text, sizeof text, "policy_socket: { mode = \"%s\"; };", bad[i]);
		load_bad(text, err, sizeof err);
		assert_contains(err, "not an octal mode");
	}
}

/* Each log level is accepted as written. */
static void
test_log_levels(void **state)
{
	static const char *const levels[] = { "error", "warning", "info", "debug" };
	(void)state;

	for (size_t i = 0; i < N(levels); i++) {
		struct config cfg;
		char text[128];

		snprintf(text, sizeof text, "log_level = \"%s\";", levels[i]);
		load_ok(text, &cfg);
		assert_string_equal(cfg.log_level, levels[i]);
		config_free(&cfg);
	}
}

/* libconfig 1.5 reads an integer without an "L" suffix as 32 bits and
 * wraps it: config.c reads it again from the source line, so an
 * out-of-range setting is refused instead of taken as another value. */
static void
test_int_wraparound_rejected(void **state)
{
	static const char *const bad[] = {
		"policy_socket: { max_line = 4294967552; };",		/* 2^32 + 256 -> 256 */
		"policy_socket: { max_connections = 4294967396; };",	/* 2^32 + 100 -> 100 */
		"policy: { system_uid_max = 6000000000; };",		/* -> 1705032704 */
	};
	(void)state;

	for (size_t i = 0; i < N(bad); i++) {
		char err[512];

		load_bad(bad[i], err, sizeof err);
		assert_contains(err, "must be between");
	}
}

/*
 * The number read again is the setting's own, read as libconfig reads it:
 * leading zeros are decimal, the value may be on a later line, and a key
 * of the same name earlier on the line (in another group, in a string or
 * a comment, even one that began on an earlier line) is not taken for it.
 */
static void
test_int_reread_from_source(void **state)
{
	static const char *const bad[] = {
		"policy_socket = { max_connections = 5; }; user_socket = { max_connections ="
		    " 99999999999; };",
		"policy_socket = { max_line =\n 0x100000100; };",
		"policy_socket = { max_line = /* c */\n# c\n4294967552; };",
		"notify = { from = \"max_line = 300\"; }; policy_socket = { max_line ="
		    " 4294967552; };",
		"policy_socket = { /* max_line = 300; */ max_line = 4294967552; };",
	};
	struct config cfg;
	char path[64], err[512];
	(void)state;

	for (size_t i = 0; i < N(bad); i++) {
		load_bad(bad[i], err, sizeof err);
		assert_contains(err, "must be between");
	}
	load_ok("policy_socket = { max_line = 0300; max_connections = 0x10; };", &cfg);
	assert_int_equal(cfg.policy_socket_max_line, 300);
	assert_int_equal(cfg.policy_socket_max_connections, 16);
	config_free(&cfg);
	load_ok("policy_socket = { max_connections = 5; }; user_socket = { max_connections = 9; };",
	    &cfg);
	assert_int_equal(cfg.policy_socket_max_connections, 5);
	assert_int_equal(cfg.user_socket_max_connections, 9);
	config_free(&cfg);
	/* a comment or a string that spans lines holds no setting of the next line */
	load_ok("/*\nmax_line = 500 */ policy_socket = { max_line = 700; };", &cfg);
	assert_int_equal(cfg.policy_socket_max_line, 700);
	config_free(&cfg);
	load_ok("notify = { templates = \"/etc/x\nmax_connections = 3\"; }; policy_socket ="
	    " { max_connections = 7; };", &cfg);
	assert_int_equal(cfg.policy_socket_max_connections, 7);
	config_free(&cfg);
	/* a name straight after a number is a name of its own */
	load_ok("policy_socket = { max_line = 301max_connections = 5; };", &cfg);
	assert_int_equal(cfg.policy_socket_max_line, 301);
	assert_int_equal(cfg.policy_socket_max_connections, 5);
	config_free(&cfg);

	/* the same from a file */
	temp_write("# x\npolicy_socket = { max_connections = 5; };"
	    " user_socket = { max_connections = 4294967301; };\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), -1);
	assert_contains(err, ":2: user_socket.max_connections must be between");
	assert_int_equal(unlink(path), 0);
	temp_write("policy_socket:\n{\n  max_line =\n    0400;\n};\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.policy_socket_max_line, 400);
	config_free(&cfg);
	assert_int_equal(unlink(path), 0);
}

/* Checks that span keys or the system: empty paths, socket path length, group. */
static void
test_semantics(void **state)
{
	struct config cfg;
	char text[512], err[512], path[200];
	(void)state;

	load_bad("database: { path = \"\"; };", err, sizeof err);
	assert_contains(err, NAME ":1: database.path must be an absolute path");
	/* the daemon runs from "/": a relative path would name another file */
	load_bad("database:\n{\n  path = \"rel.db\";\n};", err, sizeof err);
	assert_contains(err, NAME ":3: database.path must be an absolute path");
	load_bad("cpanel: { root = \"fixtures\"; };", err, sizeof err);
	assert_contains(err, "cpanel.root must be an absolute path");
	load_ok("pid_file = \"\";", &cfg);
	config_free(&cfg);

	load_bad("policy_socket: { path = \"\"; };", err, sizeof err);
	assert_contains(err, "policy_socket.path");

	/* sun_path holds 108 bytes: 107 characters fit, 108 do not */
	memset(path, 'p', sizeof path);
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof text, "policy_socket: { path = \"%s\"; };", path);
	load_ok(text, &cfg);
	assert_int_equal(strlen(cfg.policy_socket_path), 107);
	config_free(&cfg);
	path[107] = 'p';
	path[108] = '\0';
	snprintf(text, sizeof text, "policy_socket: { path = \"%s\"; };", path);
	load_bad(text, err, sizeof err);
	assert_contains(err, NAME ":1: policy_socket.path is longer than 107 characters");

	load_bad("user_socket: { path = \"/run/mailabuse/policy.sock\"; };", err, sizeof err);
	assert_contains(err, "user_socket.path must be at most 107 characters and differ");
	load_bad("notify: { sendmail = \"sendmail -t\"; };", err, sizeof err);
	assert_contains(err, NAME ":1: notify.sendmail must start with an absolute path");
	/* the unblock rule needs the records of the cooldown */
	load_bad("retention: { records = \"89d\"; };", err, sizeof err);
	assert_contains(err, "retention.records must not be shorter than policy.unblock_cooldown");
	load_ok("retention: { records = \"90d\"; };", &cfg);
	config_free(&cfg);
	load_bad("policy: { repeat_offence = \"forever\"; };", err, sizeof err);
	assert_contains(err, NAME ":1: policy.repeat_offence");
	load_ok("policy: { repeat_offence = \"permanent\"; complaint_window = \"7d\"; };", &cfg);
	assert_string_equal(cfg.policy_repeat_offence, "permanent");
	assert_int_equal(cfg.policy_complaint_window, 7 * 86400);
	assert_int_equal(cfg.policy_unblock_cooldown, 90 * 86400);
	config_free(&cfg);

	/* a group that does not exist */
	snprintf(text, sizeof text, "policy_socket:\n{\n  group = \"%s\";\n};\n", NO_GROUP);
	assert_null(getgrnam(NO_GROUP));
	load_bad(text, err, sizeof err);
	assert_contains(err, NAME ":3: policy_socket.group: no such group");
	assert_contains(err, NO_GROUP);

	/* notify.from and notify.fallback go into headers as they are */
	load_ok("notify: { from = \"abuse@server.test\"; fallback = \"postmaster\"; };", &cfg);
	config_free(&cfg);
	load_bad("notify:\n{\n  fallback = \"a@x.test, b@x.test\";\n};", err, sizeof err);
	assert_contains(err, NAME ":3: notify.fallback must be one plain address");
	load_bad("notify: { from = \"root\\nBcc: victim@x.test\"; };", err, sizeof err);
	assert_contains(err, NAME ":1: notify.from must be one plain address");
	load_bad("notify: { fallback = \"Abuse <abuse@x.test>\"; };", err, sizeof err);
	assert_contains(err, "notify.fallback must be one plain address");

	/* notify.give_up: from 1m */
	load_ok("notify: { give_up = \"60s\"; };", &cfg);
	assert_int_equal(cfg.notify_give_up, 60);
	config_free(&cfg);
	load_bad("notify: { give_up = \"59s\"; };", err, sizeof err);
	assert_contains(err, NAME ":1: notify.give_up");
}

/* A file: its name and line in every error, the name kept on success. */
static void
test_load_file(void **state)
{
	struct config cfg;
	char path[64], err[512], want[128];
	(void)state;

	/* a good file */
	temp_write("log_level = \"debug\";\npolicy: { system_uid_max = 500; };\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), 0);
	assert_string_equal(cfg.file, path);
	assert_string_equal(cfg.log_level, "debug");
	assert_int_equal(cfg.policy_system_uid_max, 500);
	config_free(&cfg);
	assert_int_equal(unlink(path), 0);

	/* an unknown key on line 5 */
	temp_write("# mailabused.conf\n\ndatabase:\n{\n  bogus = \"x\";\n};\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:5: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, want);
	assert_contains(err, "unknown setting 'database.bogus'");
	assert_int_equal(unlink(path), 0);

	/* a bad value on line 3 */
	temp_write("policy_socket:\n{\n  max_line = 1048577;\n};\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:3: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, want);
	assert_int_equal(unlink(path), 0);

	/* a syntax error on line 4 */
	temp_write("database:\n{\n  path = \"/x\";\n  busy_timeout = = \"5s\";\n};\n", path, sizeof path);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:4: ", path);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, want);
	assert_contains(err, "syntax error");
	assert_int_equal(unlink(path), 0);
}

/* A file that does not exist: its name and the reason. */
static void
test_load_file_missing(void **state)
{
	struct config cfg;
	char path[64], err[512];
	(void)state;

	temp_write("", path, sizeof path);
	assert_int_equal(unlink(path), 0);	/* now certainly absent */
	assert_int_equal(config_load_file(path, &cfg, err, sizeof err), -1);
	if (strncmp(err, path, strlen(path)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", err, path);
	assert_contains(err, "cannot read");
	assert_contains(err, strerror(ENOENT));
}

/* config_free is idempotent, and loads are independent of each other. */
static void
test_free_and_reload(void **state)
{
	struct config a, b;
	char err[512];
	(void)state;

	load_ok("log_level = \"error\";", &a);
	load_ok("log_level = \"debug\";", &b);
	assert_string_equal(a.log_level, "error");
	assert_string_equal(b.log_level, "debug");
	config_free(&a);
	assert_null(a.log_level);
	assert_null(a.database_path);
	assert_null(a.policy_socket_mode);
	assert_null(a.file);
	config_free(&a);		/* a second free does nothing */
	assert_string_equal(b.log_level, "debug");
	config_free(&b);

	/* a failed load frees what it had allocated (checked by ASan) */
	assert_int_equal(config_load_string("database: { path = \"/x\"; };\nlog_level = \"nope\";\n",
	    NAME, &a, err, sizeof err), -1);
	assert_null(a.database_path);
	config_free(&a);
}

/* Each choice is parsed once into its enum, defaults included. */
static void
test_choices_parsed(void **state)
{
	struct config cfg;
	(void)state;

	load_ok("", &cfg);
	assert_int_equal(cfg.log_level_choice, LOG_LEVEL_INFO);
	assert_int_equal(cfg.policy_repeat_offence_choice, CONFIG_REPEAT_WAIT);
	assert_int_equal(cfg.policy_loopback_unknown_choice, CONFIG_LOOPBACK_PASS);
	assert_int_equal(cfg.policy_web_action_choice, CONFIG_WEB_REFUSE);
	assert_int_equal(cfg.policy_redirect_action_choice, CONFIG_REDIRECT_DEFER);
	assert_int_equal(cfg.detect_action_choice[DET_ACCOUNT_MESSAGES], ACTION_DEFER);
	assert_int_equal(cfg.detect_action_choice[DET_BOUNCE], ACTION_HOLD);
	config_free(&cfg);

	load_ok("log_level = \"warning\";\n"
	    "policy: { repeat_offence = \"permanent\"; loopback_unknown = \"refuse\";"
	    " web_action = \"hold\"; redirect_action = \"fail\"; };\n"
	    "detect: { bounce_action = \"suspend\"; account_rcpts_action = \"defer\"; };\n", &cfg);
	assert_int_equal(cfg.log_level_choice, LOG_LEVEL_WARN);
	assert_int_equal(cfg.policy_repeat_offence_choice, CONFIG_REPEAT_PERMANENT);
	assert_int_equal(cfg.policy_loopback_unknown_choice, CONFIG_LOOPBACK_REFUSE);
	assert_string_equal(cfg.policy_loopback_unknown, "refuse");
	assert_int_equal(cfg.policy_web_action_choice, CONFIG_WEB_HOLD);
	assert_int_equal(cfg.policy_redirect_action_choice, CONFIG_REDIRECT_FAIL);
	assert_int_equal(cfg.detect_action_choice[DET_BOUNCE], ACTION_SUSPEND);
	assert_int_equal(cfg.detect_action_choice[DET_ACCOUNT_RCPTS], ACTION_DEFER);
	config_free(&cfg);

	load_ok("policy: { loopback_unknown = \"defer\"; redirect_action = \"pass\"; };\n", &cfg);
	assert_int_equal(cfg.policy_loopback_unknown_choice, CONFIG_LOOPBACK_DEFER);
	assert_int_equal(cfg.policy_redirect_action_choice, CONFIG_REDIRECT_PASS);
	config_free(&cfg);
}

/* Every detector of the enum has its limit and action keys, set and read back. */
static void
test_detector_keys(void **state)
{
	static const struct { enum detector d; const char *limit, *action; } k[] = {
		{ DET_ACCOUNT_MESSAGES, "account_messages_per_hour", "account_messages_action" },
		{ DET_ACCOUNT_RCPTS, "account_rcpts_per_hour", "account_rcpts_action" },
		{ DET_MAILBOX_MESSAGES, "mailbox_messages_per_hour", "mailbox_messages_action" },
		{ DET_MAILBOX_RCPTS, "mailbox_rcpts_per_hour", "mailbox_rcpts_action" },
		{ DET_MAILBOX_NEW_HOSTS, "mailbox_new_hosts_per_hour", "mailbox_new_hosts_action" },
		{ DET_SCRIPT_RCPTS, "script_rcpts_per_hour", "script_rcpts_action" },
		{ DET_BOUNCE, "bounce_percent", "bounce_action" },
	};
	(void)state;

	assert_int_equal(N(k), DET_COUNT);
	for (size_t i = 0; i < N(k); i++) {
		struct config cfg;
		struct detect_limits lim;
		char text[256];

		snprintf(text, sizeof text, "detect: { %s = %zu; %s = \"suspend\"; };\n",
		    k[i].limit, 11 + i, k[i].action);
		load_ok(text, &cfg);
		config_detect_limits(&cfg, &lim);
		for (int d = 0; d < DET_COUNT; d++) {
			if (d == (int)k[i].d) {
				assert_int_equal(lim.l[d].value, (long long)(11 + i));
				assert_int_equal(lim.l[d].action, ACTION_SUSPEND);
				assert_string_equal(cfg.detect_action[d], "suspend");
			} else
				assert_int_not_equal(lim.l[d].action, ACTION_SUSPEND);
		}
		config_free(&cfg);
	}
}

/* The keys read at start only: named when changed, and kept on reload. */
static void
test_restart_keys(void **state)
{
	struct config run, next;
	char buf[512];
	(void)state;

	load_ok("database: { path = \"/srv/a.db\"; };\nlog_level = \"info\";\n"
	    "policy_socket: { mode = \"0600\"; };\n", &run);
	load_ok("database: { path = \"/srv/a.db\"; };\nlog_level = \"debug\";\n"
	    "policy_socket: { mode = \"0600\"; };\n", &next);
	assert_int_equal(config_restart_keys_changed(&next, &run, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	config_free(&next);

	load_ok("database: { path = \"/srv/b.db\"; };\npid_file = \"\";\nuser = \"other\";\n"
	    "policy_socket: { path = \"/run/x/p.sock\"; mode = \"0660\"; max_line = 512; };\n"
	    "user_socket: { path = \"/run/x/u.sock\"; };\nlog_level = \"debug\";\n", &next);
	assert_int_equal(config_restart_keys_changed(&next, &run, buf, sizeof buf), 6);
	assert_string_equal(buf, "database.path, policy_socket.path, policy_socket.mode,"
	    " pid_file, user, user_socket.path");
	/* a short buffer is cut, the count stays right */
	assert_int_equal(config_restart_keys_changed(&next, &run, buf, 10), 6);
	assert_int_equal(strlen(buf), 9);
	config_keep_restart_keys(&next, &run);
	assert_int_equal(config_restart_keys_changed(&next, &run, buf, sizeof buf), 0);
	assert_string_equal(next.database_path, "/srv/a.db");
	assert_string_equal(next.policy_socket_path, run.policy_socket_path);
	assert_string_equal(next.policy_socket_mode, "0600");
	assert_int_equal(next.policy_socket_mode_bits, 0600);
	assert_string_equal(next.pid_file, run.pid_file);
	assert_string_equal(next.user, "mailabuse");
	assert_string_equal(next.user_socket_path, run.user_socket_path);
	/* the others take the new values */
	assert_string_equal(next.log_level, "debug");
	assert_int_equal(next.policy_socket_max_line, 512);
	config_free(&next);
	config_free(&run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_rejected_with_line),
		cmocka_unit_test(test_limits_accepted),
		cmocka_unit_test(test_mode_accepted),
		cmocka_unit_test(test_mode_rejects_sign_and_space),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_int_wraparound_rejected),
		cmocka_unit_test(test_int_reread_from_source),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_file_missing),
		cmocka_unit_test(test_free_and_reload),
		cmocka_unit_test(test_choices_parsed),
		cmocka_unit_test(test_detector_keys),
		cmocka_unit_test(test_restart_keys),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

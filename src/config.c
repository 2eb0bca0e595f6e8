/*
 * The configuration file.  libconfig parses it; a table of every known
 * setting validates it: an unknown key is an error (a typo must not pass
 * silently), and every error names file:line.  The table is the one
 * source of truth: a key's type, default, bounds, whether it is read at
 * start only (CFG_RESTART: reload keeps it and names it when changed),
 * and for a choice the enum field it is parsed into at load.  A new key
 * is one row of cfg_keys (and its field in struct config); a new
 * detector is one row of cfg_detectors, which the enum detector sizes.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libconfig.h>

#include "config.h"
#include "detect.h"
#include "duration.h"
#include "log.h"
#include "str.h"

enum cfg_type { CFG_STRING, CFG_BOOL, CFG_INT, CFG_DURATION, CFG_MODE, CFG_ENUM };

#define CFG_RESTART	0x1	/* read at start only: a reload keeps the running value */

struct cfg_key {
	const char *path;
	enum cfg_type type;
	size_t offset;
	const char *def;		/* default, as it would be written */
	long long min, max;		/* INT and DURATION bounds */
	const char *const *choices;	/* ENUM: in the order of its enum's values */
	size_t choice_offset;		/* ENUM: the enum field the choice is parsed into */
	unsigned flags;
};

static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };
static const char *const repeat_offences[] = { "wait", "permanent", NULL };
static const char *const actions[] = { "defer", "hold", "suspend", NULL };
static const char *const loopback_unknowns[] = { "pass", "defer", "refuse", NULL };
static const char *const web_actions[] = { "refuse", "hold", NULL };
static const char *const redirect_actions[] = { "defer", "pass", "fail", NULL };

#define OFF(f) offsetof(struct config, f)
/* a choice is stored through an int: every choice enum must be one */
_Static_assert(sizeof(enum detect_action) == sizeof(int) &&
    sizeof(enum log_level) == sizeof(int) &&
    sizeof(enum config_loopback_unknown) == sizeof(int), "choice enums are ints");
#define KEY(path, type, f, def, min, max) \
	{ path, type, OFF(f), def, min, max, NULL, 0, 0 }
#define KEY_RESTART(path, type, f, def) \
	{ path, type, OFF(f), def, 0, 0, NULL, 0, CFG_RESTART }
#define KEY_ENUM(path, f, def, choices) \
	{ path, CFG_ENUM, OFF(f), def, 0, 0, choices, OFF(f##_choice), 0 }

/* Every setting but the detectors' (cfg_detectors below), in the order -n -v prints them. */
static const struct cfg_key cfg_keys[] = {
	KEY_RESTART("database.path", CFG_STRING, database_path, "/var/lib/mailabuse/mailabuse.db"),
	KEY_RESTART("database.history_path", CFG_STRING, database_history_path, ""),
	KEY("database.busy_timeout", CFG_DURATION, database_busy_timeout, "5s", 1, 3600),
	KEY_RESTART("policy_socket.path", CFG_STRING, policy_socket_path, "/run/mailabuse/policy.sock"),
	KEY_RESTART("policy_socket.mode", CFG_MODE, policy_socket_mode, "0660"),
	KEY_RESTART("policy_socket.group", CFG_STRING, policy_socket_group, ""),
	KEY("policy_socket.max_line", CFG_INT, policy_socket_max_line, "65536", 256, 1048576),
	KEY("policy_socket.read_timeout", CFG_DURATION, policy_socket_read_timeout, "5s", 1, 3600),
	KEY("policy_socket.max_connections", CFG_INT, policy_socket_max_connections, "512", 1, 1000000),
	KEY_RESTART("pid_file", CFG_STRING, pid_file, "/run/mailabuse/mailabused.pid"),
	KEY_RESTART("user", CFG_STRING, user, "mailabuse"),
	KEY_ENUM("log_level", log_level, "info", log_levels),
	KEY("cpanel.root", CFG_STRING, cpanel_root, "/", 0, 0),
	KEY("policy.allow_local_delivery", CFG_BOOL, policy_allow_local_delivery, "true", 0, 0),
	KEY("policy.system_uid_max", CFG_INT, policy_system_uid_max, "999", 0, 4294967295LL),
	KEY("policy.complaint_window", CFG_DURATION, policy_complaint_window, "30d", 0, 3650 * 86400LL),
	KEY("policy.unblock_cooldown", CFG_DURATION, policy_unblock_cooldown, "90d", 0, 3650 * 86400LL),
	KEY_ENUM("policy.repeat_offence", policy_repeat_offence, "wait", repeat_offences),
	KEY("policy.suspend_on_complaint", CFG_BOOL, policy_suspend_on_complaint, "false", 0, 0),
	KEY_ENUM("policy.loopback_unknown", policy_loopback_unknown, "pass", loopback_unknowns),
	KEY("policy.web_uids", CFG_STRING, policy_web_uids, "nobody", 0, 0),
	KEY_ENUM("policy.web_action", policy_web_action, "refuse", web_actions),
	KEY_ENUM("policy.redirect_action", policy_redirect_action, "defer", redirect_actions),
	KEY_RESTART("user_socket.path", CFG_STRING, user_socket_path, "/run/mailabuse/user.sock"),
	KEY("user_socket.max_connections", CFG_INT, user_socket_max_connections, "16", 1, 10000),
	KEY("user_socket.max_per_uid", CFG_INT, user_socket_max_per_uid, "4", 1, 10000),
	KEY("notify.sendmail", CFG_STRING, notify_sendmail, "/usr/sbin/sendmail -t -i", 0, 0),
	KEY("notify.from", CFG_STRING, notify_from, "root", 0, 0),
	KEY("notify.fallback", CFG_STRING, notify_fallback, "root", 0, 0),
	KEY("notify.templates", CFG_STRING, notify_templates, "/etc/mailabuse/notices", 0, 0),
	KEY("notify.timeout", CFG_DURATION, notify_timeout, "60s", 1, 3600),
	KEY("notify.give_up", CFG_DURATION, notify_give_up, "7d", 60, 3650 * 86400LL),
	KEY("retention.messages", CFG_DURATION, retention_messages, "90d", 86400, 3650 * 86400LL),
	KEY("retention.records", CFG_DURATION, retention_records, "730d", 86400, 36500 * 86400LL),
	KEY("history.queue_max", CFG_INT, history_queue_max, "8192", 16, 1048576),
	KEY_RESTART("metrics.listen", CFG_STRING, metrics_listen, ""),
	KEY_RESTART("metrics.mode", CFG_STRING, metrics_mode, "0660"),
	KEY_RESTART("metrics.group", CFG_STRING, metrics_group, ""),
	/* the detectors' limits and actions go here (cfg_detectors) */
	KEY("detect.bounce_min", CFG_INT, detect_bounce_min, "50", 1, 100000000),
};
#define CFG_NBASE (sizeof cfg_keys / sizeof cfg_keys[0])

/*
 * The detectors' settings, one row per enum detector: a limit (0 off)
 * and an action each.  Sized by DET_COUNT: a detector added to detect.h
 * without its row here stops the program at its first configuration.
 */
static const struct cfg_detector {
	const char *limit_key, *limit_def;
	long long limit_max;
	const char *action_key, *action_def;
} cfg_detectors[DET_COUNT] = {
	[DET_ACCOUNT_MESSAGES] = { "detect.account_messages_per_hour", "1000", 100000000,
	    "detect.account_messages_action", "defer" },
	[DET_ACCOUNT_RCPTS] = { "detect.account_rcpts_per_hour", "2000", 100000000,
	    "detect.account_rcpts_action", "hold" },
	[DET_MAILBOX_MESSAGES] = { "detect.mailbox_messages_per_hour", "500", 100000000,
	    "detect.mailbox_messages_action", "defer" },
	[DET_MAILBOX_RCPTS] = { "detect.mailbox_rcpts_per_hour", "1000", 100000000,
	    "detect.mailbox_rcpts_action", "hold" },
	[DET_MAILBOX_NEW_HOSTS] = { "detect.mailbox_new_hosts_per_hour", "10", 100000000,
	    "detect.mailbox_new_hosts_action", "hold" },
	[DET_SCRIPT_RCPTS] = { "detect.script_rcpts_per_hour", "500", 100000000,
	    "detect.script_rcpts_action", "hold" },
	[DET_BOUNCE] = { "detect.bounce_percent", "50", 100,
	    "detect.bounce_action", "hold" },
};

/* Every key: cfg_keys with the detectors' two each before detect.bounce_min. */
#define CFG_NKEYS (CFG_NBASE + 2 * DET_COUNT)
static struct cfg_key cfg_all[CFG_NKEYS];
static pthread_once_t cfg_all_once = PTHREAD_ONCE_INIT;

/* Build cfg_all, once per process. */
static void
cfg_all_build(void)
{
	size_t n = 0;

	for (size_t i = 0; i < CFG_NBASE; i++) {
		if (strcmp(cfg_keys[i].path, "detect.bounce_min") == 0) {
			for (int d = 0; d < DET_COUNT; d++) {
				const struct cfg_detector *cd = &cfg_detectors[d];

				if (cd->limit_key == NULL || cd->action_key == NULL)
					fatalx("config: detector %s has no settings", detect_name(d));
				cfg_all[n++] = (struct cfg_key){ cd->limit_key, CFG_INT,
				    OFF(detect_limit) + (size_t)d * sizeof(long long), cd->limit_def,
				    0, cd->limit_max, NULL, 0, 0 };
				cfg_all[n++] = (struct cfg_key){ cd->action_key, CFG_ENUM,
				    OFF(detect_action) + (size_t)d * sizeof(char *), cd->action_def,
				    0, 0, actions, OFF(detect_action_choice) +
				    (size_t)d * sizeof(enum detect_action), 0 };
			}
		}
		cfg_all[n++] = cfg_keys[i];
	}
	if (n != CFG_NKEYS)
		fatalx("config: the detectors' settings have no place in the key table");
}

/* The whole key table. */
static const struct cfg_key *
cfg_keys_all(void)
{
	pthread_once(&cfg_all_once, cfg_all_build);
	return cfg_all;
}

/* Whether path names a known setting, or a group holding some. */
static const struct cfg_key *
cfg_key_find(const char *path, int *is_group)
{
	const struct cfg_key *keys = cfg_keys_all();
	size_t len = strlen(path);

	*is_group = 0;
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
		if (strncmp(keys[i].path, path, len) == 0 && keys[i].path[len] == '.')
			*is_group = 1;
	}
	return NULL;
}

/* "file:line: " for a setting, as precise as libconfig allows. */
static void
cfg_where(const config_setting_t *s, const char *name, char *buf, size_t len)
{
	const char *file = config_setting_source_file(s);

	snprintf(buf, len, "%s:%u", file != NULL ? file : name,
	    config_setting_source_line(s));
}

/* Reject every setting that the table does not know, recursively. */
static int
cfg_check_unknown(const config_setting_t *group, const char *prefix,
    const char *name, char *err, size_t errlen)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *sname = config_setting_name(s);
		char path[256], where[PATH_MAX + 32];
		int is_group;

		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "",
		    sname != NULL ? sname : "?");
		cfg_where(s, name, where, sizeof where);
		if (config_setting_is_group(s)) {
			(void)cfg_key_find(path, &is_group);
			if (!is_group) {
				snprintf(err, errlen, "%s: unknown section '%s'", where, path);
				return -1;
			}
			if (cfg_check_unknown(s, path, name, err, errlen) == -1)
				return -1;
			continue;
		}
		if (cfg_key_find(path, &is_group) == NULL) {
			snprintf(err, errlen, "%s: unknown setting '%s'", where, path);
			return -1;
		}
	}
	return 0;
}

/* A socket's mode, in octal: never a bit for others. */
static int
cfg_mode_set(struct config *cfg, const struct cfg_key *k, const char *text,
    const char *where, char *err, size_t errlen)
{
	char *base = (char *)cfg;
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(text, &end, 8);
	if (*text < '0' || *text > '7' || *end != '\0' || errno != 0 || m > 0777) {
		snprintf(err, errlen, "%s: %s: \"%s\" is not an octal mode such as \"0660\"",
		    where, k->path, text);
		return -1;
	}
	/* anyone who can connect can forge delivery events: Exim's group only */
	if (m & 0007) {
		snprintf(err, errlen, "%s: %s: \"%s\" gives other users access to the"
		    " policy socket; give Exim's group access instead (\"0660\" and"
		    " policy_socket.group)", where, k->path, text);
		return -1;
	}
	cfg->policy_socket_mode_bits = (mode_t)m;
	free(*(char **)(void *)(base + k->offset));
	if ((*(char **)(void *)(base + k->offset) = strdup(text)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* One of the key's words, kept as text and as its enum's value. */
static int
cfg_enum_set(struct config *cfg, const struct cfg_key *k, const char *text,
    const char *where, char *err, size_t errlen)
{
	char *base = (char *)cfg;

	for (const char *const *c = k->choices; *c != NULL; c++) {
		if (strcmp(*c, text) == 0) {
			free(*(char **)(void *)(base + k->offset));
			if ((*(char **)(void *)(base + k->offset) = strdup(text)) == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			/* the choice's place in the list is its enum's value */
			*(int *)(void *)(base + k->choice_offset) = (int)(c - k->choices);
			return 0;
		}
	}
	snprintf(err, errlen, "%s: %s: \"%s\" is not one of the allowed values",
	    where, k->path, text);
	return -1;
}

/* Convert one textual value (from the file or a default) into cfg. */
static int
cfg_value_set(struct config *cfg, const struct cfg_key *k, const char *text,
    long long ival, int from_text, const char *where, char *err, size_t errlen)
{
	char *base = (char *)cfg;
	char derr[256];
	long long v;

	switch (k->type) {
	case CFG_STRING:
		free(*(char **)(void *)(base + k->offset));
		if ((*(char **)(void *)(base + k->offset) = strdup(text)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	case CFG_BOOL:
		if (from_text)
			ival = strcmp(text, "true") == 0;
		*(int *)(void *)(base + k->offset) = ival != 0;
		return 0;
	case CFG_INT:
		if (from_text)
			ival = strtoll(text, NULL, 10);
		if (ival < k->min || ival > k->max) {
			snprintf(err, errlen, "%s: %s must be between %lld and %lld",
			    where, k->path, k->min, k->max);
			return -1;
		}
		*(long long *)(void *)(base + k->offset) = ival;
		return 0;
	case CFG_DURATION:
		if (duration_parse(text, &v, derr, sizeof derr) == -1) {
			snprintf(err, errlen, "%s: %s: %s", where, k->path, derr);
			return -1;
		}
		if (v < k->min || v > k->max) {
			char lo[32], hi[32];

			duration_format(k->min, lo, sizeof lo);
			duration_format(k->max, hi, sizeof hi);
			snprintf(err, errlen, "%s: %s must be between %s and %s",
			    where, k->path, lo, hi);
			return -1;
		}
		*(long long *)(void *)(base + k->offset) = v;
		return 0;
	case CFG_MODE:
		return cfg_mode_set(cfg, k, text, where, err, errlen);
	case CFG_ENUM:
		return cfg_enum_set(cfg, k, text, where, err, errlen);
	}
	abort();
}

/* A character of a setting name, as libconfig's scanner has them. */
static int
cfg_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/* Skip white space (newlines too) and libconfig's comments: #, // and slash-star. */
static const char *
cfg_src_skip(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '#' || (p[0] == '/' && p[1] == '/'))
			p += strcspn(p, "\n");
		else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");

			p = e != NULL ? e + 2 : p + strlen(p);
		} else
			return p;
	}
}

/* Count the settings named name on the same line of the same file before s. */
static int
cfg_same_before(const config_setting_t *group, const config_setting_t *s,
    const char *name, unsigned *n)
{
	int len = config_setting_length(group);

	for (int i = 0; i < len; i++) {
		const config_setting_t *e = config_setting_get_elem(group, (unsigned)i);
		const char *en = config_setting_name(e), *ef = config_setting_source_file(e),
		    *sf = config_setting_source_file(s);

		if (e == s)
			return 1;
		if (en != NULL && strcmp(en, name) == 0 &&
		    config_setting_source_line(e) == config_setting_source_line(s) &&
		    (ef == sf || (ef != NULL && sf != NULL && strcmp(ef, sf) == 0)))
			(*n)++;
		if (config_setting_is_aggregate(e) && cfg_same_before(e, s, name, n))
			return 1;
	}
	return 0;
}

#define CFG_SRC_MAX (1024 * 1024)	/* of a configuration file read again */

/* A file's text (its first CFG_SRC_MAX bytes), allocated; NULL if unreadable. */
static char *
cfg_src_file(const char *file)
{
	FILE *f = fopen(file, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(CFG_SRC_MAX + 1)) != NULL) {
		n = fread(buf, 1, CFG_SRC_MAX, f);
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

/* Past the string that starts at p (libconfig's escapes), counting its newlines. */
static const char *
cfg_src_string(const char *p, unsigned *line)
{
	for (p++; *p != '\0' && *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\n')
			(*line)++;
	}
	return *p == '"' ? p + 1 : p;
}

/* Past the number token at p: decimal, hexadecimal or real, with an "L" suffix. */
static const char *
cfg_src_number_end(const char *p)
{
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		for (p += 2; isxdigit((unsigned char)*p); p++)
			;
	} else {
		while (isdigit((unsigned char)*p))
			p++;
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
		if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
		    ((p[1] == '-' || p[1] == '+') && isdigit((unsigned char)p[2]))))
			for (p += 2; isdigit((unsigned char)*p); p++)
				;
	}
	while (*p == 'L')
		p++;
	return p;
}

/* The number at q, as libconfig's scanner reads it: decimal, or hexadecimal after "0x". */
static void
cfg_src_number(const char *q, long long *v)
{
	char *end;

	errno = 0;
	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
		unsigned long long u = strtoull(q + 2, &end, 16);

		if (end != q + 2)
			*v = errno == ERANGE || u > LLONG_MAX ? LLONG_MAX : (long long)u;
	} else {
		long long d = strtoll(q, &end, 10);

		if (end != q)
			*v = errno != ERANGE ? d : d < 0 ? LLONG_MIN : LLONG_MAX;
	}
}

/*
 * libconfig 1.5 reads an integer without an "L" suffix as 32 bits and
 * wraps it silently.  Read the number again from the source, so that an
 * out-of-range value is reported instead of taken as another one.  The
 * source is scanned from its start, as libconfig's scanner does (strings
 * and comments, which may span lines, hold no setting); the setting is
 * the how-many-th of that name on its source line (others in other
 * groups may share the line), and its value may be on a later line.
 */
static void
cfg_int_from_source(const config_setting_t *s, const char *text, long long *v)
{
	const char *name = config_setting_name(s), *file = config_setting_source_file(s);
	const config_setting_t *root = s;
	unsigned line = config_setting_source_line(s), n = 1, before = 0, seen = 0;
	const char *p, *q;
	char *buf = NULL;
	size_t len;

	if (name == NULL || line == 0)
		return;
	while (config_setting_parent(root) != NULL)
		root = config_setting_parent(root);
	(void)cfg_same_before(root, s, name, &before);
	if (file != NULL && (buf = cfg_src_file(file)) == NULL)
		return;
	if ((p = file != NULL ? buf : text) == NULL)
		return;
	len = strlen(name);
	while (*p != '\0' && n <= line) {
		if (*p == '"') {
			p = cfg_src_string(p, &n);
		} else if (*p == '#' || (p[0] == '/' && (p[1] == '/' || p[1] == '*'))) {
			for (q = cfg_src_skip(p); p < q; p++)
				n += *p == '\n';
		} else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
			p = cfg_src_number_end(p);
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			for (q = p; cfg_name_char(*q); q++)
				;
			if (n == line && (size_t)(q - p) == len && strncmp(p, name, len) == 0 &&
			    strchr("=:", *(p = cfg_src_skip(q))) != NULL && *p != '\0' &&
			    seen++ == before) {
				cfg_src_number(cfg_src_skip(p + 1), v);
				break;
			}
			p = q;
		} else
			n += *p++ == '\n';
	}
	free(buf);
}

/* Read one key from the parsed file, checking its type, or take the default. */
static int
cfg_key_load(config_t *lc, const char *name, const char *text, struct config *cfg,
    const struct cfg_key *k, char *err, size_t errlen)
{
	long long iv;
	config_setting_t *s = config_lookup(lc, k->path);
	char where[PATH_MAX + 32];
	int t;

	if (s == NULL)
		return cfg_value_set(cfg, k, k->def, 0, 1, "default", err, errlen);
	cfg_where(s, name, where, sizeof where);
	t = config_setting_type(s);
	switch (k->type) {
	case CFG_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			snprintf(err, errlen, "%s: %s must be true or false", where, k->path);
			return -1;
		}
		return cfg_value_set(cfg, k, NULL, config_setting_get_bool(s), 0, where, err, errlen);
	case CFG_INT:
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
			snprintf(err, errlen, "%s: %s must be an integer", where, k->path);
			return -1;
		}
		iv = config_setting_get_int64(s);
		cfg_int_from_source(s, text, &iv);
		return cfg_value_set(cfg, k, NULL, iv, 0, where, err, errlen);
	default:
		if (t != CONFIG_TYPE_STRING) {
			snprintf(err, errlen, "%s: %s must be a string%s", where, k->path,
			    k->type == CFG_DURATION ? " such as \"30s\", \"15m\", \"12h\" or \"30d\"" :
			    k->type == CFG_MODE ? " such as \"0660\"" : "");
			return -1;
		}
		return cfg_value_set(cfg, k, config_setting_get_string(s), 0, 1, where, err, errlen);
	}
}

/* "file:line" of a key as set in the file, or the file name for a default. */
static void
cfg_key_where(config_t *lc, const char *name, const char *path, char *buf, size_t len)
{
	config_setting_t *s = config_lookup(lc, path);

	if (s == NULL)
		snprintf(buf, len, "%s", name);
	else
		cfg_where(s, name, buf, len);
}

/* A login name as useradd accepts it (no lookup: the daemon checks that it exists). */
static int
cfg_user_name_valid(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > 32 || u[0] == '-')
		return 0;
	for (const char *p = u; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.' ||
		    (*p == '$' && p[1] == '\0')))
			return 0;
	return 1;
}

/*
 * metrics.listen as an address: "127.0.0.1:9100" (127.0.0.0/8) or
 * "[::1]:9100", numeric, loopback only.  0, or -1 with why.
 */
int
config_metrics_inet(const char *listen, struct sockaddr_storage *ss, unsigned *sslen,
    char *why, size_t whylen)
{
	char host[64], *end;
	const char *colon = strrchr(listen, ':');
	unsigned long port;
	size_t hl;

	memset(ss, 0, sizeof *ss);
	if (colon == NULL || colon == listen) {
		snprintf(why, whylen, "\"%s\" is neither a socket path nor an address:port", listen);
		return -1;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port == 0 ||
	    port > 65535) {
		snprintf(why, whylen, "\"%s\": the port must be a number from 1 to 65535", listen);
		return -1;
	}
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)(hl - 2 < sizeof host ? hl - 2 : 0), listen + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)(hl < sizeof host ? hl : 0), listen);
	if (listen[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) {
			snprintf(why, whylen, "\"%s\" is not a numeric address:port", listen);
			return -1;
		}
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
			snprintf(why, whylen, "\"%s\" is not a loopback address (::1)", listen);
			return -1;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(why, whylen, "\"%s\" is not a numeric address:port (IPv6 as"
			    " [::1]:PORT)", listen);
			return -1;
		}
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
			snprintf(why, whylen, "\"%s\" is not a loopback address (127.0.0.0/8)",
			    listen);
			return -1;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof *s4;
	}
	return 0;
}

/*
 * metrics.listen: off, a socket path (with metrics.mode), or a loopback
 * address:port: the figures name accounts, so never another host.
 */
static int
cfg_check_metrics(config_t *lc, struct config *cfg, const char *name, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	char where[PATH_MAX + 32], why[256], *end;
	unsigned long m;
	unsigned sslen;

	errno = 0;
	m = strtoul(cfg->metrics_mode, &end, 8);
	if (cfg->metrics_mode[0] < '0' || cfg->metrics_mode[0] > '7' || *end != '\0' ||
	    errno != 0 || m > 0777) {
		cfg_key_where(lc, name, "metrics.mode", where, sizeof where);
		snprintf(err, errlen, "%s: metrics.mode: \"%s\" is not an octal mode such as"
		    " \"0660\"", where, cfg->metrics_mode);
		return -1;
	}
	cfg->metrics_mode_bits = (mode_t)m;
	if (cfg->metrics_listen[0] == '\0')
		return 0;
	cfg_key_where(lc, name, "metrics.listen", where, sizeof where);
	if (cfg->metrics_listen[0] == '/') {
		if (strlen(cfg->metrics_listen) >= sizeof sun.sun_path ||
		    strcmp(cfg->metrics_listen, cfg->policy_socket_path) == 0 ||
		    strcmp(cfg->metrics_listen, cfg->user_socket_path) == 0) {
			snprintf(err, errlen, "%s: metrics.listen must be at most %zu characters"
			    " and differ from the other sockets' paths", where,
			    sizeof sun.sun_path - 1);
			return -1;
		}
		return 0;
	}
	if (config_metrics_inet(cfg->metrics_listen, &ss, &sslen, why, sizeof why) == -1) {
		snprintf(err, errlen, "%s: metrics.listen: %s", where, why);
		return -1;
	}
	return 0;
}

/* Checks that involve more than one key or the system. */
static int
cfg_check_semantics(config_t *lc, struct config *cfg, const char *name, char *err,
    size_t errlen)
{
	static const struct { const char *path; size_t off; int may_be_empty; } abs_paths[] = {
		{ "database.path", OFF(database_path), 0 },
		{ "database.history_path", OFF(database_history_path), 1 },
		{ "policy_socket.path", OFF(policy_socket_path), 0 },
		{ "user_socket.path", OFF(user_socket_path), 0 },
		{ "pid_file", OFF(pid_file), 1 },
		{ "cpanel.root", OFF(cpanel_root), 0 },
		{ "notify.templates", OFF(notify_templates), 0 },
	};
	struct sockaddr_un sun;
	char where[PATH_MAX + 32];

	/* The daemon runs from "/": a relative path would name another file. */
	for (size_t i = 0; i < sizeof abs_paths / sizeof abs_paths[0]; i++) {
		const char *v = *(char **)(void *)((char *)cfg + abs_paths[i].off);

		if (v[0] == '/' || (v[0] == '\0' && abs_paths[i].may_be_empty))
			continue;
		cfg_key_where(lc, name, abs_paths[i].path, where, sizeof where);
		snprintf(err, errlen, "%s: %s must be an absolute path", where, abs_paths[i].path);
		return -1;
	}
	if (strlen(cfg->policy_socket_path) >= sizeof sun.sun_path) {
		cfg_key_where(lc, name, "policy_socket.path", where, sizeof where);
		snprintf(err, errlen, "%s: policy_socket.path is longer than %zu characters",
		    where, sizeof sun.sun_path - 1);
		return -1;
	}
	if (strlen(cfg->user_socket_path) >= sizeof sun.sun_path ||
	    strcmp(cfg->user_socket_path, cfg->policy_socket_path) == 0) {
		cfg_key_where(lc, name, "user_socket.path", where, sizeof where);
		snprintf(err, errlen, "%s: user_socket.path must be at most %zu characters and"
		    " differ from policy_socket.path", where, sizeof sun.sun_path - 1);
		return -1;
	}
	if (cfg_check_metrics(lc, cfg, name, err, errlen) == -1)
		return -1;
	if (cfg->notify_sendmail[0] != '/') {
		cfg_key_where(lc, name, "notify.sendmail", where, sizeof where);
		snprintf(err, errlen, "%s: notify.sendmail must start with an absolute path", where);
		return -1;
	}
	/* they go into notices' From: and To: as they are */
	if (!str_address_valid(cfg->notify_from, 0) || !str_address_valid(cfg->notify_fallback, 0)) {
		const char *key = !str_address_valid(cfg->notify_from, 0) ? "notify.from" :
		    "notify.fallback";

		cfg_key_where(lc, name, key, where, sizeof where);
		snprintf(err, errlen, "%s: %s must be one plain address (user@domain, or a"
		    " local user name)", where, key);
		return -1;
	}
	if (cfg->retention_records < cfg->policy_unblock_cooldown) {
		cfg_key_where(lc, name, "retention.records", where, sizeof where);
		snprintf(err, errlen, "%s: retention.records must not be shorter than"
		    " policy.unblock_cooldown: the unblock rule needs those records", where);
		return -1;
	}
	if (!cfg_user_name_valid(cfg->user)) {
		cfg_key_where(lc, name, "user", where, sizeof where);
		snprintf(err, errlen, "%s: user: \"%s\" is not a user name", where, cfg->user);
		return -1;
	}
	if (cfg->policy_socket_group[0] != '\0' && getgrnam(cfg->policy_socket_group) == NULL) {
		cfg_key_where(lc, name, "policy_socket.group", where, sizeof where);
		snprintf(err, errlen, "%s: policy_socket.group: no such group \"%s\"",
		    where, cfg->policy_socket_group);
		return -1;
	}
	return 0;
}

/* Load from an already-read libconfig tree. */
static int
cfg_load(config_t *lc, const char *name, const char *text, struct config *cfg,
    char *err, size_t errlen)
{
	const struct cfg_key *keys = cfg_keys_all();

	memset(cfg, 0, sizeof *cfg);
	if ((cfg->file = strdup(name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cfg_check_unknown(config_root_setting(lc), "", name, err, errlen) == -1)
		goto fail;
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (cfg_key_load(lc, name, text, cfg, &keys[i], err, errlen) == -1)
			goto fail;
	if (cfg_check_semantics(lc, cfg, name, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

/* Load and validate a configuration file; 0, or -1 with "file:line: ..." in err. */
int
config_load_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
	config_t lc;
	int r;

	config_init(&lc);
	if (config_read_file(&lc, path) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s:%d: %s",
			    config_error_file(&lc) ? config_error_file(&lc) : path,
			    config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	r = cfg_load(&lc, path, NULL, cfg, err, errlen);
	config_destroy(&lc);
	return r;
}

/* Same from a string (tests); name stands in for the file name. */
int
config_load_string(const char *text, const char *name, struct config *cfg,
    char *err, size_t errlen)
{
	config_t lc;
	int r;

	config_init(&lc);
	if (config_read_string(&lc, text) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s", name, config_error_line(&lc),
		    config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	r = cfg_load(&lc, name, text, cfg, err, errlen);
	config_destroy(&lc);
	return r;
}

/* Release everything config_load_* allocated. */
void
config_free(struct config *cfg)
{
	const struct cfg_key *keys = cfg_keys_all();

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &keys[i];

		if (k->type == CFG_STRING || k->type == CFG_MODE || k->type == CFG_ENUM) {
			char **p = (char **)(void *)((char *)cfg + k->offset);

			free(*p);
			*p = NULL;
		}
	}
	free(cfg->file);
	cfg->file = NULL;
}

/* A copy of src of its own (the writer thread's); 0, or -1 out of memory. */
int
config_copy(struct config *dst, const struct config *src)
{
	const struct cfg_key *keys = cfg_keys_all();

	*dst = *src;
	dst->file = NULL;
	for (size_t i = 0; i < CFG_NKEYS; i++)
		if (keys[i].type == CFG_STRING || keys[i].type == CFG_MODE ||
		    keys[i].type == CFG_ENUM)
			*(char **)(void *)((char *)dst + keys[i].offset) = NULL;
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &keys[i];
		char *const *from = (char *const *)(const void *)((const char *)src + k->offset);
		char **to = (char **)(void *)((char *)dst + k->offset);

		if ((k->type == CFG_STRING || k->type == CFG_MODE || k->type == CFG_ENUM) &&
		    *from != NULL && (*to = strdup(*from)) == NULL)
			goto fail;
	}
	if (src->file != NULL && (dst->file = strdup(src->file)) == NULL)
		goto fail;
	return 0;
fail:
	config_free(dst);
	return -1;
}

/* Whether key k has the same value in a and b. */
static int
cfg_key_same(const struct cfg_key *k, const struct config *a, const struct config *b)
{
	const char *pa = (const char *)a + k->offset, *pb = (const char *)b + k->offset;

	switch (k->type) {
	case CFG_BOOL:
		return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
	case CFG_INT:
	case CFG_DURATION:
		return *(const long long *)(const void *)pa == *(const long long *)(const void *)pb;
	default:
		return strcmp(*(char *const *)(const void *)pa, *(char *const *)(const void *)pb) == 0;
	}
}

/*
 * The keys read only at start (flagged CFG_RESTART) whose value next
 * changes from running: their names, ", "-separated, in buf; how many.
 */
size_t
config_restart_keys_changed(const struct config *next, const struct config *running,
    char *buf, size_t len)
{
	const struct cfg_key *keys = cfg_keys_all();
	size_t n = 0, used = 0;

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < CFG_NKEYS; i++) {
		if (!(keys[i].flags & CFG_RESTART) || cfg_key_same(&keys[i], next, running))
			continue;
		if (used < len) {
			int w = snprintf(buf + used, len - used, "%s%s", n > 0 ? ", " : "",
			    keys[i].path);

			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}

/*
 * On reload: the keys read only at start (flagged CFG_RESTART) keep
 * their running values, so that what the daemon made with them
 * (sockets, pid file) is cleaned up right.
 */
void
config_keep_restart_keys(struct config *next, const struct config *running)
{
	const struct cfg_key *keys = cfg_keys_all();

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &keys[i];
		char *n = (char *)next + k->offset;
		const char *o = (const char *)running + k->offset;

		if (!(k->flags & CFG_RESTART))
			continue;
		switch (k->type) {
		case CFG_BOOL:
			*(int *)(void *)n = *(const int *)(const void *)o;
			break;
		case CFG_INT:
		case CFG_DURATION:
			*(long long *)(void *)n = *(const long long *)(const void *)o;
			break;
		case CFG_ENUM:
			*(int *)(void *)((char *)next + k->choice_offset) =
			    *(const int *)(const void *)((const char *)running + k->choice_offset);
			/* FALLTHROUGH */
		default: {
			char *copy = strdup(*(char *const *)(const void *)o);

			if (copy == NULL)
				fatalx("reload: out of memory");
			free(*(char **)(void *)n);
			*(char **)(void *)n = copy;
			break;
		}
		}
	}
	next->policy_socket_mode_bits = running->policy_socket_mode_bits;
	next->metrics_mode_bits = running->metrics_mode_bits;
}

/* Print the effective configuration, one key per line (mailabused -n -v). */
void
config_print(const struct config *cfg)
{
	const struct cfg_key *keys = cfg_keys_all();
	const char *base = (const char *)cfg;
	char buf[64];

	for (size_t i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &keys[i];
		const void *p = base + k->offset;

		switch (k->type) {
		case CFG_BOOL:
			printf("%s = %s;\n", k->path, *(const int *)p ? "true" : "false");
			break;
		case CFG_INT:
			printf("%s = %lld;\n", k->path, *(const long long *)p);
			break;
		case CFG_DURATION:
			duration_format(*(const long long *)p, buf, sizeof buf);
			printf("%s = \"%s\";\n", k->path, buf);
			break;
		default:
			printf("%s = \"%s\";\n", k->path, *(char *const *)p);
			break;
		}
	}
}

/* The detectors' global limits and actions, as the configuration gives them. */
void
config_detect_limits(const struct config *cfg, struct detect_limits *lim)
{
	for (int i = 0; i < DET_COUNT; i++) {
		lim->l[i].value = cfg->detect_limit[i];
		lim->l[i].action = cfg->detect_action_choice[i];
	}
	lim->bounce_min = cfg->detect_bounce_min;
}

/*
 * policy.web_uids as uids, for the daemon, once when it takes a
 * configuration into service (start, reload): the policy loop never
 * asks the password database.  A name that is no user, or one past
 * CONFIG_WEB_UIDS_MAX, is left out with a warning.
 */
void
config_web_uids_resolve(struct config *cfg)
{
	const char *p = cfg->policy_web_uids;
	char tok[64], buf[2048], *end;
	struct passwd pw, *res;
	unsigned long uid;
	size_t n;

	cfg->policy_web_nuids = 0;
	while (*p != '\0') {
		p += strspn(p, " ,\t");
		if ((n = strcspn(p, " ,\t")) == 0)
			break;
		snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
		p += n;
		if (tok[0] >= '0' && tok[0] <= '9') {
			errno = 0;
			uid = strtoul(tok, &end, 10);
			if (errno != 0 || *end != '\0') {
				log_warnx("policy.web_uids: %s is not a uid; left out", tok);
				continue;
			}
		} else {
			res = NULL;
			if (getpwnam_r(tok, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
				log_warnx("policy.web_uids: no user %s; left out", tok);
				continue;
			}
			uid = (unsigned long)pw.pw_uid;
		}
		if (cfg->policy_web_nuids == CONFIG_WEB_UIDS_MAX) {
			log_warnx("policy.web_uids: more than %d; %s and the rest left out",
			    CONFIG_WEB_UIDS_MAX, tok);
			break;
		}
		cfg->policy_web_uid[cfg->policy_web_nuids++] = uid;
	}
}

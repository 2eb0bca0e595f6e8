/*
 * Logging: stderr when running in the foreground, syslog(LOG_MAIL)
 * otherwise.  libevent's own messages are routed here too.  Every
 * message is escaped (str_escape) after formatting, so that a value from
 * outside can neither forge a second line nor reach a terminal as an
 * escape sequence.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "str.h"

static int log_foreground = 1;
static enum log_level log_max = LOG_LEVEL_INFO;
static const char *log_ident = "mailabuse";

static const char *const log_names[] = { "error", "warning", "info", "debug" };
static const int log_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* Emit one message at a level, with an optional errno suffix. */
static void
log_vemit(enum log_level level, int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char msg[2048], safe[sizeof msg * STR_ESCAPE_MAX];

	if (level > log_max)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno) {
		size_t len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, ": %s", strerror(saved_errno));
	}
	str_escape(msg, safe, sizeof safe);
	if (log_foreground) {
		fprintf(stderr, "%s: %s%s%s\n", log_ident,
		    level <= LOG_LEVEL_WARN ? log_names[level] : "",
		    level <= LOG_LEVEL_WARN ? ": " : "", safe);
		fflush(stderr);
	} else
		syslog(log_prio[level], "%s", safe);
}

/* Route libevent's diagnostics into our log. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

/* Set up logging; call again after daemonising to switch to syslog. */
void
log_init(const char *ident, int foreground, enum log_level level)
{
	log_ident = ident;
	log_foreground = foreground;
	log_max = level;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	event_set_log_callback(log_event_cb);
}

/* Change the verbosity (configuration reload). */
void
log_level_set(enum log_level level)
{
	log_max = level;
}

/* Map "error", "warning", "info", "debug" to a level. */
int
log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(name, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Whether debug messages are kept, to skip building them otherwise. */
int
log_debug_enabled(void)
{
	return log_max >= LOG_LEVEL_DEBUG;
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_WARN, 1, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_WARN, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_INFO, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_max < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_DEBUG, 0, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERR, 1, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LEVEL_ERR, 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

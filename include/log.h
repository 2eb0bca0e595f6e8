/* log.c: one place for diagnostics: stderr in the foreground, syslog LOG_MAIL otherwise. */
#ifndef MAILABUSE_LOG_H
#define MAILABUSE_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *ident, int foreground, enum log_level level);
void log_level_set(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
int log_debug_enabled(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

/* duration.c: durations written 45s, 15m, 12h, 30d (pure). */
#ifndef MAILABUSE_DURATION_H
#define MAILABUSE_DURATION_H

#include <stddef.h>

int duration_parse(const char *text, long long *seconds, char *err, size_t errlen);
void duration_format(long long seconds, char *buf, size_t len);

#endif

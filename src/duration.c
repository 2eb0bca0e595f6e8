/*
 * Durations as written in the configuration and on the command line:
 * a positive decimal number followed by one unit, s, m, h or d.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

/* The longest duration we accept: 100 years, far below any overflow. */
#define DURATION_MAX (100LL * 366 * 86400)

/* Parse "30d" into seconds; 0 on success, -1 with err filled. */
int
duration_parse(const char *text, long long *seconds, char *err, size_t errlen)
{
	long long n = 0, unit;
	const char *p = text;

	if (text == NULL || *text == '\0') {
		snprintf(err, errlen, "empty duration");
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen, "invalid duration \"%s\": expected a number followed by s, m, h or d", text);
		return -1;
	}
	while (isdigit((unsigned char)*p)) {
		if (n > DURATION_MAX) {
			snprintf(err, errlen, "duration \"%s\" is too long", text);
			return -1;
		}
		n = n * 10 + (*p - '0');
		p++;
	}
	switch (*p) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		snprintf(err, errlen, "invalid duration \"%s\": the unit must be one of s, m, h, d", text);
		return -1;
	}
	if (p[1] != '\0') {
		snprintf(err, errlen, "invalid duration \"%s\": trailing characters after the unit", text);
		return -1;
	}
	if (n > DURATION_MAX / unit) {
		snprintf(err, errlen, "duration \"%s\" is too long", text);
		return -1;
	}
	*seconds = n * unit;
	return 0;
}

/* Write seconds back in the largest unit that divides it exactly. */
void
duration_format(long long seconds, char *buf, size_t len)
{
	if (seconds != 0 && seconds % 86400 == 0)
		snprintf(buf, len, "%lldd", seconds / 86400);
	else if (seconds != 0 && seconds % 3600 == 0)
		snprintf(buf, len, "%lldh", seconds / 3600);
	else if (seconds != 0 && seconds % 60 == 0)
		snprintf(buf, len, "%lldm", seconds / 60);
	else
		snprintf(buf, len, "%llds", seconds);
}

/* clock.c: the one place that reads the wall clock, and the monotonic one. */
#ifndef MAILABUSE_CLOCK_H
#define MAILABUSE_CLOCK_H

long long clock_now(void);
long long clock_mono_ms(void);

#endif

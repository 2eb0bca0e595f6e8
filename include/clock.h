/* clock.c: the one place that reads the wall clock. */
#ifndef MAILABUSE_CLOCK_H
#define MAILABUSE_CLOCK_H

long long clock_now(void);

#endif

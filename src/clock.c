/*
 * The wall clock, read in one place.  The pure modules (policy, detect,
 * decision, lifecycle's rules) take "now" as an argument and never read
 * it; the loops, threads and commands that call them do, through here.
 * The monotonic clock is read here too, for deadlines and ages.
 */
#include <time.h>

#include "clock.h"

/* Seconds since the epoch. */
long long
clock_now(void)
{
	return (long long)time(NULL);
}

/* Milliseconds on CLOCK_MONOTONIC: for deadlines that wall-clock jumps do not move. */
long long
clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

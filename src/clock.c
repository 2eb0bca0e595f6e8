/*
 * The wall clock, read in one place.  The pure modules (policy, detect,
 * decision, lifecycle's rules) take "now" as an argument and never read
 * it; the loops, threads and commands that call them do, through here.
 */
#include <time.h>

#include "clock.h"

/* Seconds since the epoch. */
long long
clock_now(void)
{
	return (long long)time(NULL);
}

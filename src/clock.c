/*
 * The wall clock.  Everything that depends on time takes "now" as an
 * argument; only the programs' entry points call clock_now().
 */
#include <time.h>

#include "clock.h"

/* Seconds since the epoch. */
long long
clock_now(void)
{
	return (long long)time(NULL);
}

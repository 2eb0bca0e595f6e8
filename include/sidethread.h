/*
 * sidethread.c: a thread of its own beside the policy loop (the user
 * socket, the metrics endpoint): its own event base, at a lower CPU
 * priority, taking no signals, told by the policy loop through a pipe
 * to take a new configuration (the loop's own, parsed once) or to stop.
 */
#ifndef MAILABUSE_SIDETHREAD_H
#define MAILABUSE_SIDETHREAD_H

#include <stddef.h>

struct config;
struct event_base;
struct sidethread;

/* What the owner does; each is called on the thread, with arg. */
struct sidethread_ops {
	const char *name;		/* "user socket", "metrics endpoint": for messages */
	int nice;			/* added to the thread's CPU priority */
	/* SIGHUP, passed on: the policy loop's new configuration, the owner's to free */
	void (*reload)(void *arg, struct config *cfg);
	void (*stop)(void *arg);	/* SIGTERM, passed on */
	void (*done)(void *arg);	/* the loop has left; may be NULL */
};

struct sidethread *sidethread_new(const struct sidethread_ops *ops, void *arg, char *err,
    size_t errlen);
struct event_base *sidethread_base(struct sidethread *t);
int sidethread_start(struct sidethread *t, char *err, size_t errlen);
void sidethread_reload(struct sidethread *t, const struct config *cfg);
void sidethread_ask_stop(struct sidethread *t);
void sidethread_join(struct sidethread *t);
void sidethread_free(struct sidethread *t);

#endif

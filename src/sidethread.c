/*
 * A thread beside the policy loop, with an event base of its own.  The
 * policy loop tells it through a pipe, one byte a word: 'r' reload,
 * 's' stop.  A reload hands over a copy of the loop's configuration,
 * left in a slot under a lock: the thread never reads the file itself,
 * so it cannot see another version of it than the loop checked.  The
 * thread starts with every signal blocked (they are the policy loop's)
 * and lowers its own CPU priority so that it yields to Exim's answers.  The owner makes its events on sidethread_base()
 * before sidethread_start(), and frees them before sidethread_free().
 */
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "sidethread.h"

#define SIDETHREAD_RELOAD 'r'
#define SIDETHREAD_STOP 's'

struct sidethread {
	const struct sidethread_ops *ops;
	void *arg;
	pthread_t thread;
	int started;
	int ctl[2];			/* the policy loop writes the words */
	pthread_mutex_t lock;		/* of pending */
	struct config *pending;		/* the newest configuration not yet taken */
	struct event_base *base;
	struct event *ctl_ev;
};

/* On the thread: the pending configuration, if any, to the owner. */
static void
sidethread_take(struct sidethread *t)
{
	struct config *cfg;

	pthread_mutex_lock(&t->lock);
	cfg = t->pending;
	t->pending = NULL;
	pthread_mutex_unlock(&t->lock);
	if (cfg != NULL)
		t->ops->reload(t->arg, cfg);
}

/* The configuration left in the slot, freed. */
static void
sidethread_config_free(struct config *cfg)
{
	if (cfg != NULL) {
		config_free(cfg);
		free(cfg);
	}
}

/* A word from the policy loop. */
static void
sidethread_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sidethread *t = arg;
	char buf[64];
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == SIDETHREAD_RELOAD)
				sidethread_take(t);
			else if (buf[i] == SIDETHREAD_STOP)
				t->ops->stop(t->arg);
		}
}

/* The thread: yield the CPU, run the loop, let the owner finish. */
static void *
sidethread_main(void *arg)
{
	struct sidethread *t = arg;

	/* per-thread on Linux: only this thread yields */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), t->ops->nice) == -1)
		log_debug("%s: cannot lower the thread's priority: %s", t->ops->name,
		    strerror(errno));
	event_base_dispatch(t->base);
	if (t->ops->done != NULL)
		t->ops->done(t->arg);
	return NULL;
}

/* The pipe, the event base and the pipe's event; the thread is not started. */
struct sidethread *
sidethread_new(const struct sidethread_ops *ops, void *arg, char *err, size_t errlen)
{
	struct sidethread *t = calloc(1, sizeof *t);

	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->ops = ops;
	t->arg = arg;
	t->ctl[0] = t->ctl[1] = -1;
	pthread_mutex_init(&t->lock, NULL);
	if (pipe2(t->ctl, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((t->base = event_base_new()) == NULL ||
	    (t->ctl_ev = event_new(t->base, t->ctl[0], EV_READ | EV_PERSIST,
	    sidethread_ctl_cb, t)) == NULL || event_add(t->ctl_ev, NULL) == -1) {
		snprintf(err, errlen, "cannot create the %s's events", ops->name);
		goto fail;
	}
	return t;
fail:
	sidethread_free(t);
	return NULL;
}

/* The thread's event base, for the owner's events. */
struct event_base *
sidethread_base(struct sidethread *t)
{
	return t->base;
}

/* Start the thread with every signal blocked. */
int
sidethread_start(struct sidethread *t, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t->thread, NULL, sidethread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the %s's thread: %s", t->ops->name,
		    strerror(rc));
		return -1;
	}
	t->started = 1;
	return 0;
}

/* Tell the thread one byte's worth; a full pipe already holds that word. */
static void
sidethread_tell(struct sidethread *t, char what)
{
	while (write(t->ctl[1], &what, 1) == -1 && errno == EINTR)
		;
}

/*
 * SIGHUP: a copy of cfg for the thread, whose reload runs on the thread;
 * a copy it has not taken yet is replaced.  Out of memory, the thread
 * keeps its configuration.
 */
void
sidethread_reload(struct sidethread *t, const struct config *cfg)
{
	struct config *next = calloc(1, sizeof *next), *old;

	if (next == NULL || config_copy(next, cfg) == -1) {
		free(next);
		log_warnx("%s: out of memory: keeping the current configuration", t->ops->name);
		return;
	}
	pthread_mutex_lock(&t->lock);
	old = t->pending;
	t->pending = next;
	pthread_mutex_unlock(&t->lock);
	sidethread_config_free(old);
	sidethread_tell(t, SIDETHREAD_RELOAD);
}

/* SIGTERM: the thread's stop runs on the thread; nothing waits for it. */
void
sidethread_ask_stop(struct sidethread *t)
{
	sidethread_tell(t, SIDETHREAD_STOP);
}

/* Ask the thread to stop and wait until it has left. */
void
sidethread_join(struct sidethread *t)
{
	if (!t->started)
		return;
	sidethread_tell(t, SIDETHREAD_STOP);
	pthread_join(t->thread, NULL);
	t->started = 0;
}

/* Free the event base, its pipe event and the pipe (the thread is not running). */
void
sidethread_free(struct sidethread *t)
{
	if (t == NULL)
		return;
	if (t->ctl_ev != NULL)
		event_free(t->ctl_ev);
	if (t->base != NULL)
		event_base_free(t->base);
	if (t->ctl[0] != -1)
		close(t->ctl[0]);
	if (t->ctl[1] != -1)
		close(t->ctl[1]);
	sidethread_config_free(t->pending);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

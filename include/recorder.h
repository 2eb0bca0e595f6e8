/*
 * recorder.c: the daemon's writer thread.  The event loop hands it what
 * must be written (message records, delivery outcomes, automatic
 * suspensions) and never waits for it: records beyond the queue's bound
 * are dropped and counted, suspensions are never dropped.  It works on
 * a copy of the loop's configuration, given at start and at each reload.
 */
#ifndef MAILABUSE_RECORDER_H
#define MAILABUSE_RECORDER_H

#include <stddef.h>

#include "store.h"

struct recorder;
struct config;

typedef void (*recorder_done_cb)(void *arg, const char *account, int ok);

/* done_fd gets a byte when suspensions are done: recorder_done_take them. */
struct recorder *recorder_start(const struct config *cfg, int done_fd, char *err,
    size_t errlen);
void recorder_stop(struct recorder *r, recorder_done_cb cb, void *arg);
void recorder_done_take(struct recorder *r, recorder_done_cb cb, void *arg);

int recorder_message(struct recorder *r, const struct message_record *m, size_t max);
int recorder_outcome(struct recorder *r, const char *msgid, const char *outcome, size_t max);
void recorder_suspend(struct recorder *r, const char *account, const char *reason,
    const char *ref);
void recorder_reload(struct recorder *r, const struct config *cfg);

#endif

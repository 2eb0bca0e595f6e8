/*
 * usersock.c: the user socket on a thread of its own, with its own event
 * base and database connection, so that no owner's request ever waits
 * in front of, or delays, a policy answer on the daemon's event loop.
 * selfservice.c: what an owner's request does.
 */
#ifndef MAILABUSE_USERSOCK_H
#define MAILABUSE_USERSOCK_H

#include <stddef.h>

#include "config.h"
#include "proto.h"
#include "store.h"

struct usersock;

/* usersock.c: fd is the bound, listening user socket; the thread owns it from here. */
struct usersock *usersock_start(const char *conf_path, const struct config *cfg, int fd,
    char *err, size_t errlen);
void usersock_reload(struct usersock *us, const struct config *cfg);
void usersock_unlisten(struct usersock *us);
void usersock_stop(struct usersock *us);

/* Who is on the other end of a user-socket connection (SO_PEERCRED). */
struct selfservice_peer {
	unsigned long long id;		/* the connection, for log lines */
	int known;			/* SO_PEERCRED gave uid */
	unsigned long uid;
};

/* selfservice.c: notify gets the account whose notices are to be sent now, or "". */
struct history;
enum verdict selfservice_request(struct store *st, struct history *h, const struct config *cfg,
    const struct selfservice_peer *peer, const struct proto_request *req, char **text,
    char *notify, size_t notify_len);

#endif

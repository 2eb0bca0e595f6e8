/* proto.c: the policy socket protocol, request parser and reply formatter (pure). */
#ifndef MAILABUSE_PROTO_H
#define MAILABUSE_PROTO_H

#include <stddef.h>

#define PROTO_VERSION "MAILABUSE/1"

enum proto_verb {
	PROTO_CHECK, PROTO_PING, PROTO_STATUS, PROTO_HISTORY, PROTO_UNBLOCK, PROTO_EVENT
};

enum verdict {
	VERDICT_PASS, VERDICT_REFUSE, VERDICT_DEFER, VERDICT_ERROR, VERDICT_OK, VERDICT_REFUSED,
	VERDICT_HOLD
};

/*
 * A parsed request.  The strings point into the caller's line buffer,
 * decoded in place, or to a static empty string for absent fields.
 */
struct proto_request {
	enum proto_verb verb;
	const char *ctx;
	const char *auth;
	const char *uid;
	const char *sender;
	const char *rcpt;
	const char *ip;
	const char *script;
	const char *stage;	/* CHECK ctx=smtp: "rcpt" (default) or "data" */
	const char *msgid;	/* CHECK at data, EVENT: Exim's message id */
	const char *event;	/* EVENT: Exim's $event_name */
	const char *nrcpt;	/* whole messages: how many recipients in all */
	const char *age;	/* EVENT: seconds since the message was received */
	const char *account;	/* user socket: the account to act for */
	const char *limit;	/* user socket: HISTORY length */
	const char *since;	/* user socket: HISTORY period, a duration */
	const char *port;	/* CHECK of a loopback session: the client's port */
	const char *lip;	/* ... and the server's address and port it connected to */
	const char *lport;
	const char *parent;	/* CHECK ctx=route: the address redirected to rcpt */
};

int proto_request_parse(char *line, struct proto_request *req, char *err, size_t errlen);
int proto_reply_format(enum verdict v, const char *text, char *buf, size_t len);
const char *proto_verdict_name(enum verdict v);

long proto_base64_decode(const char *in, size_t inlen, char *out, size_t outlen);
long proto_base64_encode(const char *in, size_t inlen, char *out, size_t outlen);

int proto_rcpt_next(const char **cursor, char *out, size_t outlen);
const char *proto_addr_domain(const char *addr);
void proto_sanitize(const char *in, char *out, size_t outlen);

#endif

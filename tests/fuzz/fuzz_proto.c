/*
 * libFuzzer target for the request parser and the reply formatter:
 * any bytes as a request line must parse or fail cleanly, never read or
 * write out of bounds, and a successful parse must give fields that
 * re-encode and parse to the same values.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a request line on the policy socket. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req, again;
	char *line, err[128], reply[700], enc[4096], rebuilt[8192];
	const char *cur;
	size_t n;

	if (size > 2048)
		return 0;
	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (proto_request_parse(line, &req, err, sizeof err) == 0 && req.verb == PROTO_CHECK) {
		/* what parsed re-encodes to a request that parses to the same values */
		n = (size_t)snprintf(rebuilt, sizeof rebuilt, PROTO_VERSION " CHECK ctx=");
		proto_base64_encode(req.ctx, strlen(req.ctx), enc, sizeof enc);
		n += (size_t)snprintf(rebuilt + n, sizeof rebuilt - n, "%s auth=", enc);
		proto_base64_encode(req.auth, strlen(req.auth), enc, sizeof enc);
		n += (size_t)snprintf(rebuilt + n, sizeof rebuilt - n, "%s rcpt=", enc);
		proto_base64_encode(req.rcpt, strlen(req.rcpt), enc, sizeof enc);
		snprintf(rebuilt + n, sizeof rebuilt - n, "%s", enc);
		if (proto_request_parse(rebuilt, &again, err, sizeof err) != 0 ||
		    strcmp(again.auth, req.auth) != 0 || strcmp(again.rcpt, req.rcpt) != 0)
			abort();
		for (cur = req.rcpt; proto_rcpt_next(&cur, enc, sizeof enc) == 1; )
			(void)proto_addr_domain(enc);
	}
	proto_reply_format(VERDICT_REFUSE, (const char *)line, reply, sizeof reply);
	free(line);
	return 0;
}

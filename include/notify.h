/* notify.c: notices to account owners: templates, the outbox, sendmail. */
#ifndef MAILABUSE_NOTIFY_H
#define MAILABUSE_NOTIFY_H

#include <stddef.h>

#include "config.h"
#include "store.h"

struct notify_var {
	const char *name;
	const char *value;
};

/* Pure: substitute ${name} in a template; NULL and err on an unknown name. */
char *notify_render(const char *tmpl, const struct notify_var *vars, size_t nvars,
    char *err, size_t errlen);

int notify_queue(struct store *st, const struct config *cfg, const char *account,
    const char *kind, const struct notify_var *vars, size_t nvars, long long now,
    char *err, size_t errlen);
int notify_send_due(struct store *st, const struct config *cfg, const char *account,
    long long now, int *sent, int *failed);

#endif

/* identity.c: who sent this message, the way cPanel decides it (pure). */
#ifndef MAILABUSE_IDENTITY_H
#define MAILABUSE_IDENTITY_H

#include <stddef.h>
#include <sys/types.h>

#define ACCOUNT_NAME_MAX 64
#define ADDRESS_MAX 320

enum identity_kind {
	IDENTITY_BOUNCE,	/* empty envelope sender: Exim's own bounce */
	IDENTITY_SYSTEM,	/* root or a system user */
	IDENTITY_ACCOUNT,	/* a cPanel account (bare auth name or uid) */
	IDENTITY_MAILBOX,	/* a mailbox of a cPanel account */
	IDENTITY_UNKNOWN	/* nobody we know: passes */
};

struct identity {
	enum identity_kind kind;
	char account[ACCOUNT_NAME_MAX];
	char mailbox[ADDRESS_MAX];
	const char *how;	/* "auth-mailbox", "auth-user", "uid", ... */
};

/*
 * What identity resolution needs from the store and the system.  Each
 * lookup returns 1 found, 0 not found, -1 on error.
 */
struct identity_lookup {
	int (*domain_owner)(void *ctx, const char *domain, char *account, size_t len);
	int (*account_exists)(void *ctx, const char *account);
	int (*uid_name)(void *ctx, unsigned long uid, char *name, size_t len);
	void *ctx;
};

int identity_resolve(const char *auth, const char *uid, const char *sender,
    unsigned long system_uid_max, const struct identity_lookup *lk,
    struct identity *id, char *err, size_t errlen);
int identity_domain_owner(const struct identity_lookup *lk, const char *domain,
    char *account, size_t len);
const char *identity_kind_name(enum identity_kind kind);
int identity_account_name_valid(const char *name);
int identity_domain_normalise(const char *in, char *out, size_t len);
int identity_address_local(const char *ip, const char *server_ip);
int identity_php_script_site(const char *header, char *host, size_t hostlen, char *user,
    size_t userlen);

#endif

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

/* How the sender was identified (identity_how_name: the word the logs use). */
enum identity_how {
	HOW_NONE,		/* "none" */
	HOW_BOUNCE,		/* "bounce": empty sender, no login */
	HOW_AUTH_MAILBOX,	/* "auth-mailbox": a login with a domain */
	HOW_AUTH_USER,		/* "auth-user": a bare login name */
	HOW_UID,		/* "uid": the caller's uid */
	HOW_LOOPBACK_UID,	/* "loopback-uid": the uid owning a loopback SMTP session */
	HOW_WEB_SCRIPT		/* "web-script": the site cPanel's X-PHP-Script: names */
};

struct identity {
	enum identity_kind kind;
	char account[ACCOUNT_NAME_MAX];
	char mailbox[ADDRESS_MAX];
	enum identity_how how;
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
const char *identity_how_name(enum identity_how how);
int identity_account_name_valid(const char *name);
int identity_domain_normalise(const char *in, char *out, size_t len);
int identity_address_local(const char *ip, const char *server_ip);
int identity_php_script_site(const char *header, char *host, size_t hostlen, char *user,
    size_t userlen);

#endif

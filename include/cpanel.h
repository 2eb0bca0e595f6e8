/* cpanel.c: parsers for cPanel's account files (pure). */
#ifndef MAILABUSE_CPANEL_H
#define MAILABUSE_CPANEL_H

#include <stddef.h>

int cpanel_pair_parse(char *line, char **key, char **value);
int cpanel_domain_line_parse(char *line, char **domain);
int cpanel_users_line_parse(char *line, char **key, char **value);
int cpanel_user_line_parse(char *line, char **user);

/*
 * The lines of one of cPanel's files that concern one account (sync
 * --account): kind 'o' etc/trueuserowners (the account is the key), 'd'
 * etc/userdomains (the account is the value, or the domain is one of
 * names), 'l' etc/localdomains (the domain is one of names).  names are
 * in lower case; a line is compared as ASCII without case.
 */
struct cpanel_want {
	int kind;
	const char *account;
	size_t account_len;
	char *const *names;
	const size_t *lens;
	size_t n;
};

int cpanel_want_line(const struct cpanel_want *w, const char *p, const char *e);
const char *cpanel_want_next(const struct cpanel_want *w, const char *p, const char *end,
    const char **next, size_t *lines);

#endif

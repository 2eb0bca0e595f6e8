/*
 * Line parsers for the files cPanel keeps its accounts in:
 * etc/userdomains and etc/trueuserowners ("key: value"),
 * etc/localdomains (one domain a line), var/cpanel/users/<user>
 * ("KEY=VALUE") and etc/outgoing_mail_suspended_users and
 * etc/outgoing_mail_hold_users (one user a line, "user" or "user: ...").  Pure: they split a line in place.
 * Each returns 1 for a record, 0 for a line to skip (blank or comment),
 * -1 for a malformed line.
 */
#include <ctype.h>
#include <string.h>

#include "cpanel.h"

/* Trim white space at both ends, in place. */
static char *
cpanel_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key: value", as in etc/userdomains and etc/trueuserowners. */
int
cpanel_pair_parse(char *line, char **key, char **value)
{
	char *s = cpanel_trim(line), *colon;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((colon = strchr(s, ':')) == NULL)
		return -1;
	*colon = '\0';
	*key = cpanel_trim(s);
	*value = cpanel_trim(colon + 1);
	if (**key == '\0' || **value == '\0' || strpbrk(*key, " \t") != NULL ||
	    strpbrk(*value, " \t:") != NULL)
		return -1;
	return 1;
}

/* One domain a line, as in etc/localdomains. */
int
cpanel_domain_line_parse(char *line, char **domain)
{
	char *s = cpanel_trim(line);

	if (*s == '\0' || *s == '#')
		return 0;
	if (strpbrk(s, " \t") != NULL)
		return -1;
	*domain = s;
	return 1;
}

/* "KEY=VALUE", as in var/cpanel/users/<user>. */
int
cpanel_users_line_parse(char *line, char **key, char **value)
{
	char *s = cpanel_trim(line), *eq;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) == NULL || eq == s)
		return -1;
	*eq = '\0';
	*key = s;
	*value = cpanel_trim(eq + 1);
	return 1;
}

/*
 * One user a line, as in etc/outgoing_mail_suspended_users and
 * etc/outgoing_mail_hold_users: "user", "user:" or "user: anything"
 * (an lsearch file: what follows the colon is not ours to read).
 */
int
cpanel_user_line_parse(char *line, char **user)
{
	char *s = cpanel_trim(line), *colon;

	if (*s == '\0' || *s == '#')
		return 0;
	if ((colon = strchr(s, ':')) != NULL)
		*colon = '\0';
	s = cpanel_trim(s);
	if (*s == '\0' || strpbrk(s, " \t") != NULL)
		return -1;
	*user = s;
	return 1;
}

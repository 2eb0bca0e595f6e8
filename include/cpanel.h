/* cpanel.c: parsers for cPanel's account files (pure). */
#ifndef MAILABUSE_CPANEL_H
#define MAILABUSE_CPANEL_H

#include <stddef.h>

int cpanel_pair_parse(char *line, char **key, char **value);
int cpanel_domain_line_parse(char *line, char **domain);
int cpanel_users_line_parse(char *line, char **key, char **value);
int cpanel_user_line_parse(char *line, char **user);

#endif

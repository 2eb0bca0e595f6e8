/* str.c: text from outside made safe to print, plain mail addresses, a copy cut to fit (pure). */
#ifndef MAILABUSE_STR_H
#define MAILABUSE_STR_H

#include <stddef.h>

/* Longest escape of one input byte: "\xNN". */
#define STR_ESCAPE_MAX 4

char *str_escape(const char *in, char *out, size_t outlen);
size_t str_escape_len(const char *in);
int str_address_valid(const char *s, int need_domain);
void str_copy(char *dst, size_t len, const char *src);

#endif

/*
 * libFuzzer target for the notice template renderer: any template with
 * any variable values must render or fail cleanly, give exactly what a
 * plain reference substitution gives, and never let a value add a line
 * (a header) to the notice.
 * The templates built into the programs must render with any values.
 * Input: the template, then NUL-separated values of the variables.
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The variables the notices use. */
static const char *const fuzz_names[] = {
	"account", "contact", "hostname", "owner", "cooldown", "target", "reason",
	"since", "from", "why",
};
#define FUZZ_NVARS (sizeof fuzz_names / sizeof fuzz_names[0])

struct fuzz_buf {
	char *s;
	size_t len, cap;
};

/* Append one byte, growing the buffer. */
static void
fuzz_put(struct fuzz_buf *b, char c)
{
	if (b->len + 2 > b->cap) {
		b->cap = b->cap * 2 + 64;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			abort();
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

/* A deliberately naive substitution to compare with; NULL for an error. */
static char *
fuzz_reference(const char *t, const struct notify_var *vars, size_t nvars)
{
	struct fuzz_buf b = { NULL, 0, 0 };

	if ((b.s = calloc(1, b.cap = 64)) == NULL)
		abort();
	while (*t != '\0') {
		if (t[0] == '$' && t[1] == '$') {
			fuzz_put(&b, '$');
			t += 2;
		} else if (t[0] == '$' && t[1] == '{') {
			const char *e = strchr(t + 2, '}');
			size_t i;

			if (e == NULL)
				goto fail;
			for (i = 0; i < nvars; i++)
				if ((size_t)(e - t - 2) == strlen(vars[i].name) &&
				    memcmp(t + 2, vars[i].name, strlen(vars[i].name)) == 0)
					break;
			if (i == nvars)
				goto fail;
			for (const char *v = vars[i].value != NULL ? vars[i].value : ""; *v; v++)
				fuzz_put(&b, *v == '\r' || *v == '\n' ? ' ' : *v);
			t = e + 1;
		} else
			fuzz_put(&b, *t++);
	}
	return b.s;
fail:
	free(b.s);
	return NULL;
}

/* How many times c occurs in s. */
static size_t
fuzz_count(const char *s, char c)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == c;
	return n;
}

/* One input: a template and the values of its variables. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct notify_var vars[FUZZ_NVARS];
	char *buf, *p, *end, *out, *ref, err[256];
	size_t nvars = 0;

	if (size > 16384)
		return 0;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	end = buf + size;
	p = buf + strlen(buf);		/* the template ends at the first NUL */
	for (size_t i = 0; i < FUZZ_NVARS; i++) {
		vars[i].name = fuzz_names[i];
		vars[i].value = NULL;		/* an absent value renders empty */
		if (p < end) {
			vars[i].value = ++p;
			p += strlen(p);
		}
		nvars++;
	}
	/* the first byte may take variables away, to reach "unknown variable" */
	if (size > 0)
		nvars = (unsigned char)buf[0] % (FUZZ_NVARS + 1);

	err[0] = '\0';
	out = notify_render(buf, vars, nvars, err, sizeof err);
	ref = fuzz_reference(buf, vars, nvars);
	if ((out == NULL) != (ref == NULL))
		abort();
	if (out == NULL) {
		if (err[0] == '\0')
			abort();
	} else {
		if (strcmp(out, ref) != 0)
			abort();
		/* a value never adds a line: no more CR or LF than the template has */
		if (fuzz_count(out, '\n') > fuzz_count(buf, '\n') ||
		    fuzz_count(out, '\r') > fuzz_count(buf, '\r'))
			abort();
	}
	free(out);
	free(ref);

	/* every built-in template, with these values for all its variables */
	for (const struct notify_builtin *b = notify_builtins; b->kind != NULL; b++) {
		if ((out = notify_render(b->text, vars, FUZZ_NVARS, err, sizeof err)) == NULL)
			abort();	/* a built-in uses only the variables the notices have */
		if (fuzz_count(out, '\n') != fuzz_count(b->text, '\n') ||
		    fuzz_count(out, '\r') != fuzz_count(b->text, '\r'))
			abort();
		free(out);
	}
	free(buf);
	return 0;
}

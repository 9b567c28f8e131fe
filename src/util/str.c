#include "util/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

char *str_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : out;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *str_hex(const unsigned char *in, size_t n)
{
	char *out = malloc(n * 2 + 1);
	if (!out)
		return NULL;
	sodium_bin2hex(out, n * 2 + 1, in, n);
	return out;
}

bool str_equal_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	/* Compare fixed-size digests so the time does not depend on where
	 * the strings first differ. */
	unsigned char da[crypto_generichash_BYTES], db[crypto_generichash_BYTES];

	crypto_generichash(da, sizeof(da), (const unsigned char *)a, la, NULL, 0);
	crypto_generichash(db, sizeof(db), (const unsigned char *)b, lb, NULL, 0);
	return sodium_memcmp(da, db, sizeof(da)) == 0 && la == lb;
}

/* str: small string helpers. Pure, thread-safe; results are malloc'd and owned by the caller. */
#ifndef CHAPPE_UTIL_STR_H
#define CHAPPE_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>

/* strdup that passes NULL through. */
char *str_dup(const char *s);
/* asprintf that returns NULL on failure. */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool str_has_prefix(const char *s, const char *prefix);
/* Lower-case hex of n bytes into a malloc'd string. */
char *str_hex(const unsigned char *in, size_t n);
/* Constant-time equality of two NUL-terminated strings of possibly
 * different lengths (time depends only on the lengths). */
bool str_equal_ct(const char *a, const char *b);

#endif

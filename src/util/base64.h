/*
 * base64: unpadded Base64 as the Matrix appendix "Unpadded Base64" defines it
 * (RFC 4648 standard alphabet, no "=" padding) and its URL-safe variant
 * (appendix "URL-safe unpadded Base64": "-" and "_" as the 62nd and 63rd
 * characters, RFC 4648 section 5).
 *
 * Contract:
 * - Encoders return a malloc'd NUL-terminated string the caller frees, or NULL
 *   on out-of-memory (or a length so large the output cannot be sized).
 * - Decoders accept padded or unpadded input (the appendix: implementations
 *   SHOULD accept input with or without padding). Padding, if present, must be
 *   the last one or two characters and make the length a multiple of four.
 *   Any character outside the variant's alphabet is refused (no whitespace,
 *   no mixing of the two alphabets). Unused low bits of the last character are
 *   ignored, as Python's base64 (and so Synapse) ignores them.
 *   On success they return 0 and hand over a malloc'd buffer in *out (never
 *   NULL, even for empty input, so the caller can always free it) with its
 *   length in *out_len. On failure they return -1 and leave *out NULL.
 * - Pure functions: no global state, safe from any thread.
 */
#ifndef CHAPPE_UTIL_BASE64_H
#define CHAPPE_UTIL_BASE64_H

#include <stddef.h>

char *b64_encode(const unsigned char *in, size_t len);
char *b64url_encode(const unsigned char *in, size_t len);
int   b64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);
int   b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif

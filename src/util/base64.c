/*
 * base64: see base64.h for the contract.
 */
#include "util/base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char b64_std_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode_with(const unsigned char *in, size_t len, const char alphabet[64])
{
	size_t full = len / 3, rest = len % 3, out_len, i, o = 0;
	char *out;

	/* 4 characters per 3 bytes, rounded up, plus the NUL; refuse lengths
	 * whose output size would not fit a size_t. */
	if (len > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out_len = full * 4 + (rest ? rest + 1 : 0);
	out = malloc(out_len + 1);
	if (out == NULL)
		return NULL;
	for (i = 0; i < full * 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (rest) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (rest == 2)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (rest == 2)
			out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

char *b64_encode(const unsigned char *in, size_t len)
{
	return b64_encode_with(in, len, b64_std_alphabet);
}

char *b64url_encode(const unsigned char *in, size_t len)
{
	return b64_encode_with(in, len, b64_url_alphabet);
}

/* Value of c in the variant's alphabet, or -1. Written out rather than a
 * 256-entry table so that the two variants cannot drift apart. */
static int b64_char_value(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static int b64_decode_with(const char *in, size_t len, unsigned char **out, size_t *out_len,
                           int url)
{
	size_t data_len = len, pad = 0, n, i, o = 0;
	unsigned char *buf = NULL;
	uint32_t acc = 0;
	int bits = 0;

	if (out == NULL || out_len == NULL || (in == NULL && len != 0))
		return -1;
	*out = NULL;
	while (data_len > 0 && in[data_len - 1] == '=' && pad < 2) {
		data_len--;
		pad++;
	}
	/* Padding is optional, but when present it must complete the last
	 * quantum: "Zg==" and "Zg" are fine, "Zg=" and "Zm9v=" are not. */
	if (pad && len % 4 != 0)
		return -1;
	/* A single leftover character carries only 6 bits: never valid. */
	if (data_len % 4 == 1)
		return -1;
	n = data_len / 4 * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
	buf = malloc(n ? n : 1);
	if (buf == NULL)
		return -1;
	for (i = 0; i < data_len; i++) {
		int v = b64_char_value(in[i], url);
		if (v < 0)
			goto err;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	*out = buf;
	*out_len = o;
	return 0;
err:
	free(buf);
	return -1;
}

int b64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	return b64_decode_with(in, len, out, out_len, 0);
}

int b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	return b64_decode_with(in, len, out, out_len, 1);
}

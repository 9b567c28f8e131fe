#include "http/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	enum route_prefix bit;
	const char *text;
} prefix_texts[] = {
	{ PFX_CLIENT_V3, "/_matrix/client/v3" },
	{ PFX_CLIENT_R0, "/_matrix/client/r0" },
	{ PFX_CLIENT_V1, "/_matrix/client/v1" },
	{ PFX_MEDIA_V3, "/_matrix/media/v3" },
	{ PFX_MEDIA_R0, "/_matrix/media/r0" },
	{ PFX_SYNAPSE_ADMIN, "/_synapse/admin" },
	{ PFX_ROOT, "" },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *router_percent_decode(const char *src, size_t len)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '%') {
			int hi, lo;
			if (i + 2 >= len)
				goto bad;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = src[i];
		}
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Placeholders named after an identifier are checked once here, so no
 * handler sees a "room ID" without its sigil or a 10 KiB "user ID". */
static bool param_valid(const char *name, size_t name_len, const char *value)
{
	static const struct { const char *name; char sigil; } ids[] = {
		{ "roomId", '!' }, { "userId", '@' }, { "eventId", '$' },
	};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if (strlen(ids[i].name) == name_len && memcmp(name, ids[i].name, name_len) == 0) {
			size_t n = strlen(value);
			return n >= 2 && n <= 255 && value[0] == ids[i].sigil;
		}
	}
	return true;
}

/* Match rest (the path after a prefix) against pattern. Records segment
 * spans of placeholders into starts/lens. */
static bool pattern_match(const char *pattern, const char *rest,
                          const char *starts[REQUEST_MAX_PARAMS],
                          size_t lens[REQUEST_MAX_PARAMS], size_t *n)
{
	const char *p = pattern, *r = rest;

	*n = 0;
	while (*p && *r) {
		if (*p != '/' || *r != '/')
			return false;
		p++;
		r++;
		const char *pend = strchr(p, '/');
		const char *rend = strchr(r, '/');
		size_t plen = pend ? (size_t)(pend - p) : strlen(p);
		size_t rlen = rend ? (size_t)(rend - r) : strlen(r);

		if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (rlen == 0 || *n >= REQUEST_MAX_PARAMS)
				return false;
			starts[*n] = r;
			lens[*n] = rlen;
			(*n)++;
		} else if (plen != rlen || memcmp(p, r, plen) != 0) {
			return false;
		}
		p += plen;
		r += rlen;
	}
	return *p == '\0' && *r == '\0';
}

/* The name of the k-th {placeholder} of pattern. */
static void placeholder_name(const char *pattern, size_t k, const char **name, size_t *len)
{
	const char *p = pattern;
	*name = "";
	*len = 0;
	while ((p = strchr(p, '{')) != NULL) {
		const char *close = strchr(p, '}');
		if (!close)
			return;
		if (k-- == 0) {
			*name = p + 1;
			*len = (size_t)(close - p - 1);
			return;
		}
		p = close + 1;
	}
}

/* Which prefix of the row's set starts the path; returns the rest. */
static const char *strip_prefix(unsigned int prefixes, const char *path)
{
	for (size_t i = 0; i < sizeof(prefix_texts) / sizeof(prefix_texts[0]); i++) {
		size_t n;
		if (!(prefixes & prefix_texts[i].bit))
			continue;
		n = strlen(prefix_texts[i].text);
		if (strncmp(path, prefix_texts[i].text, n) == 0 && (path[n] == '/' || n == 0))
			return path + n;
	}
	return NULL;
}

enum router_result router_match(const struct route *table, size_t n, enum http_method method,
                                const char *path, const struct route **out,
                                char *params[REQUEST_MAX_PARAMS], size_t *n_params)
{
	bool path_known = false;
	const char *starts[REQUEST_MAX_PARAMS];
	size_t lens[REQUEST_MAX_PARAMS];
	size_t np;

	*n_params = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rest = strip_prefix(table[i].prefixes, path);
		if (!rest || !pattern_match(table[i].pattern, rest, starts, lens, &np))
			continue;
		path_known = true;
		/* HEAD is answered like GET, without the body (the server drops it). */
		if (table[i].method != method &&
		    !(method == HTTP_HEAD && table[i].method == HTTP_GET))
			continue;
		for (size_t k = 0; k < np; k++) {
			const char *name;
			size_t name_len;
			params[k] = router_percent_decode(starts[k], lens[k]);
			placeholder_name(table[i].pattern, k, &name, &name_len);
			if (!params[k] || !param_valid(name, name_len, params[k])) {
				for (size_t j = 0; j <= k; j++)
					free(params[j]);
				return ROUTER_BAD_PATH;
			}
		}
		*n_params = np;
		*out = &table[i];
		return ROUTER_MATCH;
	}
	return path_known ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

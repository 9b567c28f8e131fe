/*
 * canonical: see canonical.h for the contract.
 *
 * Parsing is jansson's (strict RFC 8259, UTF-8 checked, NUL refused unless
 * asked for) plus a depth pre-scan, because jansson's depth limit is a
 * compile-time constant. Encoding is our own: jansson's dumper cannot refuse
 * reals or out-of-range integers, writes \u escapes in upper case where the
 * spec's grammar requires lower case, and sorts keys with strcmp, which stops
 * at an embedded U+0000.
 */
#include "json/canonical.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---------------------------------------------------------- */

/* Deepest container nesting in text, stopping early once past limit. Only
 * brackets outside strings count; the text need not be valid (jansson
 * judges that afterwards), this only keeps jansson's recursion bounded. */
static int cjson_text_depth_exceeds(const char *text, size_t len, int limit)
{
	int depth = 0, in_string = 0, escaped = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (c == '\\')
				escaped = 1;
			else if (c == '"')
				in_string = 0;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > limit)
				return 1;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static enum cjson_status cjson_status_from_jansson(const json_error_t *err)
{
	/* jansson 2.14 reports most failed allocations inside the parser by
	 * returning NULL without setting any error: the text stays empty and
	 * the code byte keeps whatever was there (we zero it). Every genuine
	 * parse error sets a message. */
	if (err->text[0] == '\0')
		return CJSON_OOM;
	switch (json_error_code(err)) {
	case json_error_out_of_memory:
		return CJSON_OOM;
	case json_error_stack_overflow:
		return CJSON_TOO_DEEP;
	case json_error_numeric_overflow:
		return CJSON_BAD_JSON;
	default:
		/* invalid UTF-8, syntax (NaN, Infinity, trailing data), NUL,
		 * duplicate keys, premature end: the text is not JSON we take. */
		return CJSON_NOT_JSON;
	}
}

json_t *cjson_parse(const char *text, size_t len, int max_depth, enum cjson_status *status,
                    char *errbuf, size_t errbuf_len)
{
	enum cjson_status st = CJSON_OK;
	json_error_t err;
	json_t *value = NULL;

	if (max_depth > CJSON_MAX_DEPTH)
		max_depth = CJSON_MAX_DEPTH;
	if (max_depth < 0)
		max_depth = 0;
	if (text == NULL || len == 0) {
		st = CJSON_NOT_JSON;
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "empty input");
		goto out;
	}
	if (cjson_text_depth_exceeds(text, len, max_depth)) {
		st = CJSON_TOO_DEEP;
		if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "nesting deeper than %d", max_depth);
		goto out;
	}
	memset(&err, 0, sizeof err);
	value = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (value == NULL) {
		st = cjson_status_from_jansson(&err);
		if (errbuf && errbuf_len && st == CJSON_OOM)
			snprintf(errbuf, errbuf_len, "out of memory");
		else if (errbuf && errbuf_len)
			snprintf(errbuf, errbuf_len, "%s (at byte %d)", err.text, err.position);
	}
out:
	if (status)
		*status = st;
	return value;
}

const char *cjson_status_str(enum cjson_status status)
{
	switch (status) {
	case CJSON_OK:
		return "ok";
	case CJSON_NOT_JSON:
		return "not valid JSON";
	case CJSON_BAD_JSON:
		return "unacceptable JSON value";
	case CJSON_TOO_DEEP:
		return "JSON nested too deeply";
	case CJSON_OOM:
		return "out of memory";
	}
	return "unknown status";
}

/* ---- encoding ----------------------------------------------------------- */

/* Output sink. With dry set nothing is stored: cjson_check walks the value
 * with the same code as the encoder, so the two can never disagree. */
struct cjson_out {
	char *buf;
	size_t len, cap;
	int dry;
};

static int cjson_out_put(struct cjson_out *o, const char *s, size_t n)
{
	if (o->dry)
		return 0;
	if (n > SIZE_MAX - 1 - o->len)
		return -1;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *nb;
		while (cap < o->len + n + 1) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		nb = realloc(o->buf, cap);
		if (nb == NULL)
			return -1;
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
 * jansson checks strings it creates, but json_string_nocheck and
 * json_object_set_nocheck let unchecked bytes in; canonical output must be
 * UTF-8 whatever built the value. */
static int cjson_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t need, k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Write a string per the spec's grammar: '"' and '\' and the five controls
 * with short escapes use them, other controls below U+0020 are \u00xx in
 * lower case, everything else (including '/', DEL and non-ASCII) is raw. */
static int cjson_write_string(struct cjson_out *o, const char *s, size_t n)
{
	size_t i, run = 0;

	if (!cjson_utf8_valid((const unsigned char *)s, n))
		return -1;
	if (o->dry)
		return 0;
	if (cjson_out_put(o, "\"", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;
		size_t elen = 2;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\t': e = "\\t"; break;
		case '\n': e = "\\n"; break;
		case '\f': e = "\\f"; break;
		case '\r': e = "\\r"; break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", c);
			e = esc;
			elen = 6;
		}
		if (cjson_out_put(o, s + run, i - run) < 0 || cjson_out_put(o, e, elen) < 0)
			return -1;
		run = i + 1;
	}
	if (cjson_out_put(o, s + run, n - run) < 0 || cjson_out_put(o, "\"", 1) < 0)
		return -1;
	return 0;
}

struct cjson_member {
	const char *key;
	size_t key_len;
	json_t *value;
};

/* Order by code point: for valid UTF-8, byte order is code point order.
 * Lengths break ties so that a key that is a prefix of another sorts first,
 * and keys holding U+0000 still compare whole. */
static int cjson_member_cmp(const void *a, const void *b)
{
	const struct cjson_member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	if (c != 0)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int cjson_write_value(struct cjson_out *o, const json_t *v, int depth);

static int cjson_write_object(struct cjson_out *o, const json_t *v, int depth)
{
	size_t n = json_object_size(v), i = 0;
	struct cjson_member *m = NULL;
	void *it;
	int rc = -1;

	if (n > SIZE_MAX / sizeof *m)
		goto out;
	m = malloc(n ? n * sizeof *m : 1);
	if (m == NULL)
		goto out;
	for (it = json_object_iter((json_t *)v); it && i < n;
	     it = json_object_iter_next((json_t *)v, it), i++) {
		m[i].key = json_object_iter_key(it);
		m[i].key_len = json_object_iter_key_len(it);
		m[i].value = json_object_iter_value(it);
	}
	if (i != n || it != NULL)
		goto out;
	if (!o->dry)
		qsort(m, n, sizeof *m, cjson_member_cmp);
	if (cjson_out_put(o, "{", 1) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if ((i && cjson_out_put(o, ",", 1) < 0) ||
		    cjson_write_string(o, m[i].key, m[i].key_len) < 0 ||
		    cjson_out_put(o, ":", 1) < 0 || cjson_write_value(o, m[i].value, depth) < 0)
			goto out;
	}
	if (cjson_out_put(o, "}", 1) < 0)
		goto out;
	rc = 0;
out:
	free(m);
	return rc;
}

static int cjson_write_array(struct cjson_out *o, const json_t *v, int depth)
{
	size_t n = json_array_size(v), i;

	if (cjson_out_put(o, "[", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((i && cjson_out_put(o, ",", 1) < 0) ||
		    cjson_write_value(o, json_array_get(v, i), depth) < 0)
			return -1;
	}
	return cjson_out_put(o, "]", 1);
}

static int cjson_write_value(struct cjson_out *o, const json_t *v, int depth)
{
	char num[32];
	json_int_t iv;

	if (v == NULL)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth >= CJSON_MAX_DEPTH)
			return -1;
		return cjson_write_object(o, v, depth + 1);
	case JSON_ARRAY:
		if (depth >= CJSON_MAX_DEPTH)
			return -1;
		return cjson_write_array(o, v, depth + 1);
	case JSON_STRING:
		return cjson_write_string(o, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		iv = json_integer_value(v);
		if (iv < CJSON_INT_MIN || iv > CJSON_INT_MAX)
			return -1;
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, iv);
		return cjson_out_put(o, num, strlen(num));
	case JSON_REAL:
		/* "Float values are not permitted by this encoding." */
		return -1;
	case JSON_TRUE:
		return cjson_out_put(o, "true", 4);
	case JSON_FALSE:
		return cjson_out_put(o, "false", 5);
	case JSON_NULL:
		return cjson_out_put(o, "null", 4);
	}
	return -1;
}

char *cjson_encode(const json_t *value, size_t *out_len)
{
	struct cjson_out o = { NULL, 0, 0, 0 };

	if (cjson_write_value(&o, value, 0) < 0 || cjson_out_put(&o, "", 0) < 0) {
		free(o.buf);
		return NULL;
	}
	if (out_len)
		*out_len = o.len;
	return o.buf;
}

int cjson_check(const json_t *value)
{
	struct cjson_out o = { NULL, 0, 0, 1 };

	return cjson_write_value(&o, value, 0);
}

/* ---- lenient numbers ---------------------------------------------------- */

/* 1 and a new integer in *out if v is a real holding an exact integer in
 * the spec's range, 0 if v is anything else, -1 on OOM. */
static int cjson_integral_of(const json_t *v, json_t **out)
{
	double d;

	*out = NULL;
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	if (!isfinite(d) || d != trunc(d) || fabs(d) > (double)CJSON_INT_MAX)
		return 0;
	*out = json_integer((json_int_t)d);
	return *out ? 1 : -1;
}

static int cjson_integralize_at(json_t *v, int depth)
{
	json_t *iv;
	int r;

	if (depth > CJSON_MAX_DEPTH)
		return -1;
	if (json_is_object(v)) {
		void *it;
		for (it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
			r = cjson_integral_of(json_object_iter_value(it), &iv);
			if (r < 0 || (r > 0 && json_object_iter_set_new(v, it, iv) < 0) ||
			    (r == 0 && cjson_integralize_at(json_object_iter_value(it), depth + 1) < 0))
				return -1;
		}
	} else if (json_is_array(v)) {
		size_t i;
		for (i = 0; i < json_array_size(v); i++) {
			r = cjson_integral_of(json_array_get(v, i), &iv);
			if (r < 0 || (r > 0 && json_array_set_new(v, i, iv) < 0) ||
			    (r == 0 && cjson_integralize_at(json_array_get(v, i), depth + 1) < 0))
				return -1;
		}
	}
	return 0;
}

int cjson_integralize(json_t *value)
{
	return cjson_integralize_at(value, 0);
}

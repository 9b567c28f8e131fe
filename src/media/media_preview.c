#include "media/media_preview.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "media/media.h"
#include "util/cidr.h"

int media_preview_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void media_preview_global_cleanup(void)
{
	curl_global_cleanup();
}

/* ---- the allowlist ---------------------------------------------------- */

int media_preview_allowlist_check(const char *list)
{
	return cidr_list_valid(list) ? 0 : -1;
}

bool media_preview_allowlisted(const char *list, const struct sockaddr *sa)
{
	return cidr_list_contains(list, sa);
}

/* ---- HTML: the OpenGraph fields ---------------------------------------- */

/* Decode the few entities pages use in titles, collapse whitespace, cut
 * at PREVIEW_TEXT_MAX bytes on a UTF-8 boundary. Returns malloc'd text. */
static char *text_clean(const char *s, size_t n)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
		{ "&#39;", '\'' }, { "&apos;", '\'' }, { "&nbsp;", ' ' },
	};
	char *out = malloc(n + 1);
	size_t o = 0;
	bool space = false;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && o < PREVIEW_TEXT_MAX; i++) {
		char c = s[i];
		if (c == '&') {
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t l = strlen(ents[k].name);
				if (i + l <= n && strncasecmp(s + i, ents[k].name, l) == 0) {
					c = ents[k].c;
					i += l - 1;
					break;
				}
			}
		}
		if (isspace((unsigned char)c)) {
			space = o > 0;
			continue;
		}
		if (space && o < PREVIEW_TEXT_MAX)
			out[o++] = ' ';
		space = false;
		out[o++] = c;
	}
	while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
		o--;   /* do not end inside a multi-byte character */
	if (o > 0 && ((unsigned char)out[o - 1] & 0x80))
		o--;
	out[o] = '\0';
	return out;
}

/* The value of attribute name inside one tag [tag, end), or NULL/0. */
static const char *attr_find(const char *tag, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	for (const char *p = tag; p + nl < end; p++) {
		const char *v;
		char quote;
		if (strncasecmp(p, name, nl) != 0 || (p > tag && !isspace((unsigned char)p[-1])))
			continue;
		v = p + nl;
		while (v < end && isspace((unsigned char)*v))
			v++;
		if (v >= end || *v != '=')
			continue;
		v++;
		while (v < end && isspace((unsigned char)*v))
			v++;
		quote = (v < end && (*v == '"' || *v == '\'')) ? *v++ : 0;
		p = v;
		while (p < end && (quote ? *p != quote : !isspace((unsigned char)*p) && *p != '>'))
			p++;
		*len = (size_t)(p - v);
		return v;
	}
	return NULL;
}

static void meta_add(json_t *og, const char *tag, const char *end)
{
	size_t kl, vl;
	const char *k = attr_find(tag, end, "property", &kl);
	const char *v = attr_find(tag, end, "content", &vl);
	char key[64];

	if (!k)
		k = attr_find(tag, end, "name", &kl);
	if (!k || !v || kl < 4 || kl >= sizeof(key) || strncasecmp(k, "og:", 3) != 0)
		return;
	memcpy(key, k, kl);
	key[kl] = '\0';
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* og:image would have to be fetched into the media repository and
	 * served as an mxc URI; an external URL is not something to hand to
	 * clients, so it is left out. */
	if (strncmp(key, "og:image", 8) == 0 || json_object_get(og, key))
		return;
	{
		char *text = text_clean(v, vl);
		if (text && json_object_size(og) < 32)
			json_object_set_new(og, key, json_string(text));
		free(text);
	}
}

json_t *media_preview_parse_html(const char *html, size_t len)
{
	json_t *og = json_object();
	const char *end = html + len, *p = html;
	char *title = NULL;

	while (og && p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *gt;
		if (!lt)
			break;
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			break;
		if ((size_t)(gt - lt) > 5 && strncasecmp(lt, "<meta", 5) == 0 &&
		    isspace((unsigned char)lt[5])) {
			meta_add(og, lt + 5, gt);
		} else if (!title && (size_t)(end - lt) > 7 && strncasecmp(lt, "<title", 6) == 0 &&
		           (lt[6] == '>' || isspace((unsigned char)lt[6]))) {
			const char *start = gt + 1, *close = start;
			while (close + 8 <= end && strncasecmp(close, "</title>", 8) != 0)
				close++;
			if (close + 8 <= end)
				title = text_clean(start, (size_t)(close - start));
		}
		p = gt + 1;
	}
	if (og && title && *title && !json_object_get(og, "og:title"))
		json_object_set_new(og, "og:title", json_string(title));
	free(title);
	return og;
}

/* ---- the fetch ----------------------------------------------------------- */

struct fetch {
	const char *allowlist;
	bool blocked;             /* a connection was refused by the SSRF guard */
	char *body;
	size_t len, max;
	bool truncated;
};

/* Every socket libcurl opens passes here with the address it resolved. */
static curl_socket_t fetch_open_socket(void *clientp, curlsocktype purpose,
                                       struct curl_sockaddr *a)
{
	struct fetch *f = clientp;

	(void)purpose;
	if (media_addr_forbidden(&a->addr) && !media_preview_allowlisted(f->allowlist, &a->addr)) {
		f->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t fetch_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetch *f = userdata;
	size_t n = size * nmemb, room = f->max - f->len;

	if (n > room) {
		/* Enough to preview: keep what fits and stop reading. */
		memcpy(f->body + f->len, data, room);
		f->len += room;
		f->truncated = true;
		return 0;
	}
	memcpy(f->body + f->len, data, n);
	f->len += n;
	return n;
}

static void preview_error_set(struct preview_error *err, unsigned int status,
                              const char *errcode, const char *msg)
{
	err->status = status;
	err->errcode = errcode;
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

static CURL *fetch_handle(const char *url, struct fetch *f, long timeout_ms)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)PREVIEW_MAX_REDIRECTS);
	curl_easy_setopt(c, CURLOPT_PROXY, "");          /* never an environment proxy */
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, fetch_open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, f);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chappe URL preview");
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");   /* gzip: bounded by max after decoding */
	return c;
}

json_t *media_preview_fetch(const char *url, const char *allowlist, size_t max_bytes,
                            long timeout_ms, struct preview_error *err)
{
	struct fetch f = { .allowlist = allowlist, .max = max_bytes };
	json_t *og = NULL;
	CURL *c = NULL;
	CURLcode rc;
	long code = 0;
	char *ctype = NULL;

	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		preview_error_set(err, 400, "M_INVALID_PARAM", "Only http and https URLs are previewed");
		return NULL;
	}
	f.body = malloc(max_bytes + 1);
	if (!f.body || !(c = fetch_handle(url, &f, timeout_ms))) {
		preview_error_set(err, 500, "M_UNKNOWN", "Out of memory");
		goto out;
	}
	rc = curl_easy_perform(c);
	if (f.blocked) {
		preview_error_set(err, 403, "M_FORBIDDEN", "The URL resolves to a blocked address");
		goto out;
	}
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && f.truncated)) {
		preview_error_set(err, 502, "M_UNKNOWN", curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (code < 200 || code >= 300) {
		preview_error_set(err, 502, "M_UNKNOWN", "The page could not be fetched");
		goto out;
	}
	f.body[f.len] = '\0';
	/* Only HTML has OpenGraph fields; anything else previews as empty. */
	og = ctype && strncasecmp(ctype, "text/html", 9) == 0 ? media_preview_parse_html(f.body, f.len)
	                                                      : json_object();
	if (!og)
		preview_error_set(err, 500, "M_UNKNOWN", "Out of memory");
out:
	if (c)
		curl_easy_cleanup(c);
	free(f.body);
	return og;
}

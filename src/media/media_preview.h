/*
 * media_preview: URL previews (content_repo.md "URL previews",
 * GET /_matrix/client/v1/media/preview_url), off unless
 * url_preview_enabled.
 *
 * A preview fetches a page the user named, from the server: the classic
 * SSRF vector. Every connection libcurl opens (the first and each of at
 * most PREVIEW_MAX_REDIRECTS redirects) is checked at socket-open time
 * against the address actually resolved, so DNS rebinding cannot slip a
 * private address through: loopback, private, link-local and the other
 * ranges of media_addr_forbidden() are refused unless an operator listed
 * them in url_preview_ip_allowlist. Only http and https, no proxy from the
 * environment, at most max_bytes read and timeout_ms spent.
 *
 * Threads: any thread; media_preview_global_init() once at start.
 */
#ifndef CHAPPE_MEDIA_PREVIEW_H
#define CHAPPE_MEDIA_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <jansson.h>

#define PREVIEW_MAX_REDIRECTS 3
#define PREVIEW_TEXT_MAX 1000     /* bytes of a title or description kept */

int media_preview_global_init(void);
void media_preview_global_cleanup(void);

/* "CIDR[,CIDR...]" (IPv4 or IPv6, e.g. "127.0.0.1/32,::1/128"): 0 if
 * valid (empty is valid), -1 otherwise. */
int media_preview_allowlist_check(const char *list);
/* Is sa inside one of the CIDRs of list? */
bool media_preview_allowlisted(const char *list, const struct sockaddr *sa);

struct preview_error {
	unsigned int status;     /* HTTP status for the client */
	const char *errcode;
	char message[160];
};

/* The OpenGraph object of the page at url ({"og:title": ..., ...}; an
 * empty object for a page with nothing to show), or NULL with err set. */
json_t *media_preview_fetch(const char *url, const char *allowlist, size_t max_bytes,
                            long timeout_ms, struct preview_error *err);

/* The OpenGraph fields of an HTML document (pure; exported for tests):
 * <meta property|name="og:*" content=...> and <title> as og:title
 * fallback, entity-decoded, each at most PREVIEW_TEXT_MAX bytes. */
json_t *media_preview_parse_html(const char *html, size_t len);

#endif

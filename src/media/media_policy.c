/*
 * media_policy: the media repository's pure decisions (see media.h).
 * No I/O, no state: any thread.
 */
#include "media/media.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

bool media_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strlen(id);
	if (n == 0 || n > MEDIA_ID_MAX)
		return false;
	/* A-Za-z0-9, '_' and '-' only: no '.', '/' or encoded traversal */
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* RFC 7230 token characters, for type and subtype. */
static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool media_content_type_valid(const char *ct)
{
	size_t n, i = 0, t;

	if (!ct)
		return false;
	n = strlen(ct);
	if (n == 0 || n > MEDIA_CONTENT_TYPE_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)ct[k] < 0x20 || (unsigned char)ct[k] >= 0x7f)
			return false;   /* no header injection, no non-ASCII */
	for (t = i; token_char(ct[i]); i++)
		;
	if (i == t || ct[i] != '/')
		return false;
	for (t = ++i; token_char(ct[i]); i++)
		;
	return i > t && (ct[i] == '\0' || ct[i] == ';' || ct[i] == ' ');
}

/* Length of one UTF-8 sequence at s (well-formed, shortest form, no
 * surrogates), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

bool media_filename_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > MEDIA_FILENAME_MAX)
		return false;
	while (*p) {
		size_t k = utf8_seq(p);
		if (k == 0 || (k == 1 && (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')))
			return false;
		p += k;
	}
	return true;
}

/* The base type ("image/png" of "image/png; x=y"), lowercased, into out. */
static void type_base(const char *ct, char *out, size_t out_len)
{
	size_t i = 0;

	if (ct)
		for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < out_len; i++)
			out[i] = (char)((ct[i] >= 'A' && ct[i] <= 'Z') ? ct[i] + 32 : ct[i]);
	out[i] = '\0';
}

bool media_type_inline_safe(const char *content_type)
{
	/* content_repo "Serving inline content", verbatim */
	static const char *const safe[] = {
		"text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
		"image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
		"video/mp4", "video/webm", "video/ogg", "video/quicktime", "audio/mp4", "audio/webm",
		"audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav", "audio/x-wav",
		"audio/x-pn-wav", "audio/flac", "audio/x-flac",
	};
	char base[MEDIA_CONTENT_TYPE_MAX + 1];

	type_base(content_type, base, sizeof(base));
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(base, safe[i]) == 0)
			return true;
	return false;
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Do the bytes (sniffed) agree with the declared type? */
static bool types_agree(const char *declared, const char *sniffed)
{
	if (strcmp(declared, sniffed) == 0)
		return true;
	/* libmagic spells some image types its own way (image/x-ms-bmp...) */
	if (has_prefix(declared, "image/") && has_prefix(sniffed, "image/"))
		return true;
	if (has_prefix(declared, "video/") && has_prefix(sniffed, "video/"))
		return true;
	if (has_prefix(declared, "audio/") && has_prefix(sniffed, "audio/"))
		return true;
	/* plain text is what libmagic sees in CSS, CSV, JSON and the like; HTML
	 * it names text/html, which agrees with nothing but itself */
	if (strcmp(sniffed, "text/plain") == 0 &&
	    (has_prefix(declared, "text/") || strcmp(declared, "application/json") == 0 ||
	     strcmp(declared, "application/ld+json") == 0))
		return true;
	if (strcmp(sniffed, "application/json") == 0 &&
	    (strcmp(declared, "text/plain") == 0 || strcmp(declared, "application/ld+json") == 0))
		return true;
	/* bytes libmagic cannot name reveal nothing against a type that is
	 * never shown inline */
	if (strcmp(sniffed, "application/octet-stream") == 0 && !media_type_inline_safe(declared))
		return true;
	return false;
}

void media_type_to_serve(const char *declared, const char *sniffed, char *out, size_t out_len)
{
	char d[MEDIA_CONTENT_TYPE_MAX + 1], s[MEDIA_CONTENT_TYPE_MAX + 1];

	type_base(declared, d, sizeof(d));
	type_base(sniffed, s, sizeof(s));
	if (declared && media_content_type_valid(declared) && s[0] && types_agree(d, s) &&
	    strlen(declared) < out_len)
		snprintf(out, out_len, "%s", declared);
	else
		snprintf(out, out_len, "%s", "application/octet-stream");
}

/* RFC 8187 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~" */
static bool attr_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$&+-.^_`|~", c) != NULL);
}

char *media_disposition(const char *served_type, const char *filename)
{
	const char *kind = media_type_inline_safe(served_type) ? "inline" : "attachment";
	bool plain = true;
	size_t n, o;
	char *out;

	if (!filename || !media_filename_valid(filename))
		return strdup(kind);
	n = strlen(filename);
	/* kind; filename="<n>"; filename*=utf-8''<3n> */
	out = malloc(strlen(kind) + n * 4 + 48);
	if (!out)
		return NULL;
	o = (size_t)sprintf(out, "%s", kind);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];
		if (c >= 0x80 || c == '"' || c == '\\' || c == '%' || c == ';')
			plain = false;
	}
	if (plain)
		o += (size_t)sprintf(out + o, "; filename=\"%s\"", filename);
	o += (size_t)sprintf(out + o, "; filename*=utf-8''");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filename[i];
		if (attr_char(c))
			out[o++] = (char)c;
		else
			o += (size_t)sprintf(out + o, "%%%02X", c);
	}
	out[o] = '\0';
	return out;
}

const struct media_thumb_size media_thumb_sizes[] = {
	/* content_repo "Thumbnails": the sizes servers SHOULD produce */
	{ 32, 32, MEDIA_THUMB_CROP },
	{ 96, 96, MEDIA_THUMB_CROP },
	{ 320, 240, MEDIA_THUMB_SCALE },
	{ 640, 480, MEDIA_THUMB_SCALE },
	{ 800, 600, MEDIA_THUMB_SCALE },
};
const size_t media_thumb_sizes_count = sizeof(media_thumb_sizes) / sizeof(media_thumb_sizes[0]);

int media_thumb_choose(int width, int height, enum media_thumb_method method,
                       struct media_thumb_size *out)
{
	const struct media_thumb_size *best = NULL, *largest = NULL;

	if (width < 1 || height < 1 || width > 10000 || height > 10000)
		return -1;
	for (size_t i = 0; i < media_thumb_sizes_count; i++) {
		const struct media_thumb_size *s = &media_thumb_sizes[i];
		if (s->method != method)
			continue;
		if (!largest || (int64_t)s->width * s->height > (int64_t)largest->width * largest->height)
			largest = s;
		if (s->width >= width && s->height >= height &&
		    (!best || (int64_t)s->width * s->height < (int64_t)best->width * best->height))
			best = s;
	}
	if (!best)
		best = largest;
	if (!best)
		return -1;
	*out = *best;
	return 0;
}

static bool v4_forbidden(uint32_t a)
{
	static const struct { uint32_t net; int bits; } ranges[] = {
		{ 0x00000000, 8 },   /* 0.0.0.0/8 "this network" */
		{ 0x0a000000, 8 },   /* 10/8 private */
		{ 0x64400000, 10 },  /* 100.64/10 carrier-grade NAT */
		{ 0x7f000000, 8 },   /* 127/8 loopback */
		{ 0xa9fe0000, 16 },  /* 169.254/16 link-local (cloud metadata) */
		{ 0xac100000, 12 },  /* 172.16/12 private */
		{ 0xc0000000, 24 },  /* 192.0.0/24 IETF protocol assignments */
		{ 0xc0000200, 24 },  /* 192.0.2/24 documentation */
		{ 0xc0a80000, 16 },  /* 192.168/16 private */
		{ 0xc6120000, 15 },  /* 198.18/15 benchmarking */
		{ 0xc6336400, 24 },  /* 198.51.100/24 documentation */
		{ 0xcb007100, 24 },  /* 203.0.113/24 documentation */
		{ 0xe0000000, 4 },   /* 224/4 multicast */
		{ 0xf0000000, 4 },   /* 240/4 reserved, and 255.255.255.255 */
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint32_t mask = ranges[i].bits ? ~UINT32_C(0) << (32 - ranges[i].bits) : 0;
		if ((a & mask) == ranges[i].net)
			return true;
	}
	return false;
}

static bool v6_forbidden(const unsigned char *b)
{
	static const unsigned char zero[16] = { 0 };
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return true;                        /* :: and ::1 */
	if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 || memcmp(b, zero, 12) == 0) {
		/* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d and the deprecated ::a.b.c.d
		 * reach the embedded IPv4 address: judge that one */
		uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
		return v4_forbidden(a);
	}
	if ((b[0] & 0xfe) == 0xfc)                  /* fc00::/7 unique local */
		return true;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)  /* fe80::/10 link-local */
		return true;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)  /* fec0::/10 site-local (deprecated) */
		return true;
	if (b[0] == 0xff)                           /* ff00::/8 multicast */
		return true;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return true;                        /* 2001:db8::/32 documentation */
	if (b[0] == 0x20 && b[1] == 0x02)           /* 2002::/16 6to4 embeds any IPv4 */
		return true;
	if (b[0] == 0x01 && b[1] == 0 && memcmp(b + 2, zero, 6) == 0)
		return true;                        /* 100::/64 discard */
	return false;
}

bool media_addr_forbidden(const struct sockaddr *sa)
{
	if (!sa)
		return true;
	if (sa->sa_family == AF_INET)
		return v4_forbidden(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return v6_forbidden(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return true;
}

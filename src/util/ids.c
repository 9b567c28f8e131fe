#include "util/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool hostname_valid(const char *s, size_t n)
{
	/* appendices "Server Name": dns-name = 1*255dns-char, [0-9a-zA-Z.-] */
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool ipv6_literal_valid(const char *s, size_t n)
{
	/* IPv6address inside brackets: 2 to 45 of [0-9A-Fa-f:.] */
	if (n < 2 || n > 45)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

static bool port_valid(const char *p)
{
	size_t n = strlen(p);
	long v;
	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535;
}

bool id_server_name_valid(const char *s)
{
	const char *colon;
	size_t len = strlen(s);

	if (len == 0 || len > ID_MAX_LEN)
		return false;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || !ipv6_literal_valid(s + 1, (size_t)(close - s - 1)))
			return false;
		if (close[1] == '\0')
			return true;
		return close[1] == ':' && port_valid(close + 2);
	}
	colon = strchr(s, ':');
	if (!colon)
		return hostname_valid(s, len);
	return hostname_valid(s, (size_t)(colon - s)) && port_valid(colon + 1);
}

bool id_localpart_valid(const char *lp)
{
	size_t n = strlen(lp);
	if (n == 0 || n > ID_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = lp[i];
		if (!(is_alnum_lower(c) || c == '.' || c == '_' || c == '=' ||
		      c == '-' || c == '/' || c == '+'))
			return false;
	}
	return true;
}

bool id_user_valid(const char *uid)
{
	const char *colon;
	size_t len = strlen(uid);

	if (len < 4 || len > ID_MAX_LEN || uid[0] != '@')
		return false;
	colon = strchr(uid, ':');
	if (!colon || colon == uid + 1)
		return false;
	for (const char *p = uid + 1; p < colon; p++) {
		/* historical: %x21-39 / %x3B-7E */
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c > 0x7E || c == ':')
			return false;
	}
	return id_server_name_valid(colon + 1);
}

char *id_user_make(const char *localpart, const char *server_name)
{
	size_t n;
	char *out;

	if (!id_localpart_valid(localpart) || !id_server_name_valid(server_name))
		return NULL;
	n = strlen(localpart) + strlen(server_name) + 2;
	if (n > ID_MAX_LEN)
		return NULL;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	out[0] = '@';
	memcpy(out + 1, localpart, strlen(localpart));
	out[1 + strlen(localpart)] = ':';
	memcpy(out + 2 + strlen(localpart), server_name, strlen(server_name) + 1);
	return out;
}

bool id_user_is_local(const char *uid, const char *server_name, char *out, size_t out_len)
{
	const char *colon;
	size_t lp_len;

	if (!id_user_valid(uid))
		return false;
	colon = strchr(uid, ':');
	if (strcmp(colon + 1, server_name) != 0)
		return false;
	lp_len = (size_t)(colon - uid - 1);
	if (lp_len + 1 > out_len)
		return false;
	memcpy(out, uid + 1, lp_len);
	out[lp_len] = '\0';
	return true;
}

bool id_opaque_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ID_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' || c == '-'))
			return false;
	}
	return true;
}

void id_device_generate(char out[11])
{
	for (int i = 0; i < 10; i++)
		out[i] = (char)('A' + randombytes_uniform(26));
	out[10] = '\0';
}

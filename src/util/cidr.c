#include "util/cidr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* Parse one "addr/bits" into family, 16 address bytes and prefix length. */
static int cidr_parse(const char *s, size_t n, int *family, unsigned char addr[16], int *bits)
{
	char buf[64];
	const char *slash;
	char *end;
	long b;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	buf[slash - buf] = '\0';
	b = strtol(slash + 1, &end, 10);
	if (*end || slash[1] == '\0')
		return -1;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1 && b >= 0 && b <= 32)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1 && b >= 0 && b <= 128)
		*family = AF_INET6;
	else
		return -1;
	*bits = (int)b;
	return 0;
}

/* Call fn for each CIDR of the list; stops at the first non-zero. */
static int cidr_each(const char *list, int (*fn)(void *, int, const unsigned char *, int),
                     void *ctx)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		int family, bits, r;
		unsigned char addr[16];
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (cidr_parse(p, n, &family, addr, &bits) != 0)
			return -1;
		if ((r = fn(ctx, family, addr, bits)) != 0)
			return r;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

static int cidr_ok(void *ctx, int family, const unsigned char *addr, int bits)
{
	(void)ctx; (void)family; (void)addr; (void)bits;
	return 0;
}

bool cidr_list_valid(const char *list)
{
	return !list || cidr_each(list, cidr_ok, NULL) == 0;
}

struct cidr_match {
	int family;
	unsigned char addr[16];
};

static int cidr_contains(void *ctx, int family, const unsigned char *net, int bits)
{
	const struct cidr_match *m = ctx;
	int full = bits / 8, rest = bits % 8;

	if (family != m->family)
		return 0;
	if (memcmp(net, m->addr, (size_t)full) != 0)
		return 0;
	if (rest && ((net[full] ^ m->addr[full]) & (0xff << (8 - rest)) & 0xff))
		return 0;
	return 1;
}

bool cidr_list_contains(const char *list, const struct sockaddr *sa)
{
	struct cidr_match m = { 0 };

	if (!list || !*list)
		return false;
	if (sa->sa_family == AF_INET) {
		m.family = AF_INET;
		memcpy(m.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		m.family = AF_INET6;
		memcpy(m.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	return cidr_each(list, cidr_contains, &m) == 1;
}


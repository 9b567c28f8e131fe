/*
 * cidr: lists of address ranges, "CIDR[,CIDR...]" (IPv4 or IPv6, e.g.
 * "127.0.0.1/32, ::1/128"), as operators write them in homeserver.yaml.
 * Pure, thread-safe; the list is parsed on each call (lists are short).
 */
#ifndef CHAPPE_UTIL_CIDR_H
#define CHAPPE_UTIL_CIDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* NULL and "" are valid (empty) lists. */
bool cidr_list_valid(const char *list);
/* Is sa (AF_INET or AF_INET6) inside one of the list's ranges? */
bool cidr_list_contains(const char *list, const struct sockaddr *sa);

#endif

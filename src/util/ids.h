/*
 * ids: Matrix identifier grammars (spec appendices, "Identifier Grammar").
 * Pure functions, thread-safe. Validators take NUL-terminated strings and
 * never read past the terminator.
 */
#ifndef CHAPPE_UTIL_IDS_H
#define CHAPPE_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define ID_MAX_LEN 255   /* user, room, event IDs, types, state keys: bytes */

/* Server name: hostname, IPv4 literal or [IPv6 literal], optional :port. */
bool id_server_name_valid(const char *s);
/* Localpart allowed for new users: [a-z0-9._=/+-]+ (appendices "User Identifiers"). */
bool id_localpart_valid(const char *lp);
/* Any user ID we may meet: "@" localpart ":" server_name, at most 255 bytes;
 * localparts accept the historical grammar (printable ASCII except ':'),
 * as the spec requires servers to for IDs created elsewhere. */
bool id_user_valid(const char *uid);
/* Build "@localpart:server" after validating the parts and total length;
 * NULL if invalid. The caller frees. */
char *id_user_make(const char *localpart, const char *server_name);
/* If uid is a valid user ID of server_name, copy its localpart into out
 * (size out_len) and return true. */
bool id_user_is_local(const char *uid, const char *server_name, char *out, size_t out_len);
/* Opaque IDs (device IDs, transaction IDs): [A-Za-z0-9._~-]{1,255}. */
bool id_opaque_valid(const char *s);
/* A fresh device ID: 10 random upper-case letters (as Synapse), NUL-terminated. */
void id_device_generate(char out[11]);

#endif

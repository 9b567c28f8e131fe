/*
 * directory: room aliases, the published room directory, the user
 * directory and forgetting rooms (directory.yaml, list_public_rooms.yaml,
 * users.yaml, leaving.yaml). Handlers are in directory_alias.c,
 * directory_rooms.c and directory_users.c; this header is what the other
 * room handlers share with them (createRoom's room_alias_name, join and
 * knock by alias).
 *
 * Aliases: only local aliases ("#localpart:our.server_name") are created
 * or resolved here; there is no federation query for others.
 *
 * Threads: every function may be called from any worker thread. Alias
 * creation is serialised by one process-wide lock (directory_alias_lock),
 * so createRoom can check that an alias is free, create the room and map
 * the alias without another request taking the alias in between.
 *
 * Memory: returned strings are malloc'd for the caller.
 */
#ifndef CHAPPE_API_CLIENT_DIRECTORY_H
#define CHAPPE_API_CLIENT_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http/request.h"

/* An alias as the appendices define it ("Room Aliases"): "#", a localpart
 * of "any valid non-surrogate Unicode codepoints except : and NUL" (valid
 * UTF-8 here, and not empty), ":", a valid server name, at most 255 bytes
 * in all. */
bool directory_alias_valid(const char *alias);
/* A valid alias whose server name is server_name. */
bool directory_alias_is_local(const char *alias, const char *server_name);
/* A localpart we accept for a NEW alias: valid as above, and, as Synapse
 * does for createRoom, without whitespace; we also refuse control
 * characters, which only serve to spoof an alias on screen. */
bool directory_alias_localpart_ok(const char *localpart, size_t len);

/* The room a local alias names, malloc'd. NULL with the response set:
 * 400 M_INVALID_PARAM for a malformed alias, 404 M_NOT_FOUND for an alias
 * unknown here or of another server, 500 on a store failure. */
char *directory_alias_resolve(struct request *req, const char *alias);

/* PUT /rooms/{roomId}/state/m.room.canonical_alias: "the server SHOULD
 * ensure that any new aliases being listed in the event are valid per
 * their grammar/syntax and that they point to the room ID where the state
 * event is to be sent. Servers do not validate aliases which are being
 * removed or are already present in the state event." (Client-Server API,
 * m.room.canonical_alias). 0 if content may be sent; -1 with the response
 * set: 400 M_INVALID_PARAM (bad syntax or shape), 400 M_BAD_ALIAS (an alias
 * that does not point to room_id, or one of another server, which cannot
 * be checked without federation), 500 on a store failure. */
int directory_canonical_alias_check(struct request *req, const char *room_id,
                                    json_t *content);

/* Held around "is the alias free, create, map it" (see above). */
void directory_alias_lock(void);
void directory_alias_unlock(void);

#endif

/*
 * auth_internal: pieces shared by auth.c and auth_power.c; not for use
 * outside src/rooms. Same contract as auth.h.
 */
#ifndef CHAPPE_ROOMS_AUTH_INTERNAL_H
#define CHAPPE_ROOMS_AUTH_INTERNAL_H

#include <stdarg.h>

#include "rooms/auth.h"

/* Write the reason and return -1, so refusals read `return refuse(...)`. */
int auth_refuse(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Power levels event rule (v10/v11 rule 9, v12 rule 10). */
int auth_check_power_levels(const struct room_version *rv,
                            const json_t *event,
                            const struct state_map *auth_state,
                            char *why, size_t why_len);

/* The part of a user or room ID after the first ':', or NULL. */
const char *auth_id_domain(const char *id);

#endif

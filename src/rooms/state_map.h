/*
 * state_map: room state as a map (event type, state key) -> event.
 *
 * Contract:
 * - The map owns one jansson reference to every event it holds: set()
 *   takes its own reference (json_incref), replacing or removing an entry
 *   drops it, state_map_free() drops all. get() returns a borrowed pointer,
 *   valid until that entry is replaced/removed or the map is freed.
 * - Keys are copied; a type or state key longer than STATE_MAP_KEY_MAX
 *   bytes is refused (the spec bounds both to 255 bytes; we allow slack).
 * - Iteration order is insertion order (first set of a key); replacing an
 *   entry keeps its place.
 * - Not thread-safe: one map belongs to one thread at a time. Distinct maps
 *   are independent (no globals).
 */
#ifndef CHAPPE_ROOMS_STATE_MAP_H
#define CHAPPE_ROOMS_STATE_MAP_H

#include <jansson.h>
#include <stddef.h>
#include <stdbool.h>

#define STATE_MAP_KEY_MAX 1024

struct state_map;

/* An empty map, or NULL on allocation failure. */
struct state_map *state_map_new(void);
void state_map_free(struct state_map *map);

/* Put event under (type, state_key). 0 on success, -1 on bad arguments,
 * oversized keys or allocation failure (the map is then unchanged). */
int state_map_set(struct state_map *map, const char *type,
                  const char *state_key, json_t *event);
/* Put a state event under its own "type" and "state_key" members;
 * -1 if the event lacks either as a string. */
int state_map_set_event(struct state_map *map, json_t *event);
/* Borrowed event for (type, state_key), or NULL. */
json_t *state_map_get(const struct state_map *map, const char *type,
                      const char *state_key);
/* Drop the entry if present. */
void state_map_remove(struct state_map *map, const char *type,
                      const char *state_key);
size_t state_map_count(const struct state_map *map);
/* A new map holding the same entries (sharing the events), or NULL. */
struct state_map *state_map_copy(const struct state_map *map);

/* Iteration: start with `struct state_map_iter it = {0};` and call
 * state_map_next() until it returns false. The map must not be modified
 * while iterating. Outputs are borrowed. */
struct state_map_iter {
    const void *next;
    bool started;
};
bool state_map_next(const struct state_map *map, struct state_map_iter *it,
                    const char **type, const char **state_key, json_t **event);

#endif

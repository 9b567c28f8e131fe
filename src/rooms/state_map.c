/* state_map: see state_map.h. */
#include "rooms/state_map.h"

#include <stdlib.h>
#include <string.h>

/* uthash's default on allocation failure is exit(); ask it to report the
 * failure instead, through a flag local to the adding function. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (map_oom_flag = 1)
#include <uthash.h>

struct state_entry {
    char *key;          /* type "\0" state_key, key_len bytes */
    size_t key_len;
    const char *type;   /* points into key */
    const char *state_key;
    json_t *event;      /* owned reference */
    UT_hash_handle hh;
};

struct state_map {
    struct state_entry *head;
};

struct state_map *state_map_new(void)
{
    return calloc(1, sizeof(struct state_map));
}

static void entry_free(struct state_entry *e)
{
    json_decref(e->event);
    free(e->key);
    free(e);
}

void state_map_free(struct state_map *map)
{
    struct state_entry *e, *tmp;

    if (map == NULL)
        return;
    HASH_ITER(hh, map->head, e, tmp) {
        HASH_DEL(map->head, e);
        entry_free(e);
    }
    free(map);
}

/* Build the composite key; 0 on success. */
static int key_build(const char *type, const char *state_key, char **out,
                     size_t *out_len)
{
    size_t tl, sl;
    char *k;

    if (type == NULL || state_key == NULL)
        return -1;
    tl = strnlen(type, STATE_MAP_KEY_MAX + 1);
    sl = strnlen(state_key, STATE_MAP_KEY_MAX + 1);
    if (tl > STATE_MAP_KEY_MAX || sl > STATE_MAP_KEY_MAX)
        return -1;
    k = malloc(tl + sl + 2);
    if (k == NULL)
        return -1;
    memcpy(k, type, tl + 1);
    memcpy(k + tl + 1, state_key, sl + 1);
    *out = k;
    *out_len = tl + sl + 1;
    return 0;
}

static struct state_entry *entry_find(const struct state_map *map,
                                      const char *type, const char *state_key)
{
    struct state_entry *e = NULL;
    char *k;
    size_t kl;

    if (map == NULL || key_build(type, state_key, &k, &kl) != 0)
        return NULL;
    HASH_FIND(hh, map->head, k, kl, e);
    free(k);
    return e;
}

int state_map_set(struct state_map *map, const char *type,
                  const char *state_key, json_t *event)
{
    struct state_entry *e;
    int map_oom_flag = 0;

    if (map == NULL || event == NULL)
        return -1;
    e = entry_find(map, type, state_key);
    if (e != NULL) {
        json_incref(event);
        json_decref(e->event);
        e->event = event;
        return 0;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    if (key_build(type, state_key, &e->key, &e->key_len) != 0) {
        free(e);
        return -1;
    }
    e->type = e->key;
    e->state_key = e->key + strlen(e->key) + 1;
    e->event = json_incref(event);
    HASH_ADD_KEYPTR(hh, map->head, e->key, e->key_len, e);
    if (map_oom_flag) {
        entry_free(e);
        return -1;
    }
    return 0;
}

int state_map_set_event(struct state_map *map, json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *sk = json_string_value(json_object_get(event, "state_key"));

    if (type == NULL || sk == NULL)
        return -1;
    return state_map_set(map, type, sk, event);
}

json_t *state_map_get(const struct state_map *map, const char *type,
                      const char *state_key)
{
    struct state_entry *e = entry_find(map, type, state_key);

    return e ? e->event : NULL;
}

void state_map_remove(struct state_map *map, const char *type,
                      const char *state_key)
{
    struct state_entry *e = entry_find(map, type, state_key);

    if (e == NULL)
        return;
    HASH_DEL(map->head, e);
    entry_free(e);
}

size_t state_map_count(const struct state_map *map)
{
    return map ? HASH_COUNT(map->head) : 0;
}

struct state_map *state_map_copy(const struct state_map *map)
{
    struct state_map *copy;
    struct state_entry *e, *tmp;

    if (map == NULL)
        return NULL;
    copy = state_map_new();
    if (copy == NULL)
        return NULL;
    HASH_ITER(hh, map->head, e, tmp) {
        if (state_map_set(copy, e->type, e->state_key, e->event) != 0) {
            state_map_free(copy);
            return NULL;
        }
    }
    return copy;
}

bool state_map_next(const struct state_map *map, struct state_map_iter *it,
                    const char **type, const char **state_key, json_t **event)
{
    const struct state_entry *e;

    if (map == NULL || it == NULL)
        return false;
    e = it->started ? it->next : map->head;
    it->started = true;
    if (e == NULL)
        return false;
    it->next = e->hh.next;
    if (type)
        *type = e->type;
    if (state_key)
        *state_key = e->state_key;
    if (event)
        *event = e->event;
    return true;
}

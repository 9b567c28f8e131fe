/*
 * store_directory: the front of the storage layer for the room directory
 * (aliases, published rooms), forgotten rooms and the user directory.
 *
 * As in store.c: every argument is checked against store.h before a back
 * end sees it, and what a back end loads is checked before a caller sees
 * it, including that it answers the question asked (an alias list of the
 * room asked for, in order, within the limit): a database is input too.
 *
 * Threads: no state of its own; every function may be called from any
 * thread. Memory: outputs are zeroed first and left empty on any result
 * other than STORE_OK.
 */
#include "store/store.h"
#include "store/store_backend.h"

#include <stdlib.h>
#include <string.h>

/* ---- identifiers ------------------------------------------------------ */

/* A sigil then 1..max-1 bytes: what keeps keys sane; the grammar (server
 * name, localpart) is the API's job. */
static bool dir_sigil_ok(const char *id, char sigil, size_t max)
{
	size_t n;

	if (id == NULL || id[0] != sigil)
		return false;
	n = strnlen(id, max + 1);
	return n >= 2 && n <= max;
}

static bool dir_alias_ok(const char *alias)
{
	return dir_sigil_ok(alias, '#', STORE_ALIAS_MAX);
}

static bool dir_room_id_ok(const char *room_id)
{
	return dir_sigil_ok(room_id, '!', STORE_ID_MAX);
}

/* Strings in store order, each valid, strictly increasing (or strictly
 * decreasing when descending), all after (before) bound if given. */
static bool dir_ids_ordered(char **ids, size_t n, bool (*ok)(const char *),
                            const char *bound, bool descending)
{
	for (size_t i = 0; i < n; i++) {
		const char *prev = i > 0 ? ids[i - 1] : bound;
		int cmp;

		if (!ok(ids[i]))
			return false;
		if (prev == NULL)
			continue;
		cmp = strcmp(prev, ids[i]);
		if (descending ? cmp <= 0 : cmp >= 0)
			return false;
	}
	return true;
}

static void dir_ids_reset(char ***ids, size_t *n)
{
	store_room_ids_free(*ids, *n);
	*ids = NULL;
	*n = 0;
}

/* ---- aliases ---------------------------------------------------------- */

enum store_result store_alias_create(struct store *st, const char *alias,
                                     const char *room_id, const char *creator)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !dir_alias_ok(alias) || !dir_room_id_ok(room_id) ||
	    !store_user_id_ok(creator))
		return store_refuse("argument to store_alias_create");
	be = store_backend_of(st, &h);
	return be->alias_create(h, alias, room_id, creator);
}

enum store_result store_alias_get(struct store *st, const char *alias,
                                  char **room_id_out, char **creator_out)
{
	const struct store_backend *be;
	char *creator = NULL;
	enum store_result r;
	void *h;

	if (room_id_out != NULL)
		*room_id_out = NULL;
	if (creator_out != NULL)
		*creator_out = NULL;
	if (st == NULL || room_id_out == NULL || !dir_alias_ok(alias))
		return store_refuse("argument to store_alias_get");
	be = store_backend_of(st, &h);
	r = be->alias_get(h, alias, room_id_out, &creator);
	r = store_loaded(r, r != STORE_OK || (dir_room_id_ok(*room_id_out) &&
	                                      store_user_id_ok(creator)), "alias");
	if (r != STORE_OK) {
		free(*room_id_out);
		*room_id_out = NULL;
		free(creator);
		return r;
	}
	if (creator_out != NULL)
		*creator_out = creator;
	else
		free(creator);
	return STORE_OK;
}

enum store_result store_alias_delete(struct store *st, const char *alias)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !dir_alias_ok(alias))
		return store_refuse("argument to store_alias_delete");
	be = store_backend_of(st, &h);
	return be->alias_delete(h, alias);
}

enum store_result store_room_aliases(struct store *st, const char *room_id, size_t limit,
                                     char ***aliases_out, size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (aliases_out != NULL)
		*aliases_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || aliases_out == NULL || n_out == NULL || !dir_room_id_ok(room_id))
		return store_refuse("argument to store_room_aliases");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->room_aliases(h, room_id, limit, aliases_out, n_out);
	r = store_loaded(r, r != STORE_OK ||
	                    (*n_out <= limit &&
	                     dir_ids_ordered(*aliases_out, *n_out, dir_alias_ok, NULL, false)),
	                 "room alias");
	if (r != STORE_OK)
		dir_ids_reset(aliases_out, n_out);
	return r;
}

/* ---- forgotten rooms -------------------------------------------------- */

enum store_result store_room_forget(struct store *st, const char *user_id,
                                    const char *room_id)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id) || !dir_room_id_ok(room_id))
		return store_refuse("argument to store_room_forget");
	be = store_backend_of(st, &h);
	return be->room_forget(h, user_id, room_id);
}

enum store_result store_room_forgotten(struct store *st, const char *user_id,
                                       const char *room_id)
{
	const struct store_backend *be;
	void *h;

	if (st == NULL || !store_user_id_ok(user_id) || !dir_room_id_ok(room_id))
		return store_refuse("argument to store_room_forgotten");
	be = store_backend_of(st, &h);
	return be->room_forgotten(h, user_id, room_id);
}

/* ---- published rooms and counts --------------------------------------- */

enum store_result store_room_joined_count(struct store *st, const char *room_id,
                                          int64_t *count_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (count_out != NULL)
		*count_out = 0;
	if (st == NULL || count_out == NULL || !dir_room_id_ok(room_id))
		return store_refuse("argument to store_room_joined_count");
	be = store_backend_of(st, &h);
	r = be->room_joined_count(h, room_id, count_out);
	r = store_loaded(r, r != STORE_OK || *count_out >= 0, "joined member count");
	if (r != STORE_OK)
		*count_out = 0;
	return r;
}

enum store_result store_rooms_published_count(struct store *st, int64_t *count_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (count_out != NULL)
		*count_out = 0;
	if (st == NULL || count_out == NULL)
		return store_refuse("argument to store_rooms_published_count");
	be = store_backend_of(st, &h);
	r = be->rooms_published_count(h, count_out);
	r = store_loaded(r, r != STORE_OK || *count_out >= 0, "published room count");
	if (r != STORE_OK)
		*count_out = 0;
	return r;
}

enum store_result store_rooms_published_before(struct store *st, const char *before,
                                               size_t limit, char ***room_ids_out,
                                               size_t *n_out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (room_ids_out != NULL)
		*room_ids_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (st == NULL || room_ids_out == NULL || n_out == NULL ||
	    before == NULL || !store_text_ok(before, STORE_ID_MAX, false))
		return store_refuse("argument to store_rooms_published_before");
	if (limit > STORE_LIST_LIMIT_MAX)
		limit = STORE_LIST_LIMIT_MAX;
	if (limit == 0)
		return STORE_OK;
	be = store_backend_of(st, &h);
	r = be->rooms_published_before(h, before, limit, room_ids_out, n_out);
	r = store_loaded(r, r != STORE_OK ||
	                    (*n_out <= limit &&
	                     dir_ids_ordered(*room_ids_out, *n_out, dir_room_id_ok, before, true)),
	                 "published room");
	if (r != STORE_OK)
		dir_ids_reset(room_ids_out, n_out);
	return r;
}

/* ---- user directory --------------------------------------------------- */

void store_user_hit_list_clear(struct store_user_hit_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].user_id);
		free(l->items[i].displayname);
		free(l->items[i].avatar_url);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static bool dir_hits_valid(const struct store_user_hit_list *l, size_t limit)
{
	if (l->n > limit || (l->n > 0 && l->items == NULL))
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_user_hit *u = &l->items[i];

		if (!store_user_id_ok(u->user_id) ||
		    !store_text_ok(u->displayname, STORE_TEXT_MAX, true) ||
		    !store_text_ok(u->avatar_url, STORE_TEXT_MAX, true))
			return false;
		/* each user once (the order is the back end's ranking) */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(l->items[j].user_id, u->user_id) == 0)
				return false;
		}
	}
	return true;
}

enum store_result store_user_directory_search(struct store *st, const char *searcher,
                                              const char *term, size_t limit,
                                              struct store_user_hit_list *out)
{
	const struct store_backend *be;
	enum store_result r;
	void *h;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	/* An empty term would match every visible user: a sweep of the
	 * directory in one call, which is what a search must never be. */
	if (st == NULL || out == NULL || !store_user_id_ok(searcher) || term == NULL ||
	    term[0] == '\0' || !store_text_ok(term, STORE_SEARCH_TERM_MAX, false) ||
	    limit == 0 || limit > STORE_USER_SEARCH_MAX)
		return store_refuse("argument to store_user_directory_search");
	be = store_backend_of(st, &h);
	r = be->user_directory_search(h, searcher, term, limit, out);
	r = store_loaded(r, r != STORE_OK || dir_hits_valid(out, limit), "user directory");
	if (r != STORE_OK)
		store_user_hit_list_clear(out);
	return r;
}

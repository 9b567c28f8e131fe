/* typing: see typing.h. */
#include "sync/typing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* uthash's default on allocation failure is exit(); ask it to report the
 * failure instead, through a flag local to the adding function. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (typing_oom_flag = 1)
#include <uthash.h>

#define TYPING_DEFAULT_MAX_TYPISTS 10000
#define TYPING_DEFAULT_MAX_ROOMS   10000

struct typist {
	char *user_id;
	int64_t expires_ms;
};

struct typing_room {
	char *room_id;
	uint64_t changed;            /* serial of the last change of the list */
	struct typist *typists;      /* in the order they started */
	size_t n, cap;
	UT_hash_handle hh;
};

struct typing {
	pthread_mutex_t lock;
	struct typing_room *rooms;   /* uthash head */
	size_t n_rooms, n_typists;
	size_t max_rooms, max_typists;
	uint64_t serial;
	uint64_t floor;              /* last change of any room without a record */
	int64_t next_expiry;         /* earliest expiry, 0 if none (may be early) */
};

static bool typing_id_ok(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	n = strnlen(id, TYPING_ID_MAX + 1);
	return n > 0 && n <= TYPING_ID_MAX;
}

static void typing_room_free(struct typing_room *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->typists[i].user_id);
	free(r->typists);
	free(r->room_id);
	free(r);
}

struct typing *typing_new(size_t max_typists, size_t max_rooms, uint64_t first_serial)
{
	struct typing *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return NULL;
	}
	t->max_typists = max_typists ? max_typists : TYPING_DEFAULT_MAX_TYPISTS;
	t->max_rooms = max_rooms ? max_rooms : TYPING_DEFAULT_MAX_ROOMS;
	t->serial = first_serial;
	t->floor = first_serial;
	return t;
}

void typing_free(struct typing *t)
{
	struct typing_room *r, *tmp;

	if (t == NULL)
		return;
	HASH_ITER(hh, t->rooms, r, tmp) {
		HASH_DEL(t->rooms, r);
		typing_room_free(r);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void typing_note_expiry(struct typing *t, int64_t expires_ms)
{
	if (t->next_expiry == 0 || expires_ms < t->next_expiry)
		t->next_expiry = expires_ms;
}

/* Remove typist i of r (order of the others kept). */
static void typing_room_remove(struct typing *t, struct typing_room *r, size_t i)
{
	free(r->typists[i].user_id);
	memmove(&r->typists[i], &r->typists[i + 1], (r->n - i - 1) * sizeof(r->typists[0]));
	r->n--;
	t->n_typists--;
}

/* Drop every typist whose time has come; each room that lost one changes.
 * The scan is over every typist, but only when the earliest expiry is due,
 * so a burst of calls between expiries costs nothing. */
static void typing_expire(struct typing *t, int64_t now_ms)
{
	struct typing_room *r, *tmp;

	if (t->next_expiry == 0 || now_ms < t->next_expiry)
		return;
	t->next_expiry = 0;
	HASH_ITER(hh, t->rooms, r, tmp) {
		bool changed = false;
		for (size_t i = 0; i < r->n;) {
			if (now_ms >= r->typists[i].expires_ms) {
				typing_room_remove(t, r, i);
				changed = true;
			} else {
				typing_note_expiry(t, r->typists[i].expires_ms);
				i++;
			}
		}
		if (changed)
			r->changed = ++t->serial;
	}
}

/* Drop the records of rooms where nobody types, raising the floor so that
 * their last change is still reported. */
static void typing_evict_empty(struct typing *t)
{
	struct typing_room *r, *tmp;

	HASH_ITER(hh, t->rooms, r, tmp) {
		if (r->n > 0)
			continue;
		if (r->changed > t->floor)
			t->floor = r->changed;
		HASH_DEL(t->rooms, r);
		typing_room_free(r);
		t->n_rooms--;
	}
}

/* The record of room_id, created if `create`; NULL if absent and not
 * created, or on a bound or allocation failure (*res says which). */
static struct typing_room *typing_room_of(struct typing *t, const char *room_id, bool create,
                                          enum typing_result *res)
{
	struct typing_room *r = NULL;
	int typing_oom_flag = 0;
	size_t len = strlen(room_id);

	HASH_FIND(hh, t->rooms, room_id, len, r);
	if (r != NULL || !create)
		return r;
	if (t->n_rooms >= t->max_rooms)
		typing_evict_empty(t);
	if (t->n_rooms >= t->max_rooms) {
		*res = TYPING_FULL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->room_id = strdup(room_id)) == NULL)
		goto oom;
	/* A new record stands for a room that had none: its last change, as
	 * far as anyone was told, is the floor. */
	r->changed = t->floor;
	HASH_ADD_KEYPTR(hh, t->rooms, r->room_id, len, r);
	if (typing_oom_flag)
		goto oom;
	t->n_rooms++;
	return r;
oom:
	if (r != NULL)
		typing_room_free(r);
	*res = TYPING_NOMEM;
	return NULL;
}

static enum typing_result typing_start(struct typing *t, struct typing_room *r,
                                       const char *user_id, int64_t expires_ms)
{
	struct typist *grown;

	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->typists[i].user_id, user_id) == 0) {
			r->typists[i].expires_ms = expires_ms;
			typing_note_expiry(t, expires_ms);
			return TYPING_UNCHANGED;
		}
	}
	if (t->n_typists >= t->max_typists)
		return TYPING_FULL;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		grown = realloc(r->typists, cap * sizeof(*grown));
		if (grown == NULL)
			return TYPING_NOMEM;
		r->typists = grown;
		r->cap = cap;
	}
	r->typists[r->n].user_id = strdup(user_id);
	if (r->typists[r->n].user_id == NULL)
		return TYPING_NOMEM;
	r->typists[r->n].expires_ms = expires_ms;
	r->n++;
	t->n_typists++;
	typing_note_expiry(t, expires_ms);
	r->changed = ++t->serial;
	return TYPING_CHANGED;
}

static enum typing_result typing_stop(struct typing *t, struct typing_room *r,
                                      const char *user_id)
{
	for (size_t i = 0; r != NULL && i < r->n; i++) {
		if (strcmp(r->typists[i].user_id, user_id) == 0) {
			typing_room_remove(t, r, i);
			r->changed = ++t->serial;
			return TYPING_CHANGED;
		}
	}
	return TYPING_UNCHANGED;
}

enum typing_result typing_set(struct typing *t, const char *room_id, const char *user_id,
                              bool typing, int64_t timeout_ms, int64_t now_ms)
{
	enum typing_result res = TYPING_UNCHANGED;
	struct typing_room *r;

	if (t == NULL || !typing_id_ok(room_id) || !typing_id_ok(user_id))
		return TYPING_INVALID;
	if (timeout_ms < 0)
		timeout_ms = 0;
	if (timeout_ms > TYPING_TIMEOUT_MAX_MS)
		timeout_ms = TYPING_TIMEOUT_MAX_MS;
	pthread_mutex_lock(&t->lock);
	typing_expire(t, now_ms);
	/* a stop never creates a record: there is nothing to forget */
	r = typing_room_of(t, room_id, typing, &res);
	if (typing && r != NULL)
		res = typing_start(t, r, user_id, now_ms + timeout_ms);
	else if (!typing)
		res = typing_stop(t, r, user_id);
	pthread_mutex_unlock(&t->lock);
	return res;
}

uint64_t typing_serial(struct typing *t, int64_t now_ms)
{
	uint64_t s;

	pthread_mutex_lock(&t->lock);
	typing_expire(t, now_ms);
	s = t->serial;
	pthread_mutex_unlock(&t->lock);
	return s;
}

void typing_users_free(char **users, size_t n)
{
	for (size_t i = 0; users != NULL && i < n; i++)
		free(users[i]);
	free(users);
}

static int typing_users_copy(const struct typing_room *r, char ***users_out, size_t *n_out)
{
	char **users;

	if (r == NULL || r->n == 0)
		return 0;
	users = calloc(r->n, sizeof(*users));
	if (users == NULL)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		users[i] = strdup(r->typists[i].user_id);
		if (users[i] == NULL) {
			typing_users_free(users, i);
			return -1;
		}
	}
	*users_out = users;
	*n_out = r->n;
	return 0;
}

int typing_room_get(struct typing *t, const char *room_id, int64_t now_ms,
                    char ***users_out, size_t *n_out, uint64_t *changed_out)
{
	enum typing_result unused = TYPING_UNCHANGED;
	struct typing_room *r;
	int ret;

	if (users_out != NULL)
		*users_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (changed_out != NULL)
		*changed_out = 0;
	if (t == NULL || users_out == NULL || n_out == NULL || changed_out == NULL ||
	    !typing_id_ok(room_id))
		return -1;
	pthread_mutex_lock(&t->lock);
	typing_expire(t, now_ms);
	r = typing_room_of(t, room_id, false, &unused);
	*changed_out = r != NULL ? r->changed : t->floor;
	ret = typing_users_copy(r, users_out, n_out);
	pthread_mutex_unlock(&t->lock);
	if (ret != 0)
		*changed_out = 0;
	return ret;
}

int64_t typing_next_expiry(struct typing *t)
{
	int64_t e;

	pthread_mutex_lock(&t->lock);
	e = t->next_expiry;
	pthread_mutex_unlock(&t->lock);
	return e;
}

int64_t typing_rooms_next_expiry(struct typing *t, const char *const *room_ids, size_t n)
{
	struct typing_room *r;
	int64_t e = 0;

	if (t == NULL || room_ids == NULL)
		return 0;
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < n && t->n_typists > 0; i++) {
		if (!typing_id_ok(room_ids[i]))
			continue;
		HASH_FIND(hh, t->rooms, room_ids[i], strlen(room_ids[i]), r);
		for (size_t j = 0; r != NULL && j < r->n; j++)
			if (e == 0 || r->typists[j].expires_ms < e)
				e = r->typists[j].expires_ms;
	}
	pthread_mutex_unlock(&t->lock);
	return e;
}

size_t typing_count(struct typing *t, size_t *rooms_out)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->n_typists;
	if (rooms_out != NULL)
		*rooms_out = t->n_rooms;
	pthread_mutex_unlock(&t->lock);
	return n;
}

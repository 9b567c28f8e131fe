/* filter: parse, match and project with Matrix filters. Contract in filter.h. */
#include "sync/filter.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/canonical.h"
#include "util/ids.h"

/* A list from the filter JSON. present distinguishes "absent" (allow all)
 * from "[]" (allow nothing), which the spec treats differently. */
struct str_list {
    char **items;
    size_t n;
    bool present;
};

struct event_filter_part {
    struct str_list types, not_types, senders, not_senders, rooms, not_rooms;
    int limit;              /* clamped; meaningful if has_limit */
    bool has_limit;
    signed char contains_url; /* -1 absent, 0 false, 1 true */
    bool lazy_load_members;
    bool include_redundant_members;
    bool unread_thread_notifications;
};

/* One event_fields entry, already split at unescaped dots. */
struct field_path {
    char *buf;   /* the segments, NUL-separated */
    char **segs; /* n pointers into buf */
    size_t n;
};

struct sync_filter {
    struct event_filter_part parts[FILTER_PART_COUNT];
    struct str_list rooms, not_rooms; /* room.rooms, room.not_rooms */
    bool include_leave;
    enum filter_event_format event_format;
    struct field_path *fields;
    size_t n_fields;
};

/* What a failed parse reports. */
struct perr {
    enum filter_error code;
    char *buf;
    size_t len;
};

/* The allow-all part handed out for absent parts and NULL filters. */
static const struct event_filter_part part_default = { .contains_url = -1 };

enum entry_kind { ENTRY_TYPE, ENTRY_USER, ENTRY_ROOM, ENTRY_FIELD };

/* Whether a part accepts the RoomEventFilter keys (rooms, contains_url,
 * lazy loading), or only the EventFilter ones. */
enum part_schema { SCHEMA_EVENT, SCHEMA_ROOM_EVENT };

static void perr_set(struct perr *e, enum filter_error code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr_set(struct perr *e, enum filter_error code, const char *fmt, ...)
{
    va_list ap;

    e->code = code;
    if (e->buf == NULL || e->len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(e->buf, e->len, fmt, ap);
    va_end(ap);
}

static void perr_oom(struct perr *e)
{
    perr_set(e, FILTER_ERR_OOM, "out of memory");
}

/* Key path for messages: "room.timeline" + "limit" -> "room.timeline.limit". */
static void key_path(char *out, size_t len, const char *where, const char *key)
{
    if (where[0] != '\0')
        snprintf(out, len, "%s.%s", where, key);
    else
        snprintf(out, len, "%s", key);
}

static void str_list_free(struct str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static void part_clear(struct event_filter_part *p)
{
    str_list_free(&p->types);
    str_list_free(&p->not_types);
    str_list_free(&p->senders);
    str_list_free(&p->not_senders);
    str_list_free(&p->rooms);
    str_list_free(&p->not_rooms);
    *p = part_default;
}

static size_t field_path_count(const char *s);

/* The kind-specific rule for one list entry; NULL if fine, else the reason. */
static const char *entry_check(enum entry_kind kind, const char *s, size_t len)
{
    switch (kind) {
    case ENTRY_TYPE:
        return len > FILTER_ENTRY_MAX_LEN ? "longer than 255 bytes" : NULL;
    case ENTRY_USER:
        /* event_filter.yaml: format mx-user-id, pattern "^@" */
        return len <= FILTER_ENTRY_MAX_LEN && id_user_valid(s) ? NULL : "not a user ID";
    case ENTRY_ROOM:
        /* format mx-room-id, pattern "^!". Only the sigil and the length are
         * checked: room v12 IDs have no server part, so a stricter grammar
         * would refuse valid rooms. */
        return len >= 2 && len <= FILTER_ENTRY_MAX_LEN && s[0] == '!' ? NULL : "not a room ID";
    case ENTRY_FIELD:
        if (len == 0)
            return "empty path";
        if (len > FILTER_FIELD_MAX_LEN)
            return "path too long";
        /* bounds the work and memory a path of dots alone would cost */
        return field_path_count(s) > FILTER_FIELD_MAX_SEGS ? "too many segments" : NULL;
    }
    return "unknown";
}

/* Read obj[key] as a list of strings into out. Absent leaves out empty and
 * not present. */
static int list_parse(const json_t *obj, const char *where, const char *key,
                      enum entry_kind kind, struct str_list *out, struct perr *e)
{
    const json_t *arr = json_object_get(obj, key);
    char path[64];
    size_t n;

    key_path(path, sizeof path, where, key);
    if (arr == NULL)
        return 0;
    if (!json_is_array(arr)) {
        perr_set(e, FILTER_ERR_BAD_JSON, "%s: must be an array of strings", path);
        return -1;
    }
    n = json_array_size(arr);
    if (n > FILTER_LIST_MAX) {
        perr_set(e, FILTER_ERR_INVALID_PARAM, "%s: more than %d entries", path, FILTER_LIST_MAX);
        return -1;
    }
    out->present = true;
    if (n == 0)
        return 0;
    out->items = calloc(n, sizeof *out->items);
    if (out->items == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        const char *s, *why;
        size_t len;

        if (!json_is_string(v)) {
            perr_set(e, FILTER_ERR_BAD_JSON, "%s[%zu]: must be a string", path, i);
            return -1;
        }
        s = json_string_value(v);
        len = json_string_length(v);
        why = len != strlen(s) ? "holds a NUL character" : entry_check(kind, s, len);
        if (why != NULL) {
            perr_set(e, FILTER_ERR_INVALID_PARAM, "%s[%zu]: %s", path, i, why);
            return -1;
        }
        out->items[i] = strdup(s);
        if (out->items[i] == NULL)
            goto oom;
        out->n = i + 1;
    }
    return 0;
oom:
    perr_oom(e);
    return -1;
}

static int bool_parse(const json_t *obj, const char *where, const char *key, bool *out,
                      struct perr *e)
{
    const json_t *v = json_object_get(obj, key);
    char path[64];

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v)) {
        key_path(path, sizeof path, where, key);
        perr_set(e, FILTER_ERR_BAD_JSON, "%s: must be a boolean", path);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int limit_parse(const json_t *obj, const char *where, struct event_filter_part *p,
                       struct perr *e)
{
    const json_t *v = json_object_get(obj, "limit");
    json_int_t n;
    char path[64];

    if (v == NULL)
        return 0;
    if (!json_is_integer(v)) {
        key_path(path, sizeof path, where, "limit");
        perr_set(e, FILTER_ERR_BAD_JSON, "%s: must be an integer", path);
        return -1;
    }
    /* sync_filter.yaml: "must be an integer greater than 0"; large
     * values are clamped, not refused (see filter.h) */
    n = json_integer_value(v);
    if (n < 1) {
        key_path(path, sizeof path, where, "limit");
        perr_set(e, FILTER_ERR_INVALID_PARAM, "%s: must be greater than 0", path);
        return -1;
    }
    p->limit = n > FILTER_LIMIT_MAX ? FILTER_LIMIT_MAX : (int)n;
    p->has_limit = true;
    return 0;
}

/* Parse one EventFilter / RoomEventFilter object into p (which must be
 * part_default). On failure p may hold partial lists: part_clear it. */
static int part_parse(const json_t *obj, const char *where, enum part_schema schema,
                      struct event_filter_part *p, struct perr *e)
{
    bool url = false, has_url;

    if (!json_is_object(obj)) {
        perr_set(e, FILTER_ERR_BAD_JSON, "%s: must be an object", where[0] ? where : "filter");
        return -1;
    }
    if (limit_parse(obj, where, p, e) != 0 ||
        list_parse(obj, where, "types", ENTRY_TYPE, &p->types, e) != 0 ||
        list_parse(obj, where, "not_types", ENTRY_TYPE, &p->not_types, e) != 0 ||
        list_parse(obj, where, "senders", ENTRY_USER, &p->senders, e) != 0 ||
        list_parse(obj, where, "not_senders", ENTRY_USER, &p->not_senders, e) != 0)
        return -1;
    if (schema == SCHEMA_EVENT)
        return 0; /* room keys are not part of EventFilter: ignored like unknown keys */
    if (list_parse(obj, where, "rooms", ENTRY_ROOM, &p->rooms, e) != 0 ||
        list_parse(obj, where, "not_rooms", ENTRY_ROOM, &p->not_rooms, e) != 0 ||
        bool_parse(obj, where, "contains_url", &url, e) != 0 ||
        bool_parse(obj, where, "lazy_load_members", &p->lazy_load_members, e) != 0 ||
        bool_parse(obj, where, "include_redundant_members", &p->include_redundant_members, e) != 0 ||
        bool_parse(obj, where, "unread_thread_notifications", &p->unread_thread_notifications, e) != 0)
        return -1;
    has_url = json_object_get(obj, "contains_url") != NULL;
    p->contains_url = has_url ? (url ? 1 : 0) : -1;
    return 0;
}

/* Segments in one event_fields path (appendices "Dot-separated property
 * paths"): unescaped dots plus one. "\." and "\\" are the only escapes; any
 * other backslash is literal, as the spec asks ("a \x would be treated as a
 * literal backslash followed by 'x'"). */
static size_t field_path_count(const char *s)
{
    size_t n = 1;

    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] == '\\' && (s[i + 1] == '.' || s[i + 1] == '\\'))
            i++;
        else if (s[i] == '.')
            n++;
    }
    return n;
}

/* Split a path into segments, unescaped, held in one buffer. On failure out
 * may hold a partial result: fields_free releases it. */
static int field_path_split(const char *s, struct field_path *out)
{
    size_t len = strlen(s), nseg = field_path_count(s), k = 0;
    int rc = -1;

    /* unescaping only shortens, so len + 1 bytes hold every segment */
    out->buf = malloc(len + 1);
    out->segs = calloc(nseg, sizeof *out->segs);
    if (out->buf == NULL || out->segs == NULL)
        goto out;
    out->segs[out->n++] = out->buf;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            out->buf[k++] = '\0';
            out->segs[out->n++] = out->buf + k;
            continue;
        }
        if (s[i] == '\\' && (s[i + 1] == '.' || s[i + 1] == '\\'))
            i++;
        out->buf[k++] = s[i];
    }
    out->buf[k] = '\0';
    rc = 0;
out:
    return rc;
}

static void fields_free(struct sync_filter *f)
{
    for (size_t i = 0; i < f->n_fields; i++) {
        free(f->fields[i].buf);
        free(f->fields[i].segs);
    }
    free(f->fields);
    f->fields = NULL;
    f->n_fields = 0;
}

static int fields_parse(const json_t *obj, struct sync_filter *f, struct perr *e)
{
    struct str_list raw = { 0 };
    int rc = -1;

    if (list_parse(obj, "", "event_fields", ENTRY_FIELD, &raw, e) != 0)
        goto out;
    if (raw.n > 0) {
        f->fields = calloc(raw.n, sizeof *f->fields);
        if (f->fields == NULL) {
            perr_oom(e);
            goto out;
        }
        for (size_t i = 0; i < raw.n; i++) {
            f->n_fields = i + 1; /* so that fields_free sees a partial path */
            if (field_path_split(raw.items[i], &f->fields[i]) != 0) {
                perr_oom(e);
                goto out;
            }
        }
    }
    rc = 0;
out:
    str_list_free(&raw);
    return rc;
}

static int format_parse(const json_t *obj, struct sync_filter *f, struct perr *e)
{
    const json_t *v = json_object_get(obj, "event_format");
    const char *s;

    if (v == NULL)
        return 0;
    if (!json_is_string(v)) {
        perr_set(e, FILTER_ERR_BAD_JSON, "event_format: must be a string");
        return -1;
    }
    s = json_string_value(v);
    if (strcmp(s, "client") == 0 && json_string_length(v) == 6)
        f->event_format = FILTER_FORMAT_CLIENT;
    else if (strcmp(s, "federation") == 0 && json_string_length(v) == 10)
        f->event_format = FILTER_FORMAT_FEDERATION;
    else {
        perr_set(e, FILTER_ERR_INVALID_PARAM, "event_format: must be \"client\" or \"federation\"");
        return -1;
    }
    return 0;
}

/* The "room" object: rooms/not_rooms, include_leave and four parts. */
static int room_parse(const json_t *room, struct sync_filter *f, struct perr *e)
{
    static const struct { const char *key, *where; enum filter_part_kind kind; } sub[] = {
        { "timeline", "room.timeline", FILTER_PART_TIMELINE },
        { "state", "room.state", FILTER_PART_STATE },
        { "ephemeral", "room.ephemeral", FILTER_PART_EPHEMERAL },
        { "account_data", "room.account_data", FILTER_PART_ROOM_ACCOUNT_DATA },
    };

    if (!json_is_object(room)) {
        perr_set(e, FILTER_ERR_BAD_JSON, "room: must be an object");
        return -1;
    }
    if (list_parse(room, "room", "rooms", ENTRY_ROOM, &f->rooms, e) != 0 ||
        list_parse(room, "room", "not_rooms", ENTRY_ROOM, &f->not_rooms, e) != 0 ||
        bool_parse(room, "room", "include_leave", &f->include_leave, e) != 0)
        return -1;
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        const json_t *v = json_object_get(room, sub[i].key);

        if (v != NULL && part_parse(v, sub[i].where, SCHEMA_ROOM_EVENT,
                                    &f->parts[sub[i].kind], e) != 0)
            return -1;
    }
    return 0;
}

struct sync_filter *filter_parse_ex(const json_t *filter_json, enum filter_error *code,
                                    char *err, size_t err_len)
{
    struct perr e = { FILTER_OK, err, err_len };
    struct sync_filter *f = NULL;
    const json_t *v;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (!json_is_object(filter_json)) {
        perr_set(&e, FILTER_ERR_BAD_JSON, "filter: must be an object");
        goto err;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        perr_oom(&e);
        goto err;
    }
    for (int i = 0; i < FILTER_PART_COUNT; i++)
        f->parts[i] = part_default;
    f->event_format = FILTER_FORMAT_CLIENT; /* sync_filter.yaml: "The default is client" */

    if ((v = json_object_get(filter_json, "room")) != NULL && room_parse(v, f, &e) != 0)
        goto err;
    if ((v = json_object_get(filter_json, "account_data")) != NULL &&
        part_parse(v, "account_data", SCHEMA_EVENT, &f->parts[FILTER_PART_ACCOUNT_DATA], &e) != 0)
        goto err;
    if ((v = json_object_get(filter_json, "presence")) != NULL &&
        part_parse(v, "presence", SCHEMA_EVENT, &f->parts[FILTER_PART_PRESENCE], &e) != 0)
        goto err;
    if (format_parse(filter_json, f, &e) != 0 || fields_parse(filter_json, f, &e) != 0)
        goto err;
    if (code != NULL)
        *code = FILTER_OK;
    return f;
err:
    filter_free(f);
    if (code != NULL)
        *code = e.code;
    return NULL;
}

struct sync_filter *filter_parse(const json_t *filter_json, char *err, size_t err_len)
{
    return filter_parse_ex(filter_json, NULL, err, err_len);
}

void filter_free(struct sync_filter *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < FILTER_PART_COUNT; i++)
        part_clear(&f->parts[i]);
    str_list_free(&f->rooms);
    str_list_free(&f->not_rooms);
    fields_free(f);
    free(f);
}

/* Parse inline filter text: bounded length and depth, then the JSON must be
 * an object. Returns a new reference or NULL with e set. */
static json_t *filter_text_load(const char *text, struct perr *e)
{
    enum cjson_status st = CJSON_OK;
    char why[96] = "";
    size_t len = strnlen(text, FILTER_TEXT_MAX_LEN + 1);
    json_t *v;

    if (len > FILTER_TEXT_MAX_LEN) {
        perr_set(e, FILTER_ERR_INVALID_PARAM, "filter: longer than %d bytes", FILTER_TEXT_MAX_LEN);
        return NULL;
    }
    v = cjson_parse(text, len, FILTER_TEXT_MAX_DEPTH, &st, why, sizeof why);
    if (v != NULL)
        return v;
    if (st == CJSON_OOM)
        perr_oom(e);
    else if (st == CJSON_NOT_JSON)
        perr_set(e, FILTER_ERR_NOT_JSON, "filter: invalid JSON: %s", why);
    else
        perr_set(e, FILTER_ERR_BAD_JSON, "filter: %s", why);
    return NULL;
}

enum filter_text_kind filter_parse_text(const char *text, struct sync_filter **out,
                                        enum filter_error *code, char *err, size_t err_len)
{
    struct perr e = { FILTER_OK, err, err_len };
    enum filter_error c = FILTER_OK;
    json_t *v;

    *out = NULL;
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (text == NULL || text[0] != '{') {
        /* a filter ID; the spec only says it cannot start with '{' */
        if (text != NULL && id_opaque_valid(text)) {
            if (code != NULL)
                *code = FILTER_OK;
            return FILTER_TEXT_ID;
        }
        perr_set(&e, FILTER_ERR_INVALID_PARAM, "filter: neither a JSON object nor a filter ID");
        c = e.code;
        goto err;
    }
    v = filter_text_load(text, &e);
    if (v == NULL) {
        c = e.code;
        goto err;
    }
    *out = filter_parse_ex(v, &c, err, err_len);
    json_decref(v);
    if (*out == NULL)
        goto err;
    if (code != NULL)
        *code = FILTER_OK;
    return FILTER_TEXT_INLINE;
err:
    if (code != NULL)
        *code = c;
    return FILTER_TEXT_ERROR;
}

struct event_filter_part *filter_room_event_parse(const json_t *json, enum filter_error *code,
                                                  char *err, size_t err_len)
{
    struct perr e = { FILTER_OK, err, err_len };
    struct event_filter_part *p;

    if (err != NULL && err_len > 0)
        err[0] = '\0';
    p = malloc(sizeof *p);
    if (p == NULL) {
        perr_oom(&e);
        goto err;
    }
    *p = part_default;
    if (part_parse(json, "", SCHEMA_ROOM_EVENT, p, &e) != 0)
        goto err;
    if (code != NULL)
        *code = FILTER_OK;
    return p;
err:
    filter_part_free(p);
    if (code != NULL)
        *code = e.code;
    return NULL;
}

enum filter_error filter_room_event_parse_text(const char *text, struct event_filter_part **out,
                                               char *err, size_t err_len)
{
    struct perr e = { FILTER_OK, err, err_len };
    enum filter_error c = FILTER_OK;
    json_t *v;

    *out = NULL;
    if (err != NULL && err_len > 0)
        err[0] = '\0';
    if (text == NULL) {
        perr_set(&e, FILTER_ERR_NOT_JSON, "filter: missing");
        return e.code;
    }
    v = filter_text_load(text, &e);
    if (v == NULL)
        return e.code;
    *out = filter_room_event_parse(v, &c, err, err_len);
    json_decref(v);
    return c;
}

void filter_part_free(struct event_filter_part *p)
{
    if (p == NULL)
        return;
    part_clear(p);
    free(p);
}

const char *filter_error_errcode(enum filter_error code)
{
    switch (code) {
    case FILTER_ERR_NOT_JSON:      return "M_NOT_JSON";
    case FILTER_ERR_BAD_JSON:      return "M_BAD_JSON";
    case FILTER_ERR_INVALID_PARAM: return "M_INVALID_PARAM";
    case FILTER_ERR_OOM:
    case FILTER_OK:                break;
    }
    return "M_UNKNOWN";
}

/* ---- matching ---------------------------------------------------------- */

/* '*' matches any run of characters (event_filter.yaml, types). The pattern
 * is cut at its stars: the first piece must be a prefix, the last a suffix,
 * and the pieces between are found left to right, each leftmost match being
 * as good as any other. With memmem (two-way, linear) this stays linear in
 * the lengths, whatever stars a hostile pattern holds. */
static bool glob_match(const char *pat, const char *s)
{
    const char *first = strchr(pat, '*'), *last, *seg, *lo, *hi;
    size_t slen, pre, suf;

    if (first == NULL)
        return strcmp(pat, s) == 0;
    last = strrchr(pat, '*');
    slen = strlen(s);
    pre = (size_t)(first - pat);
    suf = strlen(last + 1);
    if (slen < pre + suf || memcmp(s, pat, pre) != 0 ||
        memcmp(s + slen - suf, last + 1, suf) != 0)
        return false;
    lo = s + pre;
    hi = s + slen - suf;
    for (seg = first + 1; seg <= last;) {
        const char *next = strchr(seg, '*'); /* never past last */
        size_t n = (size_t)(next - seg);

        if (n > 0) {
            const char *m = memmem(lo, (size_t)(hi - lo), seg, n);

            if (m == NULL)
                return false;
            lo = m + n;
        }
        seg = next + 1;
    }
    return true;
}

static bool list_matches(const struct str_list *l, const char *v, bool glob)
{
    for (size_t i = 0; i < l->n; i++)
        if (glob ? glob_match(l->items[i], v) : strcmp(l->items[i], v) == 0)
            return true;
    return false;
}

/* The allow/deny rule shared by every key: deny wins; a present allow list
 * needs a match; a missing value is never denied and never allowed. */
static bool field_allowed(const struct str_list *allow, const struct str_list *deny,
                          const char *v, bool glob)
{
    if (v != NULL && list_matches(deny, v, glob))
        return false;
    if (allow->present && (v == NULL || !list_matches(allow, v, glob)))
        return false;
    return true;
}

static const char *str_member(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key)); /* NULL if absent or not a string */
}

bool filter_room_allowed(const struct sync_filter *f, const char *room_id)
{
    if (f == NULL)
        return true;
    return field_allowed(&f->rooms, &f->not_rooms, room_id, false);
}

const struct event_filter_part *filter_part(const struct sync_filter *f,
                                            enum filter_part_kind kind)
{
    if (f == NULL || (unsigned)kind >= FILTER_PART_COUNT)
        return &part_default;
    return &f->parts[kind];
}

bool filter_event_allowed_in_room(const struct event_filter_part *p, const json_t *event,
                                  const char *room_id)
{
    const json_t *content;
    const char *sender;

    if (!json_is_object(event))
        return false; /* not an event, whatever the filter */
    if (p == NULL)
        return true;
    content = json_object_get(event, "content");
    if (!json_is_object(content))
        content = NULL; /* account data may carry non-object content */
    sender = str_member(event, "sender");
    if (sender == NULL && content != NULL)
        sender = str_member(content, "user_id");
    if (!field_allowed(&p->types, &p->not_types, str_member(event, "type"), true) ||
        !field_allowed(&p->senders, &p->not_senders, sender, false) ||
        !field_allowed(&p->rooms, &p->not_rooms, room_id, false))
        return false;
    if (p->contains_url >= 0) {
        bool has_url = content != NULL && json_is_string(json_object_get(content, "url"));

        if (has_url != (p->contains_url == 1))
            return false;
    }
    return true;
}

bool filter_event_allowed(const struct event_filter_part *p, const json_t *event)
{
    return filter_event_allowed_in_room(p, event, str_member(event, "room_id"));
}

static bool list_has_star(const struct str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], "*") == 0)
            return true;
    return false;
}

bool filter_part_blocks_all(const struct event_filter_part *p)
{
    if (p == NULL)
        return false;
    return (p->types.present && p->types.n == 0) || list_has_star(&p->not_types) ||
           (p->senders.present && p->senders.n == 0) ||
           (p->rooms.present && p->rooms.n == 0);
}

/* ---- accessors --------------------------------------------------------- */

int filter_part_limit(const struct event_filter_part *p)
{
    return p != NULL && p->has_limit ? p->limit : FILTER_LIMIT_DEFAULT;
}

bool filter_part_lazy_load_members(const struct event_filter_part *p)
{
    return p != NULL && p->lazy_load_members;
}

bool filter_part_include_redundant_members(const struct event_filter_part *p)
{
    /* room_event_filter.yaml: "Does not apply unless lazy_load_members is true" */
    return p != NULL && p->lazy_load_members && p->include_redundant_members;
}

int filter_timeline_limit(const struct sync_filter *f)
{
    int n = filter_part_limit(filter_part(f, FILTER_PART_TIMELINE));

    return n > FILTER_TIMELINE_LIMIT_MAX ? FILTER_TIMELINE_LIMIT_MAX : n;
}

bool filter_lazy_load_members(const struct sync_filter *f)
{
    return filter_part_lazy_load_members(filter_part(f, FILTER_PART_STATE));
}

bool filter_include_redundant_members(const struct sync_filter *f)
{
    return filter_part_include_redundant_members(filter_part(f, FILTER_PART_STATE));
}

bool filter_unread_thread_notifications(const struct sync_filter *f)
{
    return filter_part(f, FILTER_PART_TIMELINE)->unread_thread_notifications;
}

bool filter_include_leave(const struct sync_filter *f)
{
    return f != NULL && f->include_leave;
}

enum filter_event_format filter_event_format(const struct sync_filter *f)
{
    return f != NULL ? f->event_format : FILTER_FORMAT_CLIENT;
}

/* ---- event_fields ------------------------------------------------------ */

bool filter_has_event_fields(const struct sync_filter *f)
{
    return f != NULL && f->n_fields > 0;
}

/* Copy event's value at path into out, creating the objects on the way.
 * Returns 0 (copied or nothing to copy) or -1 on OOM. */
static int field_copy(const json_t *event, const struct field_path *path, json_t *out)
{
    const json_t *src = event;
    json_t *dst = out, *copy;

    for (size_t i = 0; i < path->n; i++) {
        if (!json_is_object(src))
            return 0; /* the path crosses a non-object: nothing there */
        src = json_object_get(src, path->segs[i]);
        if (src == NULL)
            return 0;
    }
    /* Walk the output the same way. A member found on the way is an object:
     * it was copied from the same place of event, which is an object. */
    for (size_t i = 0; i + 1 < path->n; i++) {
        json_t *next = json_object_get(dst, path->segs[i]);

        if (next == NULL) {
            next = json_object();
            if (next == NULL || json_object_set_new(dst, path->segs[i], next) != 0)
                return -1;
        }
        dst = next;
    }
    copy = json_deep_copy(src);
    if (copy == NULL || json_object_set_new(dst, path->segs[path->n - 1], copy) != 0)
        return -1;
    return 0;
}

json_t *filter_apply_event_fields(const json_t *event, const struct sync_filter *f)
{
    json_t *out;

    if (!json_is_object(event))
        return NULL;
    if (!filter_has_event_fields(f))
        return json_deep_copy(event);
    out = json_object();
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < f->n_fields; i++) {
        if (field_copy(event, &f->fields[i], out) != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

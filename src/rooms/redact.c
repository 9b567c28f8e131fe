/* redact: see redact.h. */
#include "rooms/redact.h"

#include <stdlib.h>
#include <string.h>

#include "json/sign.h"
#include "util/base64.h"

/* Top-level keys kept by fragments/v9-redactions.md (used by v10). */
static const char *const top_keys_v9[] = {
    "event_id", "type", "room_id", "sender", "state_key", "content",
    "hashes", "signatures", "depth", "prev_events", "prev_state",
    "auth_events", "origin", "origin_server_ts", "membership", NULL,
};

/* v11-redactions.md: "The top-level origin, membership, and prev_state
 * properties are no longer protected from redaction." */
static const char *const top_keys_v11[] = {
    "event_id", "type", "room_id", "sender", "state_key", "content",
    "hashes", "signatures", "depth", "prev_events", "auth_events",
    "origin_server_ts", NULL,
};

struct content_rule {
    const char *type;
    const char *const keys[10];
};

static const struct content_rule content_v9[] = {
    { "m.room.member", { "membership", "join_authorised_via_users_server" } },
    { "m.room.create", { "creator" } },
    { "m.room.join_rules", { "join_rule", "allow" } },
    { "m.room.power_levels", { "ban", "events", "events_default", "kick",
        "redact", "state_default", "users", "users_default" } },
    { "m.room.history_visibility", { "history_visibility" } },
    { NULL, { NULL } },
};

/* v11: power levels also keep "invite", redactions keep "redacts"; the
 * create event keeps all of its content and member events keep
 * third_party_invite.signed (handled in content_redact). */
static const struct content_rule content_v11[] = {
    { "m.room.member", { "membership", "join_authorised_via_users_server" } },
    { "m.room.join_rules", { "join_rule", "allow" } },
    { "m.room.power_levels", { "ban", "events", "events_default", "invite",
        "kick", "redact", "state_default", "users", "users_default" } },
    { "m.room.history_visibility", { "history_visibility" } },
    { "m.room.redaction", { "redacts" } },
    { NULL, { NULL } },
};

/* Copy the kept members of content into out; -1 on allocation failure. */
static int content_redact(const struct room_version *rv, const char *type,
                          const json_t *content, json_t *out)
{
    const struct content_rule *rules =
        rv->redaction == ROOM_REDACT_V11 ? content_v11 : content_v9;
    const json_t *tpi, *signed_obj;
    json_t *kept;

    if (type == NULL || !json_is_object(content))
        return 0;
    if (rv->redaction == ROOM_REDACT_V11 && strcmp(type, "m.room.create") == 0) {
        int rc;

        kept = json_deep_copy(content);
        rc = kept != NULL ? json_object_update(out, kept) : -1;
        json_decref(kept);
        return rc == 0 ? 0 : -1;
    }
    for (const struct content_rule *r = rules; r->type != NULL; r++) {
        if (strcmp(r->type, type) != 0)
            continue;
        for (size_t i = 0; i < 10 && r->keys[i] != NULL; i++) {
            const json_t *v = json_object_get(content, r->keys[i]);
            if (v == NULL)
                continue;
            if (json_object_set_new(out, r->keys[i], json_deep_copy(v)) != 0)
                return -1;
        }
        break;
    }
    /* v11: "Additionally, it allows the signed key of the
     * third_party_invite key." Only signed survives under it. */
    if (rv->redaction == ROOM_REDACT_V11 && strcmp(type, "m.room.member") == 0) {
        tpi = json_object_get(content, "third_party_invite");
        signed_obj = json_is_object(tpi) ? json_object_get(tpi, "signed") : NULL;
        if (signed_obj != NULL) {
            kept = json_pack("{s:O}", "signed", signed_obj);
            if (kept == NULL)
                return -1;
            if (json_object_set_new(out, "third_party_invite", kept) != 0)
                return -1;
        }
    }
    return 0;
}

json_t *event_redact(const struct room_version *rv, const json_t *event)
{
    const char *const *keys;
    const char *type;
    json_t *out = NULL, *content = NULL;

    if (rv == NULL || !json_is_object(event))
        return NULL;
    keys = rv->redaction == ROOM_REDACT_V11 ? top_keys_v11 : top_keys_v9;
    out = json_object();
    content = json_object();
    if (out == NULL || content == NULL)
        goto err;
    for (size_t i = 0; keys[i] != NULL; i++) {
        const json_t *v = json_object_get(event, keys[i]);
        if (v == NULL || strcmp(keys[i], "content") == 0)
            continue;
        if (json_object_set_new(out, keys[i], json_deep_copy(v)) != 0)
            goto err;
    }
    type = json_string_value(json_object_get(event, "type"));
    if (content_redact(rv, type, json_object_get(event, "content"), content) != 0)
        goto err;
    /* Redaction always leaves a content object, even if the event had
     * none: every PDU format requires "content". */
    if (json_object_set_new(out, "content", content) != 0) {
        content = NULL;
        goto err;
    }
    return out;
err:
    json_decref(content);
    json_decref(out);
    return NULL;
}

const char *event_redaction_target(const struct room_version *rv,
                                   const json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));

    if (rv == NULL || type == NULL || strcmp(type, "m.room.redaction") != 0)
        return NULL;
    if (rv->redacts_in_content)
        return json_string_value(json_object_get(json_object_get(event, "content"),
                                                 "redacts"));
    return json_string_value(json_object_get(event, "redacts"));
}

char *event_compute_id(const struct room_version *rv, const json_t *event)
{
    unsigned char hash[32];
    json_t *redacted;
    char *b64 = NULL, *id = NULL;
    size_t len;

    redacted = event_redact(rv, event);
    if (redacted == NULL)
        return NULL;
    /* The reference hash drops signatures and unsigned (redaction already
     * dropped unsigned); event_id is local bookkeeping, not part of a v4+
     * event, so it must not enter the hash. */
    json_object_del(redacted, "signatures");
    json_object_del(redacted, "unsigned");
    json_object_del(redacted, "event_id");
    if (event_reference_hash(redacted, hash) != 0)
        goto out;
    b64 = b64url_encode(hash, sizeof hash);
    if (b64 == NULL)
        goto out;
    len = strlen(b64);
    id = malloc(len + 2);
    if (id == NULL)
        goto out;
    id[0] = '$';
    memcpy(id + 1, b64, len + 1);
out:
    free(b64);
    json_decref(redacted);
    return id;
}

char *event_room_id_from_create(const struct room_version *rv,
                                const json_t *create)
{
    const char *type = json_string_value(json_object_get(create, "type"));
    char *id;

    if (rv == NULL || !rv->room_id_from_create || type == NULL
        || strcmp(type, "m.room.create") != 0)
        return NULL;
    id = event_compute_id(rv, create);
    if (id != NULL)
        id[0] = '!'; /* "the event ID of the event with sigil ! instead of $" */
    return id;
}

/* room_version: see room_version.h. */
#include "rooms/room_version.h"

#include <string.h>

/* Read this table against content/rooms/v10.md, v11.md and v12.md. Every
 * version here is v7+ (knock), v8+ (restricted), v10+ (knock_restricted,
 * integer power levels) and v6+ (strict canonical JSON). */
static const struct room_version room_versions[] = {
    { .id = "10", .redaction = ROOM_REDACT_V9, .auth = ROOM_AUTH_V10,
      .state_res = ROOM_STATE_RES_V2, .room_id_from_create = false,
      .create_requires_creator = true, .creators_infinite_power = false,
      .redacts_in_content = false, .knock_allowed = true,
      .restricted_allowed = true, .knock_restricted_allowed = true,
      .strict_canonical_json = true, .integer_power_levels = true },
    { .id = "11", .redaction = ROOM_REDACT_V11, .auth = ROOM_AUTH_V11,
      .state_res = ROOM_STATE_RES_V2, .room_id_from_create = false,
      .create_requires_creator = false, .creators_infinite_power = false,
      .redacts_in_content = true, .knock_allowed = true,
      .restricted_allowed = true, .knock_restricted_allowed = true,
      .strict_canonical_json = true, .integer_power_levels = true },
    { .id = "12", .redaction = ROOM_REDACT_V11, .auth = ROOM_AUTH_V12,
      .state_res = ROOM_STATE_RES_V2_1, .room_id_from_create = true,
      .create_requires_creator = false, .creators_infinite_power = true,
      .redacts_in_content = true, .knock_allowed = true,
      .restricted_allowed = true, .knock_restricted_allowed = true,
      .strict_canonical_json = true, .integer_power_levels = true },
};

const struct room_version *room_version_get(const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof room_versions / sizeof room_versions[0]; i++)
        if (strcmp(room_versions[i].id, id) == 0)
            return &room_versions[i];
    return NULL;
}

const struct room_version *room_version_default(void)
{
    /* rooms/_index.md: v12 is the recommended default in v1.19. */
    return room_version_get("12");
}

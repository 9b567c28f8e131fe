/*
 * exposure: what one account received, from the access ledger (issue 5,
 * part 4). Used by `chappe audit exposure` and by the admin endpoint
 * GET /_synapse/admin/v1/users/{userId}/exposure.
 *
 * The report is built from ledger rows only, which hold what left after
 * every filter (served.h), so it matches what the account's clients
 * received; the store adds what those rows point at (event IDs, senders
 * and times from the stream positions; room names, join rules and
 * encryption; media names and types; the account's membership history).
 * Rooms the account could read in the window but was never served from are
 * listed with status "readable_not_requested", apart from "served".
 * Encrypted rooms are reported as ciphertext served: the server never had
 * the plaintext, and the count of m.room.encrypted events says how much.
 *
 * Memory: the report is a json_t the caller owns (json_decref). Reading
 * only; any thread. Bounded by the window: a report over millions of
 * events holds every served position in memory (8 bytes each) once.
 */
#ifndef CHAPPE_SECURITY_EXPOSURE_H
#define CHAPPE_SECURITY_EXPOSURE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct store;

struct exposure_query {
	const char *user_id;
	int64_t since;              /* ms, inclusive (0: from the start) */
	int64_t until;              /* ms, exclusive (INT64_MAX: up to now) */
	bool event_ids;             /* list every served event's ID per room */
};

/* The report as JSON (shape in docs/incident-response.md), or NULL on a
 * store error or out of memory (logged). */
json_t *exposure_report(struct store *st, const struct exposure_query *q);

enum exposure_format { EXPOSURE_JSON, EXPOSURE_MARKDOWN, EXPOSURE_HTML };
/* "json", "markdown" (or "md"), "html"; -1 for anything else. */
int exposure_format_parse(const char *s, enum exposure_format *out);
/* The report rendered as text (malloc'd, NUL-terminated), or NULL on OOM.
 * HTML escapes every value taken from the store: room names, user IDs,
 * user agents and search terms are attacker-chosen. */
char *exposure_render(const json_t *report, enum exposure_format f);

/* A time argument: milliseconds since the epoch, or an ISO 8601 UTC date
 * "2026-06-01" or time "2026-06-01T12:30:00Z". 0, or -1 when malformed. */
int exposure_time_parse(const char *s, int64_t *out_ms);

#endif

/*
 * sqlite_conn: opening connections, the statement table and its per-
 * connection cache, and the checked column readers.
 *
 * Threads: a struct sqlite_conn belongs to one thread at a time (the writer
 * thread, or the reader's own thread); nothing here locks.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* How long a connection waits for a lock held by another connection (only
 * another process, or a reader during WAL recovery, can hold one). */
#define SQLITE_BUSY_TIMEOUT_MS 5000

#define USER_COLS "user_id, password_hash, displayname, avatar_url, admin, " \
                  "deactivated, locked, suspended, created_ts"
#define DEVICE_COLS "user_id, device_id, display_name, created_ts, last_seen_ts, " \
                    "last_seen_ip, last_seen_user_agent"
#define EVENT_COLS "stream, event_id, room_id, type, state_key, sender, origin_ts, json, " \
                   "prev_content, redacted_by, txn_id, txn_device_id"
#define EVENT_COLS_E "e.stream, e.event_id, e.room_id, e.type, e.state_key, e.sender, " \
                     "e.origin_ts, e.json, e.prev_content, e.redacted_by, e.txn_id, " \
                     "e.txn_device_id"
#define MEMBER_COLS_M "m.room_id, m.user_id, m.membership, m.event_id, m.stream"
/* Children of ?2 down to depth ?5 in room ?1, filtered at every level by
 * rel_type ?3 and event type ?4 (NULL: any), never through a redacted
 * event; IN (not a join) so that no event comes out twice. */
#define SQL_RELATIONS_TREE \
	"WITH RECURSIVE tree (event_id, depth) AS (" \
	"  VALUES (?2, 0) UNION " \
	"  SELECT r.event_id, t.depth + 1 FROM tree AS t " \
	"  JOIN event_relations AS r ON r.relates_to = t.event_id " \
	"  JOIN events AS c ON c.stream = r.stream " \
	"  WHERE t.depth < ?5 AND r.room_id = ?1 AND c.redacted_by IS NULL " \
	"  AND (?3 IS NULL OR r.rel_type = ?3) AND (?4 IS NULL OR r.type = ?4)) " \
	"SELECT " EVENT_COLS_E " FROM events AS e " \
	"WHERE e.event_id IN (SELECT event_id FROM tree WHERE depth > 0) " \
	"AND e.event_id <> ?2 AND e.stream > ?6 AND e.stream <= ?7 "
/* 500 anonymous parameters, numbered ?2..?501 after an explicit ?1, each
 * followed by a comma (the list ends with NULL, which matches nothing). */
#define SQL_Q10 "?,?,?,?,?,?,?,?,?,?,"
#define SQL_Q100 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10 SQL_Q10
#define SQL_Q500 SQL_Q100 SQL_Q100 SQL_Q100 SQL_Q100 SQL_Q100

/* Every statement the back end runs: reading this table tells what SQL the
 * server can issue. */
static const char *const sqlite_stmt_sql[SQ_COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_SAVEPOINT] = "SAVEPOINT job",
	[SQ_RELEASE] = "RELEASE job",
	[SQ_ROLLBACK_TO] = "ROLLBACK TO job",

	[SQ_USER_INSERT] =
		"INSERT INTO users (user_id, password_hash, displayname, admin, created_ts) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_USER_GET] = "SELECT " USER_COLS " FROM users WHERE user_id = ?1",
	[SQ_USER_EXISTS] = "SELECT 1 FROM users WHERE user_id = ?1",
	[SQ_USER_ACTIVE] = "SELECT 1 FROM users WHERE user_id = ?1 AND deactivated = 0",
	[SQ_USER_SET_PASSWORD] =
		"UPDATE users SET password_hash = ?2 WHERE user_id = ?1 AND deactivated = 0",
	[SQ_USER_SET_ADMIN] = "UPDATE users SET admin = ?2 WHERE user_id = ?1",
	[SQ_USER_DEACTIVATE] =
		"UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = ?1",
	[SQ_USER_ERASE] =
		"UPDATE users SET displayname = NULL, avatar_url = NULL WHERE user_id = ?1",
	[SQ_USER_SET_DISPLAYNAME] = "UPDATE users SET displayname = ?2 WHERE user_id = ?1",
	[SQ_USER_SET_AVATAR_URL] = "UPDATE users SET avatar_url = ?2 WHERE user_id = ?1",
	[SQ_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY user_id",

	[SQ_DEVICE_GET] =
		"SELECT " DEVICE_COLS " FROM devices WHERE user_id = ?1 AND device_id = ?2",
	[SQ_DEVICE_LIST] =
		"SELECT " DEVICE_COLS " FROM devices WHERE user_id = ?1 ORDER BY device_id",
	[SQ_DEVICE_INSERT_IF_NEW] =
		"INSERT INTO devices (user_id, device_id, display_name, created_ts) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, device_id) DO NOTHING",
	[SQ_DEVICE_SET_NAME] =
		"UPDATE devices SET display_name = ?3 WHERE user_id = ?1 AND device_id = ?2",
	[SQ_DEVICE_TOUCH] =
		"UPDATE devices SET last_seen_ts = ?3, last_seen_ip = ?4, "
		"last_seen_user_agent = ?5 WHERE user_id = ?1 AND device_id = ?2",
	[SQ_DEVICE_DELETE] = "DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2",
	[SQ_DEVICES_DELETE_ALL] =
		"DELETE FROM devices WHERE user_id = ?1 AND (?2 IS NULL OR device_id <> ?2)",

	[SQ_ACCESS_DELETE_DEVICE] =
		"DELETE FROM access_tokens WHERE user_id = ?1 AND device_id = ?2",
	[SQ_REFRESH_DELETE_DEVICE] =
		"DELETE FROM refresh_tokens WHERE user_id = ?1 AND device_id = ?2",
	[SQ_ACCESS_DELETE_OTHER_DEVICES] =
		"DELETE FROM access_tokens WHERE user_id = ?1 AND (?2 IS NULL OR device_id <> ?2)",
	[SQ_REFRESH_DELETE_OTHER_DEVICES] =
		"DELETE FROM refresh_tokens WHERE user_id = ?1 AND (?2 IS NULL OR device_id <> ?2)",
	[SQ_ACCESS_INSERT] =
		"INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, "
		"expires_ts, refresh_token_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_REFRESH_INSERT] =
		"INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts, "
		"expires_ts, parent_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	/* Authentication in one read: the token, its user's flags, and
	 * whether it is the first use of a refreshed pair (parent_id set). */
	[SQ_ACCESS_LOOKUP] =
		"SELECT a.user_id, a.device_id, a.expires_ts, u.admin, u.deactivated, "
		"u.locked, u.suspended, a.refresh_token_id, r.parent_id "
		"FROM access_tokens AS a JOIN users AS u ON u.user_id = a.user_id "
		"LEFT JOIN refresh_tokens AS r ON r.id = a.refresh_token_id "
		"WHERE a.token_hash = ?1",
	[SQ_REFRESH_GET] =
		/* a locked account is refused like a deactivated one: containment
		 * must not be outlived by refreshing tokens */
		"SELECT r.id, r.user_id, r.device_id, r.expires_ts, r.used, (u.deactivated OR u.locked), "
		"r.parent_id FROM refresh_tokens AS r JOIN users AS u ON u.user_id = r.user_id "
		"WHERE r.token_hash = ?1",
	[SQ_REFRESH_PARENT_GET] =
		"SELECT parent_id, user_id, device_id FROM refresh_tokens WHERE id = ?1",
	/* the generation revoked by the previous refresh, with its access tokens */
	[SQ_ACCESS_DELETE_USED] =
		"DELETE FROM access_tokens WHERE refresh_token_id IN (SELECT id FROM "
		"refresh_tokens WHERE user_id = ?1 AND device_id = ?2 AND used = 1)",
	[SQ_REFRESH_DELETE_USED] =
		"DELETE FROM refresh_tokens WHERE user_id = ?1 AND device_id = ?2 AND used = 1",
	[SQ_REFRESH_MARK_USED] = "UPDATE refresh_tokens SET used = 1 WHERE id = ?1",
	[SQ_REFRESH_CLEAR_PARENT] = "UPDATE refresh_tokens SET parent_id = NULL WHERE id = ?1",
	/* pairs issued from a refresh token and never used (the client lost them) */
	[SQ_ACCESS_DELETE_CHILDREN] =
		"DELETE FROM access_tokens WHERE refresh_token_id IN "
		"(SELECT id FROM refresh_tokens WHERE parent_id = ?1)",
	[SQ_REFRESH_DELETE_CHILDREN] = "DELETE FROM refresh_tokens WHERE parent_id = ?1",
	[SQ_ACCESS_EXPIRE_BY_REFRESH] =
		"UPDATE access_tokens SET expires_ts = ?2 WHERE refresh_token_id = ?1 "
		"AND (expires_ts = 0 OR expires_ts > ?2)",

	/* ---- rooms, events, memberships ---- */
	/* deferred: a read transaction on a reader (rooms_changed_since) */
	[SQ_READ_BEGIN] = "BEGIN",
	[SQ_ROOM_INSERT] =
		"INSERT INTO rooms (room_id, room_version, creator, created_ts) "
		"VALUES (?1, ?2, ?3, ?4)",
	[SQ_ROOM_EXISTS] = "SELECT 1 FROM rooms WHERE room_id = ?1",
	[SQ_ROOM_GET] =
		"SELECT room_id, room_version, creator, created_ts, published FROM rooms "
		"WHERE room_id = ?1",
	[SQ_ROOM_SET_PUBLISHED] = "UPDATE rooms SET published = ?2 WHERE room_id = ?1",
	[SQ_ROOMS_PUBLISHED] =
		"SELECT room_id FROM rooms WHERE published = 1 AND room_id > ?1 "
		"ORDER BY room_id LIMIT ?2",
	[SQ_EVENT_INSERT] =
		"INSERT INTO events (event_id, room_id, type, state_key, sender, origin_ts, "
		"depth, json, prev_content, txn_id, txn_device_id) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[SQ_EVENT_GET] = "SELECT " EVENT_COLS " FROM events WHERE event_id = ?1",
	/* the first redaction is the one recorded; the JSON is the same for any */
	[SQ_EVENT_REDACT] =
		"UPDATE events SET json = ?3, redacted_by = COALESCE(redacted_by, ?2) "
		"WHERE event_id = ?1 AND room_id = ?4",
	[SQ_TXN_INSERT] =
		"INSERT INTO transactions (user_id, device_id, txn_id, event_id) "
		"VALUES (?1, ?2, ?3, ?4)",
	[SQ_TXN_GET] =
		"SELECT event_id FROM transactions WHERE user_id = ?1 AND device_id = ?2 "
		"AND txn_id = ?3",
	[SQ_STATE_UPSERT] =
		"INSERT INTO current_state (room_id, type, state_key, event_id, stream) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (room_id, type, state_key) "
		"DO UPDATE SET event_id = excluded.event_id, stream = excluded.stream",
	[SQ_MEMBERSHIP_INSERT] =
		"INSERT INTO memberships (room_id, user_id, membership, event_id, stream) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_STREAM_MAX] = "SELECT COALESCE(MAX(stream), 0) FROM events",
	[SQ_ROOM_EVENTS_FWD] =
		"SELECT " EVENT_COLS " FROM events WHERE room_id = ?1 AND stream > ?2 "
		"AND stream <= ?3 ORDER BY stream ASC LIMIT ?4",
	[SQ_ROOM_EVENTS_BWD] =
		"SELECT " EVENT_COLS " FROM events WHERE room_id = ?1 AND stream > ?2 "
		"AND stream <= ?3 ORDER BY stream DESC LIMIT ?4",
	/* The newest state event per (type, state_key) before ?2: the inner
	 * query reads only the partial index events_room_state. */
	[SQ_STATE_AT] =
		"SELECT " EVENT_COLS " FROM events WHERE stream IN ("
		"SELECT MAX(stream) FROM events INDEXED BY events_room_state "
		"WHERE room_id = ?1 AND state_key IS NOT NULL AND stream < ?2 "
		"GROUP BY type, state_key) ORDER BY type, state_key",
	[SQ_STATE_CURRENT] =
		"SELECT " EVENT_COLS_E " FROM current_state AS c "
		"JOIN events AS e ON e.stream = c.stream WHERE c.room_id = ?1 "
		"ORDER BY c.type, c.state_key",
	[SQ_STATE_GET_AT] =
		"SELECT " EVENT_COLS " FROM events INDEXED BY events_room_state "
		"WHERE room_id = ?1 AND type = ?2 AND state_key = ?3 "
		"AND state_key IS NOT NULL AND stream < ?4 ORDER BY stream DESC LIMIT 1",
	[SQ_STATE_GET_CURRENT] =
		"SELECT " EVENT_COLS_E " FROM current_state AS c "
		"JOIN events AS e ON e.stream = c.stream "
		"WHERE c.room_id = ?1 AND c.type = ?2 AND c.state_key = ?3",
	/* Current memberships come from current_state, the one record of what
	 * is current; memberships holds the history and the membership value. */
	[SQ_USER_MEMBERSHIPS] =
		"SELECT " MEMBER_COLS_M " FROM current_state AS c "
		"JOIN memberships AS m ON m.stream = c.stream "
		"WHERE c.type = 'm.room.member' AND c.state_key = ?1 ORDER BY c.room_id",
	[SQ_MEMBERSHIP_HISTORY] =
		"SELECT " MEMBER_COLS_M " FROM memberships AS m "
		"WHERE m.user_id = ?2 AND m.room_id = ?1 ORDER BY m.stream",
	[SQ_ROOM_MEMBERS] =
		"SELECT " MEMBER_COLS_M " FROM current_state AS c "
		"JOIN memberships AS m ON m.stream = c.stream "
		"WHERE c.room_id = ?1 AND c.type = 'm.room.member' "
		"AND (?2 IS NULL OR m.membership = ?2) ORDER BY c.state_key",
	[SQ_ROOMS_CHANGED] =
		"SELECT room_id, MAX(stream) FROM events WHERE stream > ?1 "
		"AND room_id IN (" SQL_Q500 "NULL) GROUP BY room_id",

	/* ---- filters and account data ---- */
	/* the next ID of this user, chosen under the writer's transaction */
	[SQ_FILTER_INSERT] =
		"INSERT INTO filters (user_id, filter_id, json) "
		"SELECT ?1, COALESCE(MAX(filter_id) + 1, 0), ?2 FROM filters WHERE user_id = ?1 "
		"RETURNING filter_id",
	[SQ_FILTER_GET] = "SELECT json FROM filters WHERE user_id = ?1 AND filter_id = ?2",
	[SQ_ACCOUNT_DATA_NEXT] =
		"UPDATE stream_counters SET pos = pos + 1 WHERE name = 'account_data' "
		"RETURNING pos",
	[SQ_ACCOUNT_DATA_UPSERT] =
		"INSERT INTO account_data (user_id, room_id, type, json, stream) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, room_id, type) "
		"DO UPDATE SET json = excluded.json, stream = excluded.stream",
	[SQ_ACCOUNT_DATA_GET] =
		"SELECT json FROM account_data WHERE user_id = ?1 AND room_id = ?2 AND type = ?3",
	[SQ_ACCOUNT_DATA_SINCE] =
		"SELECT room_id, type, json, stream FROM account_data "
		"WHERE user_id = ?1 AND stream > ?2 ORDER BY stream",
	[SQ_ACCOUNT_DATA_MAX] = "SELECT pos FROM stream_counters WHERE name = 'account_data'",

	/* ---- to-device messages ---- */
	[SQ_TD_TXN_INSERT] =
		"INSERT INTO to_device_txns (sender, sender_device, txn_id) VALUES (?1, ?2, ?3)",
	[SQ_TD_NEXT] =
		"UPDATE stream_counters SET pos = pos + 1 WHERE name = 'to_device' RETURNING pos",
	[SQ_TD_INSERT] =
		"INSERT INTO to_device (stream, user_id, device_id, sender, type, content) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_TD_ACK] = "DELETE FROM to_device WHERE user_id = ?1 AND device_id = ?2 AND stream <= ?3",
	[SQ_TD_GET] =
		"SELECT sender, type, content, stream FROM to_device "
		"WHERE user_id = ?1 AND device_id = ?2 AND stream > ?3 ORDER BY stream LIMIT ?4",
	[SQ_TD_MAX] = "SELECT pos FROM stream_counters WHERE name = 'to_device'",
	[SQ_TD_DELETE_DEVICE] = "DELETE FROM to_device WHERE user_id = ?1 AND device_id = ?2",
	[SQ_TD_DELETE_OTHER_DEVICES] =
		"DELETE FROM to_device WHERE user_id = ?1 AND (?2 IS NULL OR device_id <> ?2)",

	/* ---- receipts and presence ---- */
	[SQ_RECEIPT_EVENT_STREAM] =
		"SELECT event_stream FROM receipts WHERE room_id = ?1 AND receipt_type = ?2 "
		"AND user_id = ?3 AND thread_id = ?4",
	[SQ_RECEIPTS_NEXT] =
		"UPDATE stream_counters SET pos = pos + 1 WHERE name = 'receipts' RETURNING pos",
	[SQ_RECEIPT_UPSERT] =
		"INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, "
		"event_stream, ts, stream) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE SET "
		"event_id = excluded.event_id, event_stream = excluded.event_stream, "
		"ts = excluded.ts, stream = excluded.stream",
	/* another user's private receipt is never read out, whoever asks */
	[SQ_RECEIPTS_ROOM] =
		"SELECT room_id, receipt_type, user_id, thread_id, event_id, ts, stream "
		"FROM receipts WHERE room_id = ?1 AND stream > ?3 AND (?4 = 0 OR stream <= ?4) "
		"AND (receipt_type <> 'm.read.private' OR user_id = ?2) ORDER BY stream",
	[SQ_RECEIPTS_MAX] = "SELECT pos FROM stream_counters WHERE name = 'receipts'",
	[SQ_PRESENCE_NEXT] =
		"UPDATE stream_counters SET pos = pos + 1 WHERE name = 'presence' RETURNING pos",
	[SQ_PRESENCE_UPSERT] =
		"INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream) "
		"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id) DO UPDATE SET "
		"presence = excluded.presence, status_msg = excluded.status_msg, "
		"last_active_ts = excluded.last_active_ts, stream = excluded.stream",
	[SQ_PRESENCE_GET] =
		"SELECT user_id, presence, status_msg, last_active_ts, stream FROM presence "
		"WHERE user_id = ?1",
	/* the viewer's own, and everyone joined to a room the viewer is joined
	 * to (current membership: current_state joined to memberships) */
	[SQ_PRESENCE_VISIBLE] =
		"SELECT p.user_id, p.presence, p.status_msg, p.last_active_ts, p.stream "
		"FROM presence AS p WHERE p.stream > ?2 AND (?3 = 0 OR p.stream <= ?3) "
		"AND (p.user_id = ?1 OR p.user_id IN ("
		"SELECT c2.state_key FROM current_state AS c1 "
		"JOIN memberships AS m1 ON m1.stream = c1.stream "
		"JOIN current_state AS c2 ON c2.room_id = c1.room_id AND c2.type = 'm.room.member' "
		"JOIN memberships AS m2 ON m2.stream = c2.stream "
		"WHERE c1.type = 'm.room.member' AND c1.state_key = ?1 "
		"AND m1.membership = 'join' AND m2.membership = 'join')) ORDER BY p.stream",
	[SQ_PRESENCE_MAX] = "SELECT pos FROM stream_counters WHERE name = 'presence'",

	/* ---- room directory (sqlite_directory.c) ---- */
	[SQ_ALIAS_INSERT] = "INSERT INTO room_aliases (alias, room_id, creator) VALUES (?1, ?2, ?3)",
	[SQ_ALIAS_GET] = "SELECT room_id, creator FROM room_aliases WHERE alias = ?1",
	[SQ_ALIAS_DELETE] = "DELETE FROM room_aliases WHERE alias = ?1",
	[SQ_ROOM_ALIASES] =
		"SELECT alias FROM room_aliases WHERE room_id = ?1 ORDER BY alias LIMIT ?2",
	[SQ_MEMBERSHIP_CURRENT] =
		"SELECT m.membership, m.stream FROM current_state AS c "
		"JOIN memberships AS m ON m.stream = c.stream "
		"WHERE c.room_id = ?1 AND c.type = 'm.room.member' AND c.state_key = ?2",
	[SQ_FORGET_UPSERT] =
		"INSERT INTO forgotten_rooms (user_id, room_id, stream) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (user_id, room_id) DO UPDATE SET stream = excluded.stream",
	/* forgotten only while the membership forgotten is still the current one */
	[SQ_FORGOTTEN_GET] =
		"SELECT 1 FROM forgotten_rooms AS f JOIN current_state AS c "
		"ON c.room_id = f.room_id AND c.type = 'm.room.member' AND c.state_key = f.user_id "
		"WHERE f.user_id = ?1 AND f.room_id = ?2 AND c.stream = f.stream",
	[SQ_ROOM_JOINED_COUNT] =
		"SELECT COUNT(*) FROM current_state AS c JOIN memberships AS m ON m.stream = c.stream "
		"WHERE c.room_id = ?1 AND c.type = 'm.room.member' AND m.membership = 'join'",
	[SQ_ROOMS_PUBLISHED_COUNT] = "SELECT COUNT(*) FROM rooms WHERE published = 1",
	[SQ_ROOMS_PUBLISHED_BEFORE] =
		"SELECT room_id FROM rooms WHERE published = 1 AND room_id < ?1 "
		"ORDER BY room_id DESC LIMIT ?2",
	/* Who the searcher may see (users.yaml): members joined to a room the
	 * searcher is joined to, or to a room that is public or world_readable.
	 * Only the members of those rooms are read, never every membership of
	 * the server (CROSS JOIN keeps rooms_seen the outer loop, so members
	 * are found by current_state's primary key). instr(), not LIKE: a
	 * term's % and _ are not wildcards. */
	[SQ_USER_DIRECTORY_SEARCH] =
		"WITH rooms_seen AS ("
		"  SELECT c.room_id FROM current_state AS c "
		"  JOIN memberships AS m ON m.stream = c.stream "
		"  WHERE c.type = 'm.room.member' AND c.state_key = ?1 AND m.membership = 'join' "
		"  UNION "
		"  SELECT c.room_id FROM current_state AS c JOIN events AS e ON e.stream = c.stream "
		"  WHERE (c.type = 'm.room.join_rules' AND c.state_key = '' "
		"         AND CASE WHEN json_valid(e.json) THEN "
		"             json_extract(e.json, '$.content.join_rule') END = 'public') "
		"     OR (c.type = 'm.room.history_visibility' AND c.state_key = '' "
		"         AND CASE WHEN json_valid(e.json) THEN "
		"             json_extract(e.json, '$.content.history_visibility') END "
		"             = 'world_readable')), "
		"visible AS ("
		"  SELECT c.state_key FROM rooms_seen AS r CROSS JOIN current_state AS c "
		"  ON c.room_id = r.room_id AND c.type = 'm.room.member' "
		"  JOIN memberships AS m ON m.stream = c.stream WHERE m.membership = 'join') "
		"SELECT u.user_id, u.displayname, u.avatar_url FROM users AS u "
		"WHERE u.user_id IN visible AND u.deactivated = 0 "
		"AND (instr(lower(u.user_id), lower(?2)) > 0 "
		"     OR instr(lower(COALESCE(u.displayname, '')), lower(?2)) > 0) "
		"AND NOT EXISTS (SELECT 1 FROM account_data AS a WHERE a.user_id = u.user_id "
		"  AND a.room_id = '' AND a.type = 'im.vector.hide_profile' "
		"  AND CASE WHEN json_valid(a.json) THEN json_extract(a.json, '$.hide_profile') "
		"      END IS 1) "
		/* "Ordered by rank and then whether or not profile info is
		 * available" (users.yaml): a match at the start of the localpart
		 * or the display name ranks first */
		"ORDER BY (instr(lower(u.user_id), '@' || lower(?2)) = 1 "
		"          OR instr(lower(COALESCE(u.displayname, '')), lower(?2)) = 1) DESC, "
		"         u.displayname IS NULL, u.user_id LIMIT ?3",

	/* ---- server-side search (sqlite_search.c) ---- */
	/* never in a room that is encrypted now: the check runs in the
	 * persist job, after the state of earlier events of the batch */
	[SQ_SEARCH_INDEX] =
		"INSERT INTO event_search (rowid, text, key) SELECT ?1, ?2, ?3 "
		"WHERE NOT EXISTS (SELECT 1 FROM current_state WHERE room_id = ?4 "
		"AND type = 'm.room.encryption' AND state_key = '')",
	[SQ_SEARCH_UNINDEX] =
		"DELETE FROM event_search WHERE rowid = "
		"(SELECT stream FROM events WHERE event_id = ?1 AND room_id = ?2)",
	/* ?1 the FTS5 expression (built from quoted words only), ?2 a JSON
	 * array of room IDs, ?3 the key mask, ?4 the stream bound. bm25() is
	 * lower for better matches. */
	[SQ_SEARCH_BY_RANK] =
		"SELECT " EVENT_COLS_E ", bm25(event_search) FROM event_search "
		"JOIN events AS e ON e.stream = event_search.rowid "
		"WHERE event_search MATCH ?1 AND (event_search.key & ?3) <> 0 "
		"AND event_search.rowid < ?4 AND e.redacted_by IS NULL "
		"AND e.room_id IN (SELECT value FROM json_each(?2)) "
		"ORDER BY bm25(event_search), event_search.rowid DESC LIMIT ?5 OFFSET ?6",
	[SQ_SEARCH_BY_RECENT] =
		"SELECT " EVENT_COLS_E ", bm25(event_search) FROM event_search "
		"JOIN events AS e ON e.stream = event_search.rowid "
		"WHERE event_search MATCH ?1 AND (event_search.key & ?3) <> 0 "
		"AND event_search.rowid < ?4 AND e.redacted_by IS NULL "
		"AND e.room_id IN (SELECT value FROM json_each(?2)) "
		"ORDER BY event_search.rowid DESC LIMIT ?5 OFFSET ?6",

	/* ---- relations (sqlite_relations.c) ---- */
	[SQ_RELATION_INSERT] =
		"INSERT INTO event_relations (event_id, relates_to, rel_type, room_id, sender, type, "
		"stream) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_RELATIONS_FWD] = SQL_RELATIONS_TREE "ORDER BY e.stream ASC LIMIT ?8",
	[SQ_RELATIONS_BWD] = SQL_RELATIONS_TREE "ORDER BY e.stream DESC LIMIT ?8",
	/* The newest children of each (parent, rel_type) of a JSON array of
	 * parents, numbered; m.replace keeps only valid edits
	 * (event_replacements.md, "Validity of replacement events") ordered
	 * by the spec's "most recent": origin_server_ts, then the
	 * lexicographically largest event ID. The unary + keeps the planner
	 * from walking the whole room's events to find the parents. */
	[SQ_RELATIONS_AGGREGATE] =
		"WITH cand AS ("
		"  SELECT r.stream, r.relates_to, r.rel_type, ROW_NUMBER() OVER ("
		"    PARTITION BY r.relates_to, r.rel_type ORDER BY "
		"    CASE WHEN r.rel_type = 'm.replace' THEN e.origin_ts ELSE e.stream END DESC, "
		"    e.event_id DESC) AS rn "
		"  FROM event_relations AS r JOIN events AS e ON e.stream = r.stream "
		"  JOIN events AS p ON p.event_id = r.relates_to "
		"  WHERE r.relates_to IN (SELECT value FROM json_each(?2)) AND r.room_id = ?1 "
		"  AND +p.room_id = ?1 AND e.redacted_by IS NULL "
		"  AND r.rel_type IN ('m.replace', 'm.thread', 'm.reference') "
		"  AND (r.rel_type <> 'm.replace' OR (e.sender = p.sender AND e.type = p.type "
		"    AND e.state_key IS NULL AND p.state_key IS NULL AND p.redacted_by IS NULL "
		"    AND NOT EXISTS (SELECT 1 FROM event_relations AS pr "
		"      WHERE pr.stream = p.stream AND pr.rel_type = 'm.replace') "
		"    AND (e.type = 'm.room.encrypted' OR CASE WHEN json_valid(e.json) THEN "
		"      json_type(e.json, '$.content.\"m.new_content\"') END = 'object')))) "
		"SELECT " EVENT_COLS_E ", c.relates_to, c.rel_type FROM cand AS c "
		"JOIN events AS e ON e.stream = c.stream WHERE c.rn <= ?3 "
		"ORDER BY c.relates_to, c.rel_type, c.rn",
	[SQ_THREAD_TOTALS] =
		"SELECT r.relates_to, COUNT(*), COALESCE(MAX(r.sender = ?3), 0) "
		"FROM event_relations AS r JOIN events AS e ON e.stream = r.stream "
		"WHERE r.relates_to IN (SELECT value FROM json_each(?2)) AND r.room_id = ?1 "
		"AND r.rel_type = 'm.thread' AND e.redacted_by IS NULL "
		"GROUP BY r.relates_to ORDER BY r.relates_to",
	/* Thread roots by their latest unredacted m.thread child; with ?2,
	 * only threads ?2 started or replied in ("participated",
	 * threading.md). The room's index, not the parents' one that the
	 * GROUP BY would tempt the planner into scanning whole. */
	[SQ_ROOM_THREADS] =
		"SELECT " EVENT_COLS_E ", t.latest FROM ("
		"  SELECT r.relates_to AS root, MAX(r.stream) AS latest, "
		"  COALESCE(MAX(r.sender = ?2), 0) AS part "
		"  FROM event_relations AS r INDEXED BY event_relations_room "
		"  JOIN events AS c ON c.stream = r.stream "
		"  WHERE r.room_id = ?1 AND r.rel_type = 'm.thread' AND c.redacted_by IS NULL "
		"  GROUP BY r.relates_to) AS t "
		"JOIN events AS e ON e.event_id = t.root "
		"WHERE e.room_id = ?1 AND (?3 = 0 OR t.latest < ?3) "
		"AND (?2 IS NULL OR t.part = 1 OR e.sender = ?2) "
		"ORDER BY t.latest DESC LIMIT ?4",
	/* the key lives only in the child's JSON: event_relations_parent
	 * narrows the rows to this parent's annotations first */
	[SQ_ANNOTATION_EXISTS] =
		"SELECT 1 FROM event_relations AS r JOIN events AS e ON e.stream = r.stream "
		"WHERE r.relates_to = ?1 AND r.rel_type = 'm.annotation' AND r.sender = ?2 "
		"AND r.type = ?3 AND r.room_id = ?4 AND e.redacted_by IS NULL "
		"AND CASE WHEN json_valid(e.json) THEN "
		"json_extract(e.json, '$.content.\"m.relates_to\".key') END = ?5 LIMIT 1",

	/* ---- end-to-end encryption keys (sqlite_keys.c) ---- */
	[SQ_KEYS_DEVICE_EXISTS] = "SELECT 1 FROM devices WHERE user_id = ?1 AND device_id = ?2",
	[SQ_KEYS_DEVICE_IDENTITY] =
		"SELECT identity, json FROM device_keys WHERE user_id = ?1 AND device_id = ?2",
	[SQ_KEYS_DEVICE_UPSERT] =
		"INSERT INTO device_keys (user_id, device_id, json, identity) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (user_id, device_id) DO UPDATE SET json = excluded.json",
	/* only devices that exist (the trigger keeps them in step; the join
	 * also gives the display name /keys/query serves in unsigned) */
	[SQ_KEYS_DEVICE_LIST] =
		"SELECT k.device_id, k.json, d.display_name FROM device_keys AS k "
		"JOIN devices AS d ON d.user_id = k.user_id AND d.device_id = k.device_id "
		"WHERE k.user_id = ?1 AND (?2 IS NULL OR k.device_id = ?2) ORDER BY k.device_id",
	[SQ_KEYS_OTK_GET] =
		"SELECT json FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 "
		"AND algorithm = ?3 AND key_id = ?4",
	[SQ_KEYS_OTK_INSERT] =
		"INSERT INTO one_time_keys (user_id, device_id, algorithm, key_id, json) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_KEYS_OTK_TOTAL] =
		"SELECT COUNT(*) FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2",
	[SQ_KEYS_OTK_COUNTS] =
		"SELECT algorithm, COUNT(*) FROM one_time_keys WHERE user_id = ?1 AND device_id = ?2 "
		"GROUP BY algorithm ORDER BY algorithm",
	/* take exactly one key: the row picked is the row deleted */
	[SQ_KEYS_OTK_CLAIM] =
		"DELETE FROM one_time_keys WHERE rowid = (SELECT rowid FROM one_time_keys "
		"WHERE user_id = ?1 AND device_id = ?2 AND algorithm = ?3 ORDER BY key_id LIMIT 1) "
		"RETURNING key_id, json",
	/* the same key again keeps its used flag; another key is unused */
	[SQ_KEYS_FALLBACK_UPSERT] =
		"INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, json, used) "
		"VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (user_id, device_id, algorithm) "
		"DO UPDATE SET key_id = excluded.key_id, json = excluded.json, used = 0 "
		"WHERE key_id <> excluded.key_id OR json <> excluded.json",
	[SQ_KEYS_FALLBACK_CLAIM] =
		"UPDATE fallback_keys SET used = 1 WHERE user_id = ?1 AND device_id = ?2 "
		"AND algorithm = ?3 RETURNING key_id, json",
	[SQ_KEYS_FALLBACK_UNUSED] =
		"SELECT algorithm FROM fallback_keys WHERE user_id = ?1 AND device_id = ?2 "
		"AND used = 0 ORDER BY algorithm",
	[SQ_KEYS_CHANGE_INSERT] =
		"INSERT INTO device_list_changes (user_id) VALUES (?1) RETURNING stream",
	[SQ_KEYS_CHANGES] =
		"SELECT DISTINCT user_id FROM device_list_changes WHERE stream > ?1 AND stream <= ?2 "
		"ORDER BY user_id LIMIT ?3",
	[SQ_KEYS_CHANGES_MAX] = "SELECT COALESCE(MAX(stream), 0) FROM device_list_changes",
	[SQ_XSIGN_GET] =
		"SELECT usage, json, public_key FROM cross_signing_keys WHERE user_id = ?1",
	[SQ_XSIGN_MASTER_EXISTS] =
		"SELECT 1 FROM cross_signing_keys WHERE user_id = ?1 AND usage = 'master'",
	[SQ_XSIGN_UPSERT] =
		"INSERT INTO cross_signing_keys (user_id, usage, json, public_key) "
		"VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, usage) "
		"DO UPDATE SET json = excluded.json, public_key = excluded.public_key",
	[SQ_KEYSIG_UPSERT] =
		"INSERT INTO key_signatures (target_user, target_key_id, signer_user, signer_key_id, "
		"signature) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
		"(target_user, target_key_id, signer_user, signer_key_id) "
		"DO UPDATE SET signature = excluded.signature",
	[SQ_KEYSIG_GET] =
		"SELECT target_key_id, signer_user, signer_key_id, signature FROM key_signatures "
		"WHERE target_user = ?1 ORDER BY target_key_id, signer_user, signer_key_id LIMIT 10000",
	/* ?1's rooms (joined or invited) through current_state_member, then
	 * their members by the primary key; one of each pair joined */
	[SQ_KEYS_SHARED_USERS] =
		"SELECT ?1 UNION SELECT c2.state_key FROM current_state AS c1 "
		"JOIN memberships AS m1 ON m1.stream = c1.stream "
		"JOIN current_state AS c2 ON c2.room_id = c1.room_id AND c2.type = 'm.room.member' "
		"JOIN memberships AS m2 ON m2.stream = c2.stream "
		"WHERE c1.type = 'm.room.member' AND c1.state_key = ?1 "
		"AND m1.membership IN ('join', 'invite') AND m2.membership IN ('join', 'invite') "
		"AND (m1.membership = 'join' OR m2.membership = 'join') "
		"ORDER BY 1 LIMIT ?2",
	/* before ?1's keys are replaced: the signatures made by the old
	 * self-signing key (?2: the new one) and those of the old master key
	 * (?3: the new one) sign nothing current; NULL: not replaced */
	[SQ_KEYSIG_DROP_REPLACED] =
		"DELETE FROM key_signatures WHERE target_user = ?1 AND ("
		"(signer_user = ?1 AND signer_key_id = (SELECT 'ed25519:' || public_key "
		"  FROM cross_signing_keys WHERE user_id = ?1 AND usage = 'self_signing' "
		"  AND public_key <> ?2)) "
		"OR target_key_id = (SELECT public_key FROM cross_signing_keys "
		"  WHERE user_id = ?1 AND usage = 'master' AND public_key <> ?3))",

	/* ---- server-side key backup (sqlite_key_backup.c) ----
	 * Version rows load as (version, algorithm, auth_data, etag, count,
	 * bytes, deleted); key reads and deletes bind ?1 user, ?2 version,
	 * ?3 room, ?4 session, ?5 limit (each statement uses what it needs).
	 * Byte sizes are length(CAST(... AS BLOB)): bytes, not characters. */
	[SQ_BACKUP_VERSION_INSERT] =
		"INSERT INTO backup_versions (user_id, algorithm, auth_data) VALUES (?1, ?2, ?3) "
		"RETURNING version",
	[SQ_BACKUP_VERSION_CURRENT] =
		"SELECT version, algorithm, auth_data, etag, count, bytes, deleted FROM backup_versions "
		"WHERE user_id = ?1 AND deleted = 0 ORDER BY version DESC LIMIT 1",
	[SQ_BACKUP_VERSION_GET] =
		"SELECT version, algorithm, auth_data, etag, count, bytes, deleted FROM backup_versions "
		"WHERE version = ?2 AND user_id = ?1",
	[SQ_BACKUP_VERSION_SET_AUTH] =
		"UPDATE backup_versions SET auth_data = ?3 WHERE user_id = ?1 AND version = ?2 "
		"AND deleted = 0",
	[SQ_BACKUP_VERSION_MARK_DELETED] =
		"UPDATE backup_versions SET deleted = 1, count = 0, bytes = 0, etag = etag + 1 "
		"WHERE user_id = ?1 AND version = ?2",
	[SQ_BACKUP_VERSION_BUMP] =
		"UPDATE backup_versions SET etag = etag + 1, count = count + ?3, bytes = bytes + ?4 "
		"WHERE user_id = ?1 AND version = ?2 AND deleted = 0 RETURNING etag, count, bytes",
	[SQ_BACKUP_KEY_GET] =
		"SELECT first_message_index, forwarded_count, is_verified, "
		"length(CAST(session_data AS BLOB)) FROM backup_keys "
		"WHERE user_id = ?1 AND version = ?2 AND room_id = ?3 AND session_id = ?4",
	[SQ_BACKUP_KEY_UPSERT] =
		"INSERT INTO backup_keys (user_id, version, room_id, session_id, first_message_index, "
		"forwarded_count, is_verified, session_data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET "
		"first_message_index = excluded.first_message_index, "
		"forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, "
		"session_data = excluded.session_data",
	[SQ_BACKUP_KEYS_ALL] =
		"SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, "
		"session_data FROM backup_keys WHERE user_id = ?1 AND version = ?2 "
		"ORDER BY room_id, session_id LIMIT ?5",
	[SQ_BACKUP_KEYS_ROOM] =
		"SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, "
		"session_data FROM backup_keys WHERE user_id = ?1 AND version = ?2 AND room_id = ?3 "
		"ORDER BY session_id LIMIT ?5",
	[SQ_BACKUP_KEYS_SESSION] =
		"SELECT room_id, session_id, first_message_index, forwarded_count, is_verified, "
		"session_data FROM backup_keys WHERE user_id = ?1 AND version = ?2 AND room_id = ?3 "
		"AND session_id = ?4 LIMIT ?5",
	[SQ_BACKUP_KEYS_DELETE_ALL] =
		"DELETE FROM backup_keys WHERE user_id = ?1 AND version = ?2 "
		"RETURNING length(CAST(session_data AS BLOB))",
	[SQ_BACKUP_KEYS_DELETE_ROOM] =
		"DELETE FROM backup_keys WHERE user_id = ?1 AND version = ?2 AND room_id = ?3 "
		"RETURNING length(CAST(session_data AS BLOB))",
	[SQ_BACKUP_KEYS_DELETE_SESSION] =
		"DELETE FROM backup_keys WHERE user_id = ?1 AND version = ?2 AND room_id = ?3 "
		"AND session_id = ?4 RETURNING length(CAST(session_data AS BLOB))",

	/* ---- media repository (sqlite_media.c) ---- */
	[SQ_MEDIA_INSERT] =
		"INSERT INTO media (media_id, user_id, sha256, content_type, upload_name, "
		"sniffed_type, size, created_ts, expires_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQ_MEDIA_GET] =
		"SELECT media_id, user_id, sha256, content_type, upload_name, sniffed_type, size, "
		"created_ts, expires_ts, quarantined FROM media WHERE media_id = ?1",
	/* stored bytes, and pending uploads still open at ?2 */
	[SQ_MEDIA_USAGE] =
		"SELECT COALESCE(SUM(size), 0), "
		"COALESCE(SUM(sha256 IS NULL AND expires_ts > ?2), 0) FROM media WHERE user_id = ?1",
	[SQ_MEDIA_COMPLETE] =
		"UPDATE media SET sha256 = ?3, content_type = ?4, upload_name = ?5, sniffed_type = ?6, "
		"size = ?7, expires_ts = 0 WHERE media_id = ?1 AND user_id = ?2 AND sha256 IS NULL",
	[SQ_MEDIA_QUARANTINE_ONE] =
		"UPDATE media SET quarantined = 1, quarantined_by = ?2 "
		"WHERE media_id = ?1 AND quarantined = 0",
	[SQ_MEDIA_QUARANTINE_USER] =
		"UPDATE media SET quarantined = 1, quarantined_by = ?2 "
		"WHERE user_id = ?1 AND quarantined = 0",

	/* ---- incident response: lock, suspend, server notices, admin (sqlite_admin.c) ---- */
	[SQ_USER_SET_LOCKED] = "UPDATE users SET locked = ?2 WHERE user_id = ?1",
	[SQ_USER_SET_SUSPENDED] = "UPDATE users SET suspended = ?2 WHERE user_id = ?1",
	[SQ_NOTICE_ROOM_GET] = "SELECT room_id FROM server_notice_rooms WHERE user_id = ?1",
	[SQ_NOTICE_ROOM_INSERT] =
		"INSERT INTO server_notice_rooms (user_id, room_id) VALUES (?1, ?2)",
	/* reads events_room_stream backwards; the sender test filters rows */
	[SQ_ROOM_SENDER_EVENTS] =
		"SELECT event_id FROM events WHERE room_id = ?1 AND sender = ?2 "
		"AND state_key IS NULL AND type <> 'm.room.redaction' AND redacted_by IS NULL "
		"ORDER BY stream DESC LIMIT ?3",
	[SQ_ROOMS_ALL] = "SELECT room_id FROM rooms WHERE room_id > ?1 ORDER BY room_id LIMIT ?2",
	[SQ_REDACTION_JOB_INSERT] =
		"INSERT INTO admin_redactions (redact_id, user_id, status, failed, created_ts) "
		"VALUES (?1, ?2, ?3, ?4, ?5)",
	[SQ_REDACTION_JOB_GET] =
		"SELECT redact_id, user_id, status, failed, created_ts FROM admin_redactions "
		"WHERE redact_id = ?1",

	/* ---- rate-limit overrides (sqlite_ratelimit.c) ---- */
	[SQ_RATELIMIT_OVERRIDE_GET] =
		"SELECT messages_per_second, burst_count FROM ratelimit_overrides WHERE user_id = ?1",
	[SQ_RATELIMIT_OVERRIDE_SET] =
		"INSERT INTO ratelimit_overrides (user_id, messages_per_second, burst_count) "
		"VALUES (?1, ?2, ?3) ON CONFLICT (user_id) DO UPDATE SET "
		"messages_per_second = excluded.messages_per_second, burst_count = excluded.burst_count",
	[SQ_RATELIMIT_OVERRIDE_DELETE] = "DELETE FROM ratelimit_overrides WHERE user_id = ?1",
};

/* Settings of the writer connection. synchronous=FULL in WAL mode syncs
 * the WAL at every commit: a write acknowledged to a client survives power
 * loss. Foreign keys catch a token left behind by a forgotten delete. */
static const char *const sqlite_writer_pragmas[] = {
	"PRAGMA synchronous = FULL",
	"PRAGMA foreign_keys = ON",
};

static int sqlite_conn_wal(sqlite3 *db, char *err, size_t err_len)
{
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	/* The pragma answers the mode in effect: a database on a file system
	 * without shared memory would silently stay in rollback mode. */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		snprintf(err, err_len, "cannot set WAL mode: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_column_type(stmt, 0) != SQLITE_TEXT ||
	    strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0) {
		snprintf(err, err_len, "database refused WAL mode");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(stmt);
	return ret;
}

int sqlite_conn_open_writer(struct sqlite_conn *c, const char *path,
                            char *err, size_t err_len)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open %.200s: %s", path,
		         c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
		goto err;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQLITE_BUSY_TIMEOUT_MS);
	if (sqlite_conn_wal(c->db, err, err_len) != 0)
		goto err;
	for (size_t i = 0; i < sizeof(sqlite_writer_pragmas) / sizeof(sqlite_writer_pragmas[0]); i++) {
		if (sqlite3_exec(c->db, sqlite_writer_pragmas[i], NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, err_len, "%s: %s", sqlite_writer_pragmas[i],
			         sqlite3_errmsg(c->db));
			goto err;
		}
	}
	return 0;
err:
	sqlite_conn_close(c);
	return -1;
}

int sqlite_conn_open_reader(struct sqlite_conn *c, const char *path)
{
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;

	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		log_error("store: cannot open a reader on %s: %s", path,
		          c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
		sqlite_conn_close(c);
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQLITE_BUSY_TIMEOUT_MS);
	return 0;
}

void sqlite_conn_close(struct sqlite_conn *c)
{
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(c->stmts[i]);
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		log_error("store: closing a connection failed: %s", sqlite3_errmsg(c->db));
	memset(c, 0, sizeof(*c));
}

sqlite3_stmt *sqlite_stmt_get(struct sqlite_conn *c, enum sqlite_stmt_id id)
{
	sqlite3_stmt *stmt = NULL;
	unsigned int flags = 0;

	if ((int)id < 0 || id >= SQ_COUNT)
		return NULL;
	if (c->stmts[id] != NULL && !c->busy[id]) {
		c->busy[id] = true;
		return c->stmts[id];
	}
	/* Only the cache's own copy is marked persistent; a nested use gets a
	 * short-lived one. */
	if (c->stmts[id] == NULL)
		flags = SQLITE_PREPARE_PERSISTENT;
	if (sqlite3_prepare_v3(c->db, sqlite_stmt_sql[id], -1, flags, &stmt, NULL) != SQLITE_OK) {
		log_error("store: cannot prepare statement %d: %s", (int)id, sqlite3_errmsg(c->db));
		sqlite3_finalize(stmt);
		return NULL;
	}
	if (c->stmts[id] == NULL) {
		c->stmts[id] = stmt;
		c->busy[id] = true;
	}
	return stmt;
}

void sqlite_stmt_put(struct sqlite_conn *c, enum sqlite_stmt_id id, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	if ((int)id >= 0 && id < SQ_COUNT && stmt == c->stmts[id]) {
		/* reset ends the statement's implicit read transaction: a reader
		 * left mid-step would pin an old snapshot forever */
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		c->busy[id] = false;
		return;
	}
	sqlite3_finalize(stmt);
}

enum store_result sqlite_exec_stmt(struct sqlite_conn *c, enum sqlite_stmt_id id)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	rc = sqlite3_step(stmt);
	r = rc == SQLITE_DONE ? STORE_OK : sqlite_result_of(c, rc, sqlite_stmt_sql[id]);
	sqlite_stmt_put(c, id, stmt);
	return r;
}

int sqlite_bind_text(sqlite3_stmt *stmt, int idx, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, idx);
	/* STATIC: callers keep the string alive until the statement is put */
	return sqlite3_bind_text(stmt, idx, s, -1, SQLITE_STATIC);
}

int sqlite_col_text(sqlite3_stmt *stmt, int col, bool nullable, size_t max, char **out)
{
	const unsigned char *text;
	int type = sqlite3_column_type(stmt, col);
	int n;

	*out = NULL;
	if (type == SQLITE_NULL)
		return nullable ? 0 : -1;
	if (type != SQLITE_TEXT)
		return -1;
	text = sqlite3_column_text(stmt, col);
	n = sqlite3_column_bytes(stmt, col);
	if (text == NULL || n < 0 || (size_t)n > max)
		return -1;
	/* an embedded NUL would make the C string say less than the row */
	if (memchr(text, '\0', (size_t)n) != NULL)
		return -1;
	*out = malloc((size_t)n + 1);
	if (*out == NULL)
		return -1;
	memcpy(*out, text, (size_t)n);
	(*out)[n] = '\0';
	return 0;
}

int sqlite_col_int(sqlite3_stmt *stmt, int col, int64_t *out)
{
	*out = 0;
	if (sqlite3_column_type(stmt, col) != SQLITE_INTEGER)
		return -1;
	*out = sqlite3_column_int64(stmt, col);
	return 0;
}

int sqlite_col_id(sqlite3_stmt *stmt, int col, int64_t *out)
{
	*out = 0;
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return 0;
	if (sqlite_col_int(stmt, col, out) != 0 || *out <= 0)
		return -1;
	return 0;
}

int sqlite_col_bool(sqlite3_stmt *stmt, int col, bool *out)
{
	int64_t v;

	*out = false;
	if (sqlite_col_int(stmt, col, &v) != 0 || (v != 0 && v != 1))
		return -1;
	*out = v == 1;
	return 0;
}

enum store_result sqlite_result_of(struct sqlite_conn *c, int rc, const char *what)
{
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		log_debug("store: %s: key taken", what);
		return STORE_CONFLICT;
	}
	log_error("store: %s: %s (%d)", what, sqlite3_errmsg(c->db), rc);
	return STORE_ERROR;
}

enum store_result sqlite_exec_texts(struct sqlite_conn *c, enum sqlite_stmt_id id,
                                    const char *const *texts, int n, int *changes)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	int rc;

	if (changes != NULL)
		*changes = 0;
	if (stmt == NULL)
		return STORE_ERROR;
	for (int i = 0; i < n; i++) {
		if (sqlite_bind_text(stmt, i + 1, texts[i]) != SQLITE_OK) {
			log_error("store: cannot bind: %s", sqlite3_errmsg(c->db));
			goto out;
		}
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_result_of(c, rc, sqlite_stmt_sql[id]);
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes(c->db);
	r = STORE_OK;
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_probe(struct sqlite_conn *c, enum sqlite_stmt_id id, const char *key)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	int rc;

	if (stmt == NULL)
		return STORE_ERROR;
	if (sqlite_bind_text(stmt, 1, key) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		r = STORE_OK;
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = sqlite_result_of(c, rc, sqlite_stmt_sql[id]);
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

enum store_result sqlite_exec_ints(struct sqlite_conn *c, enum sqlite_stmt_id id,
                                   const int64_t *vals, int n, int *changes)
{
	sqlite3_stmt *stmt = sqlite_stmt_get(c, id);
	enum store_result r = STORE_ERROR;
	int rc;

	if (changes != NULL)
		*changes = 0;
	if (stmt == NULL)
		return STORE_ERROR;
	for (int i = 0; i < n; i++) {
		if (sqlite3_bind_int64(stmt, i + 1, vals[i]) != SQLITE_OK) {
			log_error("store: cannot bind: %s", sqlite3_errmsg(c->db));
			goto out;
		}
	}
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE) {
		r = sqlite_result_of(c, rc, sqlite_stmt_sql[id]);
		goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes(c->db);
	r = STORE_OK;
out:
	sqlite_stmt_put(c, id, stmt);
	return r;
}

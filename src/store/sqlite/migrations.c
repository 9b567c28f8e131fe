/*
 * migrations: the SQLite schema, as an ordered list of steps.
 *
 * Step N (1-based) moves the schema from version N-1 to N. Each is applied
 * once, in its own transaction together with its row in schema_version, so
 * a crash mid-migration leaves the previous version intact. Steps are never
 * edited once released: a change is a new step appended at the end.
 *
 * Threads: run at open on the writer connection, before the writer thread
 * starts. BEGIN IMMEDIATE and a re-read of the version inside the
 * transaction make two processes opening the same file at once safe.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdio.h>

#include "util/timeutil.h"

static const char *const sqlite_migrations[] = {
	/* 1: accounts, devices and their tokens. Tokens are stored as SHA-256
	 * hashes only. Foreign keys have no ON DELETE CASCADE on purpose: the
	 * code deletes tokens explicitly, and a forgotten delete fails loudly
	 * instead of being papered over. */
	"CREATE TABLE users ("
	"  user_id TEXT NOT NULL PRIMARY KEY,"
	"  password_hash TEXT,"
	"  displayname TEXT,"
	"  avatar_url TEXT,"
	"  admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
	"  deactivated INTEGER NOT NULL DEFAULT 0 CHECK (deactivated IN (0, 1)),"
	"  locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),"
	"  suspended INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),"
	"  created_ts INTEGER NOT NULL"
	");"
	"CREATE TABLE devices ("
	"  user_id TEXT NOT NULL REFERENCES users (user_id),"
	"  device_id TEXT NOT NULL,"
	"  display_name TEXT,"
	"  created_ts INTEGER NOT NULL,"
	"  last_seen_ts INTEGER NOT NULL DEFAULT 0,"
	"  last_seen_ip TEXT,"
	"  last_seen_user_agent TEXT,"
	"  PRIMARY KEY (user_id, device_id)"
	");"
	"CREATE TABLE refresh_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  created_ts INTEGER NOT NULL,"
	"  expires_ts INTEGER NOT NULL DEFAULT 0,"
	"  used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),"
	"  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)"
	");"
	"CREATE TABLE access_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  created_ts INTEGER NOT NULL,"
	"  expires_ts INTEGER NOT NULL DEFAULT 0,"
	"  refresh_token_id INTEGER REFERENCES refresh_tokens (id),"
	"  FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)"
	");"
	/* Deleting a device's tokens, and rotation finding the access token
	 * issued with a refresh token; token_hash lookups use the UNIQUE index. */
	"CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);"
	"CREATE INDEX access_tokens_refresh ON access_tokens (refresh_token_id);"
	"CREATE INDEX refresh_tokens_device ON refresh_tokens (user_id, device_id);",

	/* 2: refresh tokens remember the token they were issued from while
	 * that one is still valid ("The old refresh token remains valid until
	 * the new access token or refresh token is used, at which point the
	 * old refresh token is revoked.", Client-Server API, Refreshing access
	 * tokens). NULL once the new pair has been used. */
	"ALTER TABLE refresh_tokens ADD COLUMN parent_id INTEGER REFERENCES refresh_tokens (id);"
	"CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_id);",

	/* 3: rooms, events, state, memberships, transaction IDs, filters and
	 * account data.
	 * - events.stream is the global stream position; AUTOINCREMENT so a
	 *   position is never handed out twice. events_room_stream serves
	 *   ranges (/messages, /sync) and rooms_changed_since;
	 *   events_room_state (partial: state events only) serves the state
	 *   before a position, reading the index alone.
	 * - current_state is the room's state now, one row per (type,
	 *   state_key), kept by the persist job.
	 * - memberships is a history (one row per member event, keyed by its
	 *   stream), which the visibility rules walk; memberships_user_room
	 *   serves it. "Current membership of a user" is not a second table:
	 *   it is current_state's member row (current_state_member finds a
	 *   user's rows) joined to memberships by stream, so there is one
	 *   record of what is current and nothing to keep in step with it.
	 * - account_data has its own stream, a counter in stream_counters
	 *   (not MAX(stream), which an overwrite cannot lower but a future
	 *   delete could). Global entries have room_id ''. */
	"CREATE TABLE rooms ("
	"  room_id TEXT NOT NULL PRIMARY KEY,"
	"  room_version TEXT NOT NULL,"
	"  creator TEXT NOT NULL,"
	"  created_ts INTEGER NOT NULL,"
	"  published INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1))"
	");"
	"CREATE INDEX rooms_published ON rooms (room_id) WHERE published = 1;"
	"CREATE TABLE events ("
	"  stream INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  event_id TEXT NOT NULL UNIQUE,"
	"  room_id TEXT NOT NULL REFERENCES rooms (room_id),"
	"  type TEXT NOT NULL,"
	"  state_key TEXT,"
	"  sender TEXT NOT NULL,"
	"  origin_ts INTEGER NOT NULL,"
	"  depth INTEGER NOT NULL,"
	"  json TEXT NOT NULL,"
	"  prev_content TEXT,"
	"  redacted_by TEXT,"
	"  txn_id TEXT,"
	"  txn_device_id TEXT"
	");"
	"CREATE INDEX events_room_stream ON events (room_id, stream);"
	"CREATE INDEX events_room_state ON events (room_id, type, state_key, stream) "
	"  WHERE state_key IS NOT NULL;"
	"CREATE TABLE current_state ("
	"  room_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  state_key TEXT NOT NULL,"
	"  event_id TEXT NOT NULL REFERENCES events (event_id),"
	"  stream INTEGER NOT NULL REFERENCES events (stream),"
	"  PRIMARY KEY (room_id, type, state_key)"
	") WITHOUT ROWID;"
	"CREATE INDEX current_state_member ON current_state (state_key, room_id) "
	"  WHERE type = 'm.room.member';"
	"CREATE TABLE memberships ("
	"  stream INTEGER NOT NULL PRIMARY KEY REFERENCES events (stream),"
	"  room_id TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  membership TEXT NOT NULL,"
	"  event_id TEXT NOT NULL REFERENCES events (event_id)"
	");"
	"CREATE INDEX memberships_user_room ON memberships (user_id, room_id, stream);"
	"CREATE TABLE transactions ("
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  txn_id TEXT NOT NULL,"
	"  event_id TEXT NOT NULL REFERENCES events (event_id),"
	"  PRIMARY KEY (user_id, device_id, txn_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE filters ("
	"  user_id TEXT NOT NULL,"
	"  filter_id INTEGER NOT NULL,"
	"  json TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, filter_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE account_data ("
	"  user_id TEXT NOT NULL,"
	"  room_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  json TEXT NOT NULL,"
	"  stream INTEGER NOT NULL UNIQUE,"
	"  PRIMARY KEY (user_id, room_id, type)"
	") WITHOUT ROWID;"
	"CREATE INDEX account_data_user_stream ON account_data (user_id, stream);"
	"CREATE TABLE stream_counters ("
	"  name TEXT NOT NULL PRIMARY KEY,"
	"  pos INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO stream_counters (name, pos) VALUES ('account_data', 0);",

	/* 4: receipts and presence, each with its own stream counter.
	 * - receipts: one current row per (room, type, user, thread), as the
	 *   spec asks; thread_id '' is unthreaded (a key column cannot be
	 *   NULL). event_stream is the receipted event's position, so a
	 *   receipt only ever moves forwards. No foreign key to events:
	 *   receipts from other servers may name events we do not have.
	 * - presence: one row per user. */
	"CREATE TABLE receipts ("
	"  room_id TEXT NOT NULL,"
	"  receipt_type TEXT NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  thread_id TEXT NOT NULL,"
	"  event_id TEXT NOT NULL,"
	"  event_stream INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  stream INTEGER NOT NULL UNIQUE,"
	"  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX receipts_room_stream ON receipts (room_id, stream);"
	"CREATE TABLE presence ("
	"  user_id TEXT NOT NULL PRIMARY KEY,"
	"  presence TEXT NOT NULL CHECK (presence IN ('online', 'unavailable', 'offline')),"
	"  status_msg TEXT,"
	"  last_active_ts INTEGER NOT NULL,"
	"  stream INTEGER NOT NULL UNIQUE"
	") WITHOUT ROWID;"
	"CREATE INDEX presence_stream ON presence (stream);"
	"INSERT INTO stream_counters (name, pos) VALUES ('receipts', 0), ('presence', 0);",

	/* 5: room directory (aliases) and forgotten rooms.
	 * - room_aliases: local aliases only ("#local:our.server"), with who
	 *   created one (deleting needs the creator or a room admin);
	 *   room_aliases_room serves GET /rooms/{roomId}/aliases.
	 * - forgotten_rooms: the membership event (by stream) a user forgot.
	 *   A room is forgotten while that event is still the user's current
	 *   membership, so a rejoin un-forgets it without a write.
	 * - current_state_type lets the user directory find the rooms whose
	 *   join rule or history visibility opens them, without a full scan. */
	"CREATE TABLE room_aliases ("
	"  alias TEXT NOT NULL PRIMARY KEY,"
	"  room_id TEXT NOT NULL REFERENCES rooms (room_id),"
	"  creator TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX room_aliases_room ON room_aliases (room_id, alias);"
	"CREATE TABLE forgotten_rooms ("
	"  user_id TEXT NOT NULL,"
	"  room_id TEXT NOT NULL REFERENCES rooms (room_id),"
	"  stream INTEGER NOT NULL REFERENCES events (stream),"
	"  PRIMARY KEY (user_id, room_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX current_state_type ON current_state (type, state_key, room_id);",

	/* 6: relations (edits, threads, references), one row per event whose
	 * content has m.relates_to with a rel_type, written by the persist job.
	 * Keyed by the child's stream (its events row); the parent is NOT a
	 * foreign key: a child may arrive before its parent. A redaction
	 * leaves the row; readers skip children whose events row is redacted
	 * (redacted_by set), so un-redacting is never needed.
	 * - event_relations_parent: children of a parent by type, by stream
	 *   (GET /relations, bundled aggregations);
	 * - event_relations_room: thread roots of a room by latest child
	 *   (GET /threads). */
	"CREATE TABLE event_relations ("
	"  stream INTEGER NOT NULL PRIMARY KEY REFERENCES events (stream),"
	"  event_id TEXT NOT NULL UNIQUE REFERENCES events (event_id),"
	"  relates_to TEXT NOT NULL,"
	"  rel_type TEXT NOT NULL,"
	"  room_id TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  type TEXT NOT NULL"
	");"
	"CREATE INDEX event_relations_parent ON event_relations (relates_to, rel_type, stream);"
	"CREATE INDEX event_relations_room ON event_relations (room_id, rel_type, relates_to, stream);",

	/* 7: server-side search. An FTS5 table whose rowid is the event's
	 * stream, holding the searched text and which key it came from
	 * (store.h enum store_search_key, UNINDEXED: filtered, never matched).
	 * The text is kept in the table (not contentless) so that a
	 * redaction can delete its row by rowid alone. unicode61 with
	 * remove_diacritics 2 folds case and accents ("cafe" finds "café").
	 * Events stored before this step are indexed here, under the same
	 * rules as new ones: the three keys, never a redacted event, never a
	 * room that has ever had m.room.encryption state. */
	"CREATE VIRTUAL TABLE event_search USING fts5("
	"  text, key UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');"
	"INSERT INTO event_search (rowid, text, key) "
	"SELECT c.stream, c.text, c.key FROM ("
	"  SELECT e.stream AS stream, e.room_id AS room_id, "
	"  CASE WHEN json_valid(e.json) THEN json_extract(e.json, CASE e.type "
	"    WHEN 'm.room.message' THEN '$.content.body' WHEN 'm.room.name' THEN '$.content.name' "
	"    ELSE '$.content.topic' END) END AS text, "
	"  CASE e.type WHEN 'm.room.message' THEN 1 WHEN 'm.room.name' THEN 2 ELSE 4 END AS key "
	"  FROM events AS e WHERE e.redacted_by IS NULL "
	"  AND e.type IN ('m.room.message', 'm.room.name', 'm.room.topic')) AS c "
	"WHERE typeof(c.text) = 'text' AND length(c.text) > 0 "
	"AND NOT EXISTS (SELECT 1 FROM events AS x WHERE x.room_id = c.room_id "
	"  AND x.type = 'm.room.encryption' AND x.state_key = '');",
	/* 8: end-to-end encryption keys (keys feature, sqlite_keys.c).
	 * - device_keys: one signed device-keys object per device (canonical
	 *   JSON) and its identity ({algorithms, keys}), which a re-upload may
	 *   not change.
	 * - one_time_keys: a rowid table so that a claim deletes exactly the
	 *   row it picked (DELETE ... WHERE rowid = (SELECT ...) RETURNING).
	 * - fallback_keys: one per (device, algorithm), with its used flag.
	 * - cross_signing_keys: master / self_signing / user_signing per user,
	 *   with the public key the others are checked against.
	 * - key_signatures: signatures uploaded later (POST
	 *   /keys/signatures/upload), merged into what /keys/query serves;
	 *   target_key_id is a device ID or a cross-signing public key.
	 * - device_list_changes: the device-list stream (sync token field
	 *   device_lists): one row per change of a user's devices or keys.
	 * - devices_delete_keys: deleting a device (logout, DELETE /devices,
	 *   deactivation) takes its keys with it and records a change, in the
	 *   deleting statement itself, so no delete path can forget it. */
	"CREATE TABLE device_keys ("
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  json TEXT NOT NULL,"
	"  identity TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, device_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE one_time_keys ("
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"
	"  key_id TEXT NOT NULL,"
	"  json TEXT NOT NULL,"
	"  UNIQUE (user_id, device_id, algorithm, key_id)"
	");"
	"CREATE TABLE fallback_keys ("
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"
	"  key_id TEXT NOT NULL,"
	"  json TEXT NOT NULL,"
	"  used INTEGER NOT NULL DEFAULT 0 CHECK (used IN (0, 1)),"
	"  PRIMARY KEY (user_id, device_id, algorithm)"
	") WITHOUT ROWID;"
	"CREATE TABLE cross_signing_keys ("
	"  user_id TEXT NOT NULL,"
	"  usage TEXT NOT NULL CHECK (usage IN ('master', 'self_signing', 'user_signing')),"
	"  json TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, usage)"
	") WITHOUT ROWID;"
	"CREATE TABLE key_signatures ("
	"  target_user TEXT NOT NULL,"
	"  target_key_id TEXT NOT NULL,"
	"  signer_user TEXT NOT NULL,"
	"  signer_key_id TEXT NOT NULL,"
	"  signature TEXT NOT NULL,"
	"  PRIMARY KEY (target_user, target_key_id, signer_user, signer_key_id)"
	") WITHOUT ROWID;"
	"CREATE TABLE device_list_changes ("
	"  stream INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL"
	");"
	"CREATE TRIGGER devices_delete_keys AFTER DELETE ON devices BEGIN"
	"  DELETE FROM device_keys WHERE user_id = old.user_id AND device_id = old.device_id;"
	"  DELETE FROM one_time_keys WHERE user_id = old.user_id AND device_id = old.device_id;"
	"  DELETE FROM fallback_keys WHERE user_id = old.user_id AND device_id = old.device_id;"
	"  DELETE FROM key_signatures WHERE target_user = old.user_id "
	"    AND target_key_id = old.device_id;"
	"  INSERT INTO device_list_changes (user_id) VALUES (old.user_id);"
	"END;",

	/* 9: to-device messages, one row per recipient device, and the
	 * senders' transaction IDs (idempotent PUT /sendToDevice). */
	"CREATE TABLE to_device ("
	"  stream INTEGER NOT NULL PRIMARY KEY,"
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  content TEXT NOT NULL"
	");"
	"CREATE INDEX to_device_by_device ON to_device (user_id, device_id, stream);"
	"CREATE TABLE to_device_txns ("
	"  sender TEXT NOT NULL,"
	"  sender_device TEXT NOT NULL,"
	"  txn_id TEXT NOT NULL,"
	"  PRIMARY KEY (sender, sender_device, txn_id)"
	");"
	"INSERT INTO stream_counters (name, pos) VALUES ('to_device', 0);",

	/* 10: server-side key backup (key backup feature, sqlite_key_backup.c).
	 * - backup_versions: AUTOINCREMENT so that a deleted version number
	 *   is never handed out again (a client holding it must keep getting
	 *   "wrong version", never another backup's keys). etag, count and
	 *   bytes (session_data bytes, for the per-version budget) are kept
	 *   here by the write jobs that change the version's keys.
	 * - backup_keys: one row per (user, version, room, session). */
	"CREATE TABLE backup_versions ("
	"  version INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  algorithm TEXT NOT NULL,"
	"  auth_data TEXT NOT NULL,"
	"  etag INTEGER NOT NULL DEFAULT 0,"
	"  count INTEGER NOT NULL DEFAULT 0,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))"
	");"
	"CREATE INDEX backup_versions_current ON backup_versions (user_id, deleted, version);"
	"CREATE TABLE backup_keys ("
	"  user_id TEXT NOT NULL,"
	"  version INTEGER NOT NULL REFERENCES backup_versions (version),"
	"  room_id TEXT NOT NULL,"
	"  session_id TEXT NOT NULL,"
	"  first_message_index INTEGER NOT NULL,"
	"  forwarded_count INTEGER NOT NULL,"
	"  is_verified INTEGER NOT NULL CHECK (is_verified IN (0, 1)),"
	"  session_data TEXT NOT NULL,"
	"  PRIMARY KEY (user_id, version, room_id, session_id)"
	") WITHOUT ROWID;",

	/* 11: media repository (media feature, sqlite_media.c). One row per
	 * media ID; the bytes are files named by sha256 (src/media/), shared by
	 * rows with the same content. A row from /create is pending (sha256
	 * NULL) until its upload or expires_ts. Quarantined rows stay, so an
	 * ID is never reused and the quarantine is remembered. */
	"CREATE TABLE media ("
	"  media_id TEXT NOT NULL PRIMARY KEY,"
	"  user_id TEXT NOT NULL,"
	"  sha256 TEXT,"
	"  content_type TEXT,"
	"  upload_name TEXT,"
	"  sniffed_type TEXT,"
	"  size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
	"  created_ts INTEGER NOT NULL,"
	"  expires_ts INTEGER NOT NULL DEFAULT 0,"
	"  quarantined INTEGER NOT NULL DEFAULT 0 CHECK (quarantined IN (0, 1)),"
	"  quarantined_by TEXT"
	");"
	"CREATE INDEX media_by_user ON media (user_id);",

	/* 12: incident response (admin feature, sqlite_admin.c). One
	 * server-notices room per user (modules/server_notices.md), and the
	 * outcome of each admin redaction job, kept for redact_status. The
	 * account lock and suspension flags are columns of users since 1. */
	"CREATE TABLE server_notice_rooms ("
	"  user_id TEXT NOT NULL PRIMARY KEY,"
	"  room_id TEXT NOT NULL UNIQUE"
	") WITHOUT ROWID;"
	"CREATE TABLE admin_redactions ("
	"  redact_id TEXT NOT NULL PRIMARY KEY,"
	"  user_id TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  failed TEXT NOT NULL,"
	"  created_ts INTEGER NOT NULL"
	") WITHOUT ROWID;",

	/* 13: access ledger (ledger feature, sqlite_ledger.c). One row per read
	 * served to a user, hash-chained (security/ledger_chain.c): seq is
	 * assigned by the ledger writer, never by SQLite, so a deleted row
	 * leaves a gap. ledger_marks holds the head (last row appended: a
	 * deleted tail is noticed) and the checkpoint (last row purged by
	 * retention: verification starts from it). */
	"CREATE TABLE ledger ("
	"  seq INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  user_id TEXT NOT NULL,"
	"  device_id TEXT,"
	"  ip TEXT,"
	"  user_agent TEXT,"
	"  kind TEXT NOT NULL,"
	"  room_id TEXT,"
	"  items TEXT,"
	"  n_events INTEGER NOT NULL DEFAULT 0,"
	"  media_id TEXT,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  query TEXT,"
	"  result_count INTEGER NOT NULL DEFAULT 0,"
	"  hash BLOB NOT NULL"
	");"
	"CREATE INDEX ledger_by_user ON ledger (user_id, ts);"
	"CREATE TABLE ledger_marks ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  head_seq INTEGER NOT NULL,"
	"  head_hash BLOB NOT NULL,"
	"  checkpoint_seq INTEGER NOT NULL,"
	"  checkpoint_hash BLOB NOT NULL"
	");"
	"INSERT INTO ledger_marks VALUES (1, 0, zeroblob(32), 0, zeroblob(32));",

	/* 14: per-user rate-limit overrides (Synapse's admin API
	 * override_ratelimit, sqlite_ratelimit.c). Read on every rate-limited
	 * request: one primary-key probe. */
	"CREATE TABLE ratelimit_overrides ("
	"  user_id TEXT PRIMARY KEY,"
	"  messages_per_second INTEGER NOT NULL CHECK (messages_per_second >= 0),"
	"  burst_count INTEGER NOT NULL CHECK (burst_count >= 0)"
	") WITHOUT ROWID;",
};

const int sqlite_migration_count =
	(int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]));

const char *sqlite_migration_sql(int version)
{
	if (version < 1 || version > sqlite_migration_count)
		return NULL;
	return sqlite_migrations[version - 1];
}


/* The highest applied version (0 for a new database), or -1. */
static int sqlite_migration_current(sqlite3 *db)
{
	sqlite3_stmt *stmt = NULL;
	int version = -1;

	if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version",
	                       -1, &stmt, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER) {
		sqlite3_int64 v = sqlite3_column_int64(stmt, 0);
		if (v >= 0 && v <= 1000000)
			version = (int)v;
	}
out:
	sqlite3_finalize(stmt);
	return version;
}

static int sqlite_migration_record(sqlite3 *db, int version)
{
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	if (sqlite3_prepare_v2(db, "INSERT INTO schema_version (version, applied_ts) VALUES (?1, ?2)",
	                       -1, &stmt, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int(stmt, 1, version);
	sqlite3_bind_int64(stmt, 2, time_now_ms());
	if (sqlite3_step(stmt) == SQLITE_DONE)
		ret = 0;
out:
	sqlite3_finalize(stmt);
	return ret;
}

/* Apply step `version` unless another process got there first. */
static int sqlite_migration_apply(sqlite3 *db, int version, char *err, size_t err_len)
{
	int current;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		goto err;
	current = sqlite_migration_current(db);
	if (current < 0)
		goto err_rollback;
	if (current < version) {
		if (sqlite3_exec(db, sqlite_migrations[version - 1], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite_migration_record(db, version) != 0)
			goto err_rollback;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto err_rollback;
	return 0;
err_rollback:
	snprintf(err, err_len, "migration %d failed: %s", version, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
err:
	snprintf(err, err_len, "migration %d failed: %s", version, sqlite3_errmsg(db));
	return -1;
}

int sqlite_migrate(sqlite3 *db, int *version, char *err, size_t err_len)
{
	int current;

	*version = 0;
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
	                     "  version INTEGER PRIMARY KEY,"
	                     "  applied_ts INTEGER NOT NULL)",
	                 NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot create schema_version: %s", sqlite3_errmsg(db));
		return -1;
	}
	current = sqlite_migration_current(db);
	if (current < 0) {
		snprintf(err, err_len, "cannot read schema_version: %s", sqlite3_errmsg(db));
		return -1;
	}
	/* A newer build wrote this database: its tables mean things we do not
	 * know, so writing to them could corrupt them. */
	if (current > sqlite_migration_count) {
		snprintf(err, err_len, "database schema version %d is newer than this build (%d)",
		         current, sqlite_migration_count);
		return -1;
	}
	for (int v = current + 1; v <= sqlite_migration_count; v++) {
		if (sqlite_migration_apply(db, v, err, err_len) != 0)
			return -1;
	}
	current = sqlite_migration_current(db);
	if (current != sqlite_migration_count) {
		snprintf(err, err_len, "schema version %d after migrating, expected %d",
		         current, sqlite_migration_count);
		return -1;
	}
	*version = current;
	return 0;
}

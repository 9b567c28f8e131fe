/*
 * sqlite_backend: opening and closing the SQLite back end, the per-thread
 * read connections, and the table of operations the front dispatches to.
 *
 * Readers: each thread that reads gets its own read-only connection under
 * s->reader_key, linked in s->readers. Two ways out, and each removes the
 * reader from the list under readers_lock so the other never sees it:
 * - the thread exits: the key destructor closes its connection;
 * - store_close: closes whatever is left, then deletes the key so no
 *   destructor runs later for it. The caller guarantees (store.h) that no
 *   thread is inside a store call or exiting while store_close runs.
 */
#include "store/sqlite/sqlite_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct sqlite_reader {
	struct sqlite_conn conn;
	struct sqlite_store *owner;
	struct sqlite_reader *prev, *next;
};

static void sqlite_reader_unlink(struct sqlite_store *s, struct sqlite_reader *r)
{
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		s->readers = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

/* Key destructor: the thread that owned this reader is exiting. */
static void sqlite_reader_destroy(void *arg)
{
	struct sqlite_reader *r = arg;
	struct sqlite_store *s = r->owner;

	pthread_mutex_lock(&s->readers_lock);
	sqlite_reader_unlink(s, r);
	pthread_mutex_unlock(&s->readers_lock);
	sqlite_conn_close(&r->conn);
	free(r);
}

struct sqlite_conn *sqlite_reader_get(struct sqlite_store *s)
{
	struct sqlite_reader *r = pthread_getspecific(s->reader_key);

	if (r != NULL)
		return &r->conn;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		log_error("store: out of memory opening a reader");
		return NULL;
	}
	if (sqlite_conn_open_reader(&r->conn, s->path) != 0) {
		free(r);
		return NULL;
	}
	r->owner = s;
	if (pthread_setspecific(s->reader_key, r) != 0) {
		log_error("store: cannot attach a reader to its thread");
		sqlite_conn_close(&r->conn);
		free(r);
		return NULL;
	}
	pthread_mutex_lock(&s->readers_lock);
	r->next = s->readers;
	if (s->readers != NULL)
		s->readers->prev = r;
	s->readers = r;
	pthread_mutex_unlock(&s->readers_lock);
	return &r->conn;
}

static void sqlite_store_free(struct sqlite_store *s)
{
	struct sqlite_reader *r;

	sqlite_writer_stop(s);
	/* Readers first: the writer connection, closing last, checkpoints the
	 * WAL into the main file (a read-only connection cannot). */
	pthread_mutex_lock(&s->readers_lock);
	while ((r = s->readers) != NULL) {
		sqlite_reader_unlink(s, r);
		sqlite_conn_close(&r->conn);
		free(r);
	}
	pthread_mutex_unlock(&s->readers_lock);
	if (s->reader_key_created) {
		/* The closing thread's slot would otherwise keep a dangling
		 * pointer, visible if a later store reuses the key number
		 * (glibc also hides other threads' stale values by sequence). */
		pthread_setspecific(s->reader_key, NULL);
		pthread_key_delete(s->reader_key);
	}
	sqlite_conn_close(&s->writer_conn);
	pthread_mutex_destroy(&s->readers_lock);
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->work_cv);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

static enum store_result sqlite_backend_open(void **handle, const char *location,
                                             char *err, size_t err_len)
{
	struct sqlite_store *s;

	*handle = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(location)) == NULL) {
		free(s);
		snprintf(err, err_len, "out of memory");
		return STORE_ERROR;
	}
	/* Initialised before anything can fail, so sqlite_store_free can
	 * always destroy them. */
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work_cv, NULL);
	pthread_cond_init(&s->done_cv, NULL);
	pthread_mutex_init(&s->readers_lock, NULL);

	if (sqlite_conn_open_writer(&s->writer_conn, location, err, err_len) != 0)
		goto err;
	if (sqlite_migrate(s->writer_conn.db, &s->schema_version, err, err_len) != 0)
		goto err;
	if (pthread_key_create(&s->reader_key, sqlite_reader_destroy) != 0) {
		snprintf(err, err_len, "cannot create a thread key for readers");
		goto err;
	}
	s->reader_key_created = true;
	if (sqlite_writer_start(s) != 0) {
		snprintf(err, err_len, "cannot start the writer thread");
		goto err;
	}
	*handle = s;
	return STORE_OK;
err:
	sqlite_store_free(s);
	return STORE_ERROR;
}

static void sqlite_backend_close(void *handle)
{
	sqlite_store_free(handle);
}

static int sqlite_backend_schema_version(void *handle)
{
	struct sqlite_store *s = handle;

	return s->schema_version;
}

static void sqlite_backend_stats(void *handle, struct store_stats *out)
{
	struct sqlite_store *s = handle;

	struct sqlite_reader *r;
	uint64_t n = 0;

	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->readers_lock);
	for (r = s->readers; r != NULL; r = r->next)
		n++;
	pthread_mutex_unlock(&s->readers_lock);
	out->readers_open = n;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sqlite_backend_open,
	.close = sqlite_backend_close,
	.schema_version = sqlite_backend_schema_version,
	.stats = sqlite_backend_stats,

	.user_create = sqlite_user_create,
	.user_get = sqlite_user_get,
	.user_exists = sqlite_user_exists,
	.user_set_password_hash = sqlite_user_set_password_hash,
	.user_set_admin = sqlite_user_set_admin,
	.user_deactivate = sqlite_user_deactivate,
	.profile_set = sqlite_profile_set,
	.user_list = sqlite_user_list,

	.device_get = sqlite_device_get,
	.device_list = sqlite_device_list,
	.device_set_display_name = sqlite_device_set_display_name,
	.device_touch = sqlite_device_touch,
	.device_delete = sqlite_device_delete,
	.devices_delete_all = sqlite_devices_delete_all,

	.session_create = sqlite_session_create,
	.access_token_lookup = sqlite_access_token_lookup,
	.refresh_rotate = sqlite_refresh_rotate,

	.events_persist = sqlite_events_persist,
	.room_get = sqlite_room_get,
	.room_set_published = sqlite_room_set_published,
	.rooms_published = sqlite_rooms_published,
	.stream_max = sqlite_stream_max,
	.event_get = sqlite_event_get,
	.txn_get = sqlite_txn_get,
	.room_events = sqlite_room_events,
	.room_state = sqlite_room_state,
	.room_state_get = sqlite_room_state_get,
	.user_memberships = sqlite_user_memberships,
	.membership_history = sqlite_membership_history,
	.room_members = sqlite_room_members,
	.rooms_changed_since = sqlite_rooms_changed_since,

	.filter_put = sqlite_filter_put,
	.filter_get = sqlite_filter_get,
	.account_data_put = sqlite_account_data_put,
	.account_data_get = sqlite_account_data_get,
	.account_data_since = sqlite_account_data_since,
	.account_data_stream_max = sqlite_account_data_stream_max,

	/* room directory */
	.alias_create = sqlite_alias_create,
	.alias_get = sqlite_alias_get,
	.alias_delete = sqlite_alias_delete,
	.room_aliases = sqlite_room_aliases,
	.room_forget = sqlite_room_forget,
	.room_forgotten = sqlite_room_forgotten,
	.room_joined_count = sqlite_room_joined_count,
	.rooms_published_count = sqlite_rooms_published_count,
	.rooms_published_before = sqlite_rooms_published_before,
	.user_directory_search = sqlite_user_directory_search,

	/* receipts and presence */
	.receipt_put = sqlite_receipt_put,
	.room_receipts = sqlite_room_receipts,
	.receipts_stream_max = sqlite_receipts_stream_max,
	.presence_put = sqlite_presence_put,
	.presence_get = sqlite_presence_get,
	.presence_visible = sqlite_presence_visible,
	.presence_stream_max = sqlite_presence_stream_max,

	/* to-device messages */
	.to_device_send = sqlite_to_device_send,
	.to_device_ack = sqlite_to_device_ack,
	.to_device_get = sqlite_to_device_get,
	.to_device_stream_max = sqlite_to_device_stream_max,

	/* server-side search */
	.events_search = sqlite_events_search,

	/* relations: edits, threads, references */
	.relations_children = sqlite_relations_children,
	.relations_aggregate = sqlite_relations_aggregate,
	.room_threads = sqlite_room_threads,
	.annotation_exists = sqlite_annotation_exists,

	/* end-to-end encryption keys */
	.keys_upload = sqlite_keys_upload,
	.keys_counts = sqlite_keys_counts,
	.device_keys_get = sqlite_device_keys_get,
	.keys_claim = sqlite_keys_claim,
	.cross_signing_get = sqlite_cross_signing_get,
	.cross_signing_put = sqlite_cross_signing_put,
	.key_signatures_add = sqlite_key_signatures_add,
	.key_signatures_get = sqlite_key_signatures_get,
	.device_list_changes = sqlite_device_list_changes,
	.device_list_stream_max = sqlite_device_list_stream_max,
	.keys_shared_users = sqlite_keys_shared_users,

	/* server-side key backup */
	.backup_version_create = sqlite_backup_version_create,
	.backup_version_get = sqlite_backup_version_get,
	.backup_version_update = sqlite_backup_version_update,
	.backup_version_delete = sqlite_backup_version_delete,
	.backup_keys_put = sqlite_backup_keys_put,
	.backup_keys_get = sqlite_backup_keys_get,
	.backup_keys_delete = sqlite_backup_keys_delete,

	/* media repository */
	.media_insert = sqlite_media_insert,
	.media_get = sqlite_media_get,
	.media_complete = sqlite_media_complete,
	.media_usage = sqlite_media_usage,
	.media_quarantine = sqlite_media_quarantine,

	/* incident response: lock, suspend, server notices, admin */
	.user_set_locked = sqlite_user_set_locked,
	.user_set_suspended = sqlite_user_set_suspended,
	.server_notice_room_get = sqlite_server_notice_room_get,
	.server_notice_room_set = sqlite_server_notice_room_set,
	.room_sender_events = sqlite_room_sender_events,
	.rooms_all = sqlite_rooms_all,
	.redaction_job_put = sqlite_redaction_job_put,
	.redaction_job_get = sqlite_redaction_job_get,

	/* rate-limit overrides */
	.ratelimit_override_get = sqlite_ratelimit_override_get,
	.ratelimit_override_set = sqlite_ratelimit_override_set,
	.ratelimit_override_delete = sqlite_ratelimit_override_delete,

	/* access ledger */
	.ledger_append = sqlite_ledger_append,
	.ledger_marks = sqlite_ledger_marks,
	.ledger_walk = sqlite_ledger_walk,
	.ledger_purge_point = sqlite_ledger_purge_point,
	.ledger_purge = sqlite_ledger_purge,
};

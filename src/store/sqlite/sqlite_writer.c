/*
 * sqlite_writer: the one writer thread, with group commit.
 *
 * Submitters append a job (on their own stack) to the queue and sleep on
 * done_cv. The writer takes the whole queue as one batch: BEGIN IMMEDIATE,
 * each job inside its own SAVEPOINT (a job that fails rolls back only its
 * savepoint and keeps its own result), COMMIT, then marks every job done
 * and wakes the submitters. One fsync covers the whole batch, which is
 * what makes concurrent writes cheap. If the transaction cannot begin or
 * commit, every job of the batch gets STORE_ERROR: nothing of it was kept.
 *
 * Lifetime: a job belongs to its submitter; the writer stops touching it
 * once it has set done (under the lock), after which the submitter returns
 * and its stack frame is gone.
 */
#include "store/sqlite/sqlite_store.h"

#include <string.h>

#include "util/log.h"

/* Run one job inside a savepoint of the open transaction. */
static enum store_result sqlite_writer_run_job(struct sqlite_conn *w, struct sqlite_job *job)
{
	enum store_result r;

	if (sqlite_exec_stmt(w, SQ_SAVEPOINT) != STORE_OK)
		return STORE_ERROR;
	r = job->run(w, job->args);
	if (r == STORE_OK) {
		if (sqlite_exec_stmt(w, SQ_RELEASE) != STORE_OK)
			r = STORE_ERROR;
		return r;
	}
	/* The database already rolled the whole transaction back (out of
	 * memory, I/O error): there is no savepoint left; the batch fails. */
	if (sqlite3_get_autocommit(w->db))
		return r;
	/* ROLLBACK TO keeps the savepoint open; RELEASE then drops it. */
	if (sqlite_exec_stmt(w, SQ_ROLLBACK_TO) != STORE_OK ||
	    sqlite_exec_stmt(w, SQ_RELEASE) != STORE_OK)
		log_error("store: cannot roll back a failed write");
	return r;
}

static void sqlite_writer_fail_all(struct sqlite_job *batch)
{
	for (struct sqlite_job *j = batch; j != NULL; j = j->next)
		j->result = STORE_ERROR;
}

/* One transaction for the whole batch; fills each job's result. */
static void sqlite_writer_run_batch(struct sqlite_conn *w, struct sqlite_job *batch)
{
	if (sqlite_exec_stmt(w, SQ_BEGIN) != STORE_OK) {
		sqlite_writer_fail_all(batch);
		return;
	}
	for (struct sqlite_job *j = batch; j != NULL; j = j->next) {
		j->result = sqlite_writer_run_job(w, j);
		/* Some errors (I/O, disk full) make SQLite roll back the whole
		 * transaction by itself: what earlier jobs wrote is gone too. */
		if (sqlite3_get_autocommit(w->db)) {
			log_error("store: transaction aborted by the database; failing its batch");
			sqlite_writer_fail_all(batch);
			return;
		}
	}
	if (sqlite_exec_stmt(w, SQ_COMMIT) != STORE_OK) {
		if (!sqlite3_get_autocommit(w->db) && sqlite_exec_stmt(w, SQ_ROLLBACK) != STORE_OK)
			log_error("store: rollback after a failed commit failed");
		sqlite_writer_fail_all(batch);
	}
}

static void *sqlite_writer_main(void *arg)
{
	struct sqlite_store *s = arg;
	struct sqlite_job *batch, *next;
	uint64_t n;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (s->queue_head == NULL && !s->stopping)
			pthread_cond_wait(&s->work_cv, &s->lock);
		/* stopping drains first: a queued job was promised an answer */
		if (s->queue_head == NULL)
			break;
		batch = s->queue_head;
		s->queue_head = s->queue_tail = NULL;
		pthread_mutex_unlock(&s->lock);

		sqlite_writer_run_batch(&s->writer_conn, batch);

		pthread_mutex_lock(&s->lock);
		n = 0;
		for (struct sqlite_job *j = batch; j != NULL; j = next) {
			next = j->next;
			j->done = true;
			n++;
		}
		s->stats.write_jobs += n;
		s->stats.write_batches++;
		if (n > s->stats.largest_batch)
			s->stats.largest_batch = n;
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sqlite_writer_start(struct sqlite_store *s)
{
	if (pthread_create(&s->writer, NULL, sqlite_writer_main, s) != 0)
		return -1;
	s->writer_started = true;
	return 0;
}

void sqlite_writer_stop(struct sqlite_store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
}

enum store_result sqlite_writer_submit(struct sqlite_store *s,
                                       enum store_result (*run)(struct sqlite_conn *, void *),
                                       void *args)
{
	struct sqlite_job job;

	memset(&job, 0, sizeof(job));
	job.run = run;
	job.args = args;
	job.result = STORE_ERROR;

	pthread_mutex_lock(&s->lock);
	if (s->stopping || !s->writer_started) {
		pthread_mutex_unlock(&s->lock);
		log_error("store: write refused, the store is closing");
		return STORE_ERROR;
	}
	if (s->queue_tail != NULL)
		s->queue_tail->next = &job;
	else
		s->queue_head = &job;
	s->queue_tail = &job;
	pthread_cond_signal(&s->work_cv);
	while (!job.done)
		pthread_cond_wait(&s->done_cv, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return job.result;
}

/*
 * search: POST /search (search.yaml; Client-Server API, "Server Side
 * Search"), private to src/api/client/search*.c.
 *
 * search.c parses the request and pages through the store's hits;
 * search_results.c shapes what goes back (context, profiles, state,
 * groups). Every event a response carries has passed the served
 * chokepoint (security/served.h) with SERVED_SEARCH, and the count counts
 * only such events: "The server must only return results that the user
 * has permission to see."
 *
 * Threads: handler code, one request at a time per struct. Memory: a
 * struct search_page owns its hits and their JSON.
 */
#ifndef CHAPPE_API_CLIENT_SEARCH_H
#define CHAPPE_API_CLIENT_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/request.h"
#include "store/store.h"

#define SEARCH_LIMIT_DEFAULT    10   /* results per page: filter.limit, else this */
#define SEARCH_LIMIT_MAX        50
#define SEARCH_CONTEXT_DEFAULT  5    /* before_limit / after_limit: "By default, this is 5" */
#define SEARCH_CONTEXT_MAX      20

struct event_filter_part;

/* The room_events criteria, validated. */
struct search_criteria {
	const char *term;
	unsigned keys;                     /* enum store_search_key mask */
	bool by_rank;
	struct event_filter_part *filter;  /* owned; NULL: no filter */
	size_t limit;
	bool context;                      /* event_context given */
	size_t before_limit, after_limit;
	bool include_profile;
	bool include_state;
	bool group_room, group_sender;
};

/* One result: the stored event and its client format (owned). */
struct search_result {
	struct store_event event;
	double rank;
	json_t *client;
};

struct search_page {
	struct search_result *items;
	size_t n;
};

/* search_results.c: the room_events object of the response for a page.
 * count and next_batch (NULL for none) are the caller's; highlights are
 * the term's words. NULL out of memory or on a store error. */
json_t *search_results_json(struct request *req, const struct search_criteria *c,
                            const struct search_page *page, uint64_t count,
                            const char *next_batch);

#endif

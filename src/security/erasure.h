/*
 * erasure: GDPR erasure of a deactivated account (account_deactivation.yaml
 * "erase": "the server should ... not share any of the user's content
 * with anyone who joins rooms the user was in after the erasure").
 *
 * The mark is a server-private account-data entry of the erased user
 * (chappe.internal.erased: never served, never writable by clients, and the
 * account can no longer log in). served_events_filter() consults it: an
 * erased user's events are served redacted to any viewer who was not
 * joined when the event was sent.
 */
#ifndef CHAPPE_SECURITY_ERASURE_H
#define CHAPPE_SECURITY_ERASURE_H

#include <stdbool.h>

struct store;

#define ERASURE_ACCOUNT_DATA_TYPE "chappe.internal.erased"

/* 0 or -1. */
int erasure_mark(struct store *st, const char *user_id);
bool erasure_is_erased(struct store *st, const char *user_id);

#endif

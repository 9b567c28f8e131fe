/*
 * admin_incident: the incident-response verbs of `chappe admin` (lock,
 * unlock, suspend, unsuspend, whois, joined-rooms, room-list, and through
 * the running server's admin API: send-notice, broadcast-notice,
 * room-shutdown). See admin_incident.c for which verbs need the server.
 */
#ifndef CHAPPE_CLI_ADMIN_INCIDENT_H
#define CHAPPE_CLI_ADMIN_INCIDENT_H

#include <stdbool.h>

struct config;
struct store;

struct cli_incident_args {
	const char *verb;
	const char *arg;      /* user, room ID, or the broadcast's text */
	const char *text;     /* send-notice's text */
	const char *token;    /* --token (else $CHAPPE_ADMIN_TOKEN) */
};

/* Run the verb if it is one of these (*handled set); the exit code. */
int cli_admin_incident(const struct config *cfg, struct store *st,
                       const struct cli_incident_args *a, bool *handled);

#endif

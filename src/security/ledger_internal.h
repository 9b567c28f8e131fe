/*
 * ledger_internal: what ledger.c and ledger_counters.c share (src/security
 * only). The counters are fed by the writer thread alone and read by any
 * thread under their own lock, so reading them never blocks an append.
 */
#ifndef CHAPPE_SECURITY_LEDGER_INTERNAL_H
#define CHAPPE_SECURITY_LEDGER_INTERNAL_H

#include <stddef.h>

#include "security/ledger.h"

/* Cuts applied when an entry is built: a room or media ID longer than the
 * spec's 255 bytes is not one anyway; a user agent beyond 1 KiB is noise. */
#define LEDGER_ID_MAX 255
#define LEDGER_UA_MAX 1024

int ledger_counters_init(void);
void ledger_counters_free(void);
/* The writer thread, after a batch is durable. */
void ledger_counters_add(struct ledger_entry *const *entries, size_t n);

#endif

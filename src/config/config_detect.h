/*
 * config_detect: the scraper_detection section of homeserver.yaml
 * (security/detect.h runs the rules; docs/configuration.md and
 * docs/incident-response.md explain the defaults).
 *
 * Internal to the config module: config_load.c links the schema below
 * into its top-level mapping and calls config_detect_apply; config.c
 * calls the defaults, validation and free; config_write.c the writer.
 * Pure functions on caller-owned data: any thread.
 */
#ifndef CHAPPE_CONFIG_DETECT_H
#define CHAPPE_CONFIG_DETECT_H

#include <stddef.h>
#include <stdio.h>

#include <cyaml/cyaml.h>

#include "config/config.h"

/* One detector's line: window and a threshold per action, all strings
 * (NULL when absent), as libcyaml leaves them. */
struct config_raw_detect_rule {
	char *window_seconds;
	char *threshold[CONFIG_DETECT_ACTIONS];
};
struct config_raw_detect {
	char *enabled, *young_account_days, *young_account_percent;
	char *throttle_seconds, *old_event_days, *alert_webhook_url;
	struct config_raw_detect_rule *rule[CONFIG_DETECT_METRICS];
};

extern const cyaml_schema_field_t config_detect_fields[];

void config_detect_defaults(struct config_detect *d);
/* raw may be NULL (section absent). 0, or -1 with a message in err. */
int config_detect_apply(struct config_detect *d, const struct config_raw_detect *raw,
                        char *err, size_t err_len);
int config_detect_validate(const struct config_detect *d, char *err, size_t err_len);
void config_detect_free(struct config_detect *d);
void config_detect_write(FILE *f, const struct config_detect *d);

/* Names as written in the file, for the detector's own tables to be
 * checked against (tests/unit/test_detect.c). */
extern const char *const config_detect_metric_names[CONFIG_DETECT_METRICS];
extern const char *const config_detect_action_names[CONFIG_DETECT_ACTIONS];

#endif

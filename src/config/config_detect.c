/*
 * config_detect.c: scraper_detection in homeserver.yaml (contract in
 * config_detect.h).
 *
 * The defaults are derived from what an ordinary busy agent does in a day
 * (docs/incident-response.md, "Scraper detection", gives the reasoning):
 * joins a few public rooms a week, reads tens of rooms a day, pages back a
 * few hundred messages, downloads tens of MB, searches the directory a
 * few times. Each alert threshold sits several times above that, each
 * lock an order of magnitude above it, and accounts younger than a week
 * get half of every threshold: the June 2026 account was new.
 */
#include "config/config_detect.h"
#include "config/config_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { A_RECORD, A_ALERT, A_THROTTLE, A_SUSPEND, A_LOCK };

const char *const config_detect_metric_names[CONFIG_DETECT_METRICS] = {
	"public_room_joins", "rooms_read", "history_events", "old_events", "media_bytes",
	"media_downloads", "directory_searches", "directory_users", "new_device_ip",
};
const char *const config_detect_action_names[CONFIG_DETECT_ACTIONS] = {
	"record", "alert", "throttle", "suspend", "lock",
};

#define DAY 86400u
#define MIB UINT64_C(1048576)

static const struct config_detect_rule detect_defaults[CONFIG_DETECT_METRICS] = {
	/* public_room_joins: a few a week */
	{ DAY, { [A_ALERT] = 10, [A_LOCK] = 20 } },
	/* rooms_read: tens a day (an initial /sync reads every joined room) */
	{ DAY, { [A_ALERT] = 100, [A_LOCK] = 200 } },
	/* history_events: a few hundred paged back a day */
	{ DAY, { [A_ALERT] = 1000, [A_THROTTLE] = 1500, [A_LOCK] = 3000 } },
	/* old_events (older than old_event_days): rare */
	{ DAY, { [A_ALERT] = 200, [A_LOCK] = 2000 } },
	/* media_bytes: tens of MB a day */
	{ DAY, { [A_ALERT] = 250 * MIB, [A_LOCK] = 1024 * MIB } },
	/* media_downloads: tens a day (thumbnails are not counted) */
	{ DAY, { [A_ALERT] = 200, [A_LOCK] = 1000 } },
	/* directory_searches (and room list pages): a few a day */
	{ DAY, { [A_ALERT] = 30, [A_THROTTLE] = 60 } },
	/* directory_users: distinct users revealed; tens a day */
	{ DAY, { [A_ALERT] = 200, [A_LOCK] = 1000 } },
	/* new_device_ip: a new phone or laptop now and then */
	{ DAY, { [A_RECORD] = 1, [A_ALERT] = 4 } },
};

#define DETECT_WINDOW_MAX      (30u * DAY)
#define DETECT_THROTTLE_MAX    DAY
#define DETECT_DAYS_MAX        3650u
#define DETECT_WEBHOOK_MAX     2048

#define SCALAR(key, type, member) \
	CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL, type, \
	                       member, 0, 64)

static const cyaml_schema_field_t rule_fields[] = {
	SCALAR("seconds", struct config_raw_detect_rule, window_seconds),
	SCALAR("record", struct config_raw_detect_rule, threshold[A_RECORD]),
	SCALAR("alert", struct config_raw_detect_rule, threshold[A_ALERT]),
	SCALAR("throttle", struct config_raw_detect_rule, threshold[A_THROTTLE]),
	SCALAR("suspend", struct config_raw_detect_rule, threshold[A_SUSPEND]),
	SCALAR("lock", struct config_raw_detect_rule, threshold[A_LOCK]),
	CYAML_FIELD_END
};

#define RULE(key, i) \
	CYAML_FIELD_MAPPING_PTR(key, CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, \
	                        struct config_raw_detect, rule[i], rule_fields)

const cyaml_schema_field_t config_detect_fields[] = {
	SCALAR("enabled", struct config_raw_detect, enabled),
	SCALAR("young_account_days", struct config_raw_detect, young_account_days),
	SCALAR("young_account_percent", struct config_raw_detect, young_account_percent),
	SCALAR("throttle_seconds", struct config_raw_detect, throttle_seconds),
	SCALAR("old_event_days", struct config_raw_detect, old_event_days),
	CYAML_FIELD_STRING_PTR("alert_webhook_url", CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL,
	                       struct config_raw_detect, alert_webhook_url, 0, DETECT_WEBHOOK_MAX),
	RULE("public_room_joins", 0), RULE("rooms_read", 1), RULE("history_events", 2),
	RULE("old_events", 3), RULE("media_bytes", 4), RULE("media_downloads", 5),
	RULE("directory_searches", 6), RULE("directory_users", 7), RULE("new_device_ip", 8),
	CYAML_FIELD_END
};

void config_detect_defaults(struct config_detect *d)
{
	memset(d, 0, sizeof(*d));
	d->enabled = true;
	d->young_account_days = 7;
	d->young_account_percent = 50;
	d->throttle_seconds = 600;
	d->old_event_days = 30;
	memcpy(d->rules, detect_defaults, sizeof(d->rules));
}

/* Digits only, at most max: "1.5", "0x10", "-1" and "" are refused. */
static int num_parse(const char *key, const char *s, uint64_t max, uint64_t *out,
                     char *err, size_t err_len)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		unsigned dgt = (unsigned)(s[i] - '0');
		if (v > (max - dgt) / 10)
			return config_err(err, err_len, "scraper_detection.%s: number too large", key);
		v = v * 10 + dgt;
	}
	if (i == 0 || s[i] != '\0')
		return config_err(err, err_len, "scraper_detection.%s: expected a whole number", key);
	*out = v;
	return 0;
}

static int u32_set(const char *key, const char *s, uint32_t *out, char *err, size_t err_len)
{
	uint64_t v = 0;

	if (!s)
		return 0;
	if (num_parse(key, s, UINT32_MAX, &v, err, err_len) < 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int rule_apply(struct config_detect_rule *r, unsigned metric,
                      const struct config_raw_detect_rule *raw, char *err, size_t err_len)
{
	char key[96];

	if (!raw)
		return 0;
	snprintf(key, sizeof(key), "%s.seconds", config_detect_metric_names[metric]);
	if (u32_set(key, raw->window_seconds, &r->window_seconds, err, err_len) < 0)
		return -1;
	for (unsigned a = 0; a < CONFIG_DETECT_ACTIONS; a++) {
		if (!raw->threshold[a])
			continue;
		snprintf(key, sizeof(key), "%s.%s", config_detect_metric_names[metric],
		         config_detect_action_names[a]);
		if (num_parse(key, raw->threshold[a], UINT64_MAX, &r->threshold[a], err,
		              err_len) < 0)
			return -1;
	}
	return 0;
}

int config_detect_apply(struct config_detect *d, const struct config_raw_detect *raw,
                        char *err, size_t err_len)
{
	if (!raw)
		return 0;
	if (raw->enabled) {
		if (strcmp(raw->enabled, "true") != 0 && strcmp(raw->enabled, "false") != 0)
			return config_err(err, err_len,
			                  "scraper_detection.enabled: expected true or false");
		d->enabled = raw->enabled[0] == 't';
	}
	if (u32_set("young_account_days", raw->young_account_days, &d->young_account_days, err,
	            err_len) < 0 ||
	    u32_set("young_account_percent", raw->young_account_percent,
	            &d->young_account_percent, err, err_len) < 0 ||
	    u32_set("throttle_seconds", raw->throttle_seconds, &d->throttle_seconds, err,
	            err_len) < 0 ||
	    u32_set("old_event_days", raw->old_event_days, &d->old_event_days, err, err_len) < 0)
		return -1;
	for (unsigned m = 0; m < CONFIG_DETECT_METRICS; m++)
		if (rule_apply(&d->rules[m], m, raw->rule[m], err, err_len) < 0)
			return -1;
	if (raw->alert_webhook_url && raw->alert_webhook_url[0]) {
		char *u = strdup(raw->alert_webhook_url);
		if (!u)
			return config_err(err, err_len, "out of memory");
		free(d->alert_webhook_url);
		d->alert_webhook_url = u;
	}
	return 0;
}

int config_detect_validate(const struct config_detect *d, char *err, size_t err_len)
{
	const char *u = d->alert_webhook_url;

	if (d->young_account_days > DETECT_DAYS_MAX)
		return config_err(err, err_len,
		                  "scraper_detection.young_account_days: must be 0 to %u",
		                  DETECT_DAYS_MAX);
	if (d->young_account_percent < 1 || d->young_account_percent > 100)
		return config_err(err, err_len,
		                  "scraper_detection.young_account_percent: must be 1 to 100");
	if (d->throttle_seconds < 1 || d->throttle_seconds > DETECT_THROTTLE_MAX)
		return config_err(err, err_len,
		                  "scraper_detection.throttle_seconds: must be 1 to %u",
		                  DETECT_THROTTLE_MAX);
	if (d->old_event_days < 1 || d->old_event_days > DETECT_DAYS_MAX)
		return config_err(err, err_len, "scraper_detection.old_event_days: must be 1 to %u",
		                  DETECT_DAYS_MAX);
	for (unsigned m = 0; m < CONFIG_DETECT_METRICS; m++) {
		uint32_t w = d->rules[m].window_seconds;
		if (w < 60 || w > DETECT_WINDOW_MAX)
			return config_err(err, err_len,
			                  "scraper_detection.%s.seconds: must be 60 to %u",
			                  config_detect_metric_names[m], DETECT_WINDOW_MAX);
	}
	/* written back into the file between double quotes, and POSTed to */
	if (u && ((strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
	          strlen(u) > DETECT_WEBHOOK_MAX || strpbrk(u, "\"\\ ") != NULL))
		return config_err(err, err_len,
		                  "scraper_detection.alert_webhook_url: must be an http(s) URL "
		                  "without quotes, backslashes or spaces");
	for (const char *p = u; p && *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return config_err(err, err_len,
			                  "scraper_detection.alert_webhook_url: printable ASCII only");
	return 0;
}

void config_detect_free(struct config_detect *d)
{
	free(d->alert_webhook_url);
	d->alert_webhook_url = NULL;
}

void config_detect_write(FILE *f, const struct config_detect *d)
{
	fputs("\n# Scraper detection: per-account sliding-window rules on what is read.\n"
	      "# Each detector has a window in seconds and a threshold per action\n"
	      "# (record, alert, throttle, suspend, lock; 0 or absent = off). Accounts\n"
	      "# younger than young_account_days get young_account_percent of each\n"
	      "# threshold. docs/incident-response.md explains the defaults.\n", f);
	fputs("scraper_detection:\n", f);
	fprintf(f, "  enabled: %s\n", d->enabled ? "true" : "false");
	fprintf(f, "  young_account_days: %" PRIu32 "\n", d->young_account_days);
	fprintf(f, "  young_account_percent: %" PRIu32 "\n", d->young_account_percent);
	fprintf(f, "  throttle_seconds: %" PRIu32 "\n", d->throttle_seconds);
	fprintf(f, "  old_event_days: %" PRIu32 "\n", d->old_event_days);
	if (d->alert_webhook_url)
		fprintf(f, "  alert_webhook_url: \"%s\"\n", d->alert_webhook_url);
	for (unsigned m = 0; m < CONFIG_DETECT_METRICS; m++) {
		int len = fprintf(f, "  %s: {seconds: %" PRIu32, config_detect_metric_names[m],
		                  d->rules[m].window_seconds);
		for (unsigned a = 0; a < CONFIG_DETECT_ACTIONS; a++) {
			char item[48];
			int n;

			if (!d->rules[m].threshold[a])
				continue;
			n = snprintf(item, sizeof(item), " %s: %" PRIu64, config_detect_action_names[a],
			             d->rules[m].threshold[a]);
			/* a flow mapping may go on over lines: keep to 80 columns */
			if (len + 1 + n + 1 > 80) {
				fputs(",\n   ", f);
				len = 4;
			} else {
				fputc(',', f);
				len++;
			}
			len += fprintf(f, "%s", item);
		}
		fputs("}\n", f);
	}
}

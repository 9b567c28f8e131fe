/*
 * exposure_render: the exposure report as JSON, Markdown or HTML, and the
 * time arguments of `chappe audit exposure` (contract in exposure.h).
 *
 * Markdown and HTML are for people: totals first, then served rooms,
 * rooms readable but never requested, media, directory searches,
 * sessions. Event IDs stay in the JSON. Every value that came from users
 * (room names, search terms, user agents, file names) is escaped, so a
 * hostile name cannot forge table rows or inject markup into the report
 * an operator opens in a browser.
 */
#include "security/exposure.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct out {
	FILE *f;
	bool html;
};

/* ---- time ---------------------------------------------------------------- */

int exposure_time_parse(const char *s, int64_t *out_ms)
{
	struct tm tm = { 0 };
	const char *end;
	time_t t;

	if (s == NULL || *s == '\0')
		return -1;
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 15)
			return -1;
		*out_ms = strtoll(s, NULL, 10);
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0') {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
		if (end == NULL || *end != '\0')
			return -1;
	}
	t = timegm(&tm);
	if (t < 0)
		return -1;
	*out_ms = (int64_t)t * 1000;
	return 0;
}

/* "2026-06-01 12:30:00 UTC", or "-" for 0 / null. */
static void put_time(struct out *o, const json_t *v)
{
	char buf[64];
	time_t t = (time_t)(json_integer_value(v) / 1000);
	struct tm tm;

	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) >= INT64_C(253402300800000) || !gmtime_r(&t, &tm)) {
		fputs("-", o->f);
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fputs(buf, o->f);
}

/* ---- escaping ------------------------------------------------------------ */

static void put_text(struct out *o, const char *s)
{
	if (s == NULL) {
		fputs("-", o->f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f) {
			fputc(' ', o->f);
		} else if (o->html) {
			switch (c) {
			case '<': fputs("&lt;", o->f); break;
			case '>': fputs("&gt;", o->f); break;
			case '&': fputs("&amp;", o->f); break;
			case '"': fputs("&quot;", o->f); break;
			case '\'': fputs("&#39;", o->f); break;
			default: fputc(c, o->f);
			}
		} else {
			if (strchr("\\`*_[]<>|#!", c))
				fputc('\\', o->f);
			fputc(c, o->f);
		}
	}
}

static void put_json_text(struct out *o, const json_t *v)
{
	put_text(o, json_is_string(v) ? json_string_value(v) : NULL);
}

/* ---- tables -------------------------------------------------------------- */

static void heading(struct out *o, const char *h)
{
	if (o->html)
		fprintf(o->f, "<h2>%s</h2>\n", h);
	else
		fprintf(o->f, "\n## %s\n\n", h);
}

static void table_head(struct out *o, const char *const *cols, size_t n)
{
	fputs(o->html ? "<table>\n<tr>" : "|", o->f);
	for (size_t i = 0; i < n; i++)
		fprintf(o->f, o->html ? "<th>%s</th>" : " %s |", cols[i]);
	fputs(o->html ? "</tr>\n" : "\n|", o->f);
	for (size_t i = 0; !o->html && i < n; i++)
		fputs(" --- |", o->f);
	if (!o->html)
		fputs("\n", o->f);
}

static void row_start(struct out *o)
{
	fputs(o->html ? "<tr><td>" : "| ", o->f);
}

static void cell_next(struct out *o)
{
	fputs(o->html ? "</td><td>" : " | ", o->f);
}

static void row_end(struct out *o)
{
	fputs(o->html ? "</td></tr>\n" : " |\n", o->f);
}

static void table_end(struct out *o)
{
	if (o->html)
		fputs("</table>\n", o->f);
}

static void put_int(struct out *o, const json_t *v)
{
	fprintf(o->f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

static void put_list(struct out *o, const json_t *arr, size_t max)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (i == max) {
			fprintf(o->f, ", and %zu more", json_array_size(arr) - max);
			break;
		}
		if (i)
			fputs(", ", o->f);
		put_json_text(o, v);
	}
	if (json_array_size(arr) == 0)
		fputs("-", o->f);
}

/* ---- sections ------------------------------------------------------------ */

static void section_totals(struct out *o, const json_t *r)
{
	static const char *const cols[] = { "What", "Count" };
	const json_t *t = json_object_get(r, "totals");
	const char *k;
	json_t *v;

	heading(o, "Totals");
	table_head(o, cols, 2);
	json_object_foreach((json_t *)t, k, v) {
		row_start(o);
		put_text(o, k);
		cell_next(o);
		put_int(o, v);
		row_end(o);
	}
	table_end(o);
}

static void room_row(struct out *o, const json_t *room, bool served)
{
	row_start(o);
	put_json_text(o, json_object_get(room, "room_id"));
	cell_next(o);
	put_json_text(o, json_object_get(room, "name"));
	cell_next(o);
	fputs(json_is_true(json_object_get(room, "public")) ? "public" : "private", o->f);
	cell_next(o);
	fputs(json_is_true(json_object_get(room, "encrypted")) ? "encrypted" : "no", o->f);
	cell_next(o);
	put_time(o, json_object_get(room, "joined_ts"));
	cell_next(o);
	put_time(o, json_object_get(room, "left_ts"));
	if (served) {
		cell_next(o);
		put_int(o, json_object_get(room, "events_served"));
		if (json_is_true(json_object_get(room, "encrypted")))
			fprintf(o->f, " (%" JSON_INTEGER_FORMAT " ciphertext)",
			        json_integer_value(json_object_get(room, "ciphertext_events_served")));
		cell_next(o);
		put_time(o, json_object_get(room, "first_event_ts"));
		fputs(" to ", o->f);
		put_time(o, json_object_get(room, "last_event_ts"));
		cell_next(o);
		put_list(o, json_object_get(room, "senders"), 20);
	}
	row_end(o);
}

static void section_rooms(struct out *o, const json_t *r, bool served)
{
	static const char *const cols[] = { "Room", "Name", "Public", "Encrypted", "Joined",
		                            "Left", "Events served", "Span", "Senders" };
	size_t i;
	json_t *room;

	heading(o, served ? "Rooms served" : "Rooms readable but never requested");
	table_head(o, cols, served ? 9 : 6);
	json_array_foreach(json_object_get(r, "rooms"), i, room) {
		bool is_served = strcmp(json_string_value(json_object_get(room, "status")),
		                        "served") == 0;
		if (is_served == served)
			room_row(o, room, served);
	}
	table_end(o);
}

static void section_media(struct out *o, const json_t *r)
{
	static const char *const cols[] = { "Media ID", "Name", "Type", "Size", "Room",
		                            "Downloads", "Thumbnails", "Bytes served" };
	size_t i;
	json_t *m;

	heading(o, "Media downloaded");
	table_head(o, cols, 8);
	json_array_foreach(json_object_get(r, "media"), i, m) {
		row_start(o);
		put_json_text(o, json_object_get(m, "media_id"));
		cell_next(o);
		put_json_text(o, json_object_get(m, "name"));
		cell_next(o);
		put_json_text(o, json_object_get(m, "content_type"));
		cell_next(o);
		put_int(o, json_object_get(m, "size"));
		cell_next(o);
		put_json_text(o, json_object_get(m, "room_id"));
		cell_next(o);
		put_int(o, json_object_get(m, "downloads"));
		cell_next(o);
		put_int(o, json_object_get(m, "thumbnails"));
		cell_next(o);
		put_int(o, json_object_get(m, "bytes_served"));
		row_end(o);
	}
	table_end(o);
}

static void section_directory(struct out *o, const json_t *r)
{
	static const char *const cols[] = { "Time", "Term", "Results" };
	const json_t *d = json_object_get(r, "directory");
	size_t i;
	json_t *s;

	heading(o, "Directory searches");
	fprintf(o->f, o->html ? "<p>%" JSON_INTEGER_FORMAT " distinct users revealed.</p>\n"
	                      : "%" JSON_INTEGER_FORMAT " distinct users revealed.\n\n",
	        json_integer_value(json_object_get(d, "distinct_users_revealed")));
	table_head(o, cols, 3);
	json_array_foreach(json_object_get(d, "searches"), i, s) {
		row_start(o);
		put_time(o, json_object_get(s, "ts"));
		cell_next(o);
		put_json_text(o, json_object_get(s, "term"));
		cell_next(o);
		put_int(o, json_object_get(s, "results"));
		row_end(o);
	}
	table_end(o);
}

static void section_sessions(struct out *o, const json_t *r)
{
	static const char *const cols[] = { "Device", "IPs", "User agents", "First", "Last",
		                            "Reads" };
	size_t i;
	json_t *s;

	heading(o, "Sessions and IPs");
	table_head(o, cols, 6);
	json_array_foreach(json_object_get(r, "sessions"), i, s) {
		row_start(o);
		put_json_text(o, json_object_get(s, "device_id"));
		cell_next(o);
		put_list(o, json_object_get(s, "ips"), 50);
		cell_next(o);
		put_list(o, json_object_get(s, "user_agents"), 10);
		cell_next(o);
		put_time(o, json_object_get(s, "first_ts"));
		cell_next(o);
		put_time(o, json_object_get(s, "last_ts"));
		cell_next(o);
		put_int(o, json_object_get(s, "reads"));
		row_end(o);
	}
	table_end(o);
}

static void render_text(struct out *o, const json_t *r)
{
	const json_t *l = json_object_get(r, "ledger");

	if (o->html)
		fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		      "<title>Exposure report</title></head><body>\n<h1>Exposure report: ", o->f);
	else
		fputs("# Exposure report: ", o->f);
	put_json_text(o, json_object_get(r, "user_id"));
	fputs(o->html ? "</h1>\n<p>Window: " : "\n\nWindow: ", o->f);
	if (json_integer_value(json_object_get(r, "since")) <= 0)
		fputs("the first record", o->f);
	else
		put_time(o, json_object_get(r, "since"));
	fputs(" to ", o->f);
	if (json_integer_value(json_object_get(r, "until")) == INT64_MAX)
		fputs("now", o->f);
	else
		put_time(o, json_object_get(r, "until"));
	fprintf(o->f, ". %" JSON_INTEGER_FORMAT " ledger rows; %" JSON_INTEGER_FORMAT
	        " records lost to a full queue.%s\n",
	        json_integer_value(json_object_get(l, "rows")),
	        json_integer_value(json_object_get(l, "dropped_records")), o->html ? "</p>" : "");
	section_totals(o, r);
	section_rooms(o, r, true);
	section_rooms(o, r, false);
	section_media(o, r);
	section_directory(o, r);
	section_sessions(o, r);
	if (o->html)
		fputs("</body></html>\n", o->f);
}

int exposure_format_parse(const char *s, enum exposure_format *out)
{
	if (s == NULL || strcmp(s, "json") == 0)
		*out = EXPOSURE_JSON;
	else if (strcmp(s, "markdown") == 0 || strcmp(s, "md") == 0)
		*out = EXPOSURE_MARKDOWN;
	else if (strcmp(s, "html") == 0)
		*out = EXPOSURE_HTML;
	else
		return -1;
	return 0;
}

char *exposure_render(const json_t *report, enum exposure_format f)
{
	struct out o = { NULL, f == EXPOSURE_HTML };
	char *buf = NULL;
	size_t len = 0;

	if (f == EXPOSURE_JSON)
		return json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
	o.f = open_memstream(&buf, &len);
	if (o.f == NULL)
		return NULL;
	render_text(&o, report);
	if (ferror(o.f)) {
		fclose(o.f);
		free(buf);
		return NULL;
	}
	fclose(o.f);
	return buf;
}

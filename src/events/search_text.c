/* search_text.c: the text server-side search indexes (see search_text.h). */
#include "events/search_text.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

/* A non-empty string member of obj, or NULL. */
static const char *search_string(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* The body of the text/plain representation of content["m.topic"]["m.text"]
 * ("The mimetype. Defaults to text/plain if omitted"), or NULL. */
static const char *search_topic_plain(const json_t *content)
{
	const json_t *reps = json_object_get(json_object_get(content, "m.topic"), "m.text");
	size_t i;
	const json_t *rep;

	if (!json_is_array(reps))
		return NULL;
	json_array_foreach(reps, i, rep) {
		const json_t *mime = json_object_get(rep, "mimetype");
		if (mime != NULL && (!json_is_string(mime) ||
		                     strcmp(json_string_value(mime), "text/plain") != 0))
			continue;
		return search_string(rep, "body");
	}
	return NULL;
}

/* content.topic and the text/plain m.topic body, once each when they are
 * the same (the spec says topic "SHOULD duplicate" it). */
static char *search_topic_text(const json_t *content)
{
	const char *topic = search_string(content, "topic");
	const char *plain = search_topic_plain(content);
	size_t a, b;
	char *out;

	if (topic == NULL || plain == NULL || strcmp(topic, plain) == 0)
		return topic != NULL ? strdup(topic) : plain != NULL ? strdup(plain) : NULL;
	a = strlen(topic);
	b = strlen(plain);
	out = malloc(a + b + 2);
	if (out == NULL)
		return NULL;
	memcpy(out, topic, a);
	out[a] = '\n';
	memcpy(out + a + 1, plain, b + 1);
	return out;
}

char *event_search_text(const json_t *ev, bool room_encrypted, int *key_out)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const json_t *content = json_object_get(ev, "content");
	const char *s = NULL;
	char *text;

	*key_out = 0;
	if (room_encrypted || type == NULL || !json_is_object(content))
		return NULL;
	if (strcmp(type, "m.room.message") == 0) {
		s = search_string(content, "body");
		*key_out = STORE_SEARCH_KEY_BODY;
	} else if (strcmp(type, "m.room.name") == 0) {
		s = search_string(content, "name");
		*key_out = STORE_SEARCH_KEY_NAME;
	} else if (strcmp(type, "m.room.topic") == 0) {
		*key_out = STORE_SEARCH_KEY_TOPIC;
		text = search_topic_text(content);
		goto out;
	}
	text = s != NULL ? strdup(s) : NULL;
out:
	/* the store refuses more than it would keep (an event is at most
	 * 64 KiB, so a field of it is too; this only guards the join) */
	if (text != NULL && strlen(text) > STORE_SEARCH_TEXT_MAX) {
		free(text);
		text = NULL;
	}
	if (text == NULL)
		*key_out = 0;
	return text;
}

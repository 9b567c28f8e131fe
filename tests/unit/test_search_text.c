/*
 * test_search_text: what server-side search indexes of an event
 * (src/events/search_text.h).
 *
 * Spec, Client-Server API, Server Side Search: "The supported keys to
 * search over are: content.body in m.room.message; content.name in
 * m.room.name; In m.room.topic, content.topic as well as the body of the
 * text/plain representation in content['m.topic']." and "The search will
 * not include rooms that are end to end encrypted." m.room.topic's schema:
 * topic "SHOULD duplicate the content of the text/plain representation in
 * m.topic"; TextContentBlock: "mimetype: The mimetype. Defaults to
 * text/plain if omitted."
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "events/search_text.h"
#include "store/store.h"

/* The text indexed for the event JSON ev_text ("" for none) and its key. */
static void expect(const char *ev_text, bool encrypted, const char *want, int want_key)
{
	json_error_t jerr;
	json_t *ev = json_loads(ev_text, 0, &jerr);
	int key = -1;
	char *got;

	if (ev == NULL)
		fail_msg("bad test JSON %s: %s", ev_text, jerr.text);
	got = event_search_text(ev, encrypted, &key);
	if (want == NULL) {
		assert_null(got);
		assert_int_equal(key, 0);
	} else {
		assert_non_null(got);
		assert_string_equal(got, want);
		assert_int_equal(key, want_key);
	}
	free(got);
	json_decref(ev);
}

static void test_the_three_keys(void **state)
{
	(void)state;
	expect("{\"type\":\"m.room.message\",\"content\":{\"msgtype\":\"m.text\",\"body\":\"hi there\"}}",
	       false, "hi there", STORE_SEARCH_KEY_BODY);
	expect("{\"type\":\"m.room.name\",\"state_key\":\"\",\"content\":{\"name\":\"Lounge\"}}",
	       false, "Lounge", STORE_SEARCH_KEY_NAME);
	expect("{\"type\":\"m.room.topic\",\"state_key\":\"\",\"content\":{\"topic\":\"Chat\"}}",
	       false, "Chat", STORE_SEARCH_KEY_TOPIC);
}

static void test_topic_representations(void **state)
{
	(void)state;
	/* the same text once */
	expect("{\"type\":\"m.room.topic\",\"content\":{\"topic\":\"same\",\"m.topic\":{\"m.text\":"
	       "[{\"mimetype\":\"text/plain\",\"body\":\"same\"}]}}}",
	       false, "same", STORE_SEARCH_KEY_TOPIC);
	/* both when they differ; text/html is not text/plain; no mimetype is */
	expect("{\"type\":\"m.room.topic\",\"content\":{\"topic\":\"short\",\"m.topic\":{\"m.text\":"
	       "[{\"mimetype\":\"text/html\",\"body\":\"<b>html</b>\"},{\"body\":\"long plain\"}]}}}",
	       false, "short\nlong plain", STORE_SEARCH_KEY_TOPIC);
	/* only m.topic */
	expect("{\"type\":\"m.room.topic\",\"content\":{\"m.topic\":{\"m.text\":"
	       "[{\"mimetype\":\"text/plain\",\"body\":\"only block\"}]}}}",
	       false, "only block", STORE_SEARCH_KEY_TOPIC);
	/* nothing plain anywhere */
	expect("{\"type\":\"m.room.topic\",\"content\":{\"m.topic\":{\"m.text\":"
	       "[{\"mimetype\":\"text/html\",\"body\":\"<i>x</i>\"}]}}}", false, NULL, 0);
	/* malformed blocks are skipped, not trusted */
	expect("{\"type\":\"m.room.topic\",\"content\":{\"m.topic\":{\"m.text\":"
	       "[{\"mimetype\":5,\"body\":\"bad mime\"},{\"body\":7},\"x\"]}}}", false, NULL, 0);
	expect("{\"type\":\"m.room.topic\",\"content\":{\"m.topic\":[]}}", false, NULL, 0);
}

/* "The search will not include rooms that are end to end encrypted":
 * nothing of an encrypted room, and an m.room.encrypted event is never
 * one of the three types. */
static void test_encrypted(void **state)
{
	(void)state;
	expect("{\"type\":\"m.room.message\",\"content\":{\"body\":\"secret\"}}", true, NULL, 0);
	expect("{\"type\":\"m.room.name\",\"content\":{\"name\":\"secret\"}}", true, NULL, 0);
	expect("{\"type\":\"m.room.topic\",\"content\":{\"topic\":\"secret\"}}", true, NULL, 0);
	expect("{\"type\":\"m.room.encrypted\",\"content\":{\"algorithm\":\"m.megolm.v1.aes-sha2\","
	       "\"ciphertext\":\"AwgA\",\"body\":\"plaintext smuggled\"}}", false, NULL, 0);
}

static void test_nothing_to_index(void **state)
{
	(void)state;
	expect("{\"type\":\"m.room.message\",\"content\":{\"body\":\"\"}}", false, NULL, 0);
	expect("{\"type\":\"m.room.message\",\"content\":{\"body\":42}}", false, NULL, 0);
	expect("{\"type\":\"m.room.message\",\"content\":{}}", false, NULL, 0);
	expect("{\"type\":\"m.room.message\",\"content\":\"body\"}", false, NULL, 0);
	expect("{\"type\":\"m.room.message\"}", false, NULL, 0);
	expect("{\"content\":{\"body\":\"no type\"}}", false, NULL, 0);
	expect("{\"type\":5,\"content\":{\"body\":\"bad type\"}}", false, NULL, 0);
	expect("{\"type\":\"m.room.member\",\"content\":{\"displayname\":\"x\",\"body\":\"y\"}}",
	       false, NULL, 0);
	/* the key belongs to its type: a name in a message is not indexed */
	expect("{\"type\":\"m.room.message\",\"content\":{\"name\":\"not a body\"}}", false, NULL, 0);
	expect("{\"type\":\"m.room.name\",\"content\":{\"body\":\"not a name\"}}", false, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_the_three_keys),
		cmocka_unit_test(test_topic_representations),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_nothing_to_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

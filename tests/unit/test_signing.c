/*
 * Tests for json/sign: the spec's cryptographic test vectors (appendices,
 * "Cryptographic Test Vectors": "Signing Key", "JSON Signing", "Event
 * Signing") byte for byte, verification failures (tampering, wrong key,
 * missing or malformed signatures, non-canonical values), event hashes, and
 * the signing key file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "json/canonical.h"
#include "json/sign.h"
#include "util/base64.h"

/* One byte more than the 4 KiB a key file may hold. */
#define SIGN_TEST_BIG 4098

/* Appendices, "Signing Key": "The following test vectors all use the
 * 32-byte value given by the following Base64-encoded string as the seed":
 *   SIGNING_KEY_SEED = decode_base64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
 *   SERVER_NAME = "domain", KEY_ID = "ed25519:1" */
#define SPEC_SEED_B64 "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"

static void spec_key(struct signing_key *key)
{
	unsigned char *seed = NULL;
	size_t len = 0;

	assert_int_equal(b64_decode(SPEC_SEED_B64, strlen(SPEC_SEED_B64), &seed, &len), 0);
	assert_int_equal(len, 32);
	assert_int_equal(signing_key_from_seed(key, "1", seed), 0);
	assert_string_equal(key->key_id, "ed25519:1");
	free(seed);
}

static json_t *parse(const char *text)
{
	json_t *v = cjson_parse(text, strlen(text), 32, NULL, NULL, 0);

	assert_non_null(v);
	return v;
}

/* got and want hold the same JSON value: compare canonical forms. */
static void assert_same_json(const json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);
	char *a = cjson_encode(got, NULL), *b = cjson_encode(want, NULL);

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a, b);
	free(a);
	free(b);
	json_decref(want);
}

/* ---- the spec's vectors ----------------------------------------------------- */

static void test_vector_json_signing(void **state)
{
	struct signing_key key;
	json_t *obj;
	(void)state;

	spec_key(&key);
	/* "JSON Signing": given {} ... */
	obj = json_object();
	assert_int_equal(json_sign(obj, "domain", &key), 0);
	assert_same_json(obj, "{\"signatures\":{\"domain\":{\"ed25519:1\":"
	                      "\"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/"
	                      "7Xg4ahLwYGYZzuHGZKM5ZAQ\"}}}");
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), 0);
	json_decref(obj);

	/* ... and given {"one": 1, "two": "Two"}. */
	obj = parse("{\"one\": 1, \"two\": \"Two\"}");
	assert_int_equal(json_sign(obj, "domain", &key), 0);
	assert_same_json(obj, "{\"one\":1,\"signatures\":{\"domain\":{\"ed25519:1\":"
	                      "\"KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZ"
	                      "hG6kYdD13EIMJpvhJI+6Bw\"}},\"two\":\"Two\"}");
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), 0);
	json_decref(obj);
	signing_key_wipe(&key);
}

/* Server-server "Adding hashes and signatures to outgoing events": content
 * hash, then redact, sign the redacted copy, copy the signatures back. The
 * redaction is the room layer's; here it is written out by hand: both events
 * lose "unsigned", and the m.room.message loses its content keys. */
static void sign_event_like_spec(json_t *event, json_t *redacted, const struct signing_key *key)
{
	assert_int_equal(event_content_hash_set(event), 0);
	json_object_set(redacted, "hashes", json_object_get(event, "hashes"));
	assert_int_equal(json_sign(redacted, "domain", key), 0);
	json_object_set(event, "signatures", json_object_get(redacted, "signatures"));
}

static void test_vector_event_signing_minimal(void **state)
{
	struct signing_key key;
	json_t *ev, *red;
	(void)state;

	spec_key(&key);
	ev = parse("{\"room_id\":\"!x:domain\",\"sender\":\"@a:domain\",\"origin\":\"domain\","
	           "\"origin_server_ts\":1000000,\"signatures\":{},\"hashes\":{},\"type\":\"X\","
	           "\"content\":{},\"prev_events\":[],\"auth_events\":[],\"depth\":3,"
	           "\"unsigned\":{\"age_ts\":1000000}}");
	red = json_deep_copy(ev);
	json_object_del(red, "unsigned");
	sign_event_like_spec(ev, red, &key);
	assert_same_json(ev,
	    "{\"auth_events\":[],\"content\":{},\"depth\":3,\"hashes\":{\"sha256\":"
	    "\"5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos\"},\"origin\":\"domain\","
	    "\"origin_server_ts\":1000000,\"prev_events\":[],\"room_id\":\"!x:domain\","
	    "\"sender\":\"@a:domain\",\"signatures\":{\"domain\":{\"ed25519:1\":"
	    "\"KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg\"}},"
	    "\"type\":\"X\",\"unsigned\":{\"age_ts\":1000000}}");
	assert_int_equal(event_content_hash_check(ev), 0);
	json_decref(red);
	json_decref(ev);
	signing_key_wipe(&key);
}

static void test_vector_event_signing_redactable(void **state)
{
	struct signing_key key;
	json_t *ev, *red;
	(void)state;

	spec_key(&key);
	ev = parse("{\"content\":{\"body\":\"Here is the message content\"},\"event_id\":\"$0:domain\","
	           "\"origin\":\"domain\",\"origin_server_ts\":1000000,\"type\":\"m.room.message\","
	           "\"room_id\":\"!r:domain\",\"sender\":\"@u:domain\",\"signatures\":{},"
	           "\"unsigned\":{\"age_ts\":1000000}}");
	red = json_deep_copy(ev);
	json_object_del(red, "unsigned");
	json_object_set_new(red, "content", json_object());
	sign_event_like_spec(ev, red, &key);
	assert_same_json(ev,
	    "{\"content\":{\"body\":\"Here is the message content\"},\"event_id\":\"$0:domain\","
	    "\"hashes\":{\"sha256\":\"onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g\"},"
	    "\"origin\":\"domain\",\"origin_server_ts\":1000000,\"type\":\"m.room.message\","
	    "\"room_id\":\"!r:domain\",\"sender\":\"@u:domain\",\"signatures\":{\"domain\":"
	    "{\"ed25519:1\":\"Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYH"
	    "YMGCA5McEiVPdhzBA\"}},\"unsigned\":{\"age_ts\":1000000}}");
	assert_int_equal(event_content_hash_check(ev), 0);
	/* "Checking for a signature" runs on the redacted form: it verifies. */
	assert_int_equal(json_verify(red, "domain", "ed25519:1", key.pk), 0);
	/* The full event's content is not what was signed. */
	assert_int_equal(json_verify(ev, "domain", "ed25519:1", key.pk), -1);
	json_decref(red);
	json_decref(ev);
	signing_key_wipe(&key);
}

/* ---- verification failures ---------------------------------------------------- */

static json_t *signed_sample(const struct signing_key *key)
{
	json_t *obj = parse("{\"one\":1,\"two\":\"Two\",\"unsigned\":{\"age\":5}}");

	assert_int_equal(json_sign(obj, "domain", key), 0);
	assert_int_equal(json_verify(obj, "domain", key->key_id, key->pk), 0);
	return obj;
}

static void test_verify_tampering(void **state)
{
	struct signing_key key;
	json_t *obj;
	(void)state;

	spec_key(&key);
	obj = signed_sample(&key);
	json_object_set_new(obj, "two", json_string("Three"));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);

	obj = signed_sample(&key);
	json_object_set_new(obj, "three", json_null()); /* an added key counts too */
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);

	/* "The unsigned object and the signatures object are not covered by
	 * the signature": changing them keeps it valid. */
	obj = signed_sample(&key);
	json_object_set_new(obj, "unsigned", json_pack("{s:i}", "age", 99));
	json_object_set_new(json_object_get(obj, "signatures"), "other.example",
	                    json_pack("{s:s}", "ed25519:x", "AAAA"));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), 0);
	json_decref(obj);
	signing_key_wipe(&key);
}

static void test_verify_wrong_key_and_missing(void **state)
{
	struct signing_key key, other;
	json_t *obj, *ent;
	(void)state;

	spec_key(&key);
	assert_int_equal(signing_key_generate(&other, "1"), 0);
	obj = signed_sample(&key);
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", other.pk), -1);
	/* Missing entity, missing key id, other algorithm, no signatures. */
	assert_int_equal(json_verify(obj, "other", "ed25519:1", key.pk), -1);
	assert_int_equal(json_verify(obj, "domain", "ed25519:2", key.pk), -1);
	assert_int_equal(json_verify(obj, "domain", "curve25519:1", key.pk), -1);
	assert_int_equal(json_verify(obj, NULL, "ed25519:1", key.pk), -1);
	ent = json_object_get(json_object_get(obj, "signatures"), "domain");
	/* Malformed signatures: not a string, bad base64, too short. */
	json_object_set_new(ent, "ed25519:1", json_integer(5));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_object_set_new(ent, "ed25519:1", json_string("!!!!"));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_object_set_new(ent, "ed25519:1", json_string("AAAA"));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);
	/* A valid signature with one byte appended is not a signature: the
	 * length is checked, not just the first 64 bytes. */
	obj = signed_sample(&key);
	ent = json_object_get(json_object_get(obj, "signatures"), "domain");
	{
		unsigned char *raw = NULL, longer[65];
		size_t raw_len = 0;
		const char *sig = json_string_value(json_object_get(ent, "ed25519:1"));
		char *b64;
		assert_int_equal(b64_decode(sig, strlen(sig), &raw, &raw_len), 0);
		assert_int_equal(raw_len, 64);
		memcpy(longer, raw, 64);
		longer[64] = 0;
		b64 = b64_encode(longer, sizeof longer);
		json_object_set_new(ent, "ed25519:1", json_string(b64));
		assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
		free(b64);
		free(raw);
	}
	json_object_set_new(obj, "signatures", json_string("x"));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_object_del(obj, "signatures");
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);
	json_decref(NULL);
	obj = json_array();
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);
	signing_key_wipe(&key);
	signing_key_wipe(&other);
}

static void test_verify_padded_signature_accepted(void **state)
{
	struct signing_key key;
	json_t *obj, *ent;
	char padded[100];
	(void)state;

	spec_key(&key);
	obj = signed_sample(&key);
	ent = json_object_get(json_object_get(obj, "signatures"), "domain");
	/* 64 bytes encode to 86 characters; padding adds "==". */
	snprintf(padded, sizeof padded, "%s==", json_string_value(json_object_get(ent, "ed25519:1")));
	json_object_set_new(ent, "ed25519:1", json_string(padded));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), 0);
	json_decref(obj);
	signing_key_wipe(&key);
}

static void test_non_canonical_refused(void **state)
{
	struct signing_key key;
	json_t *obj;
	char *before, *after;
	(void)state;

	spec_key(&key);
	/* "Float values are not permitted": nothing is signed, and the
	 * object is left exactly as it was. */
	obj = parse("{\"a\":1.5,\"signatures\":{\"x\":{}}}");
	before = json_dumps(obj, JSON_SORT_KEYS);
	assert_int_equal(json_sign(obj, "domain", &key), -1);
	after = json_dumps(obj, JSON_SORT_KEYS);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(obj);
	obj = json_pack("{s:I}", "big", (json_int_t)9007199254740992LL);
	assert_int_equal(json_sign(obj, "domain", &key), -1);
	assert_null(json_object_get(obj, "signatures"));
	json_decref(obj);

	/* A signed object that later gains a float no longer verifies. */
	obj = signed_sample(&key);
	json_object_set_new(obj, "f", json_real(2.0));
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), -1);
	json_decref(obj);
	signing_key_wipe(&key);
}

static void test_sign_keeps_existing_and_refuses_bad_shapes(void **state)
{
	struct signing_key key, key2;
	json_t *obj;
	(void)state;

	spec_key(&key);
	assert_int_equal(signing_key_generate(&key2, "two"), 0);
	obj = parse("{\"a\":1,\"unsigned\":{\"u\":1},\"signatures\":{\"other\":{\"ed25519:z\":\"sig\"}}}");
	assert_int_equal(json_sign(obj, "domain", &key), 0);
	assert_int_equal(json_sign(obj, "domain", &key2), 0);
	/* Both of ours, the other entity's and "unsigned" are all there. */
	assert_int_equal(json_verify(obj, "domain", "ed25519:1", key.pk), 0);
	assert_int_equal(json_verify(obj, "domain", "ed25519:two", key2.pk), 0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_object_get(obj, "signatures"), "other"),
	                        "ed25519:z")),
	                    "sig");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(obj, "unsigned"), "u")), 1);
	json_decref(obj);

	/* Refuse rather than discard signatures that have the wrong shape. */
	obj = parse("{\"signatures\":[]}");
	assert_int_equal(json_sign(obj, "domain", &key), -1);
	json_decref(obj);
	obj = parse("{\"signatures\":{\"domain\":\"x\"}}");
	assert_int_equal(json_sign(obj, "domain", &key), -1);
	json_decref(obj);
	obj = json_array();
	assert_int_equal(json_sign(obj, "domain", &key), -1);
	json_decref(obj);
	assert_int_equal(json_sign(NULL, "domain", &key), -1);
	signing_key_wipe(&key);
	signing_key_wipe(&key2);
}

/* ---- allocation failure ---------------------------------------------------------- */

/* jansson allocator that fails once the countdown reaches zero. */
static int oom_countdown = -1;

static void *oom_malloc(size_t n)
{
	if (oom_countdown == 0)
		return NULL;
	if (oom_countdown > 0)
		oom_countdown--;
	return malloc(n);
}

/* Run op on a fresh copy of text with the n-th jansson allocation failing,
 * for growing n, until it succeeds; each failure must leave the object
 * exactly as it was (sign.h: "only on success"). */
static void expect_atomic_under_oom(const char *text, int (*op)(json_t *, const void *),
                                    const void *arg)
{
	int n, rc = -1;

	for (n = 0; n < 1000 && rc != 0; n++) {
		json_t *obj = parse(text);
		char *before = cjson_encode(obj, NULL), *after;
		json_set_alloc_funcs(oom_malloc, free);
		oom_countdown = n;
		rc = op(obj, arg);
		oom_countdown = -1;
		json_set_alloc_funcs(malloc, free);
		after = cjson_encode(obj, NULL);
		assert_non_null(before);
		assert_non_null(after);
		if (rc != 0)
			assert_string_equal(before, after);
		else
			assert_string_not_equal(before, after);
		free(before);
		free(after);
		json_decref(obj);
	}
	assert_int_equal(rc, 0);
	assert_true(n > 1); /* at least one injected failure was hit */
}

static int op_sign(json_t *obj, const void *key)
{
	return json_sign(obj, "domain", key);
}

static int op_hash(json_t *obj, const void *unused)
{
	(void)unused;
	return event_content_hash_set(obj);
}

static void test_oom_leaves_object_unchanged(void **state)
{
	struct signing_key key;
	(void)state;

	spec_key(&key);
	expect_atomic_under_oom("{\"a\":{\"b\":[1,2]},\"unsigned\":{}}", op_sign, &key);
	expect_atomic_under_oom("{\"a\":1,\"signatures\":{}}", op_sign, &key);
	expect_atomic_under_oom("{\"a\":1,\"signatures\":{\"domain\":{\"ed25519:0\":\"x\"}}}",
	                        op_sign, &key);
	expect_atomic_under_oom("{\"type\":\"X\",\"content\":{\"k\":\"v\"}}", op_hash, NULL);
	expect_atomic_under_oom("{\"type\":\"X\",\"hashes\":{\"other\":\"y\"}}", op_hash, NULL);
	signing_key_wipe(&key);
}

/* ---- event hashes ------------------------------------------------------------- */

static void test_content_hash(void **state)
{
	json_t *ev;
	(void)state;

	ev = parse("{\"type\":\"X\",\"content\":{\"b\":1},\"hashes\":{\"other\":\"keep\"},"
	           "\"unsigned\":{\"age\":1}}");
	assert_int_equal(event_content_hash_check(ev), -1); /* no sha256 yet */
	assert_int_equal(event_content_hash_set(ev), 0);
	assert_int_equal(event_content_hash_check(ev), 0);
	/* Other algorithms' entries survive. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "hashes"), "other")),
	                    "keep");
	/* unsigned, signatures and hashes are not covered ... */
	json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 2));
	json_object_set_new(ev, "signatures", json_pack("{s:{}}", "x"));
	json_object_set_new(json_object_get(ev, "hashes"), "other", json_string("changed"));
	assert_int_equal(event_content_hash_check(ev), 0);
	/* ... everything else is, content included (unlike the signature). */
	json_object_set_new(json_object_get(ev, "content"), "b", json_integer(2));
	assert_int_equal(event_content_hash_check(ev), -1);
	json_object_set_new(json_object_get(ev, "content"), "b", json_integer(1));
	assert_int_equal(event_content_hash_check(ev), 0);
	/* Malformed hashes: wrong length, bad base64, wrong type. */
	json_object_set_new(json_object_get(ev, "hashes"), "sha256", json_string("AAAA"));
	assert_int_equal(event_content_hash_check(ev), -1);
	json_object_set_new(json_object_get(ev, "hashes"), "sha256", json_string("*"));
	assert_int_equal(event_content_hash_check(ev), -1);
	json_object_set_new(json_object_get(ev, "hashes"), "sha256", json_integer(1));
	assert_int_equal(event_content_hash_check(ev), -1);
	json_object_set_new(ev, "hashes", json_string("x"));
	assert_int_equal(event_content_hash_set(ev), -1);
	assert_int_equal(event_content_hash_check(ev), -1);
	json_decref(ev);

	/* A float makes the event unhashable rather than hashed some way. */
	ev = parse("{\"type\":\"X\",\"content\":{\"f\":0.5}}");
	assert_int_equal(event_content_hash_set(ev), -1);
	assert_null(json_object_get(ev, "hashes"));
	json_decref(ev);
	assert_int_equal(event_content_hash_set(NULL), -1);
	assert_int_equal(event_content_hash_check(NULL), -1);
}

static void test_reference_hash(void **state)
{
	unsigned char h1[32], h2[32], want[32];
	json_t *ev;
	char *text;
	size_t len;
	(void)state;

	/* Server-server "Calculating the reference hash": remove signatures
	 * and unsigned, canonical JSON, sha256. Computed independently here. */
	ev = parse("{\"type\":\"X\",\"content\":{},\"hashes\":{\"sha256\":\"abc\"},\"depth\":3}");
	text = cjson_encode(ev, &len);
	assert_non_null(text);
	assert_string_equal(text, "{\"content\":{},\"depth\":3,\"hashes\":{\"sha256\":\"abc\"},"
	                          "\"type\":\"X\"}");
	crypto_hash_sha256(want, (const unsigned char *)text, len);
	free(text);
	assert_int_equal(event_reference_hash(ev, h1), 0);
	assert_memory_equal(h1, want, 32);
	/* signatures and unsigned do not change it ... */
	json_object_set_new(ev, "signatures", json_pack("{s:{s:s}}", "d", "ed25519:1", "x"));
	json_object_set_new(ev, "unsigned", json_pack("{s:i}", "age", 1));
	assert_int_equal(event_reference_hash(ev, h2), 0);
	assert_memory_equal(h1, h2, 32);
	/* ... hashes (the content hash) do. */
	json_object_set_new(json_object_get(ev, "hashes"), "sha256", json_string("abd"));
	assert_int_equal(event_reference_hash(ev, h2), 0);
	assert_memory_not_equal(h1, h2, 32);
	json_object_set_new(ev, "depth", json_real(3.0));
	assert_int_equal(event_reference_hash(ev, h2), -1);
	json_decref(ev);
	assert_int_equal(event_reference_hash(NULL, h2), -1);
}

/* ---- keys ----------------------------------------------------------------------- */

static void test_key_generate_versions(void **state)
{
	struct signing_key a, b;
	json_t *obj;
	char *pub;
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	(void)state;

	assert_int_equal(signing_key_generate(&a, "a_XyZ1"), 0);
	assert_string_equal(a.key_id, "ed25519:a_XyZ1");
	assert_int_equal(signing_key_generate(&b, "abcdefghijklmnopqrstuvwxyz_01234"), 0); /* 32 */
	assert_memory_not_equal(a.seed, b.seed, 32);
	assert_memory_not_equal(a.pk, b.pk, 32);
	/* Versions: alnum and "_" only, 1 to 32 characters. */
	assert_int_equal(signing_key_generate(&b, ""), -1);
	assert_int_equal(signing_key_generate(&b, "abcdefghijklmnopqrstuvwxyz_012345"), -1);
	assert_int_equal(signing_key_generate(&b, "a-b"), -1);
	assert_int_equal(signing_key_generate(&b, "a:b"), -1);
	assert_int_equal(signing_key_generate(&b, "a b"), -1);
	assert_int_equal(signing_key_generate(&b, "\xc3\xa9"), -1);
	assert_int_equal(signing_key_generate(&b, NULL), -1);
	assert_int_equal(signing_key_generate(NULL, "1"), -1);
	/* The public key is the unpadded base64 of pk and verifies a's
	 * signatures. */
	pub = signing_key_public_b64(&a);
	assert_non_null(pub);
	assert_int_equal(strlen(pub), 43);
	assert_int_equal(b64_decode(pub, strlen(pub), &raw, &raw_len), 0);
	assert_int_equal(raw_len, 32);
	assert_memory_equal(raw, a.pk, 32);
	obj = json_pack("{s:s}", "k", "v");
	assert_int_equal(json_sign(obj, "me", &a), 0);
	assert_int_equal(json_verify(obj, "me", "ed25519:a_XyZ1", raw), 0);
	json_decref(obj);
	free(raw);
	free(pub);
	/* Wipe leaves nothing behind. */
	signing_key_wipe(&a);
	memset(&b, 0, sizeof b);
	assert_memory_equal(&a, &b, sizeof a);
}

static char tmpdir[] = "/tmp/chappe_signing_XXXXXX";

static void key_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int dir_entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_key_save_load_round_trip(void **state)
{
	struct signing_key key, back;
	char path[512], text[256] = "", want[256];
	struct stat st;
	FILE *f;
	(void)state;

	key_path(path, sizeof path, "rt.key");
	spec_key(&key);
	assert_int_equal(signing_key_save(&key, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Synapse's format, with the spec's seed. The spec writes it as
	 * "...XA1", whose last character has non-zero unused bits; the
	 * canonical encoding of the same 32 bytes ends in "XA0". */
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof text, f));
	fclose(f);
	snprintf(want, sizeof want, "ed25519 1 %.42s0\n", SPEC_SEED_B64);
	assert_string_equal(text, want);
	assert_int_equal(signing_key_load(&back, path), 0);
	assert_memory_equal(&key, &back, sizeof key);
	/* Saving again replaces the file atomically, leaving no temp file,
	 * and tightens a loose mode (the new file is a new inode). */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(signing_key_generate(&key, "v2"), 0);
	assert_int_equal(signing_key_save(&key, path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(dir_entries(), 1);
	assert_int_equal(signing_key_load(&back, path), 0);
	assert_memory_equal(&key, &back, sizeof key);
	assert_string_equal(back.key_id, "ed25519:v2");
	unlink(path);
	signing_key_wipe(&key);
	signing_key_wipe(&back);
}

static void test_key_load_permissions(void **state)
{
	struct signing_key key;
	char path[512], line[128];
	(void)state;

	key_path(path, sizeof path, "perm.key");
	snprintf(line, sizeof line, "ed25519 1 %s\n", SPEC_SEED_B64);
	/* Loaded, but the caller is told to warn (1) when others can read. */
	write_file(path, line, 0644);
	assert_int_equal(signing_key_load(&key, path), 1);
	assert_string_equal(key.key_id, "ed25519:1");
	write_file(path, line, 0640);
	assert_int_equal(signing_key_load(&key, path), 1);
	write_file(path, line, 0400);
	assert_int_equal(signing_key_load(&key, path), 0);
	unlink(path);
	signing_key_wipe(&key);
}

static void test_key_load_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"ed25519 1\n",
		"ed25519 " SPEC_SEED_B64 "\n",
		"ed448 1 " SPEC_SEED_B64 "\n",
		"ed25519 a-b " SPEC_SEED_B64 "\n",
		"ed25519 1 " SPEC_SEED_B64 " extra\n",
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA\n",  /* 31 bytes */
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1A\n", /* not 32 */
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW-3XA1\n",  /* url alphabet */
		"\ned25519 1 " SPEC_SEED_B64 "\n",                          /* first line empty */
	};
	struct signing_key key;
	char path[512], big[SIGN_TEST_BIG];
	size_t i;
	(void)state;

	key_path(path, sizeof path, "bad.key");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_file(path, bad[i], 0600);
		if (signing_key_load(&key, path) != -1)
			fail_msg("accepted bad key file #%zu", i);
	}
	/* Accepted variants: padded seed, CRLF, a second key line (Synapse
	 * reads the first), tabs between fields. */
	write_file(path, "ed25519 1 " SPEC_SEED_B64 "=\r\nignored line\n", 0600);
	assert_int_equal(signing_key_load(&key, path), 0);
	write_file(path, "ed25519\t1\t" SPEC_SEED_B64, 0600);
	assert_int_equal(signing_key_load(&key, path), 0);
	/* Oversized file, embedded NUL, a directory, a missing file. */
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "ed25519 1 " SPEC_SEED_B64, strlen("ed25519 1 " SPEC_SEED_B64));
	write_file(path, big, 0600);
	assert_int_equal(signing_key_load(&key, path), -1);
	write_file(path, "ed25519 1 " SPEC_SEED_B64 "\n", 0600);
	assert_int_equal(truncate(path, 80), 0); /* pads with NUL bytes */
	assert_int_equal(signing_key_load(&key, path), -1);
	assert_int_equal(signing_key_load(&key, tmpdir), -1);
	key_path(path, sizeof path, "missing.key");
	assert_int_equal(signing_key_load(&key, path), -1);
	assert_int_equal(signing_key_load(NULL, path), -1);
	key_path(path, sizeof path, "bad.key");
	unlink(path);
	signing_key_wipe(&key);
}

static void test_key_save_failures(void **state)
{
	struct signing_key key;
	char path[512];
	(void)state;

	spec_key(&key);
	key_path(path, sizeof path, "no/such/dir/k.key");
	assert_int_equal(signing_key_save(&key, path), -1);
	/* A struct whose key id is not ours is refused, nothing written. */
	key_path(path, sizeof path, "odd.key");
	snprintf(key.key_id, sizeof key.key_id, "rsa:1");
	assert_int_equal(signing_key_save(&key, path), -1);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(dir_entries(), 0);
	assert_int_equal(signing_key_save(NULL, path), -1);
	signing_key_wipe(&key);
}

static int setup_tmpdir(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_json_signing),
		cmocka_unit_test(test_vector_event_signing_minimal),
		cmocka_unit_test(test_vector_event_signing_redactable),
		cmocka_unit_test(test_verify_tampering),
		cmocka_unit_test(test_verify_wrong_key_and_missing),
		cmocka_unit_test(test_verify_padded_signature_accepted),
		cmocka_unit_test(test_non_canonical_refused),
		cmocka_unit_test(test_sign_keeps_existing_and_refuses_bad_shapes),
		cmocka_unit_test(test_oom_leaves_object_unchanged),
		cmocka_unit_test(test_content_hash),
		cmocka_unit_test(test_reference_hash),
		cmocka_unit_test(test_key_generate_versions),
		cmocka_unit_test(test_key_save_load_round_trip),
		cmocka_unit_test(test_key_load_permissions),
		cmocka_unit_test(test_key_load_malformed),
		cmocka_unit_test(test_key_save_failures),
	};
	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}

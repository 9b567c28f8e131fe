/* keys_verify.c: checks of uploaded key objects (contract in keys_verify.h). */
#include "api/client/keys_verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/canonical.h"
#include "json/sign.h"
#include "store/store.h"
#include "util/base64.h"

static int keys_fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int keys_fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_len > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Unpadded base64 of exactly want bytes, within KEYS_B64_MAX. */
static bool keys_b64_len_ok(const json_t *v, size_t want)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	bool ok;

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > KEYS_B64_MAX)
		return false;
	ok = b64_decode(json_string_value(v), json_string_length(v), &raw, &len) == 0 &&
	     len == want;
	free(raw);
	return ok;
}

int keys_ed25519_decode(const char *b64, unsigned char pk[32])
{
	unsigned char *raw = NULL;
	size_t len = 0;
	int ret = -1;

	if (b64 == NULL || strlen(b64) > KEYS_B64_MAX)
		return -1;
	if (b64_decode(b64, strlen(b64), &raw, &len) == 0 && len == 32) {
		memcpy(pk, raw, 32);
		ret = 0;
	}
	free(raw);
	return ret;
}

bool keys_signed_by(const json_t *obj, const char *entity, const char *key_name,
                    const char *pub)
{
	unsigned char pk[32];
	char key_id[KEYS_B64_MAX + 16];

	if (keys_ed25519_decode(pub, pk) != 0 ||
	    (size_t)snprintf(key_id, sizeof(key_id), "ed25519:%s", key_name) >= sizeof(key_id))
		return false;
	return json_verify(obj, entity, key_id, pk) == 0;
}

/* signatures, when present, is {entity: {key_id: string}} within bounds. */
static bool keys_signatures_shape_ok(const json_t *obj)
{
	const json_t *sigs = json_object_get(obj, "signatures"), *ent, *sig;
	const char *entity, *key_id;

	if (!json_is_object(sigs) || json_object_size(sigs) > KEYS_SIGNERS_MAX)
		return false;
	json_object_foreach((json_t *)sigs, entity, ent) {
		if (!json_is_object(ent) || json_object_size(ent) > KEYS_SIGNERS_MAX)
			return false;
		json_object_foreach((json_t *)ent, key_id, sig) {
			if (!json_is_string(sig) || json_string_length(sig) > KEYS_B64_MAX ||
			    strlen(key_id) > STORE_KEY_ID_MAX)
				return false;
		}
	}
	return true;
}

/* The canonical JSON of obj without "unsigned" (what the server stores:
 * unsigned is the server's to fill when it serves the keys). */
static char *keys_canonical_stored(const json_t *obj)
{
	json_t *copy = json_deep_copy(obj);
	char *text = NULL;

	if (copy == NULL)
		return NULL;
	json_object_del(copy, "unsigned");
	if (cjson_check(copy) == 0)
		text = cjson_encode(copy, NULL);
	json_decref(copy);
	if (text != NULL && strlen(text) > STORE_KEY_JSON_MAX) {
		free(text);
		text = NULL;
	}
	return text;
}

/* keys: {"<alg>:<device_id>": base64}; the ed25519 key into pk. */
static int keys_device_keys_map(const json_t *keys, const char *device_id, unsigned char pk[32],
                                char *err, size_t err_len)
{
	const char *name, *colon;
	bool have_ed = false, have_curve = false;
	json_t *v;

	if (!json_is_object(keys) || json_object_size(keys) == 0 ||
	    json_object_size(keys) > KEYS_DEVICE_KEYS_MAX)
		return keys_fail(err, err_len, "keys must be a non-empty object of at most %d keys",
		                 KEYS_DEVICE_KEYS_MAX);
	json_object_foreach((json_t *)keys, name, v) {
		colon = strchr(name, ':');
		if (colon == NULL || colon == name || strcmp(colon + 1, device_id) != 0 ||
		    (size_t)(colon - name) > STORE_KEY_ALGORITHM_MAX)
			return keys_fail(err, err_len, "key %s is not <algorithm>:<device_id>", name);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > KEYS_B64_MAX)
			return keys_fail(err, err_len, "key %s must be a base64 string", name);
		if (strncmp(name, "ed25519:", 8) == 0) {
			if (keys_ed25519_decode(json_string_value(v), pk) != 0)
				return keys_fail(err, err_len, "key %s is not a 32-byte ed25519 key", name);
			have_ed = true;
		} else if (strncmp(name, "curve25519:", 11) == 0) {
			if (!keys_b64_len_ok(v, 32))
				return keys_fail(err, err_len, "key %s is not a 32-byte curve25519 key",
				                 name);
			have_curve = true;
		}
	}
	if (!have_ed || !have_curve)
		return keys_fail(err, err_len, "keys must hold the device's ed25519 and curve25519 keys");
	return 0;
}

static int keys_algorithms_ok(const json_t *algs, char *err, size_t err_len)
{
	size_t i;
	json_t *a;

	if (!json_is_array(algs) || json_array_size(algs) == 0 ||
	    json_array_size(algs) > KEYS_ALGORITHMS_MAX)
		return keys_fail(err, err_len, "algorithms must be a non-empty array of at most %d",
		                 KEYS_ALGORITHMS_MAX);
	json_array_foreach(algs, i, a) {
		if (!json_is_string(a) || json_string_length(a) == 0 ||
		    json_string_length(a) > STORE_KEY_ALGORITHM_MAX)
			return keys_fail(err, err_len, "algorithms must hold short strings");
	}
	return 0;
}

int keys_device_keys_check(const json_t *dk, const char *user_id, const char *device_id,
                           unsigned char pk[32], char **canonical_out, char **identity_out,
                           char *err, size_t err_len)
{
	const json_t *uid, *did, *algs, *keys;
	json_t *ident = NULL;
	char key_id[STORE_DEVICE_ID_MAX + 16];
	int ret = -1;

	*canonical_out = NULL;
	*identity_out = NULL;
	if (!json_is_object(dk))
		return keys_fail(err, err_len, "device_keys must be an object");
	uid = json_object_get(dk, "user_id");
	did = json_object_get(dk, "device_id");
	if (!json_is_string(uid) || strcmp(json_string_value(uid), user_id) != 0 ||
	    !json_is_string(did) || strcmp(json_string_value(did), device_id) != 0)
		return keys_fail(err, err_len, "device_keys must be for the caller's user and device");
	algs = json_object_get(dk, "algorithms");
	keys = json_object_get(dk, "keys");
	if (keys_algorithms_ok(algs, err, err_len) != 0 ||
	    keys_device_keys_map(keys, device_id, pk, err, err_len) != 0)
		return -1;
	if (!keys_signatures_shape_ok(dk))
		return keys_fail(err, err_len, "signatures must be an object of signature objects");
	snprintf(key_id, sizeof(key_id), "ed25519:%s", device_id);
	/* "signatures ... MUST contain the signature of the device's
	 * ed25519 key" (DeviceKeys, keys.yaml) */
	if (json_verify(dk, user_id, key_id, pk) != 0)
		return keys_fail(err, err_len, "device_keys are not signed by %s", key_id);
	ident = json_pack("{s:O,s:O}", "algorithms", algs, "keys", keys);
	if (ident == NULL || (*identity_out = cjson_encode(ident, NULL)) == NULL ||
	    (*canonical_out = keys_canonical_stored(dk)) == NULL) {
		keys_fail(err, err_len, "device_keys cannot be stored (too large or not canonical)");
		goto out;
	}
	ret = 0;
out:
	json_decref(ident);
	if (ret != 0) {
		free(*identity_out);
		free(*canonical_out);
		*identity_out = *canonical_out = NULL;
	}
	return ret;
}

/* Split "<algorithm>:<key_id>" into bounded parts. */
static int keys_name_split(const char *name, char *algorithm, size_t alg_len, char *key_id,
                           size_t id_len)
{
	const char *colon = strchr(name, ':');
	size_t a;

	if (colon == NULL || colon == name || colon[1] == '\0' || strchr(colon + 1, ':') != NULL)
		return -1;
	a = (size_t)(colon - name);
	if (a >= alg_len || a > STORE_KEY_ALGORITHM_MAX || strlen(colon + 1) >= id_len ||
	    strlen(colon + 1) > STORE_KEY_ID_MAX)
		return -1;
	memcpy(algorithm, name, a);
	algorithm[a] = '\0';
	strcpy(key_id, colon + 1);
	return 0;
}

/* A KeyObject: {key, signatures[, fallback]} signed by the device. */
static int keys_key_object_check(const json_t *v, const char *user_id, const char *device_id,
                                 const unsigned char *pk, bool is_fallback, const char *name,
                                 char *err, size_t err_len)
{
	const json_t *fb = json_object_get(v, "fallback");
	char key_id[STORE_DEVICE_ID_MAX + 16];

	if (!keys_b64_len_ok(json_object_get(v, "key"), 32))
		return keys_fail(err, err_len, "%s: key must be a 32-byte base64 key", name);
	if (fb != NULL && (!json_is_boolean(fb) || (json_is_true(fb) && !is_fallback)))
		return keys_fail(err, err_len, "%s: fallback is only for fallback keys", name);
	if (!keys_signatures_shape_ok(v))
		return keys_fail(err, err_len, "%s: signatures must be an object", name);
	if (pk == NULL)
		return keys_fail(err, err_len, "%s: upload the device keys first", name);
	snprintf(key_id, sizeof(key_id), "ed25519:%s", device_id);
	if (json_verify(v, user_id, key_id, pk) != 0)
		return keys_fail(err, err_len, "%s is not signed by the device", name);
	return 0;
}

int keys_one_time_key_check(const char *name, const json_t *value, const char *user_id,
                            const char *device_id, const unsigned char *pk, bool is_fallback,
                            char *algorithm, size_t alg_len, char *key_id, size_t id_len,
                            char **canonical_out, char *err, size_t err_len)
{
	*canonical_out = NULL;
	if (keys_name_split(name, algorithm, alg_len, key_id, id_len) != 0)
		return keys_fail(err, err_len, "key name must be <algorithm>:<key_id>");
	if (json_is_string(value)) {
		/* the spec's unsigned form ("curve25519:..." -> base64) */
		if (strncmp(algorithm, "signed_", 7) == 0 || !keys_b64_len_ok(value, 32))
			return keys_fail(err, err_len, "%s must be a signed key object", name);
	} else if (json_is_object(value)) {
		if (keys_key_object_check(value, user_id, device_id, pk, is_fallback, name, err,
		                          err_len) != 0)
			return -1;
	} else {
		return keys_fail(err, err_len, "%s must be a string or a key object", name);
	}
	if (json_is_object(value))
		*canonical_out = keys_canonical_stored(value);
	else if (cjson_check(value) == 0)
		*canonical_out = cjson_encode(value, NULL);
	if (*canonical_out == NULL)
		return keys_fail(err, err_len, "%s cannot be stored", name);
	return 0;
}

int keys_cross_signing_key_check(const json_t *key, const char *user_id, const char *usage,
                                 char **pub_out, char **canonical_out,
                                 char *err, size_t err_len)
{
	const json_t *uid, *usages, *keys, *v, *u;
	const char *name;
	unsigned char pk[32];
	bool has_usage = false;
	size_t i;

	*pub_out = NULL;
	*canonical_out = NULL;
	if (!json_is_object(key))
		return keys_fail(err, err_len, "%s key must be an object", usage);
	uid = json_object_get(key, "user_id");
	usages = json_object_get(key, "usage");
	keys = json_object_get(key, "keys");
	if (!json_is_string(uid) || strcmp(json_string_value(uid), user_id) != 0)
		return keys_fail(err, err_len, "%s key must be for the caller", usage);
	if (!json_is_array(usages) || json_array_size(usages) == 0 ||
	    json_array_size(usages) > KEYS_ALGORITHMS_MAX)
		return keys_fail(err, err_len, "%s key: usage must be a non-empty array", usage);
	json_array_foreach(usages, i, u) {
		if (!json_is_string(u))
			return keys_fail(err, err_len, "%s key: usage must hold strings", usage);
		if (strcmp(json_string_value(u), usage) == 0)
			has_usage = true;
	}
	if (!has_usage)
		return keys_fail(err, err_len, "%s key: usage must include %s", usage, usage);
	/* "keys: ... Must contain only one key" (CrossSigningKey) */
	if (!json_is_object(keys) || json_object_size(keys) != 1)
		return keys_fail(err, err_len, "%s key: keys must hold exactly one key", usage);
	name = json_object_iter_key(json_object_iter((json_t *)keys));
	v = json_object_get(keys, name);
	if (strncmp(name, "ed25519:", 8) != 0 || !json_is_string(v) ||
	    strcmp(name + 8, json_string_value(v)) != 0 ||
	    keys_ed25519_decode(json_string_value(v), pk) != 0)
		return keys_fail(err, err_len, "%s key: keys must be ed25519:<key> -> <key>", usage);
	if (json_object_get(key, "signatures") != NULL && !keys_signatures_shape_ok(key))
		return keys_fail(err, err_len, "%s key: signatures must be an object", usage);
	*pub_out = strdup(json_string_value(v));
	*canonical_out = keys_canonical_stored(key);
	if (*pub_out == NULL || *canonical_out == NULL) {
		free(*pub_out);
		free(*canonical_out);
		*pub_out = *canonical_out = NULL;
		return keys_fail(err, err_len, "%s key cannot be stored", usage);
	}
	return 0;
}

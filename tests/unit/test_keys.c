/*
 * test_keys: the checks uploaded end-to-end encryption keys pass
 * (src/api/client/keys_verify.h), with ed25519 keys generated here.
 *
 * Spec, Client-Server API, End-to-End Encryption, "Device keys": the
 * DeviceKeys object's "signatures" "MUST contain the signature of the
 * device's ed25519 key" (keys.yaml, DeviceKeys), "keys: Public identity
 * keys. The names of the properties should be in the format
 * <algorithm>:<device_id>". "One-time and fallback keys": signed keys are
 * KeyObjects {key, signatures} signed by the device; "fallback: Whether
 * this is a fallback key". Cross-signing (cross_signing.yaml,
 * CrossSigningKey): "keys: The public key. The object must have exactly
 * one property, whose name is in the form <algorithm>:<unpadded_base64_
 * public_key>, and whose value is the unpadded base64 public key."
 * Signatures as in Appendices, "Signing JSON".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/client/keys_verify.h"
#include "json/sign.h"
#include "util/base64.h"

#define ALICE "@alice:example.org"
#define DEV "JLAFKJWSCS"
#define CURVE "3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI"

/* A device's signing key: the version is the device ID, so its key_id is
 * "ed25519:<device_id>" as the spec names a device's key. */
static void device_key(struct signing_key *k, const char *device_id)
{
	assert_int_equal(signing_key_generate(k, device_id), 0);
}

static json_t *device_keys_new(const struct signing_key *k, const char *user,
                               const char *device)
{
	char *pub = signing_key_public_b64(k);
	char ed[64], cv[64];
	json_t *dk;

	snprintf(ed, sizeof(ed), "ed25519:%s", device);
	snprintf(cv, sizeof(cv), "curve25519:%s", device);
	dk = json_pack("{s:s,s:s,s:[s,s],s:{s:s,s:s}}", "user_id", user, "device_id", device,
	               "algorithms", "m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2",
	               "keys", ed, pub, cv, CURVE);
	free(pub);
	assert_non_null(dk);
	return dk;
}

static int check_dk(const json_t *dk, unsigned char pk[32])
{
	char *canon = NULL, *ident = NULL, err[200];
	int r = keys_device_keys_check(dk, ALICE, DEV, pk, &canon, &ident, err, sizeof(err));

	if (r == 0) {
		assert_non_null(canon);
		assert_non_null(ident);
		/* unsigned is the server's, never stored from the client */
		assert_null(strstr(canon, "\"unsigned\""));
		assert_null(strstr(ident, "signatures"));
	} else {
		assert_null(canon);
		assert_null(ident);
		assert_true(err[0] != '\0');
	}
	free(canon);
	free(ident);
	return r;
}

static void test_device_keys_valid(void **state)
{
	struct signing_key k;
	unsigned char pk[32];
	json_t *dk;

	(void)state;
	device_key(&k, DEV);
	dk = device_keys_new(&k, ALICE, DEV);
	json_object_set_new(dk, "unsigned", json_pack("{s:s}", "device_display_name", "x"));
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), 0);
	assert_memory_equal(pk, k.pk, 32);
	json_decref(dk);
	signing_key_wipe(&k);
}

/* The self-signature is what makes the keys the device's: any other
 * signer, a missing signature or a change after signing is refused. */
static void test_device_keys_bad_signature(void **state)
{
	struct signing_key k, other;
	unsigned char pk[32];
	json_t *dk;

	(void)state;
	device_key(&k, DEV);
	device_key(&other, DEV);
	dk = device_keys_new(&k, ALICE, DEV);
	assert_int_equal(check_dk(dk, pk), -1);                 /* unsigned */
	assert_int_equal(json_sign(dk, ALICE, &other), 0);      /* signed, wrong key */
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);

	dk = device_keys_new(&k, ALICE, DEV);
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	json_array_append_new(json_object_get(dk, "algorithms"), json_string("m.evil"));
	assert_int_equal(check_dk(dk, pk), -1);                 /* tampered */
	json_decref(dk);

	dk = device_keys_new(&k, ALICE, DEV);
	assert_int_equal(json_sign(dk, "@mallory:example.org", &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);                 /* signed as another user */
	json_decref(dk);
	signing_key_wipe(&k);
	signing_key_wipe(&other);
}

/* Malformed objects are refused even when correctly signed. */
static void test_device_keys_malformed(void **state)
{
	struct signing_key k;
	unsigned char pk[32];
	json_t *dk;
	char many[32];

	(void)state;
	device_key(&k, DEV);
	/* another user's or device's keys */
	dk = device_keys_new(&k, "@bob:example.org", DEV);
	assert_int_equal(json_sign(dk, "@bob:example.org", &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	dk = device_keys_new(&k, ALICE, "OTHERDEV");
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* no curve25519 key */
	dk = device_keys_new(&k, ALICE, DEV);
	json_object_del(json_object_get(dk, "keys"), "curve25519:" DEV);
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* a key named for another device */
	dk = device_keys_new(&k, ALICE, DEV);
	json_object_set_new(json_object_get(dk, "keys"), "curve25519:OTHER", json_string(CURVE));
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* a curve25519 key that is not 32 bytes */
	dk = device_keys_new(&k, ALICE, DEV);
	json_object_set_new(json_object_get(dk, "keys"), "curve25519:" DEV, json_string("AAAA"));
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* algorithms not an array of strings */
	dk = device_keys_new(&k, ALICE, DEV);
	json_object_set_new(dk, "algorithms", json_pack("[i]", 1));
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* too many keys */
	dk = device_keys_new(&k, ALICE, DEV);
	for (int i = 0; i < KEYS_DEVICE_KEYS_MAX; i++) {
		snprintf(many, sizeof(many), "x%d:%s", i, DEV);
		json_object_set_new(json_object_get(dk, "keys"), many, json_string(CURVE));
	}
	assert_int_equal(json_sign(dk, ALICE, &k), 0);
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	/* not an object at all */
	dk = json_string("keys");
	assert_int_equal(check_dk(dk, pk), -1);
	json_decref(dk);
	signing_key_wipe(&k);
}

static int check_otk(const char *name, const json_t *v, const unsigned char *pk, bool fallback)
{
	char alg[64], id[64], err[200], *canon = NULL;
	int r = keys_one_time_key_check(name, v, ALICE, DEV, pk, fallback, alg, sizeof(alg), id,
	                                sizeof(id), &canon, err, sizeof(err));
	if (r == 0) {
		assert_non_null(canon);
		assert_int_equal(strncmp(name, alg, strlen(alg)), 0);
		assert_string_equal(name + strlen(alg) + 1, id);
	} else {
		assert_null(canon);
	}
	free(canon);
	return r;
}

static void test_one_time_keys(void **state)
{
	struct signing_key k, other;
	json_t *otk, *bare;

	(void)state;
	device_key(&k, DEV);
	device_key(&other, DEV);
	otk = json_pack("{s:s}", "key", CURVE);
	assert_int_equal(json_sign(otk, ALICE, &k), 0);
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, k.pk, false), 0);
	/* the device has no keys yet: nothing to check the signature with */
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, NULL, false), -1);
	/* signed by someone else */
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, other.pk, false), -1);
	/* name without an algorithm, or with two colons */
	assert_int_equal(check_otk("AAAAHQ", otk, k.pk, false), -1);
	assert_int_equal(check_otk(":AAAAHQ", otk, k.pk, false), -1);
	assert_int_equal(check_otk("signed_curve25519:a:b", otk, k.pk, false), -1);
	/* "fallback": true only on a fallback key */
	json_object_set_new(otk, "fallback", json_true());
	json_object_del(otk, "signatures");
	assert_int_equal(json_sign(otk, ALICE, &k), 0);
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, k.pk, false), -1);
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, k.pk, true), 0);
	json_decref(otk);
	/* a bare key is fine for an unsigned algorithm, never for a signed one */
	bare = json_string(CURVE);
	assert_int_equal(check_otk("curve25519:AAAAHQ", bare, k.pk, false), 0);
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", bare, k.pk, false), -1);
	json_decref(bare);
	bare = json_integer(3);
	assert_int_equal(check_otk("curve25519:AAAAHQ", bare, k.pk, false), -1);
	json_decref(bare);
	/* a key that is not 32 bytes */
	otk = json_pack("{s:s}", "key", "AAAA");
	assert_int_equal(json_sign(otk, ALICE, &k), 0);
	assert_int_equal(check_otk("signed_curve25519:AAAAHQ", otk, k.pk, false), -1);
	json_decref(otk);
	signing_key_wipe(&k);
	signing_key_wipe(&other);
}

static json_t *xsign_key_new(const struct signing_key *k, const char *usage)
{
	char *pub = signing_key_public_b64(k);
	char name[80];
	json_t *j;

	snprintf(name, sizeof(name), "ed25519:%s", pub);
	j = json_pack("{s:s,s:[s],s:{s:s}}", "user_id", ALICE, "usage", usage, "keys", name, pub);
	free(pub);
	return j;
}

static void test_cross_signing_key(void **state)
{
	struct signing_key master, self;
	char *pub = NULL, *canon = NULL, err[200], *mpub;
	json_t *mk, *ssk;

	(void)state;
	assert_int_equal(signing_key_generate(&master, "m"), 0);
	assert_int_equal(signing_key_generate(&self, "s"), 0);
	mk = xsign_key_new(&master, "master");
	assert_int_equal(keys_cross_signing_key_check(mk, ALICE, "master", &pub, &canon, err,
	                                              sizeof(err)), 0);
	mpub = signing_key_public_b64(&master);
	assert_string_equal(pub, mpub);
	free(pub);
	free(canon);
	/* the wrong usage, the wrong user */
	assert_int_equal(keys_cross_signing_key_check(mk, ALICE, "self_signing", &pub, &canon, err,
	                                              sizeof(err)), -1);
	assert_int_equal(keys_cross_signing_key_check(mk, "@bob:example.org", "master", &pub,
	                                              &canon, err, sizeof(err)), -1);
	assert_null(pub);
	/* two keys */
	json_object_set_new(json_object_get(mk, "keys"), "ed25519:other", json_string("other"));
	assert_int_equal(keys_cross_signing_key_check(mk, ALICE, "master", &pub, &canon, err,
	                                              sizeof(err)), -1);
	json_decref(mk);
	/* a name that is not the key */
	mk = json_pack("{s:s,s:[s],s:{s:s}}", "user_id", ALICE, "usage", "master", "keys",
	               "ed25519:abc", mpub);
	assert_int_equal(keys_cross_signing_key_check(mk, ALICE, "master", &pub, &canon, err,
	                                              sizeof(err)), -1);
	json_decref(mk);

	/* the self-signing key is signed by the master key */
	ssk = xsign_key_new(&self, "self_signing");
	snprintf(master.key_id, sizeof(master.key_id), "ed25519:%s", mpub);
	assert_int_equal(json_sign(ssk, ALICE, &master), 0);
	assert_true(keys_signed_by(ssk, ALICE, mpub, mpub));
	assert_false(keys_signed_by(ssk, ALICE, mpub, "notbase64!"));
	{
		char *spub = signing_key_public_b64(&self);
		assert_false(keys_signed_by(ssk, ALICE, mpub, spub));   /* other key */
		free(spub);
	}
	json_decref(ssk);
	free(mpub);
	signing_key_wipe(&master);
	signing_key_wipe(&self);
}

static void test_ed25519_decode(void **state)
{
	unsigned char pk[32];

	(void)state;
	assert_int_equal(keys_ed25519_decode("3C5BFWi2Y8MaVvjM8M22DBmh24PmgR0nPvJOIArzgyI", pk), 0);
	assert_int_equal(keys_ed25519_decode("AAAA", pk), -1);
	assert_int_equal(keys_ed25519_decode("not base64 at all!", pk), -1);
	assert_int_equal(keys_ed25519_decode(NULL, pk), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_keys_valid),
		cmocka_unit_test(test_device_keys_bad_signature),
		cmocka_unit_test(test_device_keys_malformed),
		cmocka_unit_test(test_one_time_keys),
		cmocka_unit_test(test_cross_signing_key),
		cmocka_unit_test(test_ed25519_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

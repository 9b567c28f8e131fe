/*
 * keys_verify: the checks end-to-end encryption key objects pass before
 * the server stores them (client-server-api, End-to-End Encryption; the
 * DeviceKeys, KeyObject and CrossSigningKey schemas of keys.yaml and
 * cross_signing.yaml; appendices "Signing JSON").
 *
 * Contract: pure functions over jansson values the caller owns; nothing
 * is kept. Inputs are hostile: every member is type-checked, sizes are
 * bounded (KEYS_*_MAX), base64 must decode to the right length, and
 * signatures are verified over the canonical JSON without "signatures"
 * and "unsigned" (json_verify). On failure a short reason goes into err
 * (never the client's secrets: there are none here, keys are public).
 * Thread-safe.
 */
#ifndef CHAPPE_API_CLIENT_KEYS_VERIFY_H
#define CHAPPE_API_CLIENT_KEYS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define KEYS_ALGORITHMS_MAX   16     /* entries of DeviceKeys.algorithms */
#define KEYS_DEVICE_KEYS_MAX  16     /* entries of DeviceKeys.keys */
#define KEYS_SIGNERS_MAX      16     /* entities in one signatures object */
#define KEYS_B64_MAX          128    /* bytes of a base64 key or signature */

/* An ed25519 public key in unpadded base64 (32 bytes). 0 or -1. */
int keys_ed25519_decode(const char *b64, unsigned char pk[32]);

/* A DeviceKeys object uploaded by user_id's device_id: user_id and
 * device_id match, algorithms is a non-empty array of strings, keys maps
 * "<algorithm>:<device_id>" to unpadded base64 and holds the device's
 * ed25519 and curve25519 keys, and signatures[user_id]["ed25519:"
 * device_id] verifies with that ed25519 key. On success, *canonical_out
 * is the canonical JSON of the object without "unsigned", *identity_out
 * the canonical JSON of {algorithms, keys} (both malloc'd), and pk the
 * device's ed25519 key. 0, or -1 with err set. */
int keys_device_keys_check(const json_t *dk, const char *user_id, const char *device_id,
                           unsigned char pk[32], char **canonical_out, char **identity_out,
                           char *err, size_t err_len);

/* A one-time or fallback key named "<algorithm>:<key_id>" (split into
 * algorithm/key_id, at most alg_len/id_len bytes with the NUL). A
 * "signed_" algorithm needs a KeyObject {key, signatures[, fallback]}
 * signed by the device's ed25519 key pk (NULL: the device has no keys
 * yet, so it is refused); other algorithms may be a bare base64 string.
 * is_fallback: a fallback key (KeyObject with "fallback": true allowed).
 * On success *canonical_out is the canonical JSON of the value. */
int keys_one_time_key_check(const char *name, const json_t *value, const char *user_id,
                            const char *device_id, const unsigned char *pk, bool is_fallback,
                            char *algorithm, size_t alg_len, char *key_id, size_t id_len,
                            char **canonical_out, char *err, size_t err_len);

/* A CrossSigningKey of user_id for usage ("master", "self_signing",
 * "user_signing"): user_id matches, usage holds it, keys has exactly one
 * "ed25519:<pub>" whose value is <pub>. *pub_out is that key (malloc'd),
 * *canonical_out the canonical JSON. Signatures are the caller's to check
 * (which key must sign depends on the usage). 0, or -1 with err. */
int keys_cross_signing_key_check(const json_t *key, const char *user_id, const char *usage,
                                 char **pub_out, char **canonical_out,
                                 char *err, size_t err_len);

/* signatures[entity]["ed25519:" key_name] over obj verifies with the
 * unpadded base64 ed25519 key pub. */
bool keys_signed_by(const json_t *obj, const char *entity, const char *key_name,
                    const char *pub);

#endif

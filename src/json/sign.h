/*
 * sign: ed25519 signing keys, JSON signatures and event hashes
 * (appendices "Signing JSON", "Checking for a Signature"; server-server
 * "Signing Events", "Calculating the content hash for an event",
 * "Calculating the reference hash for an event").
 *
 * Contract:
 * - struct signing_key holds secrets (seed, sk). The caller owns it and calls
 *   signing_key_wipe when done; nothing here logs or copies the secret.
 * - json_sign and event_content_hash_set modify the object passed in, and
 *   only on success: on failure it is left as it was.
 * - Every function calls sodium_init() itself (idempotent, thread-safe) and
 *   fails if it fails. All functions are re-entrant; the usual jansson rule
 *   applies (no two threads modifying one json_t at once).
 * - Verification treats its input as hostile: any missing member, wrong
 *   type, bad base64, wrong length or non-canonical value means "not valid".
 */
#ifndef CHAPPE_JSON_SIGN_H
#define CHAPPE_JSON_SIGN_H

#include <jansson.h>

/* Longest key version accepted ("ed25519:" + version must fit key_id). */
#define SIGNING_KEY_VERSION_MAX 32

struct signing_key {
	char key_id[64];          /* "ed25519:" + version, e.g. "ed25519:a_XyZ1" */
	unsigned char seed[32];   /* secret: never log */
	unsigned char sk[64];     /* libsodium secret key derived from seed */
	unsigned char pk[32];
};

/* New random key with the given version (alnum/_ only, <= 32 chars); 0 or -1. */
int signing_key_generate(struct signing_key *key, const char *version);
/* Key from a known 32-byte seed (tests, imports); same version rule; 0 or -1. */
int signing_key_from_seed(struct signing_key *key, const char *version,
                          const unsigned char seed[32]);
/* Synapse's file format: one line "ed25519 <version> <unpadded base64 seed>". Save writes a
 * temp file with mode 0600, fsyncs and renames it into place. Load returns 1 (loaded, but the
 * file is readable by group/other, so the caller warns), 0 ok, -1 on error.
 * Load reads the first line only (Synapse also uses the first key of the file), accepts
 * padded or unpadded base64, and refuses files that are not regular or larger than 4 KiB. */
int signing_key_save(const struct signing_key *key, const char *path);
int signing_key_load(struct signing_key *key, const char *path);
/* Unpadded base64 of the public key, malloc'd. */
char *signing_key_public_b64(const struct signing_key *key);
void signing_key_wipe(struct signing_key *key); /* sodium_memzero */

/* Signing JSON (appendices "Signing JSON"): remove "signatures" and "unsigned", encode
 * canonically, sign, then add signatures[entity][key_id] = base64 sig into obj (keeping any
 * existing signatures and "unsigned"). 0 or -1 (not canonical-encodable / OOM).
 * Also -1 if obj is not an object, or obj.signatures / obj.signatures[entity] exist but are
 * not objects (we do not silently throw away someone's signatures). */
int json_sign(json_t *obj, const char *entity, const struct signing_key *key);
/* Verify signatures[entity][key_id] over obj with the given ed25519 public key: 0 valid, -1 not.
 * key_id must name the ed25519 algorithm ("ed25519:..."), the only one the spec defines. */
int json_verify(const json_t *obj, const char *entity, const char *key_id, const unsigned char pk[32]);

/* Event hashing (appendices "Event Signing" / server-server "Calculating the content hash"):
 * compute the sha256 content hash of a PDU (without unsigned, signatures, hashes) and set
 * ev.hashes.sha256 to it (unpadded base64). 0 or -1.
 * Other members of an existing "hashes" object are kept; a "hashes" that is not an object
 * gives -1. */
int event_content_hash_set(json_t *event);
/* Check ev.hashes.sha256 matches: 0 matches, -1 not. */
int event_content_hash_check(const json_t *event);
/* Reference hash of an ALREADY REDACTED event (the caller applies the room version's redaction
 * algorithm first): remove signatures, unsigned; sha256 of canonical JSON; write the 32 raw bytes.
 * The room layer builds event IDs from it ("$" + url-safe unpadded base64). 0 or -1. */
int event_reference_hash(const json_t *redacted_event, unsigned char out[32]);

#endif

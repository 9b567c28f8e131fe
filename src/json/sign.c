/*
 * sign: see sign.h for the contract.
 */
#include "json/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/canonical.h"
#include "util/base64.h"

#define SIGN_ALG_PREFIX "ed25519:"
#define SIGN_KEY_FILE_MAX 4096

static int sign_sodium_ready(void)
{
	/* 0 first time, 1 when already done, -1 on failure. */
	return sodium_init() < 0 ? -1 : 0;
}

static int sign_version_valid(const char *version)
{
	size_t i, n;

	if (version == NULL)
		return 0;
	n = strlen(version);
	if (n == 0 || n > SIGNING_KEY_VERSION_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = version[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

/* Canonical JSON of obj without the named top-level members, malloc'd.
 * A shallow copy is enough: only the copy's own member table changes. */
static char *sign_canonical_without(const json_t *obj, const char *const *drop, size_t ndrop,
                                    size_t *len)
{
	json_t *copy;
	char *text;
	size_t i;

	if (!json_is_object(obj))
		return NULL;
	copy = json_copy((json_t *)obj);
	if (copy == NULL)
		return NULL;
	for (i = 0; i < ndrop; i++)
		json_object_del(copy, drop[i]);
	text = cjson_encode(copy, len);
	json_decref(copy);
	return text;
}

int signing_key_from_seed(struct signing_key *key, const char *version,
                          const unsigned char seed[32])
{
	if (key == NULL || seed == NULL || !sign_version_valid(version) || sign_sodium_ready() < 0)
		return -1;
	memset(key->key_id, 0, sizeof key->key_id);
	snprintf(key->key_id, sizeof key->key_id, SIGN_ALG_PREFIX "%s", version);
	if (key->seed != seed)
		memcpy(key->seed, seed, sizeof key->seed);
	if (crypto_sign_seed_keypair(key->pk, key->sk, key->seed) != 0) {
		signing_key_wipe(key);
		return -1;
	}
	return 0;
}

int signing_key_generate(struct signing_key *key, const char *version)
{
	if (key == NULL || !sign_version_valid(version) || sign_sodium_ready() < 0)
		return -1;
	randombytes_buf(key->seed, sizeof key->seed);
	return signing_key_from_seed(key, version, key->seed);
}

void signing_key_wipe(struct signing_key *key)
{
	if (key)
		sodium_memzero(key, sizeof *key);
}

char *signing_key_public_b64(const struct signing_key *key)
{
	if (key == NULL)
		return NULL;
	return b64_encode(key->pk, sizeof key->pk);
}

static int sign_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Make the rename durable. Best effort: the key file itself is complete and
 * fsynced whatever happens here. */
static void sign_sync_parent_dir(const char *path)
{
	char *copy = strdup(path);
	int dfd;

	if (copy == NULL)
		return;
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(copy);
}

int signing_key_save(const struct signing_key *key, const char *path)
{
	char line[160], *tmp = NULL, *seed_b64 = NULL;
	int fd = -1, rc = -1, n, created = 0;
	size_t plen;

	if (key == NULL || path == NULL ||
	    strncmp(key->key_id, SIGN_ALG_PREFIX, strlen(SIGN_ALG_PREFIX)) != 0 ||
	    !sign_version_valid(key->key_id + strlen(SIGN_ALG_PREFIX)))
		goto out;
	seed_b64 = b64_encode(key->seed, sizeof key->seed);
	if (seed_b64 == NULL)
		goto out;
	n = snprintf(line, sizeof line, "ed25519 %s %s\n", key->key_id + strlen(SIGN_ALG_PREFIX),
	             seed_b64);
	if (n < 0 || (size_t)n >= sizeof line)
		goto out;
	plen = strlen(path);
	tmp = malloc(plen + sizeof ".tmp.XXXXXX");
	if (tmp == NULL)
		goto out;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
	/* mkostemp creates the file 0600 with O_EXCL; fchmod states it anyway
	 * so the mode does not depend on the libc. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto out;
	created = 1;
	if (fchmod(fd, S_IRUSR | S_IWUSR) < 0 || sign_write_all(fd, line, (size_t)n) < 0 ||
	    fsync(fd) < 0)
		goto out;
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out;
	sign_sync_parent_dir(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(tmp);
	free(tmp);
	if (seed_b64) {
		sodium_memzero(seed_b64, strlen(seed_b64));
		free(seed_b64);
	}
	sodium_memzero(line, sizeof line);
	return rc;
}

/* Parse "ed25519 <version> <base64 seed>" (first line of buf, NUL-terminated)
 * into key. Fields may be separated by runs of spaces or tabs. */
static int sign_key_line_parse(struct signing_key *key, char *buf)
{
	char *fields[4] = { NULL, NULL, NULL, NULL }, *save = NULL, *tok;
	unsigned char *seed = NULL;
	size_t seed_len = 0, nf = 0;
	int rc = -1;

	buf[strcspn(buf, "\r\n")] = '\0';
	for (tok = strtok_r(buf, " \t", &save); tok && nf < 4; tok = strtok_r(NULL, " \t", &save))
		fields[nf++] = tok;
	if (nf != 3 || strcmp(fields[0], "ed25519") != 0 || !sign_version_valid(fields[1]))
		goto out;
	if (b64_decode(fields[2], strlen(fields[2]), &seed, &seed_len) < 0 ||
	    seed_len != sizeof key->seed)
		goto out;
	rc = signing_key_from_seed(key, fields[1], seed);
out:
	if (seed) {
		sodium_memzero(seed, seed_len);
		free(seed);
	}
	return rc;
}

int signing_key_load(struct signing_key *key, const char *path)
{
	char buf[SIGN_KEY_FILE_MAX + 1];
	size_t got = 0;
	struct stat st;
	int fd = -1, rc = -1;

	if (key == NULL || path == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SIGN_KEY_FILE_MAX)
		goto out;
	/* Read to EOF (bounded): the file may change size after fstat. */
	while (got < sizeof buf - 1) {
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL || sign_key_line_parse(key, buf) < 0)
		goto out;
	/* Any group/other permission on a secret key deserves a warning. */
	rc = (st.st_mode & (S_IRWXG | S_IRWXO)) ? 1 : 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_memzero(buf, sizeof buf);
	return rc;
}

int json_sign(json_t *obj, const char *entity, const struct signing_key *key)
{
	static const char *const drop[] = { "signatures", "unsigned" };
	unsigned char sig[crypto_sign_BYTES];
	json_t *sigs, *ent, *str = NULL, *new_ent = NULL, *new_sigs = NULL;
	char *text = NULL, *sig_b64 = NULL;
	size_t len;
	int rc = -1;

	if (!json_is_object(obj) || entity == NULL || key == NULL ||
	    memchr(key->key_id, '\0', sizeof key->key_id) == NULL || sign_sodium_ready() < 0)
		return -1;
	sigs = json_object_get(obj, "signatures");
	ent = sigs ? json_object_get(sigs, entity) : NULL;
	if ((sigs && !json_is_object(sigs)) || (ent && !json_is_object(ent)))
		return -1;
	text = sign_canonical_without(obj, drop, 2, &len);
	if (text == NULL)
		goto out;
	if (crypto_sign_detached(sig, NULL, (const unsigned char *)text, len, key->sk) != 0)
		goto out;
	sig_b64 = b64_encode(sig, sizeof sig);
	str = sig_b64 ? json_string(sig_b64) : NULL;
	if (str == NULL)
		goto out;
	/* Build what is missing off to the side, then attach it with one set,
	 * so that obj is untouched if anything fails. */
	if (ent == NULL) {
		ent = new_ent = json_object();
		if (new_ent == NULL)
			goto out;
	}
	if (json_object_set(ent, key->key_id, str) < 0)
		goto out;
	if (sigs == NULL) {
		sigs = new_sigs = json_object();
		if (new_sigs == NULL || json_object_set(new_sigs, entity, new_ent) < 0)
			goto out;
		if (json_object_set(obj, "signatures", new_sigs) < 0)
			goto out;
	} else if (new_ent && json_object_set(sigs, entity, new_ent) < 0) {
		goto out;
	}
	rc = 0;
out:
	json_decref(new_sigs);
	json_decref(new_ent);
	json_decref(str);
	free(sig_b64);
	free(text);
	return rc;
}

int json_verify(const json_t *obj, const char *entity, const char *key_id, const unsigned char pk[32])
{
	static const char *const drop[] = { "signatures", "unsigned" };
	const json_t *sigs, *ent, *sig;
	unsigned char *raw = NULL;
	char *text = NULL;
	size_t raw_len = 0, len;
	int rc = -1;

	if (!json_is_object(obj) || entity == NULL || key_id == NULL || pk == NULL ||
	    strncmp(key_id, SIGN_ALG_PREFIX, strlen(SIGN_ALG_PREFIX)) != 0 ||
	    sign_sodium_ready() < 0)
		return -1;
	sigs = json_object_get(obj, "signatures");
	ent = json_is_object(sigs) ? json_object_get(sigs, entity) : NULL;
	sig = json_is_object(ent) ? json_object_get(ent, key_id) : NULL;
	if (!json_is_string(sig))
		goto out;
	if (b64_decode(json_string_value(sig), json_string_length(sig), &raw, &raw_len) < 0 ||
	    raw_len != crypto_sign_BYTES)
		goto out;
	text = sign_canonical_without(obj, drop, 2, &len);
	if (text == NULL)
		goto out;
	if (crypto_sign_verify_detached(raw, (const unsigned char *)text, len, pk) != 0)
		goto out;
	rc = 0;
out:
	free(raw);
	free(text);
	return rc;
}

/* sha256 of the canonical JSON of event without the named members. */
static int sign_event_sha256(const json_t *event, const char *const *drop, size_t ndrop,
                             unsigned char out[crypto_hash_sha256_BYTES])
{
	size_t len;
	char *text;
	int rc;

	if (sign_sodium_ready() < 0)
		return -1;
	text = sign_canonical_without(event, drop, ndrop, &len);
	if (text == NULL)
		return -1;
	rc = crypto_hash_sha256(out, (const unsigned char *)text, len) == 0 ? 0 : -1;
	free(text);
	return rc;
}

static const char *const sign_content_hash_drop[] = { "unsigned", "signatures", "hashes" };

int event_content_hash_set(json_t *event)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	json_t *hashes, *str = NULL, *new_hashes = NULL;
	char *b64 = NULL;
	int rc = -1;

	if (!json_is_object(event))
		return -1;
	hashes = json_object_get(event, "hashes");
	if (hashes && !json_is_object(hashes))
		return -1;
	if (sign_event_sha256(event, sign_content_hash_drop, 3, hash) < 0)
		goto out;
	b64 = b64_encode(hash, sizeof hash);
	str = b64 ? json_string(b64) : NULL;
	if (str == NULL)
		goto out;
	if (hashes) {
		rc = json_object_set(hashes, "sha256", str) < 0 ? -1 : 0;
		goto out;
	}
	new_hashes = json_object();
	if (new_hashes == NULL || json_object_set(new_hashes, "sha256", str) < 0 ||
	    json_object_set(event, "hashes", new_hashes) < 0)
		goto out;
	rc = 0;
out:
	json_decref(new_hashes);
	json_decref(str);
	free(b64);
	return rc;
}

int event_content_hash_check(const json_t *event)
{
	unsigned char hash[crypto_hash_sha256_BYTES], *got = NULL;
	const json_t *hashes, *sha;
	size_t got_len = 0;
	int rc = -1;

	if (!json_is_object(event))
		return -1;
	hashes = json_object_get(event, "hashes");
	sha = json_is_object(hashes) ? json_object_get(hashes, "sha256") : NULL;
	if (!json_is_string(sha))
		return -1;
	if (b64_decode(json_string_value(sha), json_string_length(sha), &got, &got_len) < 0 ||
	    got_len != sizeof hash)
		goto out;
	if (sign_event_sha256(event, sign_content_hash_drop, 3, hash) < 0)
		goto out;
	rc = sodium_memcmp(hash, got, sizeof hash) == 0 ? 0 : -1;
out:
	free(got);
	return rc;
}

int event_reference_hash(const json_t *redacted_event, unsigned char out[32])
{
	static const char *const drop[] = { "signatures", "unsigned" };

	if (!json_is_object(redacted_event) || out == NULL)
		return -1;
	return sign_event_sha256(redacted_event, drop, 2, out);
}

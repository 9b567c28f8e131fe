/*
 * media_repo: the media repository's files (see media.h for the contract).
 *
 * Layout under data_dir/media/:
 *   content/ab/abcdef...   one file per SHA-256 of the content (mode 0600)
 *   thumbs/ab/abcdef...-WxH-m   cached thumbnails of that content
 *   tmp/                   uploads while they stream in (same file system,
 *                          so the final rename is atomic)
 * A file in content/ or thumbs/ is complete whenever it exists: it is
 * written elsewhere, fsynced, renamed into place, and the directory fsynced.
 * Two uploads of the same bytes race harmlessly: both renames carry the
 * same content.
 */
#include "media/media.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <magic.h>
#include <sodium.h>

#include "util/log.h"

struct media_repo {
	char *root;                /* data_dir/media */
	char *tmp_dir;
	magic_t magic;
	pthread_mutex_t magic_lock;
	atomic_uint_least64_t committed;
};

#define SNIFF_BYTES 65536      /* libmagic needs the start of a file only */

static int dir_make(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

static int dir_sync(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static int subdir_make(const char *root, const char *name)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", root, name);

	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return dir_make(path);
}

/* Temp files left by a previous run (killed mid-upload) are garbage: only
 * one server uses a data_dir, and nothing in tmp/ is referenced. */
static void tmp_sweep(const char *tmp_dir)
{
	DIR *d = opendir(tmp_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "upload-", 7) == 0 || strncmp(e->d_name, "thumb-", 6) == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
}

struct media_repo *media_repo_open(const char *data_dir, char *err, size_t err_len)
{
	struct media_repo *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&r->magic_lock, NULL);
	if (asprintf(&r->root, "%s/media", data_dir) < 0) {
		r->root = NULL;
		goto nomem;
	}
	if (asprintf(&r->tmp_dir, "%s/tmp", r->root) < 0) {
		r->tmp_dir = NULL;
		goto nomem;
	}
	if (dir_make(r->root) != 0 || dir_make(r->tmp_dir) != 0 ||
	    subdir_make(r->root, "content") != 0 || subdir_make(r->root, "thumbs") != 0) {
		snprintf(err, err_len, "cannot create %s: %s", r->root, strerror(errno));
		goto fail;
	}
	tmp_sweep(r->tmp_dir);
	r->magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
	if (!r->magic || magic_load(r->magic, NULL) != 0) {
		snprintf(err, err_len, "libmagic: %s",
		         r->magic ? magic_error(r->magic) : "cannot initialise");
		goto fail;
	}
	return r;
nomem:
	snprintf(err, err_len, "out of memory");
fail:
	media_repo_close(r);
	return NULL;
}

void media_repo_close(struct media_repo *r)
{
	if (!r)
		return;
	if (r->magic)
		magic_close(r->magic);
	pthread_mutex_destroy(&r->magic_lock);
	free(r->root);
	free(r->tmp_dir);
	free(r);
}

const char *media_repo_tmp_dir(const struct media_repo *r)
{
	return r->tmp_dir;
}

uint64_t media_repo_bytes_committed(const struct media_repo *r)
{
	return atomic_load(&((struct media_repo *)r)->committed);
}

/* Hash the whole file and keep its first SNIFF_BYTES for libmagic. */
static int file_hash(int fd, char hex[MEDIA_SHA256_HEX_LEN + 1], unsigned char *head,
                     size_t *head_len)
{
	crypto_hash_sha256_state st;
	unsigned char buf[65536], digest[crypto_hash_sha256_BYTES];
	ssize_t n;

	*head_len = 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (*head_len < SNIFF_BYTES) {
			size_t k = (size_t)n < SNIFF_BYTES - *head_len ? (size_t)n : SNIFF_BYTES - *head_len;
			memcpy(head + *head_len, buf, k);
			*head_len += k;
		}
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
	}
	crypto_hash_sha256_final(&st, digest);
	sodium_bin2hex(hex, MEDIA_SHA256_HEX_LEN + 1, digest, sizeof(digest));
	return 0;
}

static void sniff(struct media_repo *r, const unsigned char *head, size_t len, char *out,
                  size_t out_len)
{
	const char *t;

	pthread_mutex_lock(&r->magic_lock);
	t = len ? magic_buffer(r->magic, head, len) : "application/x-empty";
	snprintf(out, out_len, "%s", t ? t : "application/octet-stream");
	pthread_mutex_unlock(&r->magic_lock);
}

/* data_dir/media/<area>/ab/<hex><suffix>; the two-letter directory made. */
static int content_path(const struct media_repo *r, const char *area, const char *hex,
                        const char *suffix, char *out, size_t out_len, bool make_dir)
{
	int n = snprintf(out, out_len, "%s/%s/%.2s", r->root, area, hex);

	if (n < 0 || (size_t)n >= out_len || (make_dir && dir_make(out) != 0))
		return -1;
	n = snprintf(out, out_len, "%s/%s/%.2s/%s%s", r->root, area, hex, hex, suffix);
	return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

int media_repo_commit(struct media_repo *r, int fd, const char *tmp_path, bool *tmp_path_taken,
                      char sha256_hex[MEDIA_SHA256_HEX_LEN + 1], char *sniffed,
                      size_t sniffed_len)
{
	unsigned char *head = malloc(SNIFF_BYTES);
	char final[PATH_MAX], dir[PATH_MAX];
	struct stat sb;
	size_t head_len;
	int ret = -1;

	*tmp_path_taken = false;
	if (!head || file_hash(fd, sha256_hex, head, &head_len) != 0 || fstat(fd, &sb) != 0) {
		log_error("media: cannot read the upload %s: %m", tmp_path);
		goto out;
	}
	sniff(r, head, head_len, sniffed, sniffed_len);
	if (content_path(r, "content", sha256_hex, "", final, sizeof(final), true) != 0)
		goto out;
	if (access(final, F_OK) == 0) {
		/* deduplicated: the same bytes are stored already */
		unlink(tmp_path);
	} else {
		if (fsync(fd) != 0 || rename(tmp_path, final) != 0) {
			log_error("media: cannot store %s: %m", final);
			goto out;
		}
		snprintf(dir, sizeof(dir), "%s", final);
		*strrchr(dir, '/') = '\0';
		if (dir_sync(dir) != 0)
			goto out;
	}
	*tmp_path_taken = true;
	atomic_fetch_add(&r->committed, (uint64_t)sb.st_size);
	ret = 0;
out:
	free(head);
	return ret;
}

static int open_sized(const char *path, uint64_t *size)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EIO;
		return -1;
	}
	*size = (uint64_t)sb.st_size;
	return fd;
}

int media_repo_open_content(struct media_repo *r, const char *sha256_hex, uint64_t *size)
{
	char path[PATH_MAX];

	if (strlen(sha256_hex) != MEDIA_SHA256_HEX_LEN ||
	    strspn(sha256_hex, "0123456789abcdef") != MEDIA_SHA256_HEX_LEN ||
	    content_path(r, "content", sha256_hex, "", path, sizeof(path), false) != 0) {
		errno = EINVAL;
		return -1;
	}
	return open_sized(path, size);
}

/* Write buf to path atomically (temp in tmp/, fsync, rename, dir fsync). */
static int file_put_atomic(struct media_repo *r, const char *path, const unsigned char *buf,
                           size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	size_t off = 0;
	int fd, ret = -1;

	snprintf(tmp, sizeof(tmp), "%s/thumb-XXXXXX", r->tmp_dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || rename(tmp, path) != 0)
		goto out;
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	ret = dir_sync(dir);
out:
	close(fd);
	if (ret != 0)
		unlink(tmp);
	return ret;
}

/* A cached thumbnail: its extension tells its type. */
static int thumb_cached(const struct media_repo *r, const char *hex, const char *suffix,
                        uint64_t *size, const char **content_type)
{
	static const struct { const char *ext, *type; } kinds[] = {
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" },
	};
	char path[PATH_MAX], sfx[80];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int fd;
		snprintf(sfx, sizeof(sfx), "%s%s", suffix, kinds[i].ext);
		if (content_path(r, "thumbs", hex, sfx, path, sizeof(path), false) != 0)
			return -1;
		fd = open_sized(path, size);
		if (fd >= 0) {
			*content_type = kinds[i].type;
			return fd;
		}
	}
	return -1;
}

int media_repo_thumbnail(struct media_repo *r, const char *sha256_hex,
                         const struct media_thumb_size *sz, int *fd, uint64_t *size,
                         const char **content_type, bool *too_large)
{
	char src[PATH_MAX], dst[PATH_MAX], suffix[80];
	unsigned char *buf = NULL;
	size_t len = 0;
	enum media_thumb_result res;
	int ret = -1;

	*too_large = false;
	*fd = -1;
	if (strlen(sha256_hex) != MEDIA_SHA256_HEX_LEN ||
	    strspn(sha256_hex, "0123456789abcdef") != MEDIA_SHA256_HEX_LEN)
		return -1;
	snprintf(suffix, sizeof(suffix), "-%dx%d-%s", sz->width, sz->height,
	         sz->method == MEDIA_THUMB_CROP ? "crop" : "scale");
	*fd = thumb_cached(r, sha256_hex, suffix, size, content_type);
	if (*fd >= 0)
		return 0;
	if (content_path(r, "content", sha256_hex, "", src, sizeof(src), false) != 0)
		return -1;
	res = media_thumb_make(src, sz, &buf, &len, content_type);
	switch (res) {
	case MEDIA_THUMB_OK:
		break;
	case MEDIA_THUMB_ORIGINAL:
		return 1;
	case MEDIA_THUMB_TOO_LARGE:
		*too_large = true;
		return -1;
	case MEDIA_THUMB_BAD_IMAGE:
	default:
		return -1;
	}
	strcat(suffix, strcmp(*content_type, "image/jpeg") == 0 ? ".jpg" : ".png");
	if (content_path(r, "thumbs", sha256_hex, suffix, dst, sizeof(dst), true) != 0 ||
	    file_put_atomic(r, dst, buf, len) != 0) {
		log_error("media: cannot cache a thumbnail of %s: %m", sha256_hex);
		goto out;
	}
	*fd = open_sized(dst, size);
	ret = *fd >= 0 ? 0 : -1;
out:
	free(buf);
	return ret;
}

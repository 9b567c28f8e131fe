/*
 * media: the media repository's files and decisions (content_repo module of
 * the client-server API). The HTTP handlers (src/api/client/media.c) and the
 * store's metadata rows (store.h, "media repository") sit on either side.
 *
 * Three parts:
 * - media_policy.c: pure decisions, no I/O, any thread: which media IDs are
 *   acceptable, which Content-Type and Content-Disposition a download gets,
 *   which of the spec's thumbnail sizes answers a request, and which network
 *   addresses an outbound fetch must never reach (SSRF).
 * - media_repo.c: the files. Content is stored once per SHA-256 under
 *   data_dir/media/content/ab/abcdef... (deduplicated), written atomically:
 *   the upload's temp file (data_dir/media/tmp) is hashed, fsynced and
 *   renamed into place, then the directory is fsynced. Thumbnails are cached
 *   under data_dir/media/thumbs the same way. Sniffing uses libmagic behind
 *   a mutex (a magic_t is not thread-safe).
 * - media_thumb.c: thumbnails with libvips, after the image header's
 *   dimensions passed a pixel bound, decoding sequentially, with libvips'
 *   operation cache off so memory stays bounded per request.
 *
 * Memory: strings returned are malloc'd and the caller's; a struct
 * media_repo is created once at start and shared by all threads.
 */
#ifndef CHAPPE_MEDIA_H
#define CHAPPE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

/* ---- policy (pure) ---------------------------------------------------- */

#define MEDIA_ID_MAX 255
#define MEDIA_FILENAME_MAX 255     /* bytes of an upload's filename */
#define MEDIA_CONTENT_TYPE_MAX 255
#define MEDIA_SHA256_HEX_LEN 64

/* content_repo "Security considerations": a media ID holds only
 * A-Za-z0-9, '_' and '-' (1..MEDIA_ID_MAX bytes). */
bool media_id_valid(const char *id);

/* A Content-Type as uploaded: "type/subtype" with optional parameters,
 * printable ASCII, at most MEDIA_CONTENT_TYPE_MAX bytes. */
bool media_content_type_valid(const char *ct);

/* A filename as uploaded: valid UTF-8, no control characters, no '/' or
 * '\\', 1..MEDIA_FILENAME_MAX bytes. */
bool media_filename_valid(const char *name);

/* The spec's list of types that may be served inline ("Serving inline
 * content"); parameters (";charset=...") are ignored, case-insensitive. */
bool media_type_inline_safe(const char *content_type);

/* The Content-Type a download is served with: the uploader's declared type
 * when the bytes agree with it (sniffed by libmagic), else
 * "application/octet-stream". Agreement: same base type, or both images
 * (libmagic names some formats differently), or a text or JSON declared
 * type over bytes sniffed as plain text. A file whose bytes are HTML but
 * declared image/png is served as application/octet-stream (and, below, as
 * an attachment). Writes into out (NUL-terminated); out_len >= 32. */
void media_type_to_serve(const char *declared, const char *sniffed, char *out, size_t out_len);

/* The Content-Disposition value: "inline" only for a served type that
 * media_type_inline_safe() allows, "attachment" otherwise, with the
 * filename (if any) as RFC 6266 / RFC 8187 filename*=utf-8''<percent-
 * encoded>, plus a plain filename="..." when the name is safe ASCII. malloc'd
 * or NULL (out of memory). */
char *media_disposition(const char *served_type, const char *filename);

enum media_thumb_method { MEDIA_THUMB_SCALE = 0, MEDIA_THUMB_CROP = 1 };

struct media_thumb_size {
	int width, height;
	enum media_thumb_method method;
};

/* The spec's recommended sizes (content_repo, "Thumbnails"). */
extern const struct media_thumb_size media_thumb_sizes[];
extern const size_t media_thumb_sizes_count;

/* Which configured size answers a request for (width, height, method):
 * the smallest one of that method at least as large as requested (never
 * smaller than asked: the spec's MUST), else the largest of that method.
 * Requests are 1..10000 per side; -1 when out of range. */
int media_thumb_choose(int width, int height, enum media_thumb_method method,
                       struct media_thumb_size *out);

/* SSRF guard for any outbound fetch (URL previews): true when the address
 * must never be contacted: loopback, private (RFC 1918, fc00::/7),
 * link-local (169.254/16, fe80::/10), unspecified, CGNAT (100.64/10),
 * multicast, broadcast, reserved and documentation ranges, and IPv4-mapped
 * or NAT64-embedded forms of those. Unknown families are forbidden. */
bool media_addr_forbidden(const struct sockaddr *sa);

/* ---- the files (media_repo.c) ---------------------------------------- */

struct media_repo;

/* Create data_dir/media/{content,thumbs,tmp} (mode 0700) and load libmagic.
 * NULL with a reason in err. */
struct media_repo *media_repo_open(const char *data_dir, char *err, size_t err_len);
void media_repo_close(struct media_repo *r);
/* Where uploads are streamed (the HTTP server's upload_dir). */
const char *media_repo_tmp_dir(const struct media_repo *r);

/* Store an upload's temp file (fd open on tmp_path, holding size bytes):
 * hash it, sniff its type, fsync and rename it into the content store
 * (or drop it when the same content is stored already). On success the
 * temp file is gone and *tmp_path_taken is true; sha256_hex gets 65 bytes;
 * sniffed gets the libmagic MIME type. 0, or -1 (logged). */
int media_repo_commit(struct media_repo *r, int fd, const char *tmp_path, bool *tmp_path_taken,
                      char sha256_hex[MEDIA_SHA256_HEX_LEN + 1], char *sniffed,
                      size_t sniffed_len);

/* Open stored content for reading: fd and size, or -1 (ENOENT if absent). */
int media_repo_open_content(struct media_repo *r, const char *sha256_hex, uint64_t *size);

/* A thumbnail of stored content at size sz, from the cache or made now and
 * cached. *fd is open on it, *size its length, *content_type static.
 * Returns 0; 1 when the original is no larger than requested (serve the
 * original); -1 with *too_large set when the image's header declares more
 * than MEDIA_THUMB_MAX_PIXELS; -1 otherwise (not an image format we
 * thumbnail, malformed, I/O). */
int media_repo_thumbnail(struct media_repo *r, const char *sha256_hex,
                         const struct media_thumb_size *sz, int *fd, uint64_t *size,
                         const char **content_type, bool *too_large);

/* Bytes committed by media_repo_commit since open (a diagnostic counter). */
uint64_t media_repo_bytes_committed(const struct media_repo *r);

/* ---- thumbnails (media_thumb.c) -------------------------------------- */

/* Largest image (width x height) we decode: 32 Mi pixels (Synapse's
 * default max_image_pixels; 8192 x 4096). A header declaring more is
 * refused before any pixel is decoded (decompression bombs). */
#define MEDIA_THUMB_MAX_PIXELS (UINT64_C(32) * 1024 * 1024)
/* Thumbnails decoded at once, process-wide: an interlaced PNG cannot be
 * read sequentially, so one decode may hold the whole image (up to 128 MiB
 * at the pixel bound); others wait their turn. */
#define MEDIA_THUMB_CONCURRENCY 2

enum media_thumb_result {
	MEDIA_THUMB_OK = 0,
	MEDIA_THUMB_ORIGINAL,      /* no larger than asked: serve the original as is */
	MEDIA_THUMB_TOO_LARGE,     /* header declares more than MEDIA_THUMB_MAX_PIXELS */
	MEDIA_THUMB_BAD_IMAGE,     /* not PNG/JPEG/GIF/WebP, truncated or malformed */
};

/* Thumbnail the image file at path into an encoded buffer (*out, *out_len,
 * malloc'd; PNG, or JPEG when the source is JPEG; *out_type static). */
enum media_thumb_result media_thumb_make(const char *path, const struct media_thumb_size *sz,
                                         unsigned char **out, size_t *out_len,
                                         const char **out_type);

#endif

/*
 * media_thumb: thumbnails with libvips (see media.h for the contract).
 *
 * Hostile images are the norm here, so before any pixel is decoded:
 * - only the PNG, JPEG, GIF and WebP loaders are accepted (libvips can
 *   reach ImageMagick, PDF and other large parsers; those are refused, and
 *   vips_block_untrusted_set() blocks the loaders libvips itself marks
 *   untrusted);
 * - the header's dimensions must be within MEDIA_THUMB_MAX_PIXELS;
 * then decoding is sequential, fails on truncation, the operation cache is
 * off, and at most MEDIA_THUMB_CONCURRENCY decodes run at once, so memory
 * is bounded and released when each request ends.
 * Only the first frame of an animation is thumbnailed (the spec's
 * animated=true is a preference: "SHOULD return an animated thumbnail if
 * possible and supported").
 *
 * Threads: libvips is thread-safe once initialised (pthread_once here).
 */
#include "media/media.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "util/log.h"

static pthread_once_t thumb_once = PTHREAD_ONCE_INIT;
static bool thumb_ready;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;
static int slots_used;

/* At most MEDIA_THUMB_CONCURRENCY decodes at once (memory bound). */
static void slot_take(void)
{
	pthread_mutex_lock(&slot_lock);
	while (slots_used >= MEDIA_THUMB_CONCURRENCY)
		pthread_cond_wait(&slot_cv, &slot_lock);
	slots_used++;
	pthread_mutex_unlock(&slot_lock);
}

static void slot_release(void)
{
	pthread_mutex_lock(&slot_lock);
	slots_used--;
	pthread_cond_signal(&slot_cv);
	pthread_mutex_unlock(&slot_lock);
}

static void thumb_init(void)
{
	if (vips_init("chappe") != 0) {
		log_error("media: libvips did not initialise: %s", vips_error_buffer());
		vips_error_clear();
		return;
	}
	vips_cache_set_max(0);       /* no cross-request cache: bounded memory */
	vips_concurrency_set(1);     /* one worker per thumbnail; the HTTP pool is the parallelism */
	vips_block_untrusted_set(TRUE);
	thumb_ready = true;
}

/* Which loader libvips would pick; only the four web image formats pass. */
static bool loader_allowed(const char *path, const char **out_type)
{
	const char *loader = vips_foreign_find_load(path);

	if (!loader) {
		vips_error_clear();
		return false;
	}
	if (strstr(loader, "Jpeg")) {
		*out_type = "image/jpeg";
		return true;
	}
	if (strstr(loader, "Png") || strstr(loader, "Gif") || strstr(loader, "Webp")) {
		*out_type = "image/png";
		return true;
	}
	return false;
}

/* Header only (libvips opens lazily): the declared size. */
static enum media_thumb_result thumb_header(const char *path, int *w, int *h)
{
	VipsImage *img = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);

	if (!img) {
		vips_error_clear();
		return MEDIA_THUMB_BAD_IMAGE;
	}
	*w = vips_image_get_width(img);
	*h = vips_image_get_height(img);
	g_object_unref(img);
	if (*w < 1 || *h < 1)
		return MEDIA_THUMB_BAD_IMAGE;
	if ((uint64_t)*w * (uint64_t)*h > MEDIA_THUMB_MAX_PIXELS)
		return MEDIA_THUMB_TOO_LARGE;
	return MEDIA_THUMB_OK;
}

static enum media_thumb_result thumb_encode(VipsImage *img, const char *type,
                                            unsigned char **out, size_t *out_len)
{
	void *buf = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(type, "image/jpeg") == 0)
		rc = vips_jpegsave_buffer(img, &buf, &len, "Q", 85, "strip", TRUE, NULL);
	else
		rc = vips_pngsave_buffer(img, &buf, &len, "strip", TRUE, NULL);
	if (rc != 0 || !buf) {
		/* a decode error surfaces here, as pixels are pulled lazily */
		vips_error_clear();
		g_free(buf);
		return MEDIA_THUMB_BAD_IMAGE;
	}
	*out = malloc(len ? len : 1);
	if (*out) {
		memcpy(*out, buf, len);
		*out_len = len;
	}
	g_free(buf);
	return *out ? MEDIA_THUMB_OK : MEDIA_THUMB_BAD_IMAGE;
}

enum media_thumb_result media_thumb_make(const char *path, const struct media_thumb_size *sz,
                                         unsigned char **out, size_t *out_len,
                                         const char **out_type)
{
	enum media_thumb_result res;
	VipsImage *thumb = NULL;
	int w = 0, h = 0;

	*out = NULL;
	*out_len = 0;
	pthread_once(&thumb_once, thumb_init);
	if (!thumb_ready)
		return MEDIA_THUMB_BAD_IMAGE;
	if (!loader_allowed(path, out_type))
		return MEDIA_THUMB_BAD_IMAGE;
	res = thumb_header(path, &w, &h);
	if (res != MEDIA_THUMB_OK)
		return res;
	/* "When the content is smaller than the requested dimensions, servers
	 * should return the original content rather than thumbnail it", and
	 * "Servers MUST NOT upscale thumbnails under any circumstance." */
	if (w <= sz->width && h <= sz->height)
		return MEDIA_THUMB_ORIGINAL;
	slot_take();
	if (vips_thumbnail(path, &thumb, sz->width, "height", sz->height,
	                   "size", VIPS_SIZE_DOWN,
	                   "crop", sz->method == MEDIA_THUMB_CROP ? VIPS_INTERESTING_CENTRE
	                                                         : VIPS_INTERESTING_NONE,
	                   "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL) != 0) {
		vips_error_clear();
		res = MEDIA_THUMB_BAD_IMAGE;
	} else {
		/* pixels are pulled here: the decode happens inside the slot */
		res = thumb_encode(thumb, *out_type, out, out_len);
		g_object_unref(thumb);
	}
	slot_release();
	return res;
}

/*
 * test_media: the media repository's decisions and files (src/media/).
 *
 * Spec, Client-Server API, Content repository (content_repo.md):
 * - "Security considerations": media IDs allow "only alphanumeric
 *   (A-Za-z0-9), _ and - characters";
 * - "Serving inline content": "Servers SHOULD restrict Content-Type headers
 *   to one of the following values when serving content with
 *   Content-Disposition: inline" (the list media_type_inline_safe holds);
 * - "Thumbnails": "Servers SHOULD produce thumbnails with the following
 *   dimensions and methods: 32x32 crop, 96x96 crop, 320x240 scale, 640x480
 *   scale, 800x600 scale", "Servers MUST NOT upscale thumbnails" and "MUST
 *   NOT return a smaller thumbnail than requested, unless the original
 *   content makes that impossible"; "When the content is smaller than the
 *   requested dimensions, servers should return the original content".
 *
 * What is proven here: the ID, type and filename grammars; a file whose
 * bytes are HTML but declared image/png is served as an octet-stream
 * attachment; RFC 6266 filenames; thumbnail size choice; the SSRF address
 * classifier; libvips thumbnails of real images, and clear refusals of
 * truncated, non-image and decompression-bomb (huge declared dimensions)
 * files; content-addressed, deduplicated commits and the thumbnail cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vips/vips.h>

#include "media/media.h"

/* ---- policy ------------------------------------------------------------ */

static void test_media_id(void **state)
{
	char long_id[MEDIA_ID_MAX + 2];

	(void)state;
	assert_true(media_id_valid("AbC_09-xyz"));
	assert_false(media_id_valid(""));
	assert_false(media_id_valid(".."));
	assert_false(media_id_valid("a/b"));
	assert_false(media_id_valid("%2e%2e"));
	assert_false(media_id_valid("caf\xc3\xa9"));
	assert_false(media_id_valid(NULL));
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_false(media_id_valid(long_id));
	long_id[MEDIA_ID_MAX] = '\0';
	assert_true(media_id_valid(long_id));
}

static void test_content_type_and_filename(void **state)
{
	(void)state;
	assert_true(media_content_type_valid("image/png"));
	assert_true(media_content_type_valid("text/plain; charset=utf-8"));
	assert_false(media_content_type_valid("image"));
	assert_false(media_content_type_valid("/png"));
	assert_false(media_content_type_valid("image/"));
	assert_false(media_content_type_valid("text/html\r\nX-Evil: 1"));   /* header injection */
	assert_false(media_content_type_valid("image/p\xc3\xa9g"));

	assert_true(media_filename_valid("cat.png"));
	assert_true(media_filename_valid("\xe7\x8c\xab.png"));          /* UTF-8 */
	assert_false(media_filename_valid("a\xff.png"));                 /* not UTF-8 */
	assert_false(media_filename_valid("\xed\xa0\x80.png"));          /* a surrogate */
	assert_false(media_filename_valid("a\nb"));
	assert_false(media_filename_valid("../etc/passwd"));
	assert_false(media_filename_valid(""));
}

static void test_inline_and_served_type(void **state)
{
	char out[64];

	(void)state;
	assert_true(media_type_inline_safe("image/png"));
	assert_true(media_type_inline_safe("IMAGE/PNG; x=y"));
	assert_true(media_type_inline_safe("text/plain; charset=utf-8"));
	assert_false(media_type_inline_safe("text/html"));
	assert_false(media_type_inline_safe("image/svg+xml"));   /* SVG runs script */
	assert_false(media_type_inline_safe("application/pdf"));

	/* a hostile file: HTML bytes declared image/png */
	media_type_to_serve("image/png", "text/html", out, sizeof(out));
	assert_string_equal(out, "application/octet-stream");
	media_type_to_serve("image/png", "image/png", out, sizeof(out));
	assert_string_equal(out, "image/png");
	media_type_to_serve("image/bmp", "image/x-ms-bmp", out, sizeof(out));
	assert_string_equal(out, "image/bmp");
	media_type_to_serve("text/css", "text/plain", out, sizeof(out));
	assert_string_equal(out, "text/css");
	/* unknown bytes: fine for a type never shown inline, not for an image */
	media_type_to_serve("application/x-tar", "application/octet-stream", out, sizeof(out));
	assert_string_equal(out, "application/x-tar");
	media_type_to_serve("image/png", "application/octet-stream", out, sizeof(out));
	assert_string_equal(out, "application/octet-stream");
	/* a declared type that is itself invalid is never echoed */
	media_type_to_serve("text/plain\r\nX: y", "text/plain", out, sizeof(out));
	assert_string_equal(out, "application/octet-stream");
	media_type_to_serve(NULL, "image/png", out, sizeof(out));
	assert_string_equal(out, "application/octet-stream");
}

static void test_disposition(void **state)
{
	char *d;

	(void)state;
	d = media_disposition("image/png", "cat.png");
	assert_string_equal(d, "inline; filename=\"cat.png\"; filename*=utf-8''cat.png");
	free(d);
	d = media_disposition("text/html", "x.html");
	assert_string_equal(d, "attachment; filename=\"x.html\"; filename*=utf-8''x.html");
	free(d);
	d = media_disposition("application/octet-stream", NULL);
	assert_string_equal(d, "attachment");
	free(d);
	/* RFC 6266 section 4.3: non-ASCII only in the filename* form */
	d = media_disposition("image/png", "\xe7\x8c\xab \"x\";.png");
	assert_string_equal(d, "inline; filename*=utf-8''%E7%8C%AB%20%22x%22%3B.png");
	free(d);
	/* an invalid name is dropped, not echoed */
	d = media_disposition("image/png", "a\r\nb");
	assert_string_equal(d, "inline");
	free(d);
}

static void test_thumb_choose(void **state)
{
	struct media_thumb_size s;

	(void)state;
	assert_int_equal(media_thumb_choose(32, 32, MEDIA_THUMB_CROP, &s), 0);
	assert_int_equal(s.width, 32);
	assert_int_equal(media_thumb_choose(33, 20, MEDIA_THUMB_CROP, &s), 0);
	assert_int_equal(s.width, 96);       /* never smaller than asked */
	assert_int_equal(media_thumb_choose(500, 500, MEDIA_THUMB_CROP, &s), 0);
	assert_int_equal(s.width, 96);       /* the largest crop there is */
	assert_int_equal(media_thumb_choose(320, 240, MEDIA_THUMB_SCALE, &s), 0);
	assert_true(s.width == 320 && s.height == 240 && s.method == MEDIA_THUMB_SCALE);
	assert_int_equal(media_thumb_choose(321, 10, MEDIA_THUMB_SCALE, &s), 0);
	assert_true(s.width == 640 && s.height == 480);
	assert_int_equal(media_thumb_choose(10, 300, MEDIA_THUMB_SCALE, &s), 0);
	assert_true(s.width == 640 && s.height == 480);
	assert_int_equal(media_thumb_choose(4000, 4000, MEDIA_THUMB_SCALE, &s), 0);
	assert_true(s.width == 800 && s.height == 600);
	assert_int_equal(media_thumb_choose(0, 10, MEDIA_THUMB_SCALE, &s), -1);
	assert_int_equal(media_thumb_choose(10, -1, MEDIA_THUMB_SCALE, &s), -1);
	assert_int_equal(media_thumb_choose(10001, 10, MEDIA_THUMB_CROP, &s), -1);
}

static bool forbidden(const char *addr)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, addr, &in4.sin_addr) == 1)
		return media_addr_forbidden((struct sockaddr *)&in4);
	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	return media_addr_forbidden((struct sockaddr *)&in6);
}

static void test_ssrf_classifier(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	static const char *const bad[] = {
		"127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
		"255.255.255.255", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1",
		"ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "::127.0.0.1",
		"2001:db8::1", "2002:7f00:1::1",
	};
	static const char *const good[] = {
		"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "93.184.216.34",
		"2001:4860:4860::8888", "::ffff:8.8.8.8", "2606:4700::1111",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!forbidden(bad[i]))
			fail_msg("%s should be forbidden", bad[i]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (forbidden(good[i]))
			fail_msg("%s should be allowed", good[i]);
	}
	assert_true(media_addr_forbidden((struct sockaddr *)&un));
	assert_true(media_addr_forbidden(NULL));
}

/* ---- images --------------------------------------------------------------- */

struct fixture {
	char dir[64];
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/chappe-media-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void file_put(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* A w x h gradient image saved by libvips as PNG or JPEG. */
static void image_make(const char *path, int w, int h)
{
	VipsImage *img = NULL, *rgb = NULL;

	assert_int_equal(vips_xyz(&img, w, h, NULL), 0);
	assert_int_equal(vips_cast_uchar(img, &rgb, NULL), 0);
	assert_int_equal(vips_image_write_to_file(rgb, path, NULL), 0);
	g_object_unref(rgb);
	g_object_unref(img);
}

static void image_dims(const unsigned char *buf, size_t len, int *w, int *h)
{
	VipsImage *img = vips_image_new_from_buffer(buf, len, "", NULL);
	assert_non_null(img);
	*w = vips_image_get_width(img);
	*h = vips_image_get_height(img);
	g_object_unref(img);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* A PNG signature and IHDR declaring w x h, then a tiny IDAT and IEND:
 * a decompression bomb's header, without the bomb. */
static void png_header_only(const char *path, uint32_t w, uint32_t h)
{
	unsigned char png[8 + 25 + 12 + 12] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	unsigned char *ihdr = png + 8, *idat = png + 33, *iend = png + 45;

	be32(ihdr, 13);
	memcpy(ihdr + 4, "IHDR", 4);
	be32(ihdr + 8, w);
	be32(ihdr + 12, h);
	ihdr[16] = 8;      /* bit depth */
	ihdr[17] = 2;      /* truecolour */
	be32(ihdr + 21, crc32_of(ihdr + 4, 17));
	be32(idat, 0);
	memcpy(idat + 4, "IDAT", 4);
	be32(idat + 8, crc32_of(idat + 4, 4));
	be32(iend, 0);
	memcpy(iend + 4, "IEND", 4);
	be32(iend + 8, crc32_of(iend + 4, 4));
	file_put(path, png, sizeof(png));
}

static void test_thumb_make(void **state)
{
	struct fixture *f = *state;
	struct media_thumb_size scale = { 320, 240, MEDIA_THUMB_SCALE };
	struct media_thumb_size crop = { 96, 96, MEDIA_THUMB_CROP };
	char png[128], jpg[128], small[128];
	unsigned char *out = NULL;
	size_t len = 0;
	const char *type = NULL;
	int w, h;

	snprintf(png, sizeof(png), "%s/a.png", f->dir);
	snprintf(jpg, sizeof(jpg), "%s/a.jpg", f->dir);
	snprintf(small, sizeof(small), "%s/small.png", f->dir);
	image_make(png, 640, 480);
	image_make(jpg, 1000, 500);
	image_make(small, 20, 20);

	assert_int_equal(media_thumb_make(png, &scale, &out, &len, &type), MEDIA_THUMB_OK);
	assert_string_equal(type, "image/png");
	image_dims(out, len, &w, &h);
	assert_true(w == 320 && h == 240);
	free(out);

	assert_int_equal(media_thumb_make(png, &crop, &out, &len, &type), MEDIA_THUMB_OK);
	image_dims(out, len, &w, &h);
	assert_true(w == 96 && h == 96);     /* the aspect of the request */
	free(out);

	/* "scale" keeps the aspect: one side within the box, none above it */
	assert_int_equal(media_thumb_make(jpg, &scale, &out, &len, &type), MEDIA_THUMB_OK);
	assert_string_equal(type, "image/jpeg");
	image_dims(out, len, &w, &h);
	assert_true(w == 320 && h == 160);
	free(out);

	/* never upscaled: the original is served instead */
	assert_int_equal(media_thumb_make(small, &crop, &out, &len, &type), MEDIA_THUMB_ORIGINAL);
	assert_null(out);
}

struct thumb_job {
	const char *path;
	enum media_thumb_result res;
	int w, h;
};

static void *thumb_thread(void *arg)
{
	struct thumb_job *j = arg;
	struct media_thumb_size crop = { 96, 96, MEDIA_THUMB_CROP };
	unsigned char *out = NULL;
	size_t len = 0;
	const char *type;

	j->res = media_thumb_make(j->path, &crop, &out, &len, &type);
	if (j->res == MEDIA_THUMB_OK) {
		VipsImage *img = vips_image_new_from_buffer(out, len, "", NULL);
		if (img) {
			j->w = vips_image_get_width(img);
			j->h = vips_image_get_height(img);
			g_object_unref(img);
		}
	}
	free(out);
	return NULL;
}

/* More requests than decode slots: all finish, all correct (no deadlock,
 * no slot leaked by the error path, which runs in between). */
static void test_thumb_concurrent(void **state)
{
	struct fixture *f = *state;
	char png[128], bad[128];
	struct thumb_job jobs[8];
	pthread_t t[8];

	snprintf(png, sizeof(png), "%s/c.png", f->dir);
	snprintf(bad, sizeof(bad), "%s/bad.png", f->dir);
	unsigned char buf[8192];
	size_t n;
	FILE *fp;

	image_make(png, 400, 300);
	/* truncated: its header passes, its decode fails inside a slot */
	fp = fopen(png, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_true(n > 1000);
	file_put(bad, buf, n / 2);
	for (int i = 0; i < 8; i++) {
		jobs[i] = (struct thumb_job){ i % 4 == 3 ? bad : png, MEDIA_THUMB_BAD_IMAGE, 0, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, thumb_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		if (i % 4 == 3) {
			assert_int_equal(jobs[i].res, MEDIA_THUMB_BAD_IMAGE);
		} else {
			assert_int_equal(jobs[i].res, MEDIA_THUMB_OK);
			assert_true(jobs[i].w == 96 && jobs[i].h == 96);
		}
	}
}

static void test_thumb_hostile(void **state)
{
	struct fixture *f = *state;
	struct media_thumb_size scale = { 320, 240, MEDIA_THUMB_SCALE };
	char good[128], trunc[128], html[128], bomb[128], garbage[128], empty[128];
	unsigned char *out = NULL, buf[4096];
	const char *type;
	size_t len, n;
	FILE *fp;

	snprintf(good, sizeof(good), "%s/good.png", f->dir);
	snprintf(trunc, sizeof(trunc), "%s/trunc.png", f->dir);
	snprintf(html, sizeof(html), "%s/html.png", f->dir);
	snprintf(bomb, sizeof(bomb), "%s/bomb.png", f->dir);
	snprintf(garbage, sizeof(garbage), "%s/garbage.png", f->dir);
	snprintf(empty, sizeof(empty), "%s/empty.png", f->dir);
	image_make(good, 640, 480);
	fp = fopen(good, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_true(n > 200);
	file_put(trunc, buf, n / 3);                  /* a truncated PNG */
	file_put(html, "<html><script>alert(1)</script></html>", 38);
	file_put(garbage, "\x89PNG\r\n\x1a\nnot really a png at all", 32);
	file_put(empty, "", 0);
	png_header_only(bomb, 100000, 100000);        /* 10^10 pixels declared */

	assert_int_equal(media_thumb_make(trunc, &scale, &out, &len, &type), MEDIA_THUMB_BAD_IMAGE);
	assert_int_equal(media_thumb_make(html, &scale, &out, &len, &type), MEDIA_THUMB_BAD_IMAGE);
	assert_int_equal(media_thumb_make(garbage, &scale, &out, &len, &type), MEDIA_THUMB_BAD_IMAGE);
	assert_int_equal(media_thumb_make(empty, &scale, &out, &len, &type), MEDIA_THUMB_BAD_IMAGE);
	assert_int_equal(media_thumb_make(bomb, &scale, &out, &len, &type), MEDIA_THUMB_TOO_LARGE);
	/* just within the bound (32 Mi pixels) is decoded, and found broken:
	 * no pixel data */
	png_header_only(bomb, 8192, 4096);
	assert_int_equal(media_thumb_make(bomb, &scale, &out, &len, &type), MEDIA_THUMB_BAD_IMAGE);
	png_header_only(bomb, 8193, 4096);
	assert_int_equal(media_thumb_make(bomb, &scale, &out, &len, &type), MEDIA_THUMB_TOO_LARGE);
	png_header_only(bomb, 1, 0xffffffffu);        /* overflow-shaped dimensions */
	assert_int_not_equal(media_thumb_make(bomb, &scale, &out, &len, &type), MEDIA_THUMB_OK);
	assert_null(out);
}

/* Copy src into a fresh temp file of the repo's tmp dir; open fd. */
static int upload_make(struct media_repo *r, const char *src, char *path, size_t path_len)
{
	char cmd[512];
	int fd;

	snprintf(path, path_len, "%s/upload-XXXXXX", media_repo_tmp_dir(r));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	snprintf(cmd, sizeof(cmd), "cat '%s' > '%s'", src, path);
	assert_int_equal(system(cmd), 0);
	return fd;
}

static void test_repo_commit_and_thumbnail(void **state)
{
	struct fixture *f = *state;
	struct media_thumb_size crop = { 32, 32, MEDIA_THUMB_CROP };
	char err[256], src[128], tmp[256], tmp2[256], html[128];
	char hex[MEDIA_SHA256_HEX_LEN + 1], hex2[MEDIA_SHA256_HEX_LEN + 1], sniffed[128];
	struct media_repo *r;
	const char *type;
	uint64_t size, size2;
	bool taken, too_large;
	struct stat sb;
	int fd, cfd;

	/* a temp file a killed server left behind is swept at open */
	snprintf(tmp, sizeof(tmp), "%s/media", f->dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	snprintf(tmp, sizeof(tmp), "%s/media/tmp", f->dir);
	assert_int_equal(mkdir(tmp, 0700), 0);
	snprintf(tmp, sizeof(tmp), "%s/media/tmp/upload-stale1", f->dir);
	file_put(tmp, "half an upload", 14);
	r = media_repo_open(f->dir, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(access(tmp, F_OK), -1);
	snprintf(src, sizeof(src), "%s/src.png", f->dir);
	image_make(src, 200, 100);
	assert_int_equal(stat(src, &sb), 0);

	fd = upload_make(r, src, tmp, sizeof(tmp));
	assert_int_equal(media_repo_commit(r, fd, tmp, &taken, hex, sniffed, sizeof(sniffed)), 0);
	close(fd);
	assert_true(taken);
	assert_int_equal(access(tmp, F_OK), -1);      /* renamed away */
	assert_string_equal(sniffed, "image/png");
	assert_int_equal(strlen(hex), 64);

	/* the same bytes again: one stored copy, the temp file dropped */
	fd = upload_make(r, src, tmp2, sizeof(tmp2));
	assert_int_equal(media_repo_commit(r, fd, tmp2, &taken, hex2, sniffed, sizeof(sniffed)), 0);
	close(fd);
	assert_true(taken);
	assert_int_equal(access(tmp2, F_OK), -1);
	assert_string_equal(hex, hex2);
	assert_int_equal(media_repo_bytes_committed(r), 2 * (uint64_t)sb.st_size);

	cfd = media_repo_open_content(r, hex, &size);
	assert_true(cfd >= 0);
	assert_int_equal(size, (uint64_t)sb.st_size);
	close(cfd);
	assert_int_equal(media_repo_open_content(r, "../../etc/passwd", &size), -1);

	/* made once, then served from the cache with the same bytes */
	assert_int_equal(media_repo_thumbnail(r, hex, &crop, &cfd, &size, &type, &too_large), 0);
	assert_string_equal(type, "image/png");
	close(cfd);
	assert_int_equal(media_repo_thumbnail(r, hex, &crop, &cfd, &size2, &type, &too_large), 0);
	assert_int_equal(size, size2);
	close(cfd);

	/* HTML bytes: sniffed as such, and no thumbnail */
	snprintf(html, sizeof(html), "%s/page.html", f->dir);
	file_put(html, "<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n", 67);
	fd = upload_make(r, html, tmp, sizeof(tmp));
	assert_int_equal(media_repo_commit(r, fd, tmp, &taken, hex, sniffed, sizeof(sniffed)), 0);
	close(fd);
	assert_string_equal(sniffed, "text/html");
	assert_int_equal(media_repo_thumbnail(r, hex, &crop, &cfd, &size, &type, &too_large), -1);
	assert_false(too_large);
	media_repo_close(r);
}

static int group_teardown(void **state)
{
	(void)state;
	vips_shutdown();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_id),
		cmocka_unit_test(test_content_type_and_filename),
		cmocka_unit_test(test_inline_and_served_type),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_thumb_choose),
		cmocka_unit_test(test_ssrf_classifier),
		cmocka_unit_test_setup_teardown(test_thumb_make, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_thumb_hostile, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_thumb_concurrent, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_repo_commit_and_thumbnail, fixture_setup,
		                                fixture_teardown),
	};
	/* the test makes images with libvips before media_thumb_make runs */
	if (VIPS_INIT("test_media") != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, group_teardown);
}

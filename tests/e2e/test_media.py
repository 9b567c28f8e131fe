"""The media repository (content_repo.md, content-repo.yaml,
authed-content-repo.yaml of the Client-Server API v1.19) as a client sees
it: uploads with matrix-nio 0.20 (AsyncClient.upload), downloads and
thumbnails through the authenticated /_matrix/client/v1/media endpoints
with raw HTTP and a token (nio 0.20 only knows the deprecated anonymous
/_matrix/media/v3 path, which chappe refuses by default), and hostile files.
"""

import asyncio
import io
import socket
import struct
import urllib.parse
import zlib

import pytest

nio = pytest.importorskip("nio")

from chappe_e2e import (PASSWORD, MatrixUser, assert_error, room_path, sync_timeline,
                        unique_name)

V1 = "/_matrix/client/v1/media"
LEGACY = "/_matrix/media/v3"


def png(width, height):
    """A real RGB PNG (a gradient), built with zlib alone."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width)
                                     for v in (x * 255 // max(width - 1, 1), y % 256, 128))
                    for y in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    return struct.unpack(">II", data[16:24])


def mxc_parts(uri):
    assert uri.startswith("mxc://"), uri
    server, media_id = uri[len("mxc://"):].split("/", 1)
    return server, media_id


def upload(server, token, data, content_type="image/png", filename=None):
    query = {"filename": filename} if filename else None
    return server.request("POST", f"{LEGACY}/upload", data, token=token, query=query,
                          headers={"Content-Type": content_type})


def download(server, uri, token, *, prefix=V1, filename=None):
    srv, media_id = mxc_parts(uri)
    path = f"{prefix}/download/{srv}/{media_id}"
    if filename:
        path += "/" + urllib.parse.quote(filename, safe="")
    return server.request("GET", path, token=token)


def thumbnail(server, uri, token, width, height, method="scale", prefix=V1, **extra):
    srv, media_id = mxc_parts(uri)
    query = {"width": str(width), "height": str(height), "method": method, **extra}
    return server.request("GET", f"{prefix}/thumbnail/{srv}/{media_id}", token=token,
                          query=query)


def uploaded(server, token, data, **kw):
    r = upload(server, token, data, **kw)
    assert r.status == 200, r
    return r.json["content_uri"]


def assert_safe_headers(resp):
    # content_repo.md: "the server SHOULD provide a Content-Security-Policy
    # header. The recommended policy is sandbox; default-src 'none'; ..."
    assert resp.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none';")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


def nio_client(server, user=""):
    config = nio.AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0,
                                   request_timeout=30, encryption_enabled=False,
                                   store_sync_tokens=False)
    return nio.AsyncClient(server.url, user, config=config)


def test_nio_upload_send_download_and_thumbnails(server):
    """A nio user uploads an image (POST /_matrix/media/v3/upload) and sends
    it as m.image; the other user downloads it and its thumbnails through
    the authenticated endpoints (authed-content-repo.yaml)."""
    image = png(640, 480)
    bob = MatrixUser(server)

    async def alice_side():
        name = unique_name("nio")
        client = nio_client(server, name)
        try:
            reg = await client.register(name, PASSWORD, device_name="nio")
            assert isinstance(reg, nio.RegisterResponse), reg
            resp, _ = await client.upload(io.BytesIO(image), content_type="image/png",
                                          filename="cat.png", filesize=len(image))
            assert isinstance(resp, nio.UploadResponse), resp
            room = await client.room_create(invite=[bob.user_id])
            assert isinstance(room, nio.RoomCreateResponse), room
            sent = await client.room_send(room.room_id, "m.room.message", {
                "msgtype": "m.image", "body": "cat.png", "url": resp.content_uri,
                "info": {"mimetype": "image/png", "w": 640, "h": 480, "size": len(image)}})
            assert isinstance(sent, nio.RoomSendResponse), sent
            return room.room_id, resp.content_uri
        finally:
            await client.close()

    room_id, uri = asyncio.run(alice_side())
    assert mxc_parts(uri)[0] == "localhost"
    bob.join(room_id)
    events = sync_timeline(bob.sync(), room_id)
    images = [e for e in events if e["content"].get("msgtype") == "m.image"]
    assert images and images[0]["content"]["url"] == uri

    r = download(server, uri, bob.token)
    assert r.status == 200, r
    assert r.body == image
    assert r.headers["Content-Type"] == "image/png"
    # "Servers SHOULD restrict Content-Type headers to one of the following
    # values when serving content with Content-Disposition: inline": image/png
    assert r.headers["Content-Disposition"] == "inline; filename=\"cat.png\"; filename*=utf-8''cat.png"
    assert_safe_headers(r)
    # the fileName path form overrides the name (RFC 6266 encoded)
    r = download(server, uri, bob.token, filename="ch\u00e2t.png")
    assert r.status == 200 and r.body == image
    assert r.headers["Content-Disposition"] == "inline; filename*=utf-8''ch%C3%A2t.png"

    # content_repo.md "Thumbnails": 96x96 crop, 320x240 scale; never
    # smaller than asked, never upscaled
    r = thumbnail(server, uri, bob.token, 96, 96, "crop")
    assert r.status == 200, r
    assert r.headers["Content-Type"] == "image/png"
    assert png_size(r.body) == (96, 96)
    assert_safe_headers(r)
    r = thumbnail(server, uri, bob.token, 300, 200, "scale")
    assert r.status == 200, r
    assert png_size(r.body) == (320, 240)
    again = thumbnail(server, uri, bob.token, 300, 200, "scale", animated="true")
    assert again.status == 200 and again.body == r.body      # cached, static
    # larger than the original: "return the original content"
    r = thumbnail(server, uri, bob.token, 1000, 1000, "scale")
    assert r.status == 200 and r.body == image


def test_downloads_need_a_token(server):
    """authed-content-repo.yaml: the download endpoints require
    authentication; the deprecated unauthenticated paths are off by
    default (404 M_UNRECOGNIZED), with or without a token."""
    alice = MatrixUser(server)
    uri = uploaded(server, alice.token, png(8, 8))
    assert_error(download(server, uri, None), 401, "M_MISSING_TOKEN")
    assert_error(thumbnail(server, uri, None, 32, 32), 401, "M_MISSING_TOKEN")
    assert_error(download(server, uri, "not-a-token"), 401, "M_UNKNOWN_TOKEN")
    assert_error(download(server, uri, None, prefix=LEGACY), 404, "M_UNRECOGNIZED")
    assert_error(download(server, uri, alice.token, prefix=LEGACY), 404, "M_UNRECOGNIZED")
    assert_error(thumbnail(server, uri, alice.token, 32, 32, prefix=LEGACY), 404,
                 "M_UNRECOGNIZED")
    assert_error(server.request("GET", f"{LEGACY}/config", token=alice.token), 404,
                 "M_UNRECOGNIZED")

    async def nio_download():
        client = nio_client(server, alice.user_id)
        client.access_token, client.user_id = alice.token, alice.user_id
        try:
            srv, media_id = mxc_parts(uri)
            return await client.download(srv, media_id)
        finally:
            await client.close()
    # nio 0.20 downloads anonymously from the legacy path: refused
    assert isinstance(asyncio.run(nio_download()), nio.DownloadError)
    # uploads need a token too, refused before the body is stored
    assert_error(upload(server, None, png(8, 8)), 401, "M_MISSING_TOKEN")


def test_legacy_paths_with_switch(make_server):
    """legacy_media_authenticated: true serves /_matrix/media/v3 download,
    thumbnail and config to requests with a valid token, never anonymous."""
    srv = make_server(legacy_media_authenticated=True)
    alice = MatrixUser(srv)
    image = png(100, 50)
    uri = uploaded(srv, alice.token, image)
    r = download(srv, uri, alice.token, prefix=LEGACY)
    assert r.status == 200 and r.body == image
    assert thumbnail(srv, uri, alice.token, 32, 32, "crop", prefix=LEGACY).status == 200
    assert_error(download(srv, uri, None, prefix=LEGACY), 401, "M_MISSING_TOKEN")
    assert_error(thumbnail(srv, uri, None, 32, 32, prefix=LEGACY), 401, "M_MISSING_TOKEN")
    r = srv.request("GET", f"{LEGACY}/config", token=alice.token)
    assert r.status == 200 and r.json == {"m.upload.size": 52428800}


def test_size_limit_and_quota(make_server):
    """content_repo.md "Security considerations": too large uploads are
    refused with 413 M_TOO_LARGE; the total a user uploads is limited with
    403 M_FORBIDDEN. GET /_matrix/client/v1/media/config reports the limit."""
    srv = make_server(max_upload_bytes=4096, media_quota_bytes_per_user=6000)
    alice = MatrixUser(srv)
    r = srv.request("GET", f"{V1}/config", token=alice.token)
    assert r.status == 200 and r.json == {"m.upload.size": 4096}
    assert_error(upload(srv, alice.token, b"x" * 4097, "application/octet-stream"),
                 413, "M_TOO_LARGE")
    # exactly the limit is accepted; the quota then stops the second one
    uploaded(srv, alice.token, b"a" * 4096, content_type="application/octet-stream")
    assert_error(upload(srv, alice.token, b"b" * 2000, "application/octet-stream"),
                 403, "M_FORBIDDEN")
    uploaded(srv, alice.token, b"c" * 1904, content_type="application/octet-stream")
    # another user has a quota of their own
    uploaded(srv, MatrixUser(srv).token, b"d" * 4096,
             content_type="application/octet-stream")

    # a chunked body (no Content-Length) is bounded while it streams in
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\n"
                 b"Authorization: Bearer " + alice.token.encode() + b"\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n"
                 + (b"1000\r\n" + b"x" * 4096 + b"\r\n") * 64 + b"0\r\n\r\n")
    status = sock.recv(64).split(b"\r\n")[0]
    sock.close()
    assert status == b"HTTP/1.1 413 Content Too Large", status
    # nothing half-written stays behind, and equal bytes are stored once
    # (content-addressed: data_dir/media/content/ab/abcdef...)
    assert list((srv.workdir / "media" / "tmp").iterdir()) == []
    uploaded(srv, MatrixUser(srv).token, b"d" * 4096,
             content_type="application/octet-stream")
    stored = [p for p in (srv.workdir / "media" / "content").rglob("*") if p.is_file()]
    assert len(stored) == 3, stored


def test_async_create_then_put(server):
    """content-repo.yaml POST /_matrix/media/v1/create and PUT
    /_matrix/media/v3/upload/{serverName}/{mediaId}: only the creator
    uploads, once (409 M_CANNOT_OVERWRITE_MEDIA); before the upload a
    download is 504 M_NOT_YET_UPLOADED."""
    alice, bob = MatrixUser(server), MatrixUser(server)
    r = server.request("POST", "/_matrix/media/v1/create", {}, token=alice.token)
    assert r.status == 200, r
    uri = r.json["content_uri"]
    assert r.json["unused_expires_at"] > 0
    srv, media_id = mxc_parts(uri)
    put = f"{LEGACY}/upload/{srv}/{media_id}"
    assert_error(download(server, uri, bob.token), 504, "M_NOT_YET_UPLOADED")
    image = png(40, 30)
    assert_error(server.request("PUT", put, image, token=bob.token,
                                headers={"Content-Type": "image/png"}), 403, "M_FORBIDDEN")
    r = server.request("PUT", put, image, token=alice.token, headers={"Content-Type": "image/png"})
    assert r.status == 200, r
    assert_error(server.request("PUT", put, image, token=alice.token,
                                headers={"Content-Type": "image/png"}),
                 409, "M_CANNOT_OVERWRITE_MEDIA")
    r = download(server, uri, bob.token)
    assert r.status == 200 and r.body == image
    assert_error(server.request("PUT", f"{LEGACY}/upload/{srv}/nosuchmedia", image,
                                token=alice.token), 404, "M_NOT_FOUND")


def test_unknown_and_malformed_ids(server):
    """content_repo.md: media IDs allow only A-Za-z0-9, _ and -; only local
    media exists here (no federation)."""
    alice = MatrixUser(server)
    uri = uploaded(server, alice.token, png(8, 8))
    _, media_id = mxc_parts(uri)
    for path in (f"{V1}/download/localhost/nosuchmedia",
                 f"{V1}/download/localhost/..%2F..%2Fetc%2Fpasswd",
                 f"{V1}/download/localhost/a.b",
                 f"{V1}/download/other.example/{media_id}"):
        assert_error(server.request("GET", path, token=alice.token), 404, "M_NOT_FOUND")
    assert_error(thumbnail(server, uri, alice.token, 0, 10), 400, ("M_UNKNOWN", "M_INVALID_PARAM"))
    assert_error(thumbnail(server, uri, alice.token, "ten", 10), 400, "M_INVALID_PARAM")
    assert_error(thumbnail(server, uri, alice.token, 10, 10, "stretch"), 400, "M_INVALID_PARAM")
    # URL previews are not implemented: the endpoint does not exist
    assert_error(server.request("GET", f"{V1}/preview_url", token=alice.token,
                                query={"url": "http://127.0.0.1/"}), 404, "M_UNRECOGNIZED")


def test_hostile_files(server):
    """content_repo.md: "Clients or remote homeservers may try to upload
    malicious files targeting vulnerabilities in either the homeserver
    thumbnailing or the client decoders", and "Homeservers should not
    attempt to generate thumbnails for images that are too large, returning
    a HTTP 413 error with the M_TOO_LARGE code"."""
    alice = MatrixUser(server)
    # HTML declared as image/png: served as an octet-stream attachment, so a
    # browser neither renders nor sniffs it
    html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>\n"
    uri = uploaded(server, alice.token, html, filename="x.png")
    r = download(server, uri, alice.token)
    assert r.status == 200 and r.body == html
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert_safe_headers(r)
    assert_error(thumbnail(server, uri, alice.token, 32, 32), 400, "M_UNKNOWN")
    # declared text/html: never inline
    r = download(server, uploaded(server, alice.token, html, content_type="text/html"),
                 alice.token)
    assert r.headers["Content-Type"] == "text/html"
    assert r.headers["Content-Disposition"].startswith("attachment")

    good = png(300, 300)
    truncated = uploaded(server, alice.token, good[:len(good) // 2])
    assert_error(thumbnail(server, truncated, alice.token, 32, 32, "crop"), 400, "M_UNKNOWN")
    garbage = uploaded(server, alice.token, b"\x89PNG\r\n\x1a\n" + b"\xff" * 200)
    assert_error(thumbnail(server, garbage, alice.token, 32, 32), 400, "M_UNKNOWN")
    # a decompression bomb's header: 100000 x 100000 pixels declared
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xffffffff)
            + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT"))
            + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    bomb_uri = uploaded(server, alice.token, bomb)
    assert_error(thumbnail(server, bomb_uri, alice.token, 32, 32), 413, "M_TOO_LARGE")
    # and the server is still fine
    assert thumbnail(server, uploaded(server, alice.token, png(64, 64)), alice.token,
                     32, 32, "crop").status == 200


def make_admin(srv, tmp_path):
    name = unique_name("admin")
    pw = tmp_path / "admin.pw"
    pw.write_text(PASSWORD + "\n")
    out = srv.admin("create-user", name, "--admin", "--password-file", str(pw))
    assert out.returncode == 0, out
    login = srv.login(f"@{name}:localhost")
    return MatrixUser(srv, token=login["access_token"], user_id=login["user_id"])


def test_quarantine(make_server, tmp_path):
    """Synapse admin API: quarantined media is never served again (404),
    by media ID, by uploader and by room; only server admins may."""
    srv = make_server()
    admin = make_admin(srv, tmp_path)
    alice, bob = MatrixUser(srv), MatrixUser(srv)
    one, two = uploaded(srv, alice.token, png(10, 10)), uploaded(srv, alice.token, png(11, 11))
    bobs = uploaded(srv, bob.token, png(12, 12))
    _, one_id = mxc_parts(one)

    assert_error(srv.request("POST", f"/_synapse/admin/v1/media/quarantine/localhost/{one_id}",
                             {}, token=alice.token), 403, "M_FORBIDDEN")
    r = srv.request("POST", f"/_synapse/admin/v1/media/quarantine/localhost/{one_id}", {},
                    token=admin.token)
    assert r.status == 200, r
    assert_error(download(srv, one, bob.token), 404, "M_NOT_FOUND")
    assert_error(thumbnail(srv, one, bob.token, 32, 32), 404, "M_NOT_FOUND")
    assert download(srv, two, bob.token).status == 200

    r = srv.request("POST", f"/_synapse/admin/v1/user/{room_path(alice.user_id)}/media/quarantine",
                    {}, token=admin.token)
    assert r.status == 200 and r.json == {"num_quarantined": 1}, r
    assert_error(download(srv, two, bob.token), 404, "M_NOT_FOUND")
    assert download(srv, bobs, alice.token).status == 200

    # by room: the media its events reference (m.image url)
    room_id = bob.create_room()
    bob.send(room_id, content={"msgtype": "m.image", "body": "x.png", "url": bobs})
    r = srv.request("POST", f"/_synapse/admin/v1/room/{room_path(room_id)}/media/quarantine",
                    {}, token=admin.token)
    assert r.status == 200 and r.json == {"num_quarantined": 1}, r
    assert_error(download(srv, bobs, bob.token), 404, "M_NOT_FOUND")
    assert_error(srv.request("POST", "/_synapse/admin/v1/room/!nosuch:localhost/media/quarantine",
                             {}, token=admin.token), 404, "M_NOT_FOUND")


def test_media_survives_restart_and_kill(make_server):
    """An acknowledged upload is durable: the content is fsynced and renamed
    into place before its row is written, and the row is committed before
    the 200 (content_repo.md: the mxc URI "can later be used to GET the
    download"). A restart and a SIGKILL keep media, quarantine and all."""
    srv = make_server()
    alice = MatrixUser(srv)
    image = png(50, 40)
    uri = uploaded(srv, alice.token, image, filename="kept.png")
    thumb = thumbnail(srv, uri, alice.token, 32, 32, "crop")
    assert thumb.status == 200
    assert srv.stop() == []
    srv.start()
    r = download(srv, uri, alice.token)
    assert r.status == 200 and r.body == image
    assert r.headers["Content-Disposition"].endswith("filename*=utf-8''kept.png")
    second = uploaded(srv, alice.token, png(20, 20))
    srv.kill()
    srv.start()
    assert download(srv, second, alice.token).status == 200
    assert thumbnail(srv, uri, alice.token, 32, 32, "crop").body == thumb.body

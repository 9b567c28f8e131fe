"""URL previews (content_repo.md "URL previews", authed-content-repo.yaml
GET /_matrix/client/v1/media/preview_url): off by default; when on, the
page's OpenGraph fields, and never a fetch from an internal address unless
the operator allowed its range."""
import http.server
import threading

from chappe_e2e import MatrixUser

PAGE = b"""<!doctype html><html><head>
<title>Ignored when og:title exists</title>
<meta property="og:title" content="Tchap &amp; chappe">
<meta name="og:description" content="A page   about
 messaging">
<meta property="og:image" content="http://example.invalid/x.png">
</head><body>hello</body></html>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect-internal":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/")
            self.end_headers()
            return
        body = PAGE if self.path != "/plain" else b"just text"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8" if self.path != "/plain"
                         else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _page_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _preview(user, url):
    return user.call("GET", "media/preview_url", query={"url": url}, prefix="v1")


def test_disabled_by_default(server):
    u = MatrixUser(server)
    r = _preview(u, "http://example.org/")
    assert r.status == 404 and r.json["errcode"] == "M_UNRECOGNIZED", r


def test_internal_addresses_refused(make_server):
    srv = make_server(url_preview_enabled=True)
    u = MatrixUser(srv)
    httpd = _page_server()
    try:
        port = httpd.server_address[1]
        # loopback, the unspecified address, link-local metadata, private
        for url in (f"http://127.0.0.1:{port}/", f"http://0.0.0.0:{port}/",
                    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                    f"http://localhost:{port}/", f"http://[::1]:{port}/"):
            r = _preview(u, url)
            assert r.status == 403 and r.json["errcode"] == "M_FORBIDDEN", (url, r)
        for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "ftp://x/"):
            r = _preview(u, url)
            assert r.status == 400, (url, r)
        assert _preview(u, "").status == 400
    finally:
        httpd.shutdown()


def test_allowlisted_page_previewed(make_server):
    srv = make_server(url_preview_enabled=True, url_preview_ip_allowlist="127.0.0.1/32")
    u = MatrixUser(srv)
    httpd = _page_server()
    try:
        port = httpd.server_address[1]
        r = _preview(u, f"http://127.0.0.1:{port}/page")
        assert r.status == 200, r
        # og fields, entities decoded, whitespace collapsed; og:image (an
        # outside URL) is not handed to clients
        assert r.json == {"og:title": "Tchap & chappe",
                          "og:description": "A page about messaging"}, r.json
        assert _preview(u, f"http://127.0.0.1:{port}/plain").json == {}
        # a redirect to an address outside the allowlist is refused too
        r = _preview(u, f"http://127.0.0.1:{port}/redirect-internal")
        assert r.status == 403, r
        # no token, no preview
        assert srv.client("GET", "media/preview_url", query={"url": "http://x/"},
                          prefix="v1").status == 401
    finally:
        httpd.shutdown()

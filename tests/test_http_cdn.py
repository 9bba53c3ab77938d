"""The CDN purge adapters against a local HTTP server that records what they send."""
from __future__ import annotations

import hashlib
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import pytest

from fastcache import LRUCache
from fastcache.http import CDNPurgeError, CloudFrontPurger, FastlyPurger, WSGICacheMiddleware
from fastcache.http.cdn import sign_v4
from http_harness import Origin, serve_wsgi

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class Recorder:
    """A fake CDN API: records (method, path, headers, body); answers with `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                recorder.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body))
                self.send_response(recorder.status)
                payload = b'{"status": "ok"}' if recorder.status < 300 else b'{"msg": "denied"}'
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PURGE = do_GET = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cdn() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def test_sigv4_matches_aws_published_examples() -> None:
    # the AWS SigV4 test suite's get-vanilla and get-vanilla-query-order-key-case
    auth = sign_v4("GET", "https://example.amazonaws.com/", {"host": "example.amazonaws.com"}, b"",
                   access_key="AKIDEXAMPLE", secret_key=SECRET, region="us-east-1", service="service",
                   amz_date="20150830T123600Z")["Authorization"]
    assert auth == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                    "SignedHeaders=host;x-amz-date, "
                    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    auth = sign_v4("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                   {"host": "example.amazonaws.com"}, b"", access_key="AKIDEXAMPLE", secret_key=SECRET,
                   region="us-east-1", service="service", amz_date="20150830T123600Z")["Authorization"]
    assert auth.endswith("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    # the S3 documentation's GET Object example (extra signed headers)
    auth = sign_v4("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                   {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
                    "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}, b"",
                   access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   region="us-east-1", service="s3", amz_date="20130524T000000Z")["Authorization"]
    assert auth.endswith("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_cloudfront_invalidation_request(cdn: Recorder) -> None:
    cf = CloudFrontPurger("E2EXAMPLE", access_key_id="AKIDEXAMPLE", secret_access_key=SECRET, session_token="tok",
                          endpoint=cdn.url, clock=lambda: 1440938160.0, caller_reference=lambda: "ref-1")
    cf.purge_paths(["/index.html", "/a b.css"])
    cf.purge_prefixes(["/api/"])
    (m1, p1, h1, b1), (m2, p2, h2, b2) = cdn.requests
    assert (m1, p1) == ("POST", "/2020-05-31/distribution/E2EXAMPLE/invalidation")
    ns = "{http://cloudfront.amazonaws.com/doc/2020-05-31/}"
    batch = ET.fromstring(b1)
    assert batch.tag == f"{ns}InvalidationBatch"
    assert batch.findtext(f"{ns}Paths/{ns}Quantity") == "2"
    assert [p.text for p in batch.iter(f"{ns}Path")] == ["/index.html", "/a%20b.css"]
    assert batch.findtext(f"{ns}CallerReference") == "ref-1"
    assert [p.text for p in ET.fromstring(b2).iter(f"{ns}Path")] == ["/api/*"]
    # the signature covers what arrived: recompute it from the received request
    assert h1["x-amz-date"] == "20150830T123600Z" and h1["x-amz-security-token"] == "tok"
    expected = sign_v4("POST", cdn.url + p1, {"host": h1["host"], "content-type": h1["content-type"]}, b1,
                       access_key="AKIDEXAMPLE", secret_key=SECRET, region="us-east-1", service="cloudfront",
                       amz_date=h1["x-amz-date"], session_token="tok")
    assert h1["authorization"] == expected["Authorization"]
    assert "/us-east-1/cloudfront/aws4_request" in h1["authorization"]
    assert "content-type;host;x-amz-date;x-amz-security-token" in h1["authorization"]
    with pytest.raises(NotImplementedError, match="no purge by surrogate key"):
        cf.purge_keys(["k"])
    cf.purge_paths([f"/p{i}" for i in range(3001)])            # split at 3000 paths per invalidation
    assert [ET.fromstring(r[3]).findtext(f"{ns}Paths/{ns}Quantity") for r in cdn.requests[2:]] == ["3000", "1"]


def test_fastly_purge_requests(cdn: Recorder) -> None:
    fastly = FastlyPurger("SU1Z0isxPaozGVKXdv0eY", "token-1", host="www.example.com", soft=True, endpoint=cdn.url)
    fastly.purge_keys([f"k{i}" for i in range(300)])
    fastly.purge_paths(["/blog/post?id=1"])
    fastly.purge_prefixes(["/api/users"])
    keys1, keys2, url, prefix = cdn.requests
    assert keys1[:2] == ("POST", "/service/SU1Z0isxPaozGVKXdv0eY/purge")
    assert keys1[2]["surrogate-key"].split() == [f"k{i}" for i in range(256)]      # 256 keys a request
    assert keys2[2]["surrogate-key"].split() == [f"k{i}" for i in range(256, 300)]
    assert keys1[2]["fastly-key"] == "token-1" and keys1[2]["fastly-soft-purge"] == "1"
    assert url[:2] == ("POST", "/purge/www.example.com/blog/post?id=1")
    assert prefix[2]["surrogate-key"] == "fc-http:prefix:/api/users/ fc-http:path:/api/users"
    with pytest.raises(ValueError, match="whitespace"):
        fastly.purge_keys(["a b"])
    with pytest.raises(TypeError, match="single string"):
        fastly.purge_keys("abc")
    cdn.status = 403
    with pytest.raises(CDNPurgeError, match="HTTP 403") as info:
        fastly.purge_keys(["k"])
    assert info.value.status == 403 and b"denied" in info.value.body


def test_unreachable_cdn_and_bad_configuration() -> None:
    with pytest.raises(CDNPurgeError, match="/service/S1/purge"):
        FastlyPurger("S1", "t", endpoint="http://127.0.0.1:9").purge_keys(["k"])
    with pytest.raises(ValueError, match="API token"):
        FastlyPurger("S1", "", endpoint="http://x")
    with pytest.raises(ValueError, match="distribution_id"):
        CloudFrontPurger("bad/id", access_key_id="a", secret_access_key="b")
    with pytest.raises(ValueError, match="needs host"):
        FastlyPurger("S1", "t").purge_paths(["/a"])


def test_the_middleware_purges_locally_then_at_the_cdn(cdn: Recorder) -> None:
    origin = Origin()
    origin.route("/api/users/1", headers={"cache-control": "max-age=60", "surrogate-key": "user-1"})
    fastly = FastlyPurger("S1", "t", host="example.com", endpoint=cdn.url)
    mw = WSGICacheMiddleware(origin.wsgi, LRUCache(100), cdn=fastly, surrogate_path_keys=True)
    with serve_wsgi(mw) as url, httpx.Client(base_url=url) as client:
        keys = client.get("/api/users/1").headers["surrogate-key"].split()
        assert "user-1" in keys and "fc-http:prefix:/api/" in keys               # what the edge is told
        assert mw.purge_key("user-1") == 1
        client.get("/api/users/1")
        assert mw.purge_prefix("/api/") == 1
        client.get("/api/users/1")
        assert mw.purge("/api/users/1") == 1
    assert [(r[1], r[2].get("surrogate-key")) for r in cdn.requests] == [
        ("/service/S1/purge", "user-1"), ("/service/S1/purge", "fc-http:prefix:/api/"),
        ("/purge/example.com/api/users/1", None)]
    assert origin.calls["/api/users/1"] == 3
    mw.close()

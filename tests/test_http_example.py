"""examples/http_app.py, the README's example, served by uvicorn and driven over HTTP."""
from __future__ import annotations

import importlib.util
import os
import sys

import httpx

from http_harness import serve_asgi

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "http_app.py")


def test_the_example_shop_caches_tags_and_purges() -> None:
    spec = importlib.util.spec_from_file_location("example_http_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["example_http_app"] = module
    spec.loader.exec_module(module)
    with serve_asgi(module.app) as url, httpx.Client(base_url=url) as client:
        first = client.get("/products/1")
        assert first.headers["x-cache"] == "MISS" and first.json()["price"] == 12.0
        assert first.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30, stale-if-error=300"
        assert first.headers["surrogate-key"] == "product-1 products"
        assert client.get("/products/1").headers["x-cache"] == "HIT"
        assert client.get("/products").headers["x-cache"] == "MISS"
        assert client.get("/products").headers["x-cache"] == "HIT"
        assert client.put("/products/1", params={"price": "9.5"}).status_code == 200
        listing = client.get("/products")                            # purged by key with the product
        assert listing.headers["x-cache"] == "MISS" and listing.json()[0]["price"] == 9.5
        assert client.get("/products/2").headers["x-cache"] == "MISS"
        assert client.get("/static/app.js").headers["cache-control"] == "public, max-age=31536000, immutable"
        assert client.get("/static/app.js").headers["x-cache"] == "HIT"
        assert client.get("/me").headers["cache-control"] == "private, no-cache"
        assert client.get("/me").headers["x-cache"] == "MISS"
        assert client.get("/health").headers["cache-control"] == "no-store"
    del sys.modules["example_http_app"]

"""Purging a CDN: a small interface and adapters for CloudFront and Fastly.

A CDN purger has three methods; the middlewares call the one that matches
their own purge, after the local one::

    class CDNPurger(Protocol):
        def purge_paths(self, paths: Sequence[str]) -> None: ...
        def purge_prefixes(self, prefixes: Sequence[str]) -> None: ...
        def purge_keys(self, keys: Sequence[str]) -> None: ...

* :class:`CloudFrontPurger` creates an invalidation
  (``POST /2020-05-31/distribution/{id}/invalidation``, an XML
  ``InvalidationBatch``, signed with AWS Signature Version 4); a prefix is
  the wildcard path ``/prefix*``.  CloudFront has no purge by key:
  ``purge_keys`` raises ``NotImplementedError``.
* :class:`FastlyPurger` purges by surrogate key
  (``POST /service/{id}/purge`` with a ``Surrogate-Key`` header, 256 keys a
  request, ``Fastly-Soft-Purge: 1`` for ``soft=True``) and single URLs
  (``POST /purge/{host}{path}``).  Fastly has no prefix purge; run the
  middleware with ``surrogate_path_keys=True`` so every response carries its
  directory keys, and ``purge_prefixes`` purges those keys.

Both send with ``urllib`` (no dependency) to ``endpoint``, which tests point
at a local server; a non-2xx answer raises :class:`CDNPurgeError`.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Callable, Optional, Protocol, Sequence, runtime_checkable
from xml.sax.saxutils import escape

from .store import prefix_purge_tags

__all__ = ("CDNPurger", "CDNPurgeError", "CloudFrontPurger", "FastlyPurger", "sign_v4")


@runtime_checkable
class CDNPurger(Protocol):
    """What the middlewares call to purge a CDN."""

    def purge_paths(self, paths: Sequence[str]) -> None: ...

    def purge_prefixes(self, prefixes: Sequence[str]) -> None: ...

    def purge_keys(self, keys: Sequence[str]) -> None: ...


class CDNPurgeError(RuntimeError):
    """The CDN refused a purge (or could not be reached)."""

    def __init__(self, message: str, status: Optional[int] = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def _send(method: str, url: str, headers: dict[str, str], body: Optional[bytes], timeout: float) -> bytes:
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:   # noqa: S310 (https or a test URL)
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        raise CDNPurgeError(f"{method} {url}: HTTP {exc.code}: {payload[:300]!r}", exc.code, payload) from None
    except (urllib.error.URLError, OSError) as exc:
        raise CDNPurgeError(f"{method} {url}: {exc}") from None


def _check(items: Sequence[str], what: str) -> list[str]:
    if isinstance(items, (str, bytes)):
        raise TypeError(f"{what} is a sequence of str, not a single string")
    out = list(items)
    for item in out:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{what} must be non-empty str, got {item!r}")
    return out


# -- AWS Signature Version 4 ----------------------------------------------------------

def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(method: str, url: str, headers: dict[str, str], body: bytes, *, access_key: str, secret_key: str,
            region: str, service: str, amz_date: str, session_token: Optional[str] = None) -> dict[str, str]:
    """The headers that sign a request with AWS Signature Version 4.

    ``headers`` must hold ``host`` and may hold more (all are signed);
    ``amz_date`` is ``YYYYMMDDTHHMMSSZ``.  Returns ``x-amz-date``, the session
    token if any, and ``Authorization``."""
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed["x-amz-date"] = amz_date
    if session_token:
        signed["x-amz-security-token"] = session_token
    names = sorted(signed)
    canonical_uri = urllib.parse.quote(parts.path or "/", safe="/-_.~")
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    canonical_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                               for k, v in query)
    canonical = "\n".join([method, canonical_uri, canonical_query,
                           "".join(f"{n}:{signed[n]}\n" for n in names), ";".join(names),
                           hashlib.sha256(body).hexdigest()])
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), amz_date[:8]), region), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {"x-amz-date": amz_date,
           "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(names)}, Signature={signature}"}
    if session_token:
        out["x-amz-security-token"] = session_token
    return out


class CloudFrontPurger:
    """Invalidations on one CloudFront distribution.

    Credentials default to ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``
    and ``AWS_SESSION_TOKEN``; ``clock`` (seconds since the epoch) and
    ``caller_reference`` are injectable for tests.  CloudFront accepts up to
    3000 paths per invalidation; longer lists are split."""

    API = "2020-05-31"
    BATCH = 3000

    def __init__(self, distribution_id: str, *, access_key_id: Optional[str] = None,
                 secret_access_key: Optional[str] = None, session_token: Optional[str] = None,
                 endpoint: str = "https://cloudfront.amazonaws.com", timeout: float = 10.0,
                 clock: Optional[Callable[[], float]] = None,
                 caller_reference: Optional[Callable[[], str]] = None) -> None:
        if not isinstance(distribution_id, str) or not distribution_id.isalnum():
            raise ValueError(f"distribution_id is an alphanumeric CloudFront id, got {distribution_id!r}")
        self.distribution_id = distribution_id
        self.access_key_id = access_key_id or os.environ.get("AWS_ACCESS_KEY_ID")
        self.secret_access_key = secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        self.session_token = session_token or os.environ.get("AWS_SESSION_TOKEN")
        if not self.access_key_id or not self.secret_access_key:
            raise ValueError("CloudFront needs AWS credentials: access_key_id and secret_access_key "
                             "(or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self._clock = clock or time.time
        self._reference = caller_reference or (lambda: f"fastcache-{uuid.uuid4().hex}")
        self.sent = 0                 # invalidations created

    def purge_paths(self, paths: Sequence[str]) -> None:
        """Invalidate these paths (each starting with '/'; ``*`` at the end is a wildcard)."""
        items = _check(paths, "paths")
        for p in items:
            if not p.startswith("/"):
                raise ValueError(f"a CloudFront path starts with '/', got {p!r}")
        for i in range(0, len(items), self.BATCH):
            self._invalidate(items[i:i + self.BATCH])

    def purge_prefixes(self, prefixes: Sequence[str]) -> None:
        """Invalidate everything under each prefix (the wildcard path ``prefix*``)."""
        self.purge_paths([p if p.endswith("*") else p + "*" for p in _check(prefixes, "prefixes")])

    def purge_keys(self, keys: Sequence[str]) -> None:
        """CloudFront cannot purge by key."""
        raise NotImplementedError("CloudFront has no purge by surrogate key; purge paths or prefixes instead")

    def _invalidate(self, paths: list[str]) -> None:
        quoted = [urllib.parse.quote(p, safe="/*-_.~") for p in paths]
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                f"<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/{self.API}/\">"
                f"<Paths><Quantity>{len(quoted)}</Quantity><Items>"
                + "".join(f"<Path>{escape(p)}</Path>" for p in quoted)
                + f"</Items></Paths><CallerReference>{escape(self._reference())}</CallerReference>"
                "</InvalidationBatch>").encode()
        url = f"{self.endpoint}/{self.API}/distribution/{self.distribution_id}/invalidation"
        host = urllib.parse.urlsplit(url).netloc
        headers = {"host": host, "content-type": "application/xml"}
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        assert self.access_key_id is not None and self.secret_access_key is not None
        headers.update(sign_v4("POST", url, headers, body, access_key=self.access_key_id,
                               secret_key=self.secret_access_key, region="us-east-1", service="cloudfront",
                               amz_date=amz_date, session_token=self.session_token))
        _send("POST", url, headers, body, self.timeout)
        self.sent += 1


class FastlyPurger:
    """Purges on one Fastly service, by surrogate key and by URL.

    ``host`` is the public host whose URLs ``purge_paths`` purges; ``soft``
    marks content stale instead of removing it (Fastly's soft purge)."""

    BATCH = 256

    def __init__(self, service_id: str, token: Optional[str] = None, *, host: Optional[str] = None,
                 soft: bool = False, endpoint: str = "https://api.fastly.com", timeout: float = 10.0) -> None:
        if not isinstance(service_id, str) or not service_id.isalnum():
            raise ValueError(f"service_id is an alphanumeric Fastly service id, got {service_id!r}")
        self.service_id = service_id
        self.token = token or os.environ.get("FASTLY_API_TOKEN")
        if not self.token:
            raise ValueError("Fastly needs an API token: token= or FASTLY_API_TOKEN")
        self.host = host
        self.soft = soft
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.sent = 0

    def _headers(self) -> dict[str, str]:
        assert self.token is not None
        headers = {"Fastly-Key": self.token, "Accept": "application/json"}
        if self.soft:
            headers["Fastly-Soft-Purge"] = "1"
        return headers

    def purge_keys(self, keys: Sequence[str]) -> None:
        """Purge every object tagged with any of keys (256 keys a request)."""
        items = _check(keys, "keys")
        for k in items:
            if any(c.isspace() for c in k):
                raise ValueError(f"a surrogate key has no whitespace, got {k!r}")
        for i in range(0, len(items), self.BATCH):
            headers = self._headers()
            headers["Surrogate-Key"] = " ".join(items[i:i + self.BATCH])
            _send("POST", f"{self.endpoint}/service/{self.service_id}/purge", headers, b"", self.timeout)
            self.sent += 1

    def purge_paths(self, paths: Sequence[str]) -> None:
        """Purge single URLs on ``host``, one request each."""
        items = _check(paths, "paths")
        if not self.host:
            raise ValueError("purging Fastly URLs needs host= (the public host name)")
        for p in items:
            if not p.startswith("/"):
                raise ValueError(f"a path starts with '/', got {p!r}")
            url = f"{self.endpoint}/purge/{self.host}{urllib.parse.quote(p, safe='/-_.~?=&')}"
            _send("POST", url, self._headers(), b"", self.timeout)
            self.sent += 1

    def purge_prefixes(self, prefixes: Sequence[str]) -> None:
        """Purge the directory keys that ``surrogate_path_keys=True`` puts on every response."""
        keys: list[str] = []
        for p in _check(prefixes, "prefixes"):
            keys.extend(prefix_purge_tags(p))
        self.purge_keys(list(dict.fromkeys(keys)))


"""HTTP and CDN caching: Cache-Control policies, response-caching middleware, surrogate keys, purge.

* :class:`CacheControl` parses and builds ``Cache-Control`` headers; the
  presets :data:`STATIC_ASSETS`, :data:`SHARED_DYNAMIC`, :data:`PRIVATE`
  name the classic policies, and :class:`RouteRules` maps path prefixes to
  policies like a web server's location blocks.
* :class:`CacheMiddleware` (ASGI) and :class:`WSGICacheMiddleware` (WSGI)
  store GET responses in any fastcache cache and serve them as a shared
  cache must (RFC 9111): ``max-age``/``s-maxage``, ``no-store``/``private``
  never stored, ``Vary`` (``Vary: *`` never stored), ``Authorization`` (stored
  only when ``public``, ``s-maxage`` or ``must-revalidate`` allow it),
  ``Set-Cookie`` never stored, 304s for ``If-None-Match``/``If-Modified-Since``,
  revalidation of ``no-cache`` and stale entries with the stored validators,
  ``stale-while-revalidate`` (one background refresh), ``stale-if-error``,
  single-flight for concurrent misses, request directives (``no-cache``,
  ``max-age``, ``min-fresh``, ``max-stale``, ``only-if-cached``), and ``Age``
  and ``X-Cache: HIT|MISS|STALE`` on every response.
* Surrogate keys: the app's ``Surrogate-Key`` header tags the stored
  response (and goes on to the CDN); ``purge(path)``, ``purge_prefix(prefix)``
  and ``purge_key(key)`` drop matching responses in every process and, with
  ``cdn=``, at the CDN (:mod:`fastcache.http.cdn`).
"""
from .asgi import CacheMiddleware
from .cache_control import NO_STORE, PRESETS, PRIVATE, SHARED_DYNAMIC, STATIC_ASSETS, CacheControl
from .cdn import CDNPurgeError, CDNPurger, CloudFrontPurger, FastlyPurger
from .core import HTTPCacheStats
from .rules import RouteRules
from .wsgi import WSGICacheMiddleware

__all__ = ("CacheControl", "STATIC_ASSETS", "SHARED_DYNAMIC", "PRIVATE", "NO_STORE", "PRESETS", "RouteRules",
           "CacheMiddleware", "WSGICacheMiddleware", "HTTPCacheStats", "CDNPurger", "CDNPurgeError",
           "CloudFrontPurger", "FastlyPurger")

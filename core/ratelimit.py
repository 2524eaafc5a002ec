"""Rate limits: fixed-window counters in Redis, applied from outside the views by one middleware.

Each limit is named in ``settings.CPX_RATE_LIMITS``::

    "signin-address": {
        "rate": "30/10m",            # at most 30 counted requests per 10-minute window
        "key": "address",            # per client address; "account" (signed-in user, else address);
                                     # "username" (the POSTed username field, lower-cased)
        "views": ["login"],          # URL names (resolver_match.view_name) it watches, and/or
        "prefixes": ["/pki/ocsp"],   # path prefixes
        "methods": ["POST"],         # optional: only these methods
        "count": "requests",         # "requests": every request counts; "failures": answers that are not
                                     # a redirect (a sign-in form shown again, a lockout); or a list of
                                     # statuses, e.g. [401]
    }

A request over a limit is refused before its view runs: 429 with ``Retry-After`` (the seconds left in the
window), in the shape its caller reads: the API's error body under /api/ (code ``throttled``), an OAuth
error under /o/, JSON to a script that sent JSON, the portal's page to a person. Counters live in the Redis
of ``CPX_RATE_LIMIT_REDIS_URL`` (the broker's by default) under ``CPX_RATE_LIMIT_PREFIX``; without Redis
(the filesystem broker of a bare ``make run``) they live in the process.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

RATE = re.compile(r"^(\d+)/(\d*)([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Limit:
    name: str
    count: int
    window: int  # seconds
    key: str
    views: frozenset[str]
    prefixes: tuple[str, ...]
    methods: frozenset[str]
    counts: str | frozenset[int]

    @classmethod
    def from_setting(cls, name: str, spec: dict[str, Any]) -> Limit:
        match = RATE.match(spec["rate"])
        if match is None:
            raise ValueError(f"CPX_RATE_LIMITS[{name!r}]: rate {spec['rate']!r} is not like 30/10m")
        counts = spec.get("count", "requests")
        return cls(
            name=name,
            count=int(match[1]),
            window=int(match[2] or 1) * UNITS[match[3]],
            key=spec.get("key", "address"),
            views=frozenset(spec.get("views", ())),
            prefixes=tuple(spec.get("prefixes", ())),
            methods=frozenset(m.upper() for m in spec.get("methods", ())),
            counts=counts if isinstance(counts, str) else frozenset(counts),
        )

    def applies(self, request: HttpRequest, view_name: str | None) -> bool:
        if self.methods and request.method not in self.methods:
            return False
        return view_name in self.views or request.path_info.startswith(self.prefixes or ("\0",))

    def counts_before(self) -> bool:
        """Every request counts, before its view runs (so parallel requests cannot slip through)."""
        return self.counts == "requests"

    def counts_answer(self, response: HttpResponse) -> bool:
        if self.counts == "failures":
            return not 300 <= response.status_code < 400
        return isinstance(self.counts, frozenset) and response.status_code in self.counts


_parsed: dict[str, list[Limit]] = {}


def limits() -> list[Limit]:
    """The limits of ``CPX_RATE_LIMITS``, parsed once (and again when a test overrides the setting)."""
    if "limits" not in _parsed:
        _parsed["limits"] = [Limit.from_setting(n, s) for n, s in settings.CPX_RATE_LIMITS.items()]
    return _parsed["limits"]


@receiver(setting_changed)
def _forget_parsed(setting: str, **kwargs: Any) -> None:
    if setting.startswith("CPX_RATE_LIMIT"):
        _parsed.clear()
        _counters.cache_clear()


# --- counters ---


class RedisCounters:
    """Redis down: nothing is refused (a limit must not take the platform down with it), and it is logged."""

    def __init__(self, url: str) -> None:
        import redis

        self.errors = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def hit(self, key: str, window: int) -> int:
        try:
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, window + 1, nx=True)
            return int(pipe.execute()[0])
        except self.errors:
            logger.warning("rate limits: Redis unavailable, %s not counted", key, exc_info=True)
            return 0

    def get(self, key: str) -> int:
        try:
            return int(self.client.get(key) or 0)
        except self.errors:
            logger.warning("rate limits: Redis unavailable, %s not read", key, exc_info=True)
            return 0

    def clear(self, prefix: str) -> None:
        try:
            keys = list(self.client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                self.client.delete(*keys)
        except self.errors:
            logger.warning("rate limits: Redis unavailable, %s* not cleared", prefix, exc_info=True)


class MemoryCounters:
    """One process's counters, for a platform run without Redis (each worker then counts on its own)."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[int, float]] = {}
        self.lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        with self.lock:
            value, expires = self.values.get(key, (0, 0.0))
            if expires < time.time():
                value, expires = 0, time.time() + window + 1
            self.values[key] = (value + 1, expires)
            return value + 1

    def get(self, key: str) -> int:
        value, expires = self.values.get(key, (0, 0.0))
        return value if expires >= time.time() else 0

    def clear(self, prefix: str) -> None:
        with self.lock:
            for key in [k for k in self.values if k.startswith(prefix)]:
                del self.values[key]


@cache
def _counters(url: str) -> RedisCounters | MemoryCounters:
    return RedisCounters(url) if url.startswith(("redis://", "rediss://", "unix://")) else MemoryCounters()


def counters() -> RedisCounters | MemoryCounters:
    return _counters(settings.CPX_RATE_LIMIT_REDIS_URL)


def reset() -> None:
    """Forget every counter under the current prefix (tests; an operator after an incident)."""
    counters().clear(settings.CPX_RATE_LIMIT_PREFIX)


# --- who is counted ---


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or behind ``CPX_RATE_LIMIT_TRUSTED_PROXIES`` proxies the entry of
    X-Forwarded-For they appended (the ones before it are the client's to write, so never trusted)."""
    hops = settings.CPX_RATE_LIMIT_TRUSTED_PROXIES
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def subject(limit: Limit, request: HttpRequest) -> str:
    if limit.key == "username":
        username = request.POST.get("username", "") if request.method == "POST" else ""
        return "u:" + username.strip().lower()[:150] if username.strip() else "a:" + client_address(request)
    if limit.key == "account" and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return "a:" + client_address(request)


def window_key(limit: Limit, request: HttpRequest, now: float) -> tuple[str, int]:
    """The counter's key in the current window, and the seconds left in that window."""
    index = int(now // limit.window)
    retry_after = max(1, int((index + 1) * limit.window - now + 0.999))
    return f"{settings.CPX_RATE_LIMIT_PREFIX}{limit.name}:{subject(limit, request)}:{index}", retry_after


# --- the answer ---


def throttled(request: HttpRequest, retry_after: int) -> HttpResponse:
    message = _("Too many requests: try again in %(seconds)s seconds.") % {"seconds": retry_after}
    path = request.path_info
    if path.startswith("/api/") or wants_json(request):
        response: HttpResponse = JsonResponse({"code": "throttled", "message": message}, status=429)
    elif path.startswith("/o/"):
        response = JsonResponse({"error": "slow_down", "error_description": message}, status=429)
    elif path.startswith(("/pki/", "/.well-known/")):
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    else:
        body = loader.render_to_string("429.html", {"status": 429, "retry_after": retry_after}, request)
        response = HttpResponse(body, status=429)
        response.cpx_error_page = True  # type: ignore[attr-defined]
    response["Retry-After"] = str(retry_after)
    return response


def axes_lockout(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: axes' lockout of a username on one address, as a limit answers (429 with
    Retry-After: the cool-off)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    body = loader.render_to_string(settings.AXES_LOCKOUT_TEMPLATE, {"retry_after": seconds}, request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(seconds)
    return response


def wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "accept", ""
    )


# --- the middleware ---


class RateLimitMiddleware:
    """Put it after the authentication middleware (the "account" key needs ``request.user``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        watched: Iterable[Limit] = getattr(request, "_cpx_rate_limits", ())
        for limit in watched:
            if not limit.counts_before() and limit.counts_answer(response):
                key, _retry = window_key(limit, request, time.time())
                counters().hit(key, limit.window)
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> HttpResponse | None:
        if not settings.CPX_RATE_LIMITS_ENABLED:
            return None
        match = getattr(request, "resolver_match", None)
        view_name = match.view_name if match is not None else None
        watched = [limit for limit in limits() if limit.applies(request, view_name)]
        request._cpx_rate_limits = watched  # type: ignore[attr-defined]
        now = time.time()
        for limit in watched:
            key, retry_after = window_key(limit, request, now)
            # Counted now, or (answers counted after the view) would this one be one too many?
            used = counters().hit(key, limit.window) if limit.counts_before() else counters().get(key) + 1
            if used > limit.count:
                request._cpx_rate_limits = []  # type: ignore[attr-defined]  # a refusal is not counted again
                return throttled(request, retry_after)
        return None

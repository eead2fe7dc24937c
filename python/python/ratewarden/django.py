"""Rate limiting for Django, with a blocking :class:`ratewarden.Limiter`.

``settings.py``::

    MIDDLEWARE = [..., "ratewarden.django.RateLimitMiddleware"]
    RATEWARDEN = {
        "URL": "redis://127.0.0.1:6379",      # default "memory://"
        "OPTIONS": {"timeout": 0.25, "failure_mode": "allow"},   # Limiter options
        "DEFAULT": "200/minute",              # every view without @ratelimit (optional)
        "KEY": "myapp.limits.client_key",     # a function of the request (optional)
        "TRUSTED_PROXIES": ["10.0.0.0/8"],    # who may set X-Forwarded-For
        "PROXY_HEADER": "x-forwarded-for",    # or "forwarded"
        "IPV6_SUBNET": 64,
        "HEADERS": "draft-11",                # or ["draft-11", "draft-06"], or False
    }

A view::

    from ratewarden.django import ratelimit

    @ratelimit("5/minute")
    def login(request): ...

``DEFAULT`` counts every request of undecorated views in one budget per
client (scope ``"*"``); ``@ratelimit`` counts per view (scope: the view's
dotted name) and replaces the default. Limited responses carry
``RateLimit-Policy`` and ``RateLimit``; a refusal is ``429`` with
``Retry-After`` and ``{"error":"rate_limited","retry_after":N}``.
The configuration is read and checked when Django builds the middleware
(at startup); ``@ratelimit`` checks its quota at import.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar, Union

from ._native import Limiter, Verdict
from ._web import CostLike, KeyFunc, QuotaLike, Settings, SkipFunc, merged

__all__ = ["RateLimitMiddleware", "ratelimit", "limiter"]

F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_limiter: Optional[Limiter] = None
_common: Optional[Dict[str, Any]] = None
_KNOWN = {"URL", "OPTIONS", "DEFAULT", "KEY", "TRUSTED_PROXIES", "PROXY_HEADER", "IPV6_SUBNET", "HEADERS", "SKIP"}


def _config() -> Dict[str, Any]:
    from django.conf import settings

    conf = getattr(settings, "RATEWARDEN", {})
    if not isinstance(conf, dict):
        raise TypeError("settings.RATEWARDEN must be a dict")
    unknown = set(conf) - _KNOWN
    if unknown:
        raise TypeError(f"unknown RATEWARDEN settings {sorted(unknown)}; known: {sorted(_KNOWN)}")
    return conf


def _function(value: Any) -> Any:
    if isinstance(value, str):
        from django.utils.module_loading import import_string

        return import_string(value)
    return value


def _shared() -> Dict[str, Any]:
    """The per-process limiter and common options, built once."""
    global _limiter, _common
    with _lock:
        if _limiter is None or _common is None:
            conf = _config()
            options = conf.get("OPTIONS", {})
            if not isinstance(options, dict):
                raise TypeError("RATEWARDEN['OPTIONS'] must be a dict of Limiter options")
            _common = dict(
                key=_function(conf.get("KEY")),
                skip=_function(conf.get("SKIP")),
                headers=conf.get("HEADERS"),
                trusted_proxies=conf.get("TRUSTED_PROXIES"),
                proxy_header=conf.get("PROXY_HEADER", "x-forwarded-for"),
                ipv6_subnet=conf.get("IPV6_SUBNET"),
            )
            _limiter = Limiter(conf.get("URL", "memory://"), **options)
        return {"limiter": _limiter, **_common}


def limiter() -> Limiter:
    """The process's limiter built from ``settings.RATEWARDEN``."""
    lim: Limiter = _shared()["limiter"]
    return lim


def _forwarded(request: Any) -> Callable[[str], Optional[str]]:
    return lambda name: request.META.get("HTTP_" + name.upper().replace("-", "_"))


def _response(verdict: Verdict) -> Any:
    from django.http import HttpResponse

    response = HttpResponse(verdict.body, status=verdict.status, content_type="application/json")
    for name, value in verdict.headers:
        response[name] = value
    return response


def _decide(settings: Settings, request: Any, scope: str) -> Optional[Any]:
    """None to go on (headers kept for the response), or the refusal."""
    if settings.skip is not None and settings.skip(request):
        return None
    key = settings.key_of(request, request.META.get("REMOTE_ADDR"), _forwarded(request))
    verdict = limiter().check_http(key, scope, settings.rule, settings.cost_of(request))
    if not verdict.allowed:
        if settings.on_limited is not None:
            return settings.on_limited(request, verdict)
        return _response(verdict)
    headers: List[Any] = getattr(request, "_ratewarden_headers", [])
    headers.extend(verdict.headers)
    request._ratewarden_headers = headers
    return None


def _apply_headers(request: Any, response: Any) -> Any:
    for name, value in merged(getattr(request, "_ratewarden_headers", ())):
        response[name] = value
    return response


class RateLimitMiddleware:
    """Applies ``RATEWARDEN["DEFAULT"]`` to views without ``@ratelimit`` and
    adds the rate-limit headers of every decision to the response."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        shared = _shared()
        default = _config().get("DEFAULT")
        common = {k: v for k, v in shared.items() if k != "limiter"}
        self.default: Optional[Settings] = None if default is None else Settings(default, scope="*", **common)

    def __call__(self, request: Any) -> Any:
        return _apply_headers(request, self.get_response(request))

    def process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> Optional[Any]:
        if self.default is None or getattr(view, "ratewarden_limited", False):
            return None
        return _decide(self.default, request, "*")


def ratelimit(
    quota: QuotaLike,
    *,
    key: Optional[KeyFunc] = None,
    skip: Optional[SkipFunc] = None,
    cost: CostLike = None,
    scope: Optional[str] = None,
    on_limited: Optional[Callable[[Any, Verdict], Any]] = None,
) -> Callable[[F], F]:
    """Limit one view (function or ``as_view()``): ``@ratelimit("5/minute")``.
    The key, skip, cost and header defaults come from ``RATEWARDEN``;
    ``on_limited(request, verdict)`` may answer refusals instead."""
    from ._web import make_rule

    make_rule(quota)  # a bad quota fails at import, not on the first request
    built: List[Settings] = []

    def settings() -> Settings:
        if not built:
            common = {k: v for k, v in _shared().items() if k != "limiter"}
            for name, value in (("key", key), ("skip", skip)):
                if value is not None:
                    common[name] = value
            built.append(Settings(quota, cost=cost, scope=scope, on_limited=on_limited, **common))
        return built[0]

    def decorate(view: F) -> F:
        where = scope or f"{view.__module__}.{getattr(view, '__qualname__', view.__name__)}"

        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            refused = _decide(settings(), request, where)
            if refused is not None:
                return refused
            return _apply_headers(request, view(request, *args, **kwargs))

        wrapper.ratewarden_limited = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate

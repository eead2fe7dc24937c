"""Rate limiting for Flask, with a blocking :class:`ratewarden.Limiter`::

    from flask import Flask
    from ratewarden import Limiter
    from ratewarden.flask import RateLimiter

    app = Flask(__name__)
    rl = RateLimiter(app, limiter=Limiter("redis://127.0.0.1:6379"), default="200/minute")

    @app.post("/login")
    @rl.limit("5/minute")          # replaces the default on this route
    def login(): ...

    @app.get("/health")
    @rl.exempt
    def health(): ...

``default`` counts every request of routes without ``@rl.limit`` in one
budget per client (scope ``"*"``); ``@rl.limit`` counts per route (scope:
the URL rule, e.g. ``/items/<int:id>``). Several quotas in one notation
(``"10/second;1000/hour"``) are all-or-nothing. Limited responses carry
``RateLimit-Policy`` and ``RateLimit``; a refusal is ``429`` with
``Retry-After`` and ``{"error":"rate_limited","retry_after":N}``, or what
``on_limited(request, verdict)`` returns.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, TypeVar, Union

from ._native import Limiter, Verdict
from ._web import CostLike, HeadersLike, KeyFunc, QuotaLike, Settings, SkipFunc, merged

__all__ = ["RateLimiter"]

F = TypeVar("F", bound=Callable[..., Any])

_RULES = "__ratewarden_limits__"
_EXEMPT = "__ratewarden_exempt__"


class RateLimiter:
    """Flask extension: ``RateLimiter(app, limiter=..., default=...)`` or
    ``RateLimiter(limiter=...)`` then ``init_app(app)``.

    ``key`` (a function of ``flask.request``; default the client IP, behind
    ``trusted_proxies`` the forwarded client), ``skip``, ``cost``,
    ``headers`` and the proxy options apply to the default and are the
    defaults of :meth:`limit`.
    """

    def __init__(
        self,
        app: Any = None,
        *,
        limiter: Limiter,
        default: Optional[QuotaLike] = None,
        key: Optional[KeyFunc] = None,
        skip: Optional[SkipFunc] = None,
        cost: CostLike = None,
        headers: HeadersLike = None,
        trusted_proxies: Union[None, str, Sequence[str]] = None,
        proxy_header: str = "x-forwarded-for",
        ipv6_subnet: Optional[int] = None,
        on_limited: Optional[Callable[[Any, Verdict], Any]] = None,
    ) -> None:
        if not isinstance(limiter, Limiter):
            raise TypeError(f"limiter must be a ratewarden.Limiter, not {type(limiter).__name__}")
        self.limiter = limiter
        self._common = dict(
            key=key,
            skip=skip,
            cost=cost,
            headers=headers,
            trusted_proxies=trusted_proxies,
            proxy_header=proxy_header,
            ipv6_subnet=ipv6_subnet,
            on_limited=on_limited,
        )
        self.default = None if default is None else Settings(default, scope="*", **self._common)  # type: ignore[arg-type]
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        app.before_request(self._before)
        app.after_request(self._after)
        app.extensions["ratewarden"] = self

    def limit(
        self,
        quota: QuotaLike,
        *,
        key: Optional[KeyFunc] = None,
        skip: Optional[SkipFunc] = None,
        cost: CostLike = None,
        scope: Optional[str] = None,
    ) -> Callable[[F], F]:
        """Limit one view (below ``@app.route``); stacked decorators are
        checked in order, the first refusal answers."""
        opts = dict(self._common)
        for name, value in (("key", key), ("skip", skip), ("cost", cost)):
            if value is not None:
                opts[name] = value
        settings = Settings(quota, scope=scope, **opts)  # type: ignore[arg-type]

        def decorate(view: F) -> F:
            rules: List[Settings] = getattr(view, _RULES, [])
            setattr(view, _RULES, [settings] + rules)
            return view

        return decorate

    def exempt(self, view: F) -> F:
        """No limit on this view (not even the default)."""
        setattr(view, _EXEMPT, True)
        return view

    def _before(self) -> Any:
        from flask import current_app, g, request

        view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
        if view is not None and getattr(view, _EXEMPT, False):
            return None
        rules: List[Settings] = getattr(view, _RULES, None) or ([self.default] if self.default else [])
        headers: List[Any] = []
        for s in rules:
            if s.skip is not None and s.skip(request):
                continue
            key = s.key_of(request, request.remote_addr, lambda n: ", ".join(request.headers.getlist(n)) or None)
            where = s.scope or (request.url_rule.rule if request.url_rule is not None else request.path)
            verdict = self.limiter.check_http(key, where, s.rule, s.cost_of(request))
            if not verdict.allowed:
                g._ratewarden_headers = headers + verdict.headers
                if s.on_limited is not None:
                    return s.on_limited(request, verdict)
                return current_app.response_class(verdict.body, status=verdict.status, mimetype="application/json")
            headers.extend(verdict.headers)
        g._ratewarden_headers = headers
        return None

    def _after(self, response: Any) -> Any:
        from flask import g

        for name, value in merged(getattr(g, "_ratewarden_headers", ())):
            response.headers[name] = value
        return response

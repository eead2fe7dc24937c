"""Rate limiting for any ASGI application (Starlette, FastAPI, Quart, …)
under any ASGI server, with an :class:`ratewarden.AsyncLimiter`.

App-wide, as pure ASGI middleware (one budget per client across the app,
scope ``"*"``)::

    from ratewarden import AsyncLimiter
    from ratewarden.asgi import RateLimitMiddleware

    app = RateLimitMiddleware(app, limiter=AsyncLimiter("redis://127.0.0.1:6379"), quota="100/minute")
    # or, with Starlette / FastAPI:  app.add_middleware(RateLimitMiddleware, limiter=..., quota=...)

Per route, as a FastAPI dependency (the route's path template is the scope)::

    from fastapi import Depends
    from ratewarden.asgi import limit

    @app.post("/login", dependencies=[Depends(limit("5/minute", limiter=limiter))])
    async def login(): ...

Every limited response carries ``RateLimit-Policy`` and ``RateLimit``
(draft-ietf-httpapi-ratelimit-headers-11); a refusal is ``429`` with
``Retry-After`` and ``{"error":"rate_limited","retry_after":N}``. The key
function, ``skip`` and ``cost`` receive a :class:`Request` (the middleware)
or Starlette's ``Request`` (the dependency).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional, Sequence, Tuple, Union

from ._native import AsyncLimiter, Verdict
from ._web import CostLike, HeadersLike, KeyFunc, QuotaLike, Settings, SkipFunc

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["RateLimitMiddleware", "Request", "limit"]


class Request:
    """What the middleware's ``key``, ``skip`` and ``cost`` functions see of a
    request: ``method``, ``path``, ``headers`` (lowercase names; repeated
    headers joined with ``", "``), ``client`` (the peer's host, or None)
    and the raw ASGI ``scope``."""

    __slots__ = ("scope", "method", "path", "headers", "client")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.method: str = scope.get("method", "GET")
        self.path: str = scope.get("path", "/")
        headers: Dict[str, str] = {}
        for name, value in scope.get("headers") or ():
            n = name.decode("latin-1").lower()
            v = value.decode("latin-1")
            headers[n] = f"{headers[n]}, {v}" if n in headers else v
        self.headers = headers
        client = scope.get("client")
        self.client: Optional[str] = client[0] if client else None


def _check_limiter(limiter: Any) -> AsyncLimiter:
    if not isinstance(limiter, AsyncLimiter):
        raise TypeError(f"limiter must be a ratewarden.AsyncLimiter, not {type(limiter).__name__}")
    return limiter


def _raw(headers: List[Tuple[str, str]]) -> List[Tuple[bytes, bytes]]:
    return [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]


class RateLimitMiddleware:
    """Pure ASGI middleware: every HTTP request of the app counts against
    ``quota`` (notation such as ``"100/minute"`` or ``"10/second;1000/hour"``,
    all-or-nothing) in ``scope`` (default ``"*"``: one budget per client for
    the whole app; a callable of the :class:`Request` names the scope per
    request).

    ``key``: a function of the request returning the client key (default:
    the client IP, IPv6 by ``ipv6_subnet`` bits, forwarding headers believed
    only from ``trusted_proxies``). ``skip``: requests for which it returns
    true pass uncounted. ``cost``: an int or a function of the request.
    ``headers``: ``"draft-11"`` (default), a list adding ``"draft-06"`` /
    ``"x-ratelimit"``, or ``False``. ``on_limited(request, verdict)``: an
    ASGI app to answer refusals with, instead of the JSON 429.

    When Redis is away the limiter's failure mode decides: ``error`` raises
    (the server answers 500), ``allow`` lets requests through, ``deny``
    answers 503, ``local`` decides in-process; no ``RateLimit`` counts are
    sent for a decision Redis did not make.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: AsyncLimiter,
        quota: QuotaLike,
        key: Optional[KeyFunc] = None,
        skip: Optional[SkipFunc] = None,
        cost: CostLike = None,
        headers: HeadersLike = None,
        scope: Union[None, str, Callable[[Request], str]] = None,
        trusted_proxies: Union[None, str, Sequence[str]] = None,
        proxy_header: str = "x-forwarded-for",
        ipv6_subnet: Optional[int] = None,
        on_limited: Optional[Callable[[Request, Verdict], ASGIApp]] = None,
    ) -> None:
        self.app = app
        self.limiter = _check_limiter(limiter)
        self.scope_of: Optional[Callable[[Request], str]] = None
        fixed_scope: Optional[str] = None
        if callable(scope):
            self.scope_of = scope
        else:
            fixed_scope = scope
        self.settings = Settings(
            quota,
            key=key,
            skip=skip,
            cost=cost,
            headers=headers,
            scope=fixed_scope,
            trusted_proxies=trusted_proxies,
            proxy_header=proxy_header,
            ipv6_subnet=ipv6_subnet,
            on_limited=on_limited,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        s = self.settings
        request = Request(scope)
        if s.skip is not None and s.skip(request):
            await self.app(scope, receive, send)
            return
        key = s.key_of(request, request.client, request.headers.get)
        where = self.scope_of(request) if self.scope_of is not None else (s.scope or "*")
        verdict = await self.limiter.check_http(key, where, s.rule, s.cost_of(request))
        if not verdict.allowed:
            if s.on_limited is not None:
                await s.on_limited(request, verdict)(scope, receive, send)
                return
            await _refuse(verdict, send)
            return
        extra = _raw(verdict.headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = list(message.get("headers") or ()) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(verdict: Verdict, send: Send) -> None:
    body = (verdict.body or "").encode()
    headers = _raw(verdict.headers) + [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": verdict.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def limit(
    quota: QuotaLike,
    *,
    limiter: AsyncLimiter,
    key: Optional[KeyFunc] = None,
    skip: Optional[SkipFunc] = None,
    cost: CostLike = None,
    headers: HeadersLike = None,
    scope: Optional[str] = None,
    trusted_proxies: Union[None, str, Sequence[str]] = None,
    proxy_header: str = "x-forwarded-for",
    ipv6_subnet: Optional[int] = None,
) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency limiting one route: ``Depends(limit("5/minute",
    limiter=limiter))``. The scope is the route's path template (or
    ``scope``); the functions receive Starlette's ``Request``. The headers
    are set on the route's response; a refusal raises FastAPI's
    ``HTTPException`` with the verdict's status and headers (body
    ``{"detail": {"error": "rate_limited", "retry_after": N}}``)."""
    from fastapi import HTTPException, Request as StarletteRequest, Response

    _check_limiter(limiter)
    s = Settings(
        quota,
        key=key,
        skip=skip,
        cost=cost,
        headers=headers,
        scope=scope,
        trusted_proxies=trusted_proxies,
        proxy_header=proxy_header,
        ipv6_subnet=ipv6_subnet,
    )

    async def rate_limit(request: StarletteRequest, response: Response) -> None:
        if s.skip is not None and s.skip(request):
            return
        peer = request.client.host if request.client else None
        key_ = s.key_of(request, peer, lambda name: ", ".join(request.headers.getlist(name)) or None)
        route = request.scope.get("route")
        where = s.scope or getattr(route, "path", None) or request.url.path
        verdict = await limiter.check_http(key_, where, s.rule, s.cost_of(request))
        if not verdict.allowed:
            import json

            raise HTTPException(
                status_code=verdict.status,
                detail=json.loads(verdict.body or "{}"),
                headers=dict(verdict.headers),
            )
        for name, value in verdict.headers:
            response.headers[name] = value

    # FastAPI injects by type: real classes, not this module's postponed strings.
    rate_limit.__annotations__ = {"request": StarletteRequest, "response": Response, "return": None}
    return rate_limit

"""ratewarden: exact distributed rate limiting on Redis.

Many processes, in many languages, ask "may this client call this endpoint
now?" and get one consistent answer: the state lives in Redis and each
decision is one atomic script on the server, timed by the server's clock.

>>> import ratewarden
>>> limiter = ratewarden.Limiter("memory://doctest")       # or "redis://127.0.0.1:6379"
>>> limiter.is_allowed("alice", "GET /search", capacity=2, rate_per_second=2)
True
>>> limiter.check("alice", "GET /search", 2, 2).remaining
0

Pick an algorithm per limiter or per call, and check several limits at once
(all or nothing):

>>> gcra = ratewarden.Limiter("memory://doctest", algorithm="gcra")
>>> gcra.check("bob", "/upload", 10, 1, cost=4).remaining
6
>>> both = [ratewarden.Limit("/search", 5, 5), ratewarden.Limit("*", 1, 1, algorithm="token_bucket")]
>>> bool(limiter.check_all("carol", both)), bool(limiter.check_all("carol", both))
(True, False)

Web middleware for ASGI (FastAPI, Starlette), Flask and Django lives in
:mod:`ratewarden.asgi`, :mod:`ratewarden.flask` and :mod:`ratewarden.django`;
what they answer is the core's :class:`Verdict` under a route's :class:`Rule`:

>>> rule = ratewarden.Rule("1/minute")
>>> limiter.check_http("203.0.113.7", "/login", rule).headers
[('RateLimit-Policy', '"1/minute";q=1;w=60'), ('RateLimit', '"1/minute";r=0;t=60')]
>>> limiter.check_http("203.0.113.7", "/login", rule).status
429

Log records of the core go to the ``ratewarden`` logger of :mod:`logging`.
"""

from __future__ import annotations

import os as _os

from ._native import (
    AsyncLimiter,
    ClientIp,
    Decision,
    Limit,
    Limiter,
    MultiDecision,
    Quota,
    Rule,
    Verdict,
    __version__,
)
from ._native import _after_fork_in_child
from .errors import (
    ConfigError,
    ConnectionError,
    InternalError,
    InvalidArgumentError,
    RateLimitError,
    ServerError,
    TimeoutError,
    UsageError,
)

# A Limiter made before fork() (gunicorn --preload, multiprocessing "fork")
# keeps working in the child: the child abandons the parent's runtime and
# connections and makes its own on first use.
if hasattr(_os, "register_at_fork"):
    _os.register_at_fork(after_in_child=_after_fork_in_child)

# ConnectionError and TimeoutError are importable by name but not exported by
# "from ratewarden import *", which would shadow the builtins they extend.
__all__ = [
    "AsyncLimiter",
    "ClientIp",
    "ConfigError",
    "Decision",
    "Limit",
    "InternalError",
    "InvalidArgumentError",
    "Limiter",
    "MultiDecision",
    "Quota",
    "RateLimitError",
    "Rule",
    "ServerError",
    "UsageError",
    "Verdict",
    "__version__",
]

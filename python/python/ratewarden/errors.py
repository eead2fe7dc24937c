"""The exceptions ratewarden raises: one base, one subclass per error kind.

Each mirrors a core ``ErrorKind`` (and a C result code and a Node error code)
one-for-one. Every instance has ``kind`` (the stable snake_case kind name) and
``outcome_unknown`` (True for a timeout, or a connection that broke, after the
script was sent: the decision may have been taken, so do not retry it blindly).

>>> import ratewarden
>>> try:
...     ratewarden.Limiter().is_allowed("", "/x", 1, 1)
... except ratewarden.InvalidArgumentError as e:
...     print(e.kind, isinstance(e, ValueError))
invalid_argument True
"""

from __future__ import annotations

import builtins


class RateLimitError(Exception):
    """Base class of every ratewarden error."""

    kind: str = "internal"
    outcome_unknown: bool = False


class InvalidArgumentError(RateLimitError, ValueError):
    """An argument was out of range (empty or oversized id, zero capacity or
    rate, cost 0 or above capacity, a bad option). Retrying will not help."""


class ConfigError(RateLimitError, ValueError):
    """The URL or options cannot make a limiter (unknown scheme, bad TLS setup)."""


class ConnectionError(RateLimitError, builtins.ConnectionError):
    """Redis could not be reached or the connection broke. Retryable."""


class TimeoutError(RateLimitError, builtins.TimeoutError):
    """No answer within the deadline. See ``outcome_unknown``."""


class ServerError(RateLimitError):
    """Redis replied with an error (authentication, OOM, READONLY, a script error)."""


class UsageError(RateLimitError):
    """The library was used in a way that cannot work."""


class InternalError(RateLimitError):
    """A bug in ratewarden."""


__all__ = [
    "ConfigError",
    "ConnectionError",
    "InternalError",
    "InvalidArgumentError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "UsageError",
]

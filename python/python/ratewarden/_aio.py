"""Delivery of results computed on the core runtime to asyncio futures."""

from __future__ import annotations

import asyncio
from typing import Any, Optional


def resolve(fut: asyncio.Future[Any], value: Any, exc: Optional[BaseException]) -> None:
    """Called on the event loop thread via ``call_soon_threadsafe``."""
    if fut.done():  # cancelled by the caller meanwhile
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)

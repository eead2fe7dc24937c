"""FastAPI under uvicorn: app-wide middleware on /, per-route dependencies."""

import os

from fastapi import Depends, FastAPI, Request

from common import LOGIN, OPTIONS, TRUSTED, URL, skip
from ratewarden import AsyncLimiter
from ratewarden.asgi import RateLimitMiddleware, limit

limiter = AsyncLimiter(URL, **OPTIONS)
app = FastAPI()


def no_limit(request: Request) -> bool:
    return skip(request.headers.get)


opts = dict(limiter=limiter, trusted_proxies=TRUSTED, skip=no_limit)


@app.get("/login", dependencies=[Depends(limit(LOGIN, **opts))])
async def login() -> dict:
    return {"pid": os.getpid()}


@app.get("/other", dependencies=[Depends(limit(LOGIN, **opts))])
async def other() -> dict:
    return {"pid": os.getpid()}


@app.get("/multi", dependencies=[Depends(limit("2/second;3/minute", **opts))])
async def multi() -> dict:
    return {"pid": os.getpid()}


def cost_header(request: Request) -> int:
    return int(request.headers.get("x-cost", "1"))


@app.get("/upload", dependencies=[Depends(limit(LOGIN, cost=cost_header, **opts))])
async def upload() -> dict:
    return {"pid": os.getpid()}


@app.get("/pid")
async def pid() -> dict:
    return {"pid": os.getpid()}


@app.get("/app/{item}")
async def whole_app(item: str) -> dict:
    return {"pid": os.getpid()}


# App-wide: only paths under /app/ count (one budget across them).
app.add_middleware(
    RateLimitMiddleware,
    limiter=limiter,
    quota=os.environ.get("RW_APP_QUOTA", "3/minute"),
    trusted_proxies=TRUSTED,
    skip=lambda r: not r.path.startswith("/app/") or r.headers.get("x-skip") == "1",
)

"""FastAPI with ratewarden: uvicorn app:app  (RATEWARDEN_URL=redis://127.0.0.1:6379 to share state)."""

import os

from fastapi import Depends, FastAPI

from ratewarden import AsyncLimiter
from ratewarden.asgi import RateLimitMiddleware, limit

limiter = AsyncLimiter(os.environ.get("RATEWARDEN_URL", "memory://"))
app = FastAPI()
app.add_middleware(RateLimitMiddleware, limiter=limiter, quota="100/minute")  # one budget per client


@app.post("/login", dependencies=[Depends(limit("5/minute", limiter=limiter))])  # and 5/minute here
async def login() -> dict:
    return {"ok": True}


@app.get("/")
async def index() -> dict:
    return {"hello": "world"}

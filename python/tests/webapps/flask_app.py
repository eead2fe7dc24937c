"""Flask under gunicorn: an app-wide default, per-route @rl.limit, exempt."""

import os

from flask import Flask, request

from common import LOGIN, OPTIONS, TRUSTED, URL, skip
from ratewarden import Limiter
from ratewarden.flask import RateLimiter

app = Flask(__name__)
rl = RateLimiter(
    app,
    limiter=Limiter(URL, **OPTIONS),
    default=os.environ.get("RW_APP_QUOTA", "3/minute"),
    trusted_proxies=TRUSTED,
    skip=lambda req: skip(req.headers.get),
)


@app.get("/login")
@rl.limit(LOGIN)
def login():
    return {"pid": os.getpid()}


@app.get("/other")
@rl.limit(LOGIN)
def other():
    return {"pid": os.getpid()}


@app.get("/multi")
@rl.limit("2/second;3/minute")
def multi():
    return {"pid": os.getpid()}


@app.get("/upload")
@rl.limit(LOGIN, cost=lambda req: int(req.headers.get("x-cost", "1")))
def upload():
    return {"pid": os.getpid()}


@app.get("/pid")
@rl.exempt
def pid():
    return {"pid": os.getpid()}


@app.get("/app/<item>")
def whole_app(item):
    return {"pid": os.getpid(), "item": item, "method": request.method}

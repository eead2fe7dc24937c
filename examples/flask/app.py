"""Flask with ratewarden: flask --app app run  (RATEWARDEN_URL=redis://127.0.0.1:6379 to share state)."""

import os

from flask import Flask

from ratewarden import Limiter
from ratewarden.flask import RateLimiter

app = Flask(__name__)
rl = RateLimiter(app, limiter=Limiter(os.environ.get("RATEWARDEN_URL", "memory://")), default="100/minute")


@app.post("/login")
@rl.limit("5/minute")
def login():
    return {"ok": True}


@app.get("/")
def index():
    return {"hello": "world"}

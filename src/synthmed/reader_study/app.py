"""The reader-study web app (FastAPI): reader page, admin page, JSON API.

Tokens travel in the ``Authorization: Bearer`` header; the pages read them from the link's ``#token=``
fragment, which browsers never send to the server (so tokens do not land in access logs). Any missing
or wrong token gets the same 403. Reader responses carry only opaque image ids, progress and the
reader's own answers; image responses are byte-identical in size for one study and carry no
Last-Modified/ETag (file times could reveal the creation order).

Limits: a request body over ``MAX_BODY_BYTES`` is refused (413) before the rest of it is read; answer
fields are strictly typed (``"3"`` or ``true`` is no confidence); each token gets ``RATE_LIMITS`` (429
beyond them), far above what a person clicking through images can send.
"""

from __future__ import annotations

import hashlib
import time
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field

from synthmed.reader_study.results import answers_csv, compute_results, results_csv
from synthmed.reader_study.study import Reader, Study

PAGES = {"/": "index.html", "/read": "reader.html", "/admin": "admin.html"}
STATIC = {"style.css": "text/css; charset=utf-8", "reader.js": "text/javascript; charset=utf-8",
          "admin.js": "text/javascript; charset=utf-8"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
# An answer is about 100 bytes of JSON; nothing the app accepts comes near this.
MAX_BODY_BYTES = 4096
# A reader sends two requests per image (the image, the answer). Even answering by keyboard as fast as a
# person can (a few images a second for a moment, far fewer over a minute) stays well below these.
RATE_LIMITS = "30/second;600/minute"


class AnswerIn(BaseModel):
    # strict: no coercion, so "3", 3.0 and true are not a confidence of 3 (or 1).
    model_config = ConfigDict(extra="forbid", strict=True)
    image_id: str = Field(min_length=16, max_length=16, pattern=r"^[A-Za-z0-9_-]{16}$")
    answer: Literal["real", "synthetic"]
    confidence: int | None = Field(default=None, ge=1, le=5)


def _package_text(folder: str, name: str) -> str:
    return resources.files("synthmed.reader_study").joinpath(folder, name).read_text(encoding="utf-8")


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` (413) having read at most that much.

    Written here because neither Starlette nor uvicorn limits the body size (uvicorn bounds only the
    headers): a declared Content-Length over the limit is refused before any body byte is read; a chunked
    body is buffered up to the limit and refused as soon as it passes it. Under the limit, the buffered
    body is handed to the app unchanged.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _too_large(send)
                return
            more = message.get("more_body", False)
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> dict:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Any) -> None:
    await _send_json(send, 413, b'{"detail":"request too large"}', [(b"connection", b"close")])


async def _send_json(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()] + extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TokenRateLimit:
    """Per-token request limits (moving windows, the `limits` library), kept in this process's memory.

    The key is a hash of the presented token, valid or not, so a client cycling through made-up tokens is
    refused by the token check (403) and one flooding with a stolen link is slowed here.
    """

    def __init__(self, spec: str) -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, token: str | None) -> int | None:
        """Count one request for ``token``; None if allowed, else the seconds until a retry may pass."""
        key = hashlib.sha256((token or "").encode("utf-8")).hexdigest()
        for item in self.items:
            if not self.limiter.hit(item, key):
                reset_at, _remaining = self.limiter.get_window_stats(item, key)
                return max(1, int(reset_at - time.time()) + 1)
        return None


def create_app(study: Study, rate_limits: str = RATE_LIMITS, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    app = FastAPI(title="synthmed reader study", docs_url=None, redoc_url=None, openapi_url=None)
    limiter = TokenRateLimit(rate_limits)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers[key] = value
        return response

    # Added last, so it runs first: an oversized body never reaches the app.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)

    def bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def rate_limit(request: Request) -> None:
        wait = limiter.retry_after(bearer(request))
        if wait is not None:
            raise HTTPException(status_code=429, detail="too many requests", headers={"Retry-After": str(wait)})

    def reader_auth(request: Request) -> Reader:
        rate_limit(request)  # before the token check: a flood costs no database query
        reader = study.reader_for(bearer(request))
        if reader is None:
            raise HTTPException(status_code=403, detail="forbidden")
        return reader

    def admin_auth(request: Request) -> None:
        rate_limit(request)
        if not study.is_admin(bearer(request)):
            raise HTTPException(status_code=403, detail="forbidden")

    for path, template in PAGES.items():
        html = _package_text("templates", template)
        app.add_api_route(path, _page(html), methods=["GET"], include_in_schema=False)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(status_code=404, detail="not found")
        return Response(_package_text("static", name), media_type=STATIC[name])

    # -- reader API -----------------------------------------------------------------------------
    @app.get("/api/reader/state")
    def reader_state(reader: Reader = Depends(reader_auth)) -> dict:
        return study.state(reader)

    @app.get("/api/reader/images/{image_id}")
    def reader_image(image_id: str, reader: Reader = Depends(reader_auth)) -> Response:
        if not study.has_image(image_id):
            raise HTTPException(status_code=404, detail="not found")
        return Response(study.image_bytes(image_id), media_type="image/png")

    @app.post("/api/reader/answers")
    def reader_answer(body: AnswerIn, reader: Reader = Depends(reader_auth)) -> dict:
        if not study.has_image(body.image_id):
            raise HTTPException(status_code=404, detail="not found")
        stored, duplicate = study.record_answer(reader, body.image_id, body.answer, body.confidence)
        return {**stored, "duplicate": duplicate, **study.state(reader)}

    # -- admin API ------------------------------------------------------------------------------
    @app.get("/api/admin/results", dependencies=[Depends(admin_auth)])
    def admin_results() -> dict:
        results = compute_results(study.answer_rows(), study.readers(), study.meta)
        return {**results, "readers_progress": study.readers(), "total_images": study.total}

    @app.get("/api/admin/results.csv", dependencies=[Depends(admin_auth)])
    def admin_results_csv() -> Response:
        text = results_csv(compute_results(study.answer_rows(), study.readers(), study.meta))
        return _csv(text, "reader-study-results.csv")

    @app.get("/api/admin/answers.csv", dependencies=[Depends(admin_auth)])
    def admin_answers_csv() -> Response:
        return _csv(answers_csv(study.answer_rows()), "reader-study-answers.csv")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        # One fixed body per status: an error message never echoes input or internals.
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "invalid request"}, status_code=422)

    return app


def _page(html: str):  # type: ignore[no-untyped-def]
    def page() -> Response:
        return Response(html, media_type="text/html; charset=utf-8")

    return page


def _csv(text: str, filename: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})

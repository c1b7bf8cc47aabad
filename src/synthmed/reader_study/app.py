"""The reader-study web app (FastAPI): reader page, admin page, JSON API.

Tokens travel in the ``Authorization: Bearer`` header; the pages read them from the link's ``#token=``
fragment, which browsers never send to the server (so tokens do not land in access logs). Any missing
or wrong token gets the same 403. Reader responses carry only opaque image ids, progress and the
reader's own answers; image responses are byte-identical in size for one study and carry no
Last-Modified/ETag (file times could reveal the creation order).
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
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


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_id: str = Field(min_length=16, max_length=16, pattern=r"^[A-Za-z0-9_-]{16}$")
    answer: Literal["real", "synthetic"]
    confidence: int | None = Field(default=None, ge=1, le=5)


def _package_text(folder: str, name: str) -> str:
    return resources.files("synthmed.reader_study").joinpath(folder, name).read_text(encoding="utf-8")


def create_app(study: Study) -> FastAPI:
    app = FastAPI(title="synthmed reader study", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers[key] = value
        return response

    def bearer(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def reader_auth(request: Request) -> Reader:
        reader = study.reader_for(bearer(request))
        if reader is None:
            raise HTTPException(status_code=403, detail="forbidden")
        return reader

    def admin_auth(request: Request) -> None:
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
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

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

"""Request limits: body size (refused before it is read), strict answer types, a rate limit per token."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from synthmed.reader_study import db
from synthmed.reader_study.app import MAX_BODY_BYTES, RATE_LIMITS, create_app

from .conftest import live_server


@pytest.fixture
def setup(make_study):
    made = make_study(n_real=2, n_synthetic=2)
    alice, bob = made.invite("alice"), made.invite("bob")
    study = made.open()
    yield study, alice, bob
    study.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("confidence", ["3", True, False, 3.0, 2.5, [3], {"v": 3}])
def test_confidence_is_not_coerced(setup, confidence) -> None:
    study, alice, _bob = setup
    client = TestClient(create_app(study))
    res = client.post("/api/reader/answers", headers=_auth(alice),
                      json={"image_id": study.image_ids[0], "answer": "real", "confidence": confidence})
    assert res.status_code == 422 and res.json() == {"detail": "invalid request"}
    with study.engine.connect() as conn:
        assert conn.execute(select(db.answers_table)).all() == []


def test_strict_types_still_accept_integers_and_null(setup) -> None:
    study, alice, bob = setup
    client = TestClient(create_app(study))
    for token, confidence in ((alice, 5), (bob, None)):
        res = client.post("/api/reader/answers", headers=_auth(token),
                          json={"image_id": study.image_ids[0], "answer": "synthetic", "confidence": confidence})
        assert res.status_code == 200 and res.json()["confidence"] == confidence
    for bad in ({"image_id": study.image_ids[1], "answer": ["real"]}, {"image_id": 12345678, "answer": "real"}):
        assert client.post("/api/reader/answers", headers=_auth(alice), json=bad).status_code == 422


def test_a_large_body_is_refused(setup) -> None:
    study, alice, _bob = setup
    client = TestClient(create_app(study))
    body = b'{"image_id": "' + study.image_ids[0].encode() + b'", "answer": "real", "pad": "' + b"x" * MAX_BODY_BYTES
    res = client.post("/api/reader/answers", headers={**_auth(alice), "content-type": "application/json"},
                      content=body)
    assert res.status_code == 413 and res.json() == {"detail": "request too large"}
    assert res.headers["cache-control"] == "no-store"
    with study.engine.connect() as conn:
        assert conn.execute(select(db.answers_table)).all() == []


def test_a_declared_20_mb_body_is_refused_before_it_is_sent(setup) -> None:
    """A real server: the client declares 20 MB and sends none of it; the answer comes at once."""
    study, alice, _bob = setup
    with live_server(create_app(study)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall((f"POST /api/reader/answers HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {alice}\r\n"
                          "Content-Type: application/json\r\nContent-Length: 20000000\r\n\r\n").encode())
            start = time.monotonic()
            reply = sock.recv(4096).decode()
            assert time.monotonic() - start < 5
        assert reply.startswith("HTTP/1.1 413"), reply

        sent = []

        def chunks():  # no Content-Length: chunked transfer, refused once past the limit
            for _ in range(4 * MAX_BODY_BYTES // 512):
                sent.append(512)
                yield b" " * 512

        with httpx.Client(base_url=base, headers=_auth(alice)) as client:
            res = client.post("/api/reader/answers", content=chunks(), headers={"content-type": "application/json"})
        assert res.status_code == 413 and "content-length" not in res.request.headers
        assert sum(sent) > MAX_BODY_BYTES
        # The server is still fine for everyone else.
        assert httpx.get(f"{base}/api/reader/state", headers=_auth(alice)).status_code == 200


def test_rate_limit_per_token(setup) -> None:
    study, alice, bob = setup
    client = TestClient(create_app(study, rate_limits="5/minute"))
    codes = [client.get("/api/reader/state", headers=_auth(alice)).status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    limited = client.get("/api/reader/state", headers=_auth(alice))
    assert limited.json() == {"detail": "too many requests"} and 1 <= int(limited.headers["retry-after"]) <= 61
    # Another reader is not affected; the admin's token has its own budget too.
    assert client.get("/api/reader/state", headers=_auth(bob)).status_code == 200


def test_default_rate_limit_leaves_a_fast_reader_alone(setup) -> None:
    """A reader clicking through every image at once (two requests per image) never meets the default limit."""
    study, alice, _bob = setup
    assert RATE_LIMITS == "30/second;600/minute"  # documented in the README; change both together
    client = TestClient(create_app(study))
    state = client.get("/api/reader/state", headers=_auth(alice)).json()
    while state["next"]:
        assert client.get(f"/api/reader/images/{state['next']}", headers=_auth(alice)).status_code == 200
        res = client.post("/api/reader/answers", headers=_auth(alice),
                          json={"image_id": state["next"], "answer": "real", "confidence": 2})
        assert res.status_code == 200
        state = res.json()
    assert state["answered"] == study.total

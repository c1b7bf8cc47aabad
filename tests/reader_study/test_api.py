"""API: answer flow, resume, idempotency, 403 on wrong tokens, input validation, no truth in responses."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from synthmed.reader_study import db
from synthmed.reader_study.app import create_app


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def setup(make_study):
    made = make_study(n_real=3, n_synthetic=3)
    alice, bob = made.invite("alice"), made.invite("bob")
    study = made.open()
    client = TestClient(create_app(study))
    yield made, study, client, alice, bob
    study.close()


def _answer(client, token, image_id, answer="real", confidence=None):
    return client.post("/api/reader/answers", headers=_auth(token),
                       json={"image_id": image_id, "answer": answer, "confidence": confidence})


def test_answer_flow_resume_and_progress(setup) -> None:
    _made, study, client, alice, _bob = setup
    state = client.get("/api/reader/state", headers=_auth(alice)).json()
    assert state == {"reader": "alice", "total": 6, "answered": 0, "next": state["next"]}
    seen = []
    for k in range(3):
        seen.append(state["next"])
        state = _answer(client, alice, state["next"], "synthetic", confidence=k + 1).json()
        assert state["answered"] == k + 1 and state["duplicate"] is False
    # "Come back later": a fresh client (and a fresh app on the same database) continues where alice stopped.
    client2 = TestClient(create_app(study))
    resumed = client2.get("/api/reader/state", headers=_auth(alice)).json()
    assert resumed["answered"] == 3 and resumed["next"] == state["next"] and resumed["next"] not in seen
    while resumed["next"]:
        seen.append(resumed["next"])
        resumed = _answer(client2, alice, resumed["next"], "real").json()
    assert resumed == {**resumed, "answered": 6, "next": None}
    assert sorted(seen) == sorted(study.image_ids)  # every image exactly once, in alice's own order
    assert seen == study.order_for(study.reader_for(alice).id)


def test_reader_orders_differ_and_are_stable(setup) -> None:
    _made, study, _client, alice, bob = setup
    a, b = study.reader_for(alice), study.reader_for(bob)
    assert study.order_for(a.id) != study.order_for(b.id)
    assert sorted(study.order_for(a.id)) == sorted(study.order_for(b.id)) == study.image_ids
    study._orders.clear()
    assert study.order_for(a.id) == study.order_for(a.id)


def test_double_submit_counts_once_and_first_answer_is_final(setup) -> None:
    _made, study, client, alice, _bob = setup
    image = client.get("/api/reader/state", headers=_auth(alice)).json()["next"]
    first = _answer(client, alice, image, "real", 2).json()
    again = _answer(client, alice, image, "real", 2).json()
    changed = _answer(client, alice, image, "synthetic", 5).json()
    assert first["duplicate"] is False and again["duplicate"] is True and changed["duplicate"] is True
    assert changed["answer"] == "real" and changed["confidence"] == 2 and changed["answered"] == 1
    with study.engine.connect() as conn:
        rows = conn.execute(select(db.answers_table)).all()
    assert len(rows) == 1


@pytest.mark.parametrize("path,method", [
    ("/api/reader/state", "get"), ("/api/reader/answers", "post"), ("/api/admin/results", "get"),
    ("/api/admin/results.csv", "get"), ("/api/admin/answers.csv", "get"),
])
def test_wrong_missing_and_crossed_tokens_get_403(setup, path: str, method: str) -> None:
    made, study, client, alice, _bob = setup
    body = {"image_id": study.image_ids[0], "answer": "real"} if method == "post" else None
    admin_path = path.startswith("/api/admin")
    bad = [None, "nonsense", alice[:-1] + ("A" if alice[-1] != "A" else "B"), made.admin_token + "x"]
    bad.append(alice if admin_path else made.admin_token)  # a reader on admin pages; the admin is no reader
    for token in bad:
        headers = _auth(token) if token else {}
        res = client.request(method.upper(), path, headers=headers, json=body)
        assert res.status_code == 403, (token, res.status_code)
        assert res.json() == {"detail": "forbidden"}
    image = client.get(f"/api/reader/images/{study.image_ids[0]}", headers=_auth("wrong"))
    assert image.status_code == 403


def test_inputs_are_validated(setup) -> None:
    _made, study, client, alice, _bob = setup
    image = study.image_ids[0]
    bad_bodies = [
        {"image_id": image, "answer": "maybe"},
        {"image_id": image, "answer": "real", "confidence": 6},
        {"image_id": image, "answer": "real", "confidence": 0},
        {"image_id": image, "answer": "real", "truth": "x"},
        {"image_id": "../../study.db", "answer": "real"},
        {"answer": "real"},
    ]
    for body in bad_bodies:
        res = _answer_raw(client, alice, body)
        assert res.status_code == 422 and res.json() == {"detail": "invalid request"}, body
    assert _answer_raw(client, alice, {"image_id": "A" * 16, "answer": "real"}).status_code == 404
    assert client.get("/api/reader/images/..%2Fstudy.json", headers=_auth(alice)).status_code == 404
    assert client.get("/static/../study.json").status_code == 404
    assert client.get("/static/secret.txt").status_code == 404
    with study.engine.connect() as conn:
        assert conn.execute(select(db.answers_table)).all() == []


def _answer_raw(client, token, body):
    return client.post("/api/reader/answers", headers=_auth(token), json=body)


def test_no_truth_reaches_a_reader(setup) -> None:
    """Everything a reader can fetch, for every image: no truth, no class, no source, equal image responses."""
    made, study, client, alice, _bob = setup
    with study.engine.connect() as conn:
        images = {r.id: r for r in conn.execute(select(db.images_table))}
    forbidden = ["truth", "class0", "class1", "synthetic/", str(made.real_root), str(made.synthetic_root),
                 "images/test", "images/train", "\"label\"", "class_name"]
    texts = [client.get(p).text for p in ("/", "/read", "/static/reader.js", "/static/style.css")]
    image_headers = {}
    state = client.get("/api/reader/state", headers=_auth(alice))
    while True:
        texts.append(state.text + json.dumps(dict(state.headers)))
        body = state.json()
        assert set(body) <= {"reader", "total", "answered", "next", "image_id", "answer", "confidence", "duplicate"}
        if not body["next"]:
            break
        img = client.get(f"/api/reader/images/{body['next']}", headers=_auth(alice))
        assert img.headers["content-type"] == "image/png"
        assert "last-modified" not in img.headers and "etag" not in img.headers
        image_headers[body["next"]] = {k: v for k, v in img.headers.items() if k != "date"}
        texts.append(json.dumps(dict(img.headers)))
        # Alternate answers so both kinds of answer responses are checked.
        state = _answer(client, alice, body["next"], "synthetic" if len(image_headers) % 2 else "real")
    for text in texts:
        for word in forbidden:
            assert word not in text, word
    by_truth = {"real": [], "synthetic": []}
    for image_id, headers in image_headers.items():
        by_truth[images[image_id].truth].append(json.dumps(headers, sort_keys=True))
    # Identical headers (Content-Length included) for every real and every synthetic image.
    assert len(set(by_truth["real"] + by_truth["synthetic"])) == 1


def test_admin_results_and_csv(setup) -> None:
    made, _study, client, alice, bob = setup
    for token, answer in ((alice, "real"), (bob, "synthetic")):
        state = client.get("/api/reader/state", headers=_auth(token)).json()
        while state["next"]:
            state = _answer(client, token, state["next"], answer).json()
    res = client.get("/api/admin/results", headers=_auth(made.admin_token)).json()
    by_name = {r["reader"]: r for r in res["readers"]}
    assert by_name["alice"]["real_judged_real"] == 3 and by_name["alice"]["synthetic_judged_real"] == 3
    assert by_name["bob"]["real_judged_synthetic"] == 3 and by_name["bob"]["synthetic_judged_synthetic"] == 3
    assert by_name["alice"]["accuracy"] == pytest.approx(0.5)
    assert res["agreement"]["method"] == "cohen"
    csv_res = client.get("/api/admin/results.csv", headers=_auth(made.admin_token))
    assert csv_res.headers["content-disposition"].startswith("attachment")
    assert csv_res.text.splitlines()[0].startswith("reader,class,n_real")
    answers = client.get("/api/admin/answers.csv", headers=_auth(made.admin_token)).text.splitlines()
    assert len(answers) == 1 + 12 and answers[0].startswith("reader,image_id,truth")


def test_security_headers_on_pages(setup) -> None:
    _made, _study, client, _alice, _bob = setup
    res = client.get("/read")
    assert res.status_code == 200
    assert res.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in res.headers["content-security-policy"]
    assert res.headers["x-frame-options"] == "DENY"
    assert "http://" not in res.text and "https://" not in res.text  # nothing external


def test_tokens_are_stored_only_as_hashes(setup) -> None:
    made, study, _client, alice, _bob = setup
    raw = b"".join(p.read_bytes() for p in made.path.rglob("*") if p.is_file())
    with study.engine.connect() as conn:  # a database server keeps its files elsewhere: read every row
        raw += "".join(repr(tuple(row)) for table in db.metadata.sorted_tables
                       for row in conn.execute(select(table))).encode()
    for token in (made.admin_token, alice):
        assert token.encode() not in raw
        assert db.hash_token(token).encode() in raw
    assert db.token_matches(alice, db.hash_token(alice)) and not db.token_matches(alice + "x", db.hash_token(alice))
    assert db._redact("postgresql+psycopg://me:secret@host/db") == "postgresql+psycopg://me:***@host/db"
    assert study.reader_for("") is None and not study.is_admin(None)

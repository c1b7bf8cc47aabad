"""The same flow on PostgreSQL, when a server is given in $SYNTHMED_TEST_POSTGRES_URL (skipped otherwise).

Example: SYNTHMED_TEST_POSTGRES_URL=postgresql+psycopg://synthmed@127.0.0.1/synthmed_test
The test drops and recreates the reader-study tables in that database: use a throwaway one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from synthmed.reader_study import db
from synthmed.reader_study.app import create_app
from synthmed.reader_study.create import create_study
from synthmed.reader_study.study import Study

from .conftest import live_server

URL = os.environ.get("SYNTHMED_TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not URL, reason="set SYNTHMED_TEST_POSTGRES_URL to test against PostgreSQL")


def test_postgres_answer_flow_idempotency_and_concurrency(toy_dataset, tmp_path: Path) -> None:
    assert URL is not None
    engine = db.make_engine(URL)
    db.metadata.drop_all(engine)
    engine.dispose()
    real = toy_dataset(counts={"test": [4, 4]}, resolution=16, name="real")
    made = create_study(f"{real.root}:test", f"{real.root}:test", 2, 2, tmp_path / "study", database_url=URL)
    study = Study.open(made.out, URL)
    try:
        tokens = [db.add_reader(study.engine, f"r{i}") for i in range(20)]
        client = TestClient(create_app(study))
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        image = client.get("/api/reader/state", headers=auth).json()["next"]
        body = {"image_id": image, "answer": "real"}
        first = client.post("/api/reader/answers", headers=auth, json=body).json()
        again = client.post("/api/reader/answers", headers=auth, json={**body, "answer": "synthetic"}).json()
        assert first["duplicate"] is False and again["duplicate"] is True and again["answer"] == "real"
        assert client.get("/api/admin/results", headers=auth).status_code == 403

        errors: list[str] = []

        def answer_all(token: str) -> None:
            try:
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                    state = c.get("/api/reader/state").raise_for_status().json()
                    for _ in range(study.total):
                        if state["next"] is None:
                            break
                        state = c.post("/api/reader/answers", json={"image_id": state["next"], "answer": "real"}
                                       ).raise_for_status().json()
            except Exception as exc:
                errors.append(repr(exc))

        with live_server(create_app(study)) as base:
            threads = [threading.Thread(target=answer_all, args=(t,)) for t in tokens]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
        assert errors == []
        with study.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(db.answers_table)).scalar() == 20 * study.total
    finally:
        study.close()

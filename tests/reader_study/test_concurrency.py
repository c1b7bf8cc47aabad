"""50 readers answering at once against a real uvicorn server (SQLite, WAL): no answer lost or doubled."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import func, select

from synthmed.reader_study import db
from synthmed.reader_study.app import create_app

from .conftest import live_server

N_READERS = 50


def test_fifty_concurrent_readers_lose_no_answer(make_study) -> None:
    made = make_study(n_real=2, n_synthetic=2)
    tokens = [made.invite(f"reader{i:02d}") for i in range(N_READERS)]
    study = made.open()
    errors: list[str] = []
    barrier = threading.Barrier(N_READERS, timeout=60)

    def read_all(token: str) -> None:
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                state = client.get("/api/reader/state").raise_for_status().json()
                barrier.wait()  # everyone starts answering at the same moment
                for _ in range(study.total):  # bounded: one answer per image
                    image = state["next"]
                    body = {"image_id": image, "answer": "real" if len(image) % 2 else "synthetic"}
                    state = client.post("/api/reader/answers", json=body).raise_for_status().json()
                    if state["answered"] == 1:
                        # The first answer is submitted twice (a double click): the second must not count.
                        again = client.post("/api/reader/answers", json=body).raise_for_status().json()
                        if not again["duplicate"] or again["answered"] != 1:
                            errors.append(f"double submit counted: {again}")
                if state["next"] is not None or state["answered"] != study.total:
                    errors.append(f"unfinished: {state}")
        except Exception as exc:  # collected and asserted in the main thread
            errors.append(repr(exc))

    try:
        with live_server(create_app(study)) as base:
            threads = [threading.Thread(target=read_all, args=(t,)) for t in tokens]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert not any(t.is_alive() for t in threads)
        assert errors == []
        with study.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(db.answers_table)).scalar()
            per_reader = conn.execute(select(db.answers_table.c.reader_id, func.count())
                                      .group_by(db.answers_table.c.reader_id)).all()
        assert total == N_READERS * study.total
        assert len(per_reader) == N_READERS and {n for _, n in per_reader} == {study.total}
    finally:
        study.close()

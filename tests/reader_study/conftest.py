"""Reader-study fixtures: a small study from two toy datasets on each database, a real uvicorn server on loopback.

Every test that makes a study runs twice: on SQLite (the file in the study folder) and on PostgreSQL, each
study in a fresh database created on the server named by $SYNTHMED_TEST_POSTGRES_URL and dropped afterwards
(skipped with a reason when it is not set; `.ci/run` starts a throwaway server and sets it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from synthmed.reader_study import db
from synthmed.reader_study.create import create_study
from synthmed.reader_study.study import Study

POSTGRES_ENV = "SYNTHMED_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def study_db(request):
    """Factory of empty study databases: None (SQLite in the study folder) or the URL of a new PostgreSQL one."""
    if request.param == "sqlite":
        yield lambda: None
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} to a PostgreSQL server to run this test on it (.ci/run starts one)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    server = make_url(url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def new_database() -> str:
        name = f"synthmed_t_{secrets.token_hex(6)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield new_database
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class MadeStudy:
    path: Path
    admin_token: str
    real_root: Path
    synthetic_root: Path
    database_url: str | None = None  # None: SQLite in the study folder

    def open(self) -> Study:
        return Study.open(self.path, self.database_url)

    def invite(self, name: str) -> str:
        st = self.open()
        try:
            return db.add_reader(st.engine, name)
        finally:
            st.close()


@pytest.fixture
def make_study(toy_dataset, tmp_path: Path, study_db):
    """Factory: a study with ``n_real`` real (toy test split) and ``n_synthetic`` synthetic (toy train) images."""

    sources = []

    def make(n_real: int = 4, n_synthetic: int = 4, seed: int = 0, per_class: bool = False,
             name: str = "study") -> MadeStudy:
        if not sources:
            sources.append(toy_dataset(counts={"test": [6, 6]}, resolution=16, name="real", seed=1))
            sources.append(toy_dataset(counts={"train": [6, 6]}, resolution=16, name="synthetic", seed=2))
        real, syn = sources
        url = study_db()
        made = create_study(f"{real.root}:test", str(syn.root), n_real, n_synthetic, tmp_path / name,
                            per_class=per_class, seed=seed, database_url=url)
        return MadeStudy(made.out, made.admin_token, real.root, syn.root, url)

    return make


@contextlib.contextmanager
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Run ``app`` on uvicorn in a thread on a free 127.0.0.1 port; stop it on exit."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

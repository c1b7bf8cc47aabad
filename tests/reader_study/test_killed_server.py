"""SIGKILL of the server (a real `synthmed reader-study serve` process) while readers answer: after a restart
every reader finishes, and every answer the server acknowledged is stored exactly once, unchanged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
from sqlalchemy import select

from synthmed.reader_study import db

N_READERS = 8
KILL_AFTER = 30  # acknowledged answers before the SIGKILL (of N_READERS * 12)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(made, port: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "synthmed", "reader-study", "serve", str(made.path), "--port", str(port)]
    if made.database_url:
        args += ["--database-url", made.database_url]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def _answer_for(image_id: str) -> str:
    return "real" if image_id[0] < "a" else "synthetic"


def test_sigkill_mid_load_loses_and_doubles_nothing(make_study) -> None:
    made = make_study(n_real=6, n_synthetic=6)
    tokens = {f"reader{i}": made.invite(f"reader{i}") for i in range(N_READERS)}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    acked: dict[str, dict[str, str]] = {name: {} for name in tokens}
    errors: list[str] = []
    lock = threading.Lock()

    def call(client: httpx.Client, method: str, path: str, **kw) -> dict:
        """One request, retried while the server is down (as the reader page asks the reader to reload)."""
        deadline = time.monotonic() + 90
        while True:
            try:
                return client.request(method, path, **kw).raise_for_status().json()
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def read_all(name: str, token: str) -> None:
        try:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
                state = call(client, "GET", "/api/reader/state")
                while state["next"] is not None:
                    image = state["next"]
                    state = call(client, "POST", "/api/reader/answers",
                                 json={"image_id": image, "answer": _answer_for(image), "confidence": 3})
                    with lock:
                        acked[name][image] = state["answer"]
        except Exception as exc:  # collected and asserted in the main thread
            errors.append(f"{name}: {exc!r}")

    server = _serve(made, port)
    threads = [threading.Thread(target=read_all, args=item) for item in tokens.items()]
    try:
        for t in threads:
            t.start()
        while sum(map(len, acked.values())) < KILL_AFTER and any(t.is_alive() for t in threads):
            time.sleep(0.005)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        killed_at = sum(map(len, acked.values()))
        server = _serve(made, port)
        for t in threads:
            t.join(timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert errors == []
    assert killed_at < N_READERS * 12  # the kill did land mid-load
    study = made.open()
    try:
        with study.engine.connect() as conn:
            rows = conn.execute(select(db.readers_table.c.name, db.answers_table.c.image_id,
                                       db.answers_table.c.answer)
                                .join(db.readers_table, db.readers_table.c.id == db.answers_table.c.reader_id)).all()
        total = study.total
    finally:
        study.close()
    assert len(rows) == N_READERS * total  # nothing lost, nothing doubled (the table is also unique per pair)
    stored = {(r.name, r.image_id): r.answer for r in rows}
    assert stored == {(name, image): answer for name, answers in acked.items() for image, answer in answers.items()}
    assert all(answer == _answer_for(image) for (_name, image), answer in stored.items())

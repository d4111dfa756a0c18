"""The registry's gunicorn configuration (deploy/gunicorn.conf.py), unchanged, for the
floor and the registry alike; plus, with BENCH_STATEMENTS_DIR set, a count of the SQL
statements each request runs (per path kind), written there by each worker as it exits."""

import json
import os
import runpy
import threading
from collections import Counter
from pathlib import Path

_deploy = runpy.run_path(str(Path(__file__).resolve().parent.parent / "deploy/gunicorn.conf.py"))
globals().update({k: v for k, v in _deploy.items() if not k.startswith("__")})

_STATS_DIR = os.environ.get("BENCH_STATEMENTS_DIR")
_local = threading.local()
_requests: Counter[str] = Counter()
_statements: Counter[str] = Counter()
_lock = threading.Lock()


def _kind(path: str) -> str:
    """/api/v1/patients/1234567890/status -> /api/v1/patients/{id}/status"""
    return "/".join("{id}" if part[:1].isdigit() else part for part in path.split("/"))


_last_kind = [""]  # the request kind this worker served last


def _count(*args: object) -> None:
    if getattr(_local, "in_request", False):
        _local.statements = getattr(_local, "statements", 0) + 1
    else:
        # Another thread of the worker: the audit sealer, which seals what requests
        # committed. Counted against the kind being served (the bench runs one at a time),
        # so that a request's statements include its share of the sealing.
        with _lock:
            _statements[_last_kind[0]] += 1


def post_worker_init(worker):
    if _STATS_DIR:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", _count)


def pre_request(worker, req):
    _local.statements = 0
    _local.in_request = True


def post_request(worker, req, environ, resp):
    if _STATS_DIR:
        kind = f"{req.method} {_kind(req.path)}"
        _local.in_request = False
        with _lock:
            _last_kind[0] = kind
            _requests[kind] += 1
            _statements[kind] += getattr(_local, "statements", 0)


def worker_exit(server, worker):
    if _STATS_DIR:
        path = Path(_STATS_DIR) / f"statements-{os.getpid()}.json"
        path.write_text(json.dumps({"requests": _requests, "statements": _statements}))

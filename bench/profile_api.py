"""Where one API request's time and statements go, in process (no server, no network).

Runs the bench's three endpoints through Flask's test client against a seeded database
(bench/seed.py), prints each request kind's SQL statements (one sample request, in order)
and, with --profile, the functions that take the most CPU over --requests requests.

    .venv/bin/python bench/profile_api.py --database-url postgresql://.../registry_bench_10k \\
        --audit-dir instance/bench/10k --requests 200 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from seed import ready_cases  # noqa: E402

PASSWORD = "bench-password-1"
_local = threading.local()


def _log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    log = getattr(_local, "log", None)
    if log is not None:
        log.append(" ".join(statement.split())[:160])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--audit-dir", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only", default="check,authorize,status")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--ratelimit-storage-url", default="redis://127.0.0.1:6379/0",
                        help="as bench/run and deploy/run serve (memory:// per process)")
    args = parser.parse_args()

    from registry import create_app

    app = create_app({
        "DATABASE_URL": args.database_url, "SECRET_KEY": "bench",
        "AUDIT_SIGNING_KEY_FILE": str(args.audit_dir / "audit-signing-key.pem"),
        "AUDIT_CHECKPOINT_FILE": str(args.audit_dir / "audit-checkpoints.jsonl"),
        "API_RATELIMIT_LOOKUPS": "1000000 per minute",
        "API_RATELIMIT_TOKENS": "100000 per minute",
        "RATELIMIT_STORAGE_URL": args.ratelimit_storage_url,
        "RATELIMIT_KEY_PREFIX": "registry-bench",
    })
    event.listen(Engine, "before_cursor_execute", _log)
    client = app.test_client()
    from registry import db

    with app.app_context():
        session = db.session()
        rph = session.execute(text(
            "SELECT email FROM users WHERE email LIKE 'bench-rph%' ORDER BY id LIMIT 1")).scalar()
        dr = session.execute(text(
            "SELECT u.email, p.id FROM prescribers p JOIN users u ON u.id = p.user_id "
            "WHERE u.email LIKE 'bench-dr%' ORDER BY p.id LIMIT 1")).one()
        mine = [r[0] for r in session.execute(text(
            "SELECT registry_id FROM patients WHERE prescriber_id = :p LIMIT :n"),
            {"p": dr[1], "n": args.requests + 1})]
        db.rollback_request()

    def token(email: str) -> str:
        answer = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)
        return str(answer.get_json()["token"])

    rph_auth = {"Authorization": f"Bearer {token(rph)}"}
    dr_auth = {"Authorization": f"Bearer {token(dr[0])}"}
    _, bodies = ready_cases(args.database_url, 2 * args.requests + 2)

    def body(case: dict[str, Any]) -> dict[str, Any]:
        return {**case, "days_supply": 30, "quantity": 60, "refills": 0}

    checks = iter(bodies[: args.requests + 1])
    issues = iter(bodies[args.requests + 1:])
    statuses = iter(mine)
    calls = {
        "check": lambda: client.post("/api/v1/authorization-checks", json=body(next(checks)),
                                     headers=rph_auth),
        "authorize": lambda: client.post("/api/v1/authorizations", json=body(next(issues)),
                                         headers=rph_auth),
        "status": lambda: client.get(f"/api/v1/patients/{next(statuses)}/status",
                                     headers=dr_auth),
    }
    for kind in args.only.split(","):
        call = calls[kind]
        _local.log = []
        answer = call()
        log, _local.log = _local.log, None
        print(f"== {kind}: {answer.status_code}, {len(log)} statements")
        for line in log:
            print("   ", line)
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        n = args.requests
        start_cpu, start = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        batches: list[float] = []  # CPU per request of each 50 in a row
        for i in range(n):
            if i % 50 == 0:
                batch_start = time.process_time()
            answer = call()
            assert answer.status_code < 300, answer.get_data(as_text=True)
            if i % 50 == 49:
                batches.append((time.process_time() - batch_start) / 50 * 1000)
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - start_cpu) / n * 1000
        wall = (time.perf_counter() - start) / n * 1000
        # On a busy machine a process's CPU time per request grows too (caches, clocks):
        # the quietest 50 in a row, and the median of the runs of 50, are steadier figures.
        spread = (f"; per 50: min {min(batches):.2f}, median {statistics.median(batches):.2f}"
                  if batches else "")
        print(f"   {n} requests: {cpu:.2f} ms CPU, {wall:.2f} ms wall per request{spread}"
              + (" (profiled)" if profiler else ""))
        if profiler:
            out = io.StringIO()
            profiler.dump_stats(f"/tmp/profile-{kind}.pstats")
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())


if __name__ == "__main__":
    main()

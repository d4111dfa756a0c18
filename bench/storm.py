"""The log-in storm: 10,000 distinct users ask for an API token (POST /api/v1/tokens) at
once, against the registry served as in production (gunicorn, deploy/gunicorn.conf.py,
2 workers x 4 threads) on a database built by bench/seed.py.

    URL=postgresql://postgres@127.0.0.1:5432/registry_bench_storm
    .venv/bin/python bench/seed.py --database-url $URL --patients 12000 \\
        --audit-dir instance/bench/storm
    .venv/bin/python bench/storm.py --database-url $URL --audit-dir instance/bench/storm

Every user is distinct (the seed's patient accounts); a template's clones share its
password and its argon2 hash, made with the configured parameters (ARGON2_*), so every
log-in verifies one full-cost hash, as a real one would. The storm's own server config
raises the per-address limit on token requests (REGISTRY_API_RATELIMIT_TOKENS): all the
users come from one address here, where the default (10 a minute) would refuse them.

Goal (issue 11): 10,000 log-ins within 10 minutes, 0 errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from runner import PASSWORD, Server, percentile  # noqa: E402


def users(database_url: str, count: int) -> list[str]:
    from sqlalchemy import create_engine

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            emails = [r[0] for r in conn.exec_driver_sql(
                "SELECT email FROM users WHERE role = 'patient' ORDER BY id "
                f"LIMIT {int(count)}")]
            hashes = [r[0] for r in conn.exec_driver_sql(
                "SELECT DISTINCT substr(password_hash, 1, 30) FROM users "
                "WHERE role = 'patient'")]
    finally:
        engine.dispose()
    print(f"argon2 parameters of the users' hashes: {sorted(hashes)}")
    return emails


def storm(port: int, emails: list[str], clients: int) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    todo = iter(emails)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                email = next(todo, None)
            if email is None:
                return
            body = json.dumps({"email": email, "password": PASSWORD})
            start = time.monotonic()
            try:
                conn.request("POST", "/api/v1/tokens", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = json.loads(resp.read() or b"{}")
                code = str(resp.status)
                if resp.status == 201 and not payload.get("token"):
                    code = "201 without a token"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                code = type(exc).__name__
            with lock:
                latencies.append(time.monotonic() - start)
                statuses[code] = statuses.get(code, 0) + 1

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - began
    errors = sum(n for code, n in statuses.items() if code != "201")
    return {"users": len(emails), "seconds": round(seconds, 1),
            "per_second": round(len(emails) / seconds, 1), "errors": errors,
            "statuses": statuses, "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="10,000 distinct log-ins at once.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--audit-dir", type=Path, required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--port", type=int, default=8103)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    emails = users(args.database_url, args.users)
    if len(emails) < args.users:
        raise SystemExit(f"only {len(emails)} patient accounts: seed more patients "
                         f"(bench/seed.py --patients {args.users * 6 // 5})")
    env = {"REGISTRY_DATABASE_URL": args.database_url, "REGISTRY_SECRET_KEY": "bench",
           "REGISTRY_AUDIT_SIGNING_KEY_FILE": str(args.audit_dir / "audit-signing-key.pem"),
           "REGISTRY_AUDIT_CHECKPOINT_FILE": str(args.audit_dir / "audit-checkpoints.jsonl"),
           # The storm's own limit: every user logs in from this one address.
           "REGISTRY_API_RATELIMIT_TOKENS": "1000000 per minute"}
    server = Server("storm", "registry:create_app()", args.port, env,
                    Path(tempfile.mkdtemp(prefix="bench-storm-")))
    try:
        cpu0 = server.cpu()
        result = storm(args.port, emails, args.clients)
        result["server_cpu_ms_per_login"] = round(
            (server.cpu() - cpu0) * 1000 / max(1, len(emails)), 1)
    finally:
        server.stop()
    print(f"{result['users']:,} distinct log-ins in {result['seconds']} s "
          f"({result['per_second']} per s), {result['errors']} errors, p50 "
          f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms, server CPU "
          f"{result['server_cpu_ms_per_login']} ms per log-in; statuses {result['statuses']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if result["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()

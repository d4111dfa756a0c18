"""Benchmark: many pharmacy systems at once, over HTTP, against a running registry.

Start the app (e.g. `make run`, or gunicorn on another port with demo data), then:

    .venv/bin/python bench/http_load.py --base http://127.0.0.1:8000 \\
        --registry-id <Alex's ID> --clients 16 --seconds 20

Each client holds its own API token (demo pharmacist) and loops on
POST /api/v1/authorization-checks for the demo patient (a full rules evaluation and an
audit entry each: a write), with a GET of the patient's status by the prescriber mixed
in. Prints throughput, latency percentiles and every non-2xx status seen.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any


def call(method: str, url: str, body: dict[str, Any] | None = None,
         token: str | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


def token(base: str, email: str) -> str:
    status, body = call("POST", f"{base}/api/v1/tokens",
                        {"email": email, "password": "demo-password"})
    if status != 201:
        raise SystemExit(f"token for {email}: HTTP {status}")
    return str(body["token"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--registry-id", required=True)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    check = {"registry_id": args.registry_id, "date_of_birth": "2008-05-14",
             "prescriber_npi": "1234567893", "days_supply": 30, "quantity": 60, "refills": 0}
    pharmacist = token(args.base, "pharmacist@demo.example")
    prescriber = token(args.base, "rivera@demo.example")
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + args.seconds

    def client(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            start = time.perf_counter()
            if n % 4 == 3:
                status, _ = call("GET", f"{args.base}/api/v1/patients/{args.registry_id}/status",
                                 token=prescriber)
            else:
                status, _ = call("POST", f"{args.base}/api/v1/authorization-checks", check,
                                 token=pharmacist)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - began
    ordered = sorted(latencies)
    print(f"{len(latencies)} requests from {args.clients} clients in {wall:.1f} s: "
          f"{len(latencies) / wall:.0f} requests/s")
    print(f"latency p50 {statistics.median(ordered):.0f} ms, "
          f"p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms, "
          f"p99 {ordered[int(0.99 * (len(ordered) - 1))]:.0f} ms, max {ordered[-1]:.0f} ms")
    print("statuses:", dict(sorted(statuses.items())))


if __name__ == "__main__":
    main()

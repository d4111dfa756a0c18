"""Benchmark: slow clients against a running registry, while a pharmacy keeps asking.

Slow clients open a connection and send a request one byte every few seconds (half of them
trickle the headers, half send whole headers and trickle the body); when the server cuts one
off, it connects again. Meanwhile pharmacy threads keep POSTing /api/v1/authorization-checks
for an eligible patient and we measure how fast they are answered, first without the slow
clients (baseline), then with them.

It sets up its own data (a prescriber, a pharmacy, a trained pharmacist and a patient ready
for an authorization today, all with fresh names) directly in the server's database, so
start the server on a migrated database first. One pharmacist token asks far more than the
60 lookups a minute a token may make, so raise that limit for the bench's server:

    export REGISTRY_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/registry_bench
    export REGISTRY_API_RATELIMIT_LOOKUPS='100000 per minute'
    .venv/bin/registry db upgrade
    # the old recipe: sync workers, nothing in front
    .venv/bin/gunicorn --bind 127.0.0.1:8000 --workers 4 'registry:create_app()' &
    # or the new one: nginx + gunicorn + worker
    PORT=8000 deploy/run &
    .venv/bin/python bench/slow_clients.py --base http://127.0.0.1:8000 \\
        --database-url "$REGISTRY_DATABASE_URL" --slow 50 --interval 5 --seconds 40

Goal: with the production recipe (deploy/run), p99 under 1 s and no errors while 50 slow
clients are connected.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

PW = "bench-password-1"


def seed(database_url: str) -> tuple[str, dict[str, Any]]:
    """A pharmacist (email) and an authorization-check body for a patient eligible today."""
    from registry import clock, create_app, db
    from registry.cycles.operations import (
        attest_contraception,
        comprehension_questions,
        confirm_counseling,
        take_comprehension,
    )
    from registry.patients.operations import activate_patient, register_patient
    from registry.pharmacies.operations import (
        activate_pharmacy,
        add_pharmacist,
        register_pharmacy,
    )
    from registry.pharmacies.schemas import (
        PharmacistAddition,
        PharmacyActivation,
        PharmacyRegistration,
    )
    from registry.pregnancies.operations import record_pregnancy_test
    from registry.prescribers.operations import attest_prescriber, enroll_prescriber
    from registry.prescribers.schemas import PrescriberEnrollment
    from registry.rules.identifiers import npi_with_check_digit

    tag = secrets.token_hex(4)

    def npi() -> str:
        return npi_with_check_digit("1" + "".join(secrets.choice("0123456789") for _ in range(8)))

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-seed",
                      "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                      "ARGON2_PARALLELISM": 1})
    methods = {"methods": ["iud", "male_latex_condom"]}
    with app.app_context():
        session = db.session()
        with clock.travel(-31):
            dr = enroll_prescriber(session, PrescriberEnrollment(
                email=f"slow-dr-{tag}@example.org", password=PW, first_name="Slow",
                last_name="Doctor", npi=npi()))
            attest_prescriber(session, dr.user, dr)
            ph = register_pharmacy(
                session, PharmacyRegistration.model_validate({
                    "name": f"Slow Bench {tag}",
                    "ncpdp_id": "".join(secrets.choice("0123456789") for _ in range(7)),
                    "npi": npi(), "rsp": {"email": f"slow-rsp-{tag}@example.org",
                                          "password": PW, "first_name": "R",
                                          "last_name": "S", "license_number": "1"}}))
            rsp = ph.pharmacists[0].user
            activate_pharmacy(session, rsp, ph, PharmacyActivation(staff_trained=True))
            email = f"slow-rph-{tag}@example.org"
            add_pharmacist(session, rsp, ph, PharmacistAddition(
                email=email, password=PW, first_name="P", last_name="H", license_number="2",
                training_completed_on=clock.today()))
            p, code, _ = register_patient(
                session, dr.user, first_name="Pat", last_name=f"Slow{tag}",
                date_of_birth="1990-01-01", email=f"slow-pt-{tag}@example.org",
                risk_category="can_get_pregnant", consent_signed_on=clock.today(),
                contraception_start_date=clock.today())
            activate_patient(session, registry_id=p.registry_id, date_of_birth=p.date_of_birth,
                             activation_code=code, password=PW)
            record_pregnancy_test(session, dr.user, p, specimen_collected_on=clock.today(),
                                  result="negative", setting="lab")
            db.commit_request()
        record_pregnancy_test(session, dr.user, p, specimen_collected_on=clock.today(),
                              result="negative", setting="lab")
        confirm_counseling(session, dr.user, p, counseled_on=clock.today(), contraception=methods)
        _, questions = comprehension_questions(session, p.user)
        take_comprehension(session, p.user,
                           answers={str(q.id): q.correct_choice for q in questions})
        attest_contraception(session, p.user, contraception=methods)
        db.commit_request()
        body = {"registry_id": p.registry_id, "date_of_birth": "1990-01-01",
                "prescriber_npi": dr.npi, "days_supply": 30, "quantity": 60, "refills": 0}
    app.extensions["registry.engine"].dispose()
    return email, body


def call(url: str, body: dict[str, Any], token: str | None = None,
         timeout: float = 60) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, {}


class SlowClient(threading.Thread):
    """Sends a request one byte every ``interval`` seconds; reconnects when cut off."""

    def __init__(self, host: str, port: int, interval: float, trickle_body: bool,
                 stop: threading.Event, stats: Counter[str], lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.interval = host, port, interval
        self.trickle_body, self.stop, self.stats, self.lock = trickle_body, stop, stats, lock

    def request(self) -> tuple[bytes, bytes]:
        body = json.dumps({"registry_id": "0000000000", "padding": "x" * 200}).encode()
        head = (f"POST /api/v1/authorization-checks HTTP/1.1\r\nHost: {self.host}:{self.port}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "User-Agent: slow-client\r\n\r\n").encode()
        return (head, body) if self.trickle_body else (b"", head + body)

    def count(self, what: str) -> None:
        with self.lock:
            self.stats[what] += 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with socket.create_connection((self.host, self.port), timeout=10) as conn:
                    self.count("connections")
                    at_once, trickled = self.request()
                    if at_once:
                        conn.sendall(at_once)
                    for i in range(len(trickled)):
                        if self.stop.wait(self.interval):
                            return
                        conn.sendall(trickled[i:i + 1])
                        self.count("bytes trickled")
            except OSError:
                self.count("cut off by the server")
                self.stop.wait(0.5)


def measure(url: str, body: dict[str, Any], token: str, seconds: float,
            threads: int) -> tuple[list[float], Counter[str]]:
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < until:
            start = time.perf_counter()
            try:
                status, _ = call(url, body, token)
                outcome = str(status)
            except (OSError, urllib.error.URLError) as exc:
                outcome = f"error: {type(exc).__name__}"
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                outcomes[outcome] += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return latencies, outcomes


def report(name: str, latencies: list[float], outcomes: Counter[str]) -> None:
    if not latencies:
        print(f"{name}: no request finished")
        return
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    errors = sum(n for k, n in outcomes.items() if k != "200")
    print(f"{name}: {len(ordered)} requests, p50 {statistics.median(ordered) * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms, errors {errors} "
          f"{dict(sorted(outcomes.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--database-url", required=True,
                        help="the running server's database, to set up the bench's data")
    parser.add_argument("--slow", type=int, default=50, help="slow clients")
    parser.add_argument("--interval", type=float, default=5, help="seconds between bytes")
    parser.add_argument("--seconds", type=float, default=40, help="measuring time under load")
    parser.add_argument("--baseline", type=float, default=5, help="measuring time before")
    parser.add_argument("--threads", type=int, default=2, help="pharmacy request threads")
    args = parser.parse_args()

    email, body = seed(args.database_url)
    status, answer = call(f"{args.base}/api/v1/tokens", {"email": email, "password": PW})
    if status != 201:
        raise SystemExit(f"token for {email}: HTTP {status} {answer}")
    token = str(answer["token"])
    url = f"{args.base}/api/v1/authorization-checks"
    status, answer = call(url, body, token)
    if status != 200:
        raise SystemExit(f"authorization check: HTTP {status} {answer}")

    baseline = measure(url, body, token, args.baseline, args.threads)
    report("baseline, no slow clients", *baseline)
    if baseline[1]["429"]:
        raise SystemExit("Rate limited: start the server with "
                         "REGISTRY_API_RATELIMIT_LOOKUPS='100000 per minute'.")

    parsed = urllib.parse.urlsplit(args.base)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    stop, lock, stats = threading.Event(), threading.Lock(), Counter[str]()
    slow = [SlowClient(host, port, args.interval, i % 2 == 1, stop, stats, lock)
            for i in range(args.slow)]
    for client in slow:
        client.start()
    time.sleep(1)
    latencies, outcomes = measure(url, body, token, args.seconds, args.threads)
    stop.set()
    report(f"with {args.slow} slow clients (1 byte / {args.interval:g} s)", latencies, outcomes)
    print("slow clients:", dict(sorted(stats.items())))


if __name__ == "__main__":
    main()

"""bench/run: the registry's API against the floor, under wrk, on PostgreSQL.

Starts two gunicorn servers with the registry's own configuration (deploy/gunicorn.conf.py,
2 workers x 4 threads): the floor (bench/floor.py) and the registry, both on a database
built by bench/seed.py. Then, 3 times over, interleaved: floor, authorization checks,
authorizations (real RMAs, each to a different eligible patient), status, each for
``--seconds`` under wrk (bench/wrk.lua: 8 pharmacists' and 8 prescribers' tokens, thousands
of distinct patients). Prints per endpoint the median throughput, p50 and p99, the ratio
to the floor (median of the per-round ratios), CPU of the server per request, SQL
statements per request; then p99 at half the saturation rate (paced, open loop: see
``paced``), and, when a 1 M seed exists, p50 there vs a 10 k seed, run once each in turn.

The registry's rate limits are raised for the bench (REGISTRY_API_RATELIMIT_*): the bench
sends far more requests per token than a pharmacy would.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # seed, when run as a script
VENV_BIN = Path(sys.executable).parent
PASSWORD = "bench-password-1"
ENDPOINTS = ("floor", "check", "authorize", "status")
# Served by the floor's app when asked for (--only ...,ceiling): an RMA's (or a check's)
# statements and rules alone (bench/floor.py), the most such an endpoint of this stack
# could reach.
EXTRA = ("ceiling", "ceiling-check")
ON_FLOOR = frozenset({"floor", *EXTRA})  # kinds the floor's server answers
# an RMA is issued to each ready patient once
CONSUMES_PATIENTS = frozenset({"authorize", "ceiling"})
LABELS = {"floor": "floor (token + 1 row)", "check": "POST authorization-checks",
          "authorize": "POST authorizations", "status": "GET patients/{id}/status",
          "ceiling": "ceiling of an RMA", "ceiling-check": "ceiling of a check"}
RESULT = re.compile(r"^BENCH_RESULT (\{.*\})\s*$", re.MULTILINE)


# --- results: parsing and summarising (tested in tests/test_bench.py) ------------------


def parse_wrk(output: str) -> dict[str, Any]:
    """The BENCH_RESULT line that bench/wrk.lua prints, with requests per second added."""
    match = RESULT.search(output)
    if match is None:
        raise ValueError("no BENCH_RESULT line in wrk's output:\n" + output[-2000:])
    result: dict[str, Any] = json.loads(match.group(1))
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds if seconds else 0.0
    ok = sum(n for code, n in result["statuses"].items() if code.startswith("2"))
    result["non_2xx"] = result["requests"] - ok if result["statuses"] else 0
    return result


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Medians over the rounds; each endpoint's ratio to the floor of the same round."""
    out: dict[str, dict[str, Any]] = {}
    for kind in rounds[0]:
        runs = [r[kind] for r in rounds if kind in r]
        ratios = [r[kind]["rps"] / r["floor"]["rps"] for r in rounds
                  if kind in r and "floor" in r and r["floor"]["rps"]]
        out[kind] = {
            "rps": statistics.median(x["rps"] for x in runs),
            "p50_ms": statistics.median(x["p50_us"] for x in runs) / 1000,
            "p99_ms": statistics.median(x["p99_us"] for x in runs) / 1000,
            "ratio": statistics.median(ratios) if ratios else None,
            "non_2xx": sum(x["non_2xx"] for x in runs),
            "errors": sum(sum(x["errors"].values()) for x in runs),
            "wrapped": sum(x.get("wrapped", 0) for x in runs),
            "rounds": len(runs),
        }
        for key in ("cpu_ms", "db_cpu_ms"):
            values = [x[key] for x in runs if x.get(key) is not None]
            if values:
                out[kind][key] = statistics.median(values)
    return out


def statements_per_request(stats_dir: Path) -> dict[str, float]:
    """Per request kind ("POST /api/v1/authorizations"), from the workers' counts."""
    requests: dict[str, int] = {}
    statements: dict[str, int] = {}
    for path in stats_dir.glob("statements-*.json"):
        data = json.loads(path.read_text())
        for kind, n in data["requests"].items():
            requests[kind] = requests.get(kind, 0) + n
            statements[kind] = statements.get(kind, 0) + data["statements"].get(kind, 0)
    return {kind: statements[kind] / n for kind, n in requests.items() if n}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- servers ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU of a gunicorn master's workers: the live ones and those already recycled."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / tick  # cutime, cstime (reaped)
    except OSError:
        return 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def postgres_cpu_seconds() -> float:
    """CPU of the PostgreSQL server on this machine: every postgres process, with what its
    reaped children used (the postmaster's share holds backends that already exited)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


class Server:
    def __init__(self, name: str, app: str, port: int, env: dict[str, str],
                 stats_dir: Path | None) -> None:
        self.name, self.port = name, port
        run_dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        full_env = {**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4",
                    "GUNICORN_CONTROL_SOCKET": str(run_dir / "gunicorn.ctl")}
        if stats_dir is not None:
            full_env["BENCH_STATEMENTS_DIR"] = str(stats_dir)
        self.log = open(run_dir / "gunicorn.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", str(ROOT / "bench/gunicorn.conf.py"), app],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")
                break
            except OSError:
                if self.proc.poll() is not None:
                    raise SystemExit(f"{name} did not start: see {self.log.name}") from None
                time.sleep(0.3)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@contextmanager
def servers(database_url: str, audit_dir: Path, ports: tuple[int, int],
            stats_dir: Path) -> Iterator[tuple[Server, Server]]:
    env = {"REGISTRY_DATABASE_URL": database_url, "REGISTRY_SECRET_KEY": "bench",
           "REGISTRY_AUDIT_SIGNING_KEY_FILE": str(audit_dir / "audit-signing-key.pem"),
           "REGISTRY_AUDIT_CHECKPOINT_FILE": str(audit_dir / "audit-checkpoints.jsonl"),
           # Counters in Redis, as deploy/run serves (a namespace of the bench's own).
           "REGISTRY_RATELIMIT_STORAGE_URL": os.environ.get(
               "BENCH_RATELIMIT_STORAGE_URL", "redis://127.0.0.1:6379/0"),
           "REGISTRY_RATELIMIT_KEY_PREFIX": "registry-bench",
           # Raised for the bench: one token asks for thousands of patients a minute.
           "REGISTRY_API_RATELIMIT_LOOKUPS": "1000000 per minute",
           "REGISTRY_API_RATELIMIT_TOKENS": "100000 per minute"}
    registry = Server("registry", "registry:create_app()", ports[0], env, stats_dir)
    floor = None
    try:
        floor = Server("floor", "bench.floor:create_app()", ports[1], env, stats_dir)
        yield registry, floor
    finally:
        registry.stop()
        if floor is not None:
            floor.stop()


# --- data for the load generators ---------------------------------------------------------


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return dict(json.loads(resp.read()))


class Data:
    """Tokens (8 pharmacists, 8 prescribers) and patients, read from the seeded database."""

    def __init__(self, database_url: str, base: str, work: Path) -> None:
        from sqlalchemy import create_engine

        url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.engine = create_engine(url)
        self.url = database_url
        self.work = work
        with self.engine.connect() as conn:
            rph = [r[0] for r in conn.exec_driver_sql(
                "SELECT email FROM users WHERE email LIKE 'bench-rph%%' ORDER BY id")]
            doctors = conn.exec_driver_sql(
                "SELECT u.email, p.id FROM prescribers p JOIN users u ON u.id = p.user_id "
                "WHERE u.email LIKE 'bench-dr%%' ORDER BY p.id").all()
            self.patients = int(conn.exec_driver_sql("SELECT count(*) FROM patients").scalar_one())
            self.sample = conn.exec_driver_sql(
                "SELECT p.registry_id, pr.npi, p.prescriber_id FROM patients p "
                "JOIN prescribers pr ON pr.id = p.prescriber_id "
                "WHERE p.id IN (SELECT (random() * (SELECT max(id) FROM patients))::int "
                "FROM generate_series(1, 30000))").all()
        self.pharmacist_tokens = [
            post_json(f"{base}/api/v1/tokens", {"email": e, "password": PASSWORD})["token"]
            for e in rph]
        self.prescriber_tokens = {
            pid: post_json(f"{base}/api/v1/tokens", {"email": e, "password": PASSWORD})["token"]
            for e, pid in doctors}

    def ready_pool(self, limit: int = 60000) -> list[tuple[str, str]]:
        """Patients eligible for their first RMA today, none issued yet, in random order."""
        from seed import ready_cases

        _, bodies = ready_cases(self.url, limit)
        return [(b["registry_id"], b["prescriber_npi"]) for b in bodies]

    def lines(self, kind: str) -> list[tuple[str, str, str]]:
        rph = self.pharmacist_tokens
        if kind == "status":
            return [(self.prescriber_tokens[pid], rid, npi) for rid, npi, pid in self.sample]
        if kind == "floor":
            return [(rph[i % len(rph)], rid, npi) for i, (rid, npi, _) in enumerate(self.sample)]
        return [(rph[i % len(rph)], rid, npi) for i, (rid, npi) in enumerate(self.ready_pool())]

    def file(self, kind: str) -> tuple[Path, list[tuple[str, str, str]]]:
        lines = self.lines(kind)
        if not lines:
            raise SystemExit(f"bench/run: no patient of {self.url} is ready for an RMA any "
                             "more (each is issued one once): seed it again, bench/seed.py")
        path = self.work / f"{kind}.tsv"
        path.write_text("".join("\t".join(line) + "\n" for line in lines))
        return path, lines


# --- load generators ------------------------------------------------------------------------


def run_wrk(port: int, kind: str, data_file: Path, seconds: int, threads: int,
            connections: int) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(ROOT / "bench/wrk.lua"), f"http://127.0.0.1:{port}", "--",
               kind, str(data_file), str(threads)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def request_for(kind: str, line: tuple[str, str, str]) -> tuple[str, str, bytes | None]:
    _token, rid, npi = line
    if kind == "status":
        return "GET", f"/api/v1/patients/{rid}/status", None
    if kind == "floor":
        return "POST", "/api/v1/floor", json.dumps({"registry_id": rid}).encode()
    path = {"authorize": "/api/v1/authorizations", "ceiling": "/api/v1/ceiling",
            "ceiling-check": "/api/v1/ceiling-check"}.get(kind, "/api/v1/authorization-checks")
    return "POST", path, json.dumps({"registry_id": rid, "date_of_birth": "1990-01-01",
                                     "prescriber_npi": npi, "days_supply": 30,
                                     "quantity": 60, "refills": 0}).encode()


def paced(port: int, kind: str, lines: list[tuple[str, str, str]], rate: float,
          seconds: float, clients: int = 16) -> dict[str, Any]:
    """Open loop at a fixed rate: request i is due at start + i / rate, whatever happened
    to the ones before, and its latency counts from when it was due (so a stall shows as
    the queue it causes, not as a pause in sending: no coordinated omission). wrk 4.1
    (Debian) has no -R; its Lua delay() only spaces a connection's requests after each
    answer, which is closed-loop again. ``clients`` keep-alive connections send."""
    start = time.monotonic() + 0.2
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    late = [0]
    lock = threading.Lock()
    counter = iter(range(total))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            due = start + i / rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            line = lines[i % len(lines)]
            method, path, body = request_for(kind, line)
            headers = {"Authorization": f"Bearer {line[0]}", "Content-Type": "application/json"}
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                code = "error"
            done = time.monotonic()
            with lock:
                latencies.append(done - due)
                statuses[code] = statuses.get(code, 0) + 1
                if wait < 0:
                    late[0] += 1

    workers = [threading.Thread(target=client) for _ in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"rate": rate, "requests": len(latencies), "statuses": statuses,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "sent_late": late[0]}


# --- the whole run -------------------------------------------------------------------------


def measure(database_url: str, audit_dir: Path, ports: tuple[int, int], *, seconds: int,
            rounds: int, threads: int, connections: int, paced_seconds: float,
            kinds: tuple[str, ...] = ENDPOINTS) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    stats_dir = work / "statements"
    stats_dir.mkdir()
    results: list[dict[str, dict[str, Any]]] = []
    paced_results: dict[str, Any] = {}
    with servers(database_url, audit_dir, ports, stats_dir) as (registry, floor):
        data = Data(database_url, f"http://127.0.0.1:{ports[0]}", work)
        for n in range(rounds):
            this: dict[str, dict[str, Any]] = {}
            for kind in kinds:
                server = floor if kind in ON_FLOOR else registry
                path, _ = data.file(kind)
                cpu0, db0 = server.cpu(), postgres_cpu_seconds()
                result = parse_wrk(run_wrk(server.port, kind, path, seconds, threads,
                                           connections))
                result["cpu_ms"] = (server.cpu() - cpu0) * 1000 / max(1, result["requests"])
                result["db_cpu_ms"] = ((postgres_cpu_seconds() - db0) * 1000
                                       / max(1, result["requests"]))
                this[kind] = result
                print(f"  round {n + 1} {kind:<10} {result['rps']:7.1f} req/s  p50 "
                      f"{result['p50_us'] / 1000:6.1f} ms  p99 {result['p99_us'] / 1000:7.1f} ms"
                      f"  non-2xx {result['non_2xx']}", flush=True)
            results.append(this)
        summary = summarize(results)
        if paced_seconds > 0:
            for kind in kinds:
                server = floor if kind in ON_FLOOR else registry
                _, lines = data.file(kind)
                rate = summary[kind]["rps"] / 2
                paced_results[kind] = paced(server.port, kind, lines, rate, paced_seconds)
                print(f"  paced {kind:<10} {rate:7.1f} req/s  p50 "
                      f"{paced_results[kind]['p50_ms']:6.1f} ms  p99 "
                      f"{paced_results[kind]['p99_ms']:7.1f} ms", flush=True)
        data.engine.dispose()
    statements = statements_per_request(stats_dir)
    return {"rounds": results, "summary": summary, "paced": paced_results,
            "statements": statements, "patients": data.patients}


PATHS = {"floor": "POST /api/v1/floor", "check": "POST /api/v1/authorization-checks",
         "authorize": "POST /api/v1/authorizations",
         "status": "GET /api/v1/patients/{id}/status", "ceiling": "POST /api/v1/ceiling",
         "ceiling-check": "POST /api/v1/ceiling-check"}


def report(main: dict[str, Any], large: dict[str, Any] | None = None,
           small: dict[str, Any] | None = None) -> str:
    """The table; with ``large``, p50 there against ``small`` (else ``main``)."""
    lines = [f"{'endpoint':<28} {'req/s':>7} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
             f"{'CPU ms':>7} {'DB ms':>6} {'stmts':>6} {'p99 @ half':>11} {'non-2xx':>8}"]
    for kind, s in main["summary"].items():
        ratio = f"{s['ratio']:.2f}" if s["ratio"] is not None else "-"
        paced_p99 = main["paced"].get(kind, {}).get("p99_ms")
        stmts = main["statements"].get(PATHS[kind])
        lines.append(
            f"{LABELS[kind]:<28} {s['rps']:7.1f} {ratio:>6} {s['p50_ms']:7.1f} "
            f"{s['p99_ms']:7.1f} {s.get('cpu_ms', 0):7.1f} {s.get('db_cpu_ms', 0):6.2f} "
            f"{(f'{stmts:.1f}' if stmts is not None else '-'):>6} "
            f"{(f'{paced_p99:.1f}' if paced_p99 is not None else '-'):>11} "
            f"{s['non_2xx'] + s['errors']:>8}")
    if large is not None:
        base_run = small if small is not None else main
        lines.append("")
        lines.append(f"p50 at {large.get('patients', 0):,} patients vs "
                     f"{base_run.get('patients', 0):,}:")
        lines.append(f"{'endpoint':<28} {'p50 small':>9} {'p50 large':>9} "
                     f"{'ratio':>6} {'req/s small':>11} {'req/s large':>11}")
        for kind, s in large["summary"].items():
            base = base_run["summary"][kind]
            lines.append(f"{LABELS[kind]:<28} {base['p50_ms']:9.1f} {s['p50_ms']:9.1f} "
                         f"{s['p50_ms'] / base['p50_ms']:6.2f} {base['rps']:11.1f} "
                         f"{s['rps']:11.1f}")
    for name, run in (("main", main), ("small", small), ("large", large)):
        if run is None:
            continue
        # Only RMAs use a patient up: the other endpoints may walk the list again.
        wrapped = {k: s["wrapped"] for k, s in run["summary"].items()
                   if k in CONSUMES_PATIENTS and s.get("wrapped")}
        if wrapped:  # RMAs became denials once every ready patient had one
            lines.append(f"warning: the {name} run ({run.get('patients', 0):,} patients) ran "
                         f"out of distinct patients ({wrapped}): seed more")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark the registry against the floor.")
    pg = "postgresql://postgres@127.0.0.1:5432/"
    # 60,000 patients: 30,000 ready for an RMA, each issued once (3 rounds of 15 s and the
    # paced run at ~420 RMAs a second need about 22,000).
    parser.add_argument("--database-url", default=pg + "registry_bench_60k")
    parser.add_argument("--audit-dir", type=Path, default=ROOT / "instance/bench/60k")
    parser.add_argument("--large-database-url", default=pg + "registry_bench_1m",
                        help="a seed of 1 M patients: p50 there vs --small-database-url, "
                        "each run once in turn ('' to skip)")
    parser.add_argument("--large-audit-dir", type=Path, default=ROOT / "instance/bench/1m")
    parser.add_argument("--small-database-url", default=pg + "registry_bench_10k",
                        help="a seed of 10 k patients (if missing: the main database)")
    parser.add_argument("--small-audit-dir", type=Path, default=ROOT / "instance/bench/10k")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--paced-seconds", type=float, default=15)
    parser.add_argument("--ports", default="8101,8102", help="registry,floor")
    parser.add_argument("--only", default=",".join(ENDPOINTS))
    parser.add_argument("--json", type=Path, help="write every figure here too")
    args = parser.parse_args(argv)
    ports = tuple(int(p) for p in args.ports.split(","))
    kinds = tuple(k for k in args.only.split(",") if k)
    if len(ports) != 2 or not set(kinds) <= set(ENDPOINTS + EXTRA):
        parser.error("--ports takes two ports; --only names endpoints among "
                     + str(ENDPOINTS + EXTRA))
    if "floor" not in kinds:
        kinds = ("floor", *kinds)
    print(f"bench/run: {args.rounds} rounds x {args.seconds} s per endpoint, wrk "
          f"-t{args.threads} -c{args.connections}, on {args.database_url}", flush=True)
    main_result = measure(args.database_url, args.audit_dir, ports, seconds=args.seconds,
                          rounds=args.rounds, threads=args.threads,
                          connections=args.connections, paced_seconds=args.paced_seconds,
                          kinds=kinds)
    large = small = None
    if args.large_database_url and database_exists(args.large_database_url):
        # The same run on both sizes, one after the other: what grows with the registry.
        if args.small_database_url and database_exists(args.small_database_url):
            print(f"... and once each on {args.small_database_url}", flush=True)
            small = measure(args.small_database_url, args.small_audit_dir, ports,
                            seconds=args.seconds, rounds=1, threads=args.threads,
                            connections=args.connections, paced_seconds=0, kinds=kinds)
        print(f"... and once each on {args.large_database_url}", flush=True)
        large = measure(args.large_database_url, args.large_audit_dir, ports,
                        seconds=args.seconds, rounds=1, threads=args.threads,
                        connections=args.connections, paced_seconds=0, kinds=kinds)
    print()
    print(report(main_result, large, small))
    if args.json:
        args.json.write_text(json.dumps({"main": main_result, "small": small,
                                         "large": large}, indent=2, default=str))


def database_exists(url: str) -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT count(*) FROM patients").scalar())
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()


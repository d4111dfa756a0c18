"""Time what must stay flat as the registry grows (issue 11), on a seeded registry:

    .venv/bin/python bench/scale.py                       # registry_bench_1m, 5 runs each
    .venv/bin/python bench/scale.py --database-url postgresql://…/registry_bench_10k

- the staff summary report over a year (goal at 1 M: <= 1 s);
- staff search by registry ID, NPI, email, and name fragments (<= 150 ms);
- the first page of a prescriber's patient list (the API's 50, the page's 100, and "needs
  my action"), for the prescriber with the most patients (>= 300: the seed's have 125,000
  each at 1 M) (<= 300 ms);
- `audit verify` from the newest checkpoint, 1,000 entries before the head (<= 5 s);
- the full walk over the last ``--walk`` entries (default 1,000,000) in one process and
  split across ``--workers`` (seconds per million entries; the goal: under 73).

Each figure is the median of ``--runs`` runs (the runs and the statements of one run are
printed too). Read-only but for the checkpoints, which are signed with a throwaway key in a
temporary directory. The audit table must have been vacuumed (the seed does it) for the
count up to a checkpoint to be an index-only scan.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(label: str, work: Callable[[], Any], runs: int, figures: dict[str, Any]) -> Any:
    from registry import db

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = db.engine()
    times, result = [], None
    for _ in range(runs):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        start = time.perf_counter()
        try:
            result = work()
        finally:
            times.append(time.perf_counter() - start)
            event.remove(engine, "before_cursor_execute", count)
            db.rollback_request()
    median = statistics.median(times) * 1000
    figures[label] = {"median_ms": round(median, 1), "runs_ms": [round(t * 1000, 1)
                                                                  for t in times],
                      "statements": len(statements)}
    print(f"{label:<58} {median:9.1f} ms  ({len(statements)} statements; runs "
          f"{', '.join(f'{t * 1000:.0f}' for t in times)})", flush=True)
    return result


def sign(key: Any, count: int, head_hash: str) -> str:
    from registry.audit.checkpoints import Checkpoint, _signed_bytes, key_id

    kid = key_id(key.public_key())
    stamp = "2026-11-24T00:00:00+00:00"
    signature = base64.b64encode(key.sign(_signed_bytes(count, head_hash, stamp, kid))).decode()
    return Checkpoint(count, head_hash, stamp, kid, signature).to_json()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url",
                        default="postgresql://postgres@127.0.0.1:5432/registry_bench_1m")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--walk", type=int, default=1_000_000,
                        help="entries of the full walk timed (0: skip it)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    from registry import clock, create_app, db
    from registry.audit.checkpoints import load_or_create_signing_key, verify_log
    from registry.audit.models import AuditEntry
    from registry.patients.models import Patient
    from registry.prescribers.models import Prescriber
    from registry.prescribers.queries import patient_page
    from registry.reports import summary
    from registry.staff.queries import search

    url = args.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    app = create_app({"DATABASE_URL": url, "AUDIT_SIGNING_KEY_FILE": str(tmp / "key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp / "checkpoints.jsonl")})
    figures: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "load_average": os.getloadavg()}
    runs = args.runs
    with app.app_context():
        s = db.session()
        patients = s.scalar(select(func.count(Patient.id)))
        head = s.scalar(select(func.max(AuditEntry.seq))) or 0
        some = s.execute(select(Patient).where(Patient.status == "active")
                         .order_by(Patient.id.desc()).limit(1)).scalar_one()
        rid, email, name = some.registry_id, some.email, some.last_name
        npi = s.execute(select(Prescriber.npi).order_by(Prescriber.id.desc())).scalar()
        busiest, listed = s.execute(
            select(Patient.prescriber_id, func.count()).group_by(Patient.prescriber_id)
            .order_by(func.count().desc()).limit(1)).one()
        db.rollback_request()
        figures.update(patients=patients, audit_entries=head, list_patients=listed)
        print(f"{patients:,} patients, {head:,} audit entries; load average "
              f"{figures['load_average'][0]:.1f}", flush=True)

        today = clock.today()
        timed(f"summary report, {today - timedelta(days=364)}..{today}",
              lambda: summary(db.session(), today - timedelta(days=364), today), runs, figures)
        timed(f"search registry ID {rid}", lambda: search(db.session(), rid), runs, figures)
        timed(f"search NPI {npi}", lambda: search(db.session(), npi), runs, figures)
        timed(f"search email {email}", lambda: search(db.session(), email), runs, figures)
        timed(f"search name part {name[-8:]!r} (one patient)",
              lambda: search(db.session(), name[-8:]), runs, figures)
        timed("search name part 'quint' (nobody)", lambda: search(db.session(), "quint"),
              runs, figures)
        timed("search name part 'bench ready' (half the registry)",
              lambda: search(db.session(), "bench ready"), runs, figures)
        for label, kw in (("first page of 50 (API)", {"limit": 50}),
                          ("first page of 100 (web page)", {"limit": 100}),
                          ("first page of 50, needs my action", {"limit": 50,
                                                                 "needs_action": True})):
            timed(f"{listed:,}-patient list: {label}",
                  lambda kw=kw: patient_page(db.session(), busiest, **kw), runs, figures)

        key = load_or_create_signing_key()

        def hash_at(seq: int) -> str:
            value = db.session().execute(select(AuditEntry.hash).where(AuditEntry.seq == seq)
                                         ).scalar_one()
            db.rollback_request()
            return str(value)

        checkpoints = tmp / "checkpoints.jsonl"
        checkpoints.write_text(sign(key, head - 1000, hash_at(head - 1000)) + "\n")
        report = timed("audit verify from the newest checkpoint (1,000 back)",
                       lambda: verify_log(db.session(), since_last_checkpoint=True),
                       runs, figures)
        print(f"    {report.summary()}; findings: {[f.kind for f in report.findings][:5]}")
        if args.walk:
            start = max(head - args.walk, 0)
            lines = [sign(key, start, hash_at(start))] if start else []
            checkpoints.write_text("".join(line + "\n" for line in lines))
            for workers in sorted({1, args.workers}):
                t0 = time.perf_counter()
                report = verify_log(db.session(), since_last_checkpoint=True, workers=workers)
                took = time.perf_counter() - t0
                db.rollback_request()
                walked = report.result.checked
                per_million = took / max(walked, 1) * 1e6
                figures[f"full walk, {workers} worker(s)"] = {
                    "entries": walked, "seconds": round(took, 1),
                    "seconds_per_million": round(per_million, 1),
                    "intact": report.ok}
                print(f"full walk of {walked:,} entries, {workers} worker(s): {took:.1f} s, "
                      f"{per_million:.1f} s per million; findings: "
                      f"{[f.kind for f in report.findings][:5]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

"""Time the reads that must stay flat as the registry grows (issue 11): the staff summary
report over a year, staff search, one decision's facts, `audit verify` from a checkpoint.

    python bench/scale_probe.py postgresql://…/registry_big HEAD_SEQ [FROM_SEQ]

Runs against an existing registry (any size; seed it with bench/'s seeding). HEAD_SEQ is
the chain's head; checkpoints are signed with a throwaway key in a temporary directory at
HEAD_SEQ - 1000 (about a minute of a busy registry) and, with FROM_SEQ, at FROM_SEQ (to
time a long walk: entries per second of the full walk). Read-only except the checkpoint
files. Prints each figure as the median of three runs, with the statements it took.
"""

from __future__ import annotations

import base64
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from registry import create_app, db
from registry.audit.checkpoints import (
    Checkpoint,
    _signed_bytes,
    key_id,
    load_or_create_signing_key,
    verify_log,
)
from registry.audit.models import AuditEntry
from registry.patients import queries as patient_queries
from registry.patients.models import Patient
from registry.prescribers.models import Prescriber
from registry.reports import summary
from registry.staff.queries import search


def timed(label: str, work: Callable[[], Any], runs: int = 3) -> Any:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = db.engine()
    times, result = [], None
    for _ in range(runs):
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
        event.remove(engine, "before_cursor_execute", count)
        db.rollback_request()
    print(f"{label:<48} {statistics.median(times) * 1000:9.1f} ms  "
          f"({len(statements)} statements; runs {', '.join(f'{t * 1000:.0f}' for t in times)})",
          flush=True)
    return result


def sign(key: Any, count: int, head_hash: str) -> str:
    kid = key_id(key.public_key())
    stamp = "2026-11-24T00:00:00+00:00"
    signature = base64.b64encode(key.sign(_signed_bytes(count, head_hash, stamp, kid))).decode()
    return Checkpoint(count, head_hash, stamp, kid, signature).to_json()


def main(url: str, head_seq: int, from_seq: int | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="scale-probe-"))
    app = create_app({"DATABASE_URL": url, "AUDIT_SIGNING_KEY_FILE": str(tmp / "key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp / "checkpoints.jsonl")})
    with app.app_context():
        s = db.session()
        patients = s.execute(select(Patient.id)).all()
        print(f"{len(patients)} patients, audit head seq {head_seq}")
        some = s.execute(select(Patient).where(Patient.status == "active")
                         .order_by(Patient.id.desc()).limit(1)).scalar_one()
        rid, email, name = some.registry_id, some.email, some.last_name[:5]
        npi = s.execute(select(Prescriber.npi).order_by(Prescriber.id.desc())).scalar()
        db.rollback_request()
        timed("summary report, 2026-01-01..2026-12-31",
              lambda: summary(db.session(), date(2026, 1, 1), date(2026, 12, 31)))
        timed(f"search registry ID {rid}", lambda: search(db.session(), rid))
        timed(f"search NPI {npi}", lambda: search(db.session(), npi))
        timed(f"search email {email}", lambda: search(db.session(), email))
        timed(f"search name part {name!r}", lambda: search(db.session(), name))
        timed("search name part 'quint'", lambda: search(db.session(), "quint"))
        timed("search email part 'okafor12'", lambda: search(db.session(), "okafor12"))

        def decision() -> Any:
            session = db.session()
            patient = session.get(Patient, some.id)
            return patient_queries.status(session, patient)

        timed("one patient's decision (facts and rules)", decision)

        key = load_or_create_signing_key()
        near = head_seq - 1000

        def hash_at(seq: int) -> str:
            value = db.session().execute(select(AuditEntry.hash).where(AuditEntry.seq == seq)
                                         ).scalar_one()
            db.rollback_request()
            return str(value)

        lines = [sign(key, near, hash_at(near))]
        if from_seq is not None:
            lines.insert(0, sign(key, from_seq, hash_at(from_seq)))
        (tmp / "checkpoints.jsonl").write_text("\n".join(lines) + "\n")
        report = timed("audit verify from the newest checkpoint",
                       lambda: verify_log(db.session(), since_last_checkpoint=True), runs=3)
        print(f"    {report.summary()}; findings: {[f.kind for f in report.findings][:5]}")
        if from_seq is not None:
            (tmp / "checkpoints.jsonl").write_text(lines[0] + "\n")
            start = time.perf_counter()
            report = verify_log(db.session(), since_last_checkpoint=True)
            took = time.perf_counter() - start
            db.rollback_request()
            walked = report.result.checked
            print(f"audit walk of {walked} entries from seq {from_seq}: {took:.1f} s, "
                  f"{took / walked * 1e6:.1f} s per million entries; findings: "
                  f"{[f.kind for f in report.findings][:5]}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)

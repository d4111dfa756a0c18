"""bench/: the seeding script builds a registry the registry itself accepts (audit chain
verified, clones as real as their templates), and bench/run reads wrk's results right."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench import runner, seed
from registry import create_app, db
from registry.accounts.models import User
from registry.api.models import ApiToken
from registry.audit.checkpoints import verify_log
from registry.audit.models import AuditEntry
from registry.authorizations.models import Authorization
from registry.patients.models import Patient
from registry.patients.queries import status
from registry.rules.identifiers import registry_id_is_valid
from tests.harness import TEST_CONFIG

CHEAP = {key: TEST_CONFIG[key] for key in
         ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")}


@pytest.fixture
def seed_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own: the seed drops and rebuilds whatever it is given."""
    test_url = os.environ.get("REGISTRY_TEST_DATABASE_URL")
    if not test_url:
        yield f"sqlite:///{tmp_path}/seed.sqlite3"
        return
    url = make_url(test_url.replace("postgresql://", "postgresql+psycopg://", 1))
    # one per xdist worker: two seeding tests at once must not share (or race to create) it
    name = f"{url.database}_seed_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield test_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_seed_builds_a_registry_whose_audit_chain_verifies(seed_url: str,
                                                           tmp_path: Path) -> None:
    figures = seed.seed(seed_url, 50, tmp_path / "audit", prescribers=1, chunk=2,
                        config=CHEAP, verify=True)
    # 1 prescriber x 10 templates, cloned 4 times: 50 patients, chain intact and signed.
    assert figures["patients"] == 50
    assert figures["verify_ok"] is True
    assert figures["checkpoint"] == figures["audit_entries"]

    app = create_app({**TEST_CONFIG, "DATABASE_URL": seed_url,
                      "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit/audit-signing-key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit/audit-checkpoints.jsonl")})
    with app.app_context():
        session = db.session()
        report = verify_log(session)
        assert report.findings == []
        assert report.result.checked == figures["audit_entries"]
        assert session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) == 0
        # Every patient's audit trail was cloned with them: 5 copies of each template's.
        per_patient = dict(session.execute(
            select(AuditEntry.subject_id, func.count())
            .where(AuditEntry.subject_type == "patient").group_by(AuditEntry.subject_id)).all())
        patients = session.execute(select(Patient).order_by(Patient.id)).scalars().all()
        assert len(per_patient) == 50
        assert {p.registry_id for p in patients} == {p.registry_id for p in patients
                                                     if registry_id_is_valid(p.registry_id)}
        assert len({p.registry_id for p in patients}) == 50
        template, clone = patients[0], patients[10]
        assert clone.last_name == f"{template.last_name}c1"
        assert per_patient[str(clone.id)] == per_patient[str(template.id)]
        register = session.execute(select(AuditEntry).where(
            AuditEntry.action == "patient:register",
            AuditEntry.subject_id == str(clone.id))).scalar_one()
        assert register.after is not None
        assert register.after["registry_id"] == clone.registry_id
        assert register.after["email"] == clone.email
        # A clone is as eligible as its template, by the registry's own rules.
        ready = [p for p in patients if p.last_name.startswith("ready")]
        assert len(ready) == 30  # "ready" and "readyx" (cannot get pregnant)
        assert all(status(session, p).eligible for p in ready)
        _, bodies = seed.ready_cases(seed_url, 100)
        assert len(bodies) == 25  # the pool bench/run issues RMAs to: "ready" only
        opened = session.scalars(select(Authorization.patient_id)).all()
        assert len(opened) == 10
        assert len(set(opened)) == 10
        # Clones of a patient's account are distinct users with the template's hash.
        users = session.execute(select(User).where(User.role == "patient")).scalars().all()
        assert len({u.email for u in users}) == len(users) == 45  # 1 in 10 not activated
        assert len({u.password_hash for u in users}) == 9


def test_the_summary_of_a_seeded_registry_is_the_row_by_row_count(seed_url: str,
                                                                  tmp_path: Path) -> None:
    """The summary report's grouped counts (denials by reason from denial_reasons, which the
    database fills as the cloned decisions are inserted) against every row read and counted
    in Python, on a registry built the way the 1 M benchmark registry is."""
    from datetime import timedelta

    from registry import clock
    from registry.authorizations.models import AuthorizationDecision
    from registry.reports import summary
    from tests.test_reports import summary_row_by_row

    seed.seed(seed_url, 60, tmp_path / "audit", prescribers=2, chunk=2, config=CHEAP)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": seed_url,
                      "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit/audit-signing-key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit/audit-checkpoints.jsonl")})
    with app.app_context():
        session = db.session()
        denied = session.scalars(select(AuthorizationDecision).where(
            AuthorizationDecision.eligible.is_(False))).all()
        assert len(denied) == 6  # each "incomplete" template (2) and its 2 clones
        today = clock.today()
        for start, end in [(today - timedelta(days=364), today), (today, today),
                           (today - timedelta(days=60), today - timedelta(days=1))]:
            result = summary(session, start, end)
            assert result == summary_row_by_row(session, start, end), start
        year = summary(session, today - timedelta(days=364), today)
        assert year.authorizations_denied == 6
        assert sum(year.denials_by_reason.values()) == sum(len(d.reasons) for d in denied)
        assert year.authorizations_issued == 12  # "open" and "dispensed": 2 x 2 x 3
        db.rollback_request()


def test_clones_registry_ids_keep_clear_of_the_templates() -> None:
    # A template (a registry ID drawn at random by the registry) inside the clones' range
    # made a seed of a million fail on a duplicate registry ID: the range moves down.
    last = 1_000_080
    assert seed.registry_id_base(["1234567890"], last) == 900_000_000
    in_range = seed.registry_id_for(500_000)  # the body 899,500,000 and its check digit
    base = seed.registry_id_base(["1234567890", in_range], last)
    assert base == 850_000_000
    clones = {seed.registry_id_for(row, base) for row in (1, 500_000, last)}
    assert in_range not in clones
    assert all(registry_id_is_valid(r) and len(r) == 10 for r in clones)
    edge = seed.registry_id_for(last)  # the lowest of the 900 million range: taken too
    assert seed.registry_id_base([edge], last) == 850_000_000


def test_floor_reads_a_token_and_a_patient(seed_url: str, tmp_path: Path) -> None:
    from bench import floor

    seed.seed(seed_url, 10, tmp_path / "audit", prescribers=1, config=CHEAP)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": seed_url,
                      "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit/audit-signing-key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit/audit-checkpoints.jsonl")})
    answer = app.test_client().post("/api/v1/tokens", json={
        "email": "bench-rph0-0@example.org", "password": seed.PASSWORD})
    assert answer.status_code == 201
    raw = answer.get_json()["token"]
    with app.app_context():
        registry_id = db.session().scalars(select(Patient.registry_id).limit(1)).one()
        assert db.session().scalar(select(func.count(ApiToken.id))) == 1
        db.rollback_request()
    client = floor.create_app(seed_url).test_client()
    answer = client.post("/api/v1/floor", json={"registry_id": registry_id},
                         headers={"Authorization": f"Bearer {raw}"})
    assert answer.status_code == 200
    assert answer.get_json()["registry_id"] == registry_id
    assert client.post("/api/v1/floor", json={"registry_id": registry_id},
                       headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/v1/floor", json={"registry_id": "0000000000"},
                       headers={"Authorization": f"Bearer {raw}"}).status_code == 404


def test_the_ceiling_issues_an_rma_as_the_registry_does(seed_url: str, tmp_path: Path) -> None:
    """bench/floor.py's ceiling runs the registry's statements and rules for an RMA: what it
    stores is what the registry stores, and its facts see the RMA it issued."""
    from bench import floor
    from registry.audit.sealer import sealer
    from registry.authorizations.models import AuthorizationDecision

    seed.seed(seed_url, 10, tmp_path / "audit", prescribers=1, config=CHEAP)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": seed_url,
                      "AUDIT_SIGNING_KEY_FILE": str(tmp_path / "audit/audit-signing-key.pem"),
                      "AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit/audit-checkpoints.jsonl")})
    registry = app.test_client()
    raw = registry.post("/api/v1/tokens", json={
        "email": "bench-rph0-0@example.org", "password": seed.PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {raw}"}
    _, bodies = seed.ready_cases(seed_url, 2)
    assert len(bodies) == 2
    first, second = ({**b, "days_supply": 30, "quantity": 60, "refills": 0} for b in bodies)
    ceiling_app = floor.create_app(seed_url)
    ceiling = ceiling_app.test_client()
    answer = ceiling.post("/api/v1/ceiling", json=first, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    issued = answer.get_json()
    assert sealer(ceiling_app).wait_idle()  # sealed after the commit, as the registry does
    by_registry = registry.post("/api/v1/authorizations", json=second, headers=headers)
    assert by_registry.status_code == 201
    for field in ("status", "ruleset", "do_not_dispense_after"):
        assert issued[field] == by_registry.get_json()[field]
    with app.app_context():
        session = db.session()
        auth = session.scalars(select(Authorization).where(
            Authorization.rma == issued["rma"])).one()
        assert auth.status == "authorized"
        assert auth.patient.registry_id == first["registry_id"]
        decision = session.scalars(select(AuthorizationDecision).where(
            AuthorizationDecision.authorization_id == auth.id)).one()
        assert decision.eligible is True
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.subject_id == issued["rma"])).one()
        assert entry.seq is not None
        assert entry.hash is not None
        db.rollback_request()
    again = ceiling.post("/api/v1/ceiling", json=first, headers=headers)
    assert again.status_code == 422
    assert again.get_json()["reasons"] == ["AUTHORIZATION_ALREADY_ISSUED"]
    # The ceiling of a check answers as the registry's check does, and audits it.
    _, (third,) = seed.ready_cases(seed_url, 1)
    third = {**third, "days_supply": 30, "quantity": 60, "refills": 0}
    for body in (first, third):
        checked = ceiling.post("/api/v1/ceiling-check", json=body, headers=headers)
        by_registry = registry.post("/api/v1/authorization-checks", json=body, headers=headers)
        assert checked.status_code == by_registry.status_code == 200
        expected = by_registry.get_json()
        assert checked.get_json()["reasons"] == [r["code"] for r in expected["reasons"]]
        for field in ("eligible", "ruleset"):
            assert checked.get_json()[field] == expected[field]
    assert checked.get_json()["eligible"] is True
    with app.app_context():
        assert db.session().scalar(select(func.count(AuditEntry.id)).where(
            AuditEntry.action == "authorization:check")) == 4
        db.rollback_request()
    assert sealer(ceiling_app).wait_idle()  # before the database goes
    ceiling_app.extensions["registry.engine"].dispose()


WRK_OUTPUT = """Running 20s test @ http://127.0.0.1:8101
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    23.12ms   10.01ms 180.00ms   80.00%
BENCH_RESULT {"requests": 2000, "duration_us": 20000000, "p50_us": 21000, "p90_us": 35000, \
"p99_us": 90000, "max_us": 180000, "mean_us": 23120.0, "errors": {"connect": 0, "read": 0, \
"write": 0, "timeout": 1, "status": 3}, "statuses": {"201": 1997, "422": 3}, "wrapped": 0}
Requests/sec:    100.00
"""


def wrk_result(rps: float, p50_ms: float) -> dict[str, Any]:
    return {"rps": rps, "p50_us": p50_ms * 1000, "p99_us": p50_ms * 3000, "non_2xx": 0,
            "errors": {"timeout": 0}, "wrapped": 0, "cpu_ms": p50_ms / 10}


def test_bench_run_reads_wrk_results() -> None:
    result = runner.parse_wrk(WRK_OUTPUT)
    assert result["requests"] == 2000
    assert result["rps"] == pytest.approx(100.0)
    assert result["p50_us"] == 21000
    assert result["p99_us"] == 90000
    assert result["non_2xx"] == 3
    assert result["errors"]["timeout"] == 1
    with pytest.raises(ValueError, match="no BENCH_RESULT"):
        runner.parse_wrk("Running 20s test\nRequests/sec: 1\n")


def test_bench_run_takes_medians_and_ratios_to_the_floor_of_each_round() -> None:
    rounds = [
        {"floor": wrk_result(600, 10), "check": wrk_result(300, 20)},
        {"floor": wrk_result(1000, 12), "check": wrk_result(100, 60)},  # an odd round
        {"floor": wrk_result(500, 11), "check": wrk_result(200, 30)},
    ]
    summary = runner.summarize(rounds)
    assert summary["floor"]["ratio"] == 1
    assert summary["check"]["rps"] == 200
    assert summary["check"]["p50_ms"] == 30
    assert summary["check"]["p99_ms"] == 90
    # ratios per round 0.5, 0.1, 0.4: their median, not median(rps) / median(floor rps),
    # which would be 200 / 600
    assert summary["check"]["ratio"] == pytest.approx(0.4)
    assert summary["check"]["cpu_ms"] == 3
    text_report = runner.report({"summary": summary, "paced": {}, "statements": {}})
    assert "POST authorization-checks" in text_report
    assert "0.40" in text_report
    large = {"summary": runner.summarize([{"floor": wrk_result(500, 11),
                                           "check": wrk_result(190, 33)}]),
             "patients": 1_000_000}
    both = runner.report({"summary": summary, "paced": {}, "statements": {},
                          "patients": 10_000}, large)
    assert "p50 at 1,000,000 patients vs 10,000" in both
    check_line = next(line for line in both.splitlines()[-3:]
                      if line.startswith("POST authorization-checks"))
    assert check_line.split()[4] == "1.10"  # p50 33 ms there vs 30 ms here
    # With a 10 k run of its own, the comparison is against that run, not the main one.
    small = {"summary": runner.summarize([{"floor": wrk_result(500, 11),
                                           "check": wrk_result(190, 22)}]),
             "patients": 10_000}
    against_small = runner.report({"summary": summary, "paced": {}, "statements": {},
                                   "patients": 30_000}, large, small)
    assert "p50 at 1,000,000 patients vs 10,000" in against_small
    check_line = next(line for line in against_small.splitlines()[-3:]
                      if line.startswith("POST authorization-checks"))
    assert check_line.split()[4] == "1.50"  # 33 ms there vs 22 ms on the 10 k seed


def test_bench_run_names_the_run_that_ran_out_of_patients() -> None:
    def run(patients: int, wrapped: int) -> dict[str, Any]:
        return {"summary": runner.summarize([{"floor": wrk_result(500, 11), "authorize": {
            **wrk_result(200, 20), "wrapped": wrapped}}]), "paced": {}, "statements": {},
            "patients": patients}

    assert "ran out" not in runner.report(run(60_000, 0), run(1_000_000, 0), run(10_000, 0))
    # the floor, checks and status may walk the patients again: no warning for them
    again = run(10_000, 0)
    again["summary"]["floor"]["wrapped"] = 9784
    assert "ran out" not in runner.report(run(60_000, 0), run(1_000_000, 0), again)
    text_report = runner.report(run(60_000, 0), run(1_000_000, 0), run(10_000, 3))
    warnings = [line for line in text_report.splitlines() if "ran out" in line]
    assert warnings == ["warning: the small run (10,000 patients) ran out of distinct "
                        "patients ({'authorize': 3}): seed more"]


def test_bench_run_counts_statements_per_request(tmp_path: Path) -> None:
    for pid, (requests, statements) in enumerate([(10, 160), (30, 480)]):
        (tmp_path / f"statements-{pid}.json").write_text(json.dumps({
            "requests": {"POST /api/v1/authorization-checks": requests},
            "statements": {"POST /api/v1/authorization-checks": statements}}))
    assert runner.statements_per_request(tmp_path) == {
        "POST /api/v1/authorization-checks": 16.0}


def test_audit_templates_put_each_clones_values_in_place() -> None:
    template = seed.Template('{"a":"@@S0@@","b":[1,2],"c":"@@S1@@"}')
    assert template.render(['"x"', "42"]) == '{"a":"x","b":[1,2],"c":42}'
    assert seed.Template('{"a":1}').render([]) == '{"a":1}'

"""How long the daily reminder scan takes for many patients (PostgreSQL).

    .venv/bin/python bench/reminders_scan.py postgresql://postgres@127.0.0.1:5432/DB 100000

EMPTIES that database, builds the schema with the migrations, and seeds (in SQL, fast)
N patients in treatment: each has a screening test, one 7-day window opened on a day spread
over 30 days, an RMA and a 30-day dispense on its first day, so a day's reminders concern
about a tenth of them. Then runs the scan for one day (twice: the second run queues
nothing) and prints the candidates, the messages queued, the time and the SQL statements.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import date
from typing import Any

from alembic import command
from sqlalchemy import event, text

from registry import create_app, db
from registry.cli import alembic_config
from registry.notifications.jobs import run_reminders

BASE = date(2026, 3, 2)  # windows open from this day to 29 days later
DAY = date(2026, 3, 31)  # the scan's day


SEED = [
    # one pharmacy, one pharmacist; P prescribers; N patients with their own accounts
    """INSERT INTO users (id, email, password_hash, role, first_name, last_name, created_at,
        failed_logins, reminders_enabled)
       SELECT g, 'u' || g || '@bench.example.org', 'x', CASE WHEN g = 1 THEN 'pharmacist'
              WHEN g <= :p + 1 THEN 'prescriber' ELSE 'patient' END, 'F', 'L' || g, now(),
              0, true
       FROM generate_series(1, :n + :p + 1) g""",
    """INSERT INTO pharmacies (id, name, ncpdp_id, npi, registered_at, activated_on)
       VALUES (1, 'Bench', '7654321', '1888888880', now(), :base)""",
    """INSERT INTO pharmacists (id, user_id, pharmacy_id, license_number, is_rsp,
        training_completed_on) VALUES (1, 1, 1, 'L1', true, :base)""",
    """INSERT INTO prescribers (id, user_id, npi, enrolled_at, attested_on)
       SELECT g, g + 1, '1' || lpad(g::text, 9, '0'), now(), :base - (g % 360)
       FROM generate_series(1, :p) g""",
    """INSERT INTO patients (id, registry_id, user_id, prescriber_id, first_name, last_name,
        date_of_birth, email, risk_category, status, registered_on, registered_at,
        activated_on, consent_signed_on, consent_version, contraception_start_on,
        home_tests_allowed, course_number, course_started_on)
       SELECT g, lpad(g::text, 10, '0'), g + :p + 1, 1 + g % :p, 'Pat', 'P' || g,
              DATE '1995-06-15', 'p' || g || '@bench.example.org', 'can_get_pregnant',
              'active', :base - 60, now(), :base - 60, :base - 60, '2026-02', :base - 60,
              false, 1, :base - 60
       FROM generate_series(1, :n) g""",
    """INSERT INTO pregnancy_tests (id, patient_id, course_number, specimen_collected_on,
        result, setting, purpose, entered_by_id, entered_at)
       SELECT g, g, 1, :base - 45, 'negative', 'lab', 'screening', 2, now()
       FROM generate_series(1, :n) g""",
    """INSERT INTO pregnancy_tests (id, patient_id, course_number, specimen_collected_on,
        result, setting, purpose, entered_by_id, entered_at)
       SELECT :n + g, g, 1, :base + g % 30, 'negative', 'lab', 'confirmation', 2, now()
       FROM generate_series(1, :n) g""",
    """INSERT INTO cycles (id, patient_id, number, course_number, kind, ruleset, opened_on,
        closes_on, pregnancy_test_id, created_at)
       SELECT g, g, 1, 1, 'test_window', '2021', :base + g % 30, :base + g % 30 + 6, :n + g,
              now()
       FROM generate_series(1, :n) g""",
    # half the windows are still waiting at the pharmacy, half were dispensed on day 1
    """INSERT INTO authorizations (id, rma, patient_id, cycle_id, prescriber_id, pharmacy_id,
        pharmacist_id, status, ruleset, issued_on, issued_at, do_not_dispense_after,
        days_supply, quantity, refills)
       SELECT g, 'R' || lpad(g::text, 11, '0'), g, g, 1 + g % :p, 1, 1,
              CASE WHEN g % 2 = 0 THEN 'dispensed' ELSE 'authorized' END, '2021',
              :base + g % 30, now(), :base + g % 30 + 6, 30, 60, 0
       FROM generate_series(1, :n) g WHERE g % 2 = 0 OR :base + g % 30 + 6 >= :day""",
    """INSERT INTO dispenses (id, authorization_id, patient_id, dispensed_on, quantity,
        days_supply, pharmacist_id, recorded_at)
       SELECT g, g, g, :base + g % 30, 60, 30, 1, now()
       FROM generate_series(2, :n, 2) g""",
]


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2])
    prescribers = max(1, n // 100)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    with app.app_context():
        engine = db.engine()
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        command.upgrade(alembic_config(url), "head")
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in SEED:
                conn.execute(text(statement), {"n": n, "p": prescribers, "base": BASE,
                                               "day": DAY})
            conn.execute(text("ANALYZE"))
        print(f"seeded {n} patients, {prescribers} prescribers in "
              f"{time.perf_counter() - started:.1f} s")

        statements: Counter[str] = Counter()

        def count(*_: Any) -> None:
            statements["sql"] += 1

        event.listen(engine, "before_cursor_execute", count)
        for attempt in ("first", "second"):
            statements.clear()
            started = time.perf_counter()
            result = run_reminders(DAY)
            elapsed = time.perf_counter() - started
            print(f"{attempt} run for {DAY}: {result.candidates} candidates, queued "
                  f"{dict(result.queued)}, {elapsed:.1f} s, {statements['sql']} SQL statements")


if __name__ == "__main__":
    main()

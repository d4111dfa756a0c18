"""Command line: ``flask --app registry ...`` and the ``registry`` script (same commands)."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from registry import db

if TYPE_CHECKING:
    from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent

# Alembic is imported by the commands that migrate, not with the app: create_app registers
# these commands, so every process (gunicorn workers, `registry worker`) would pay ~0.1 s
# for it otherwise.


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["sqlalchemy_url"] = url or current_app.config["SQLALCHEMY_URL"]
    return cfg


def upgrade_database(revision: str = "head") -> None:
    """Run the migrations, then make sure the packaged question bank is loaded."""
    from alembic import command

    from registry.cycles.operations import load_question_bank

    command.upgrade(alembic_config(), revision)
    if revision == "head":
        with db.unit_of_work() as session:
            load_question_bank(session)


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head) and load the question bank."""
    upgrade_database(revision)
    click.echo(f"Database at {revision}.")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step)."""
    from alembic import command

    command.downgrade(alembic_config(), revision)
    click.echo(f"Database downgraded to {revision}.")


@db_group.command("is-empty")
def db_is_empty() -> None:
    """Exit 0 when the registry has no users yet (used by `make run` to load the demo)."""
    from sqlalchemy import func, select

    from registry.accounts.models import User

    count = db.session().execute(select(func.count(User.id))).scalar_one()
    sys.exit(0 if count == 0 else 1)


@click.group("admin")
def admin_group() -> None:
    """Program staff accounts."""


@admin_group.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--first-name", default="Program")
@click.option("--last-name", default="Staff")
def admin_create(email: str, password: str, first_name: str, last_name: str) -> None:
    """Create a program staff account."""
    from registry.accounts.operations import create_staff
    from registry.errors import ValidationError

    try:
        with db.unit_of_work() as session:
            user = create_staff(session, None, email=email, password=password,
                                first_name=first_name, last_name=last_name)
    except ValidationError as exc:
        for field, messages in exc.errors.items():
            click.echo(f"--{field.replace('_', '-')}: {' '.join(messages)}", err=True)
        sys.exit(2)
    click.echo(f"Program staff account {user.email} created (user id {user.id}).")


@click.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option("--checkpoints", "checkpoint_file", type=click.Path(dir_okay=False),
              help="Checkpoint file to verify against (default: AUDIT_CHECKPOINT_FILE).")
@click.option("--public-key", "public_key_file", type=click.Path(dir_okay=False),
              help="Public key (PEM) the checkpoints are signed with (default: derived "
                   "from AUDIT_SIGNING_KEY_FILE).")
@click.option("--full", is_flag=True,
              help="Read the whole chain again and compare it with every checkpoint (by "
                   "default: what came after the newest good checkpoint).")
@click.option("--since-last-checkpoint", is_flag=True, hidden=True,
              help="The default; kept for scripts that ask for it.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Processes a long walk (200,000 entries or more) is split across; 0: one "
                   "per CPU, 1: a single process.")
def audit_verify(checkpoint_file: str | None, public_key_file: str | None, full: bool,
                 since_last_checkpoint: bool, workers: int) -> None:
    """Check the hash chain against the signed checkpoints; exit 1 naming what is wrong.

    By default from the newest checkpoint whose signature holds: the entries sealed since
    are walked, and the chain up to it must end in its head hash with exactly its count of
    entries. An entry before it edited in place (its hash left alone) is found only by
    --full, which reads every entry: run it too, less often (nightly, weekly).
    """
    from registry.audit.checkpoints import verify_log

    if full and since_last_checkpoint:
        raise click.UsageError("--full and --since-last-checkpoint exclude each other.")
    report = verify_log(
        db.session(), checkpoint_file=Path(checkpoint_file) if checkpoint_file else None,
        public_key_file=Path(public_key_file) if public_key_file else None,
        since_last_checkpoint=not full, workers=workers or os.cpu_count() or 1)
    if report.cannot_check:
        click.echo(report.cannot_check, err=True)
        sys.exit(2)
    findings, summary = report.findings, report.summary()
    if not findings:
        click.echo(f"Audit chain intact: {summary}.")
        return
    click.echo(f"Audit chain BROKEN ({summary}):", err=True)
    for finding in findings[:50]:
        click.echo(f"  [{finding.kind}] {finding.message}", err=True)
    if len(findings) > 50:
        click.echo(f"  ... and {len(findings) - 50} more", err=True)
    sys.exit(1)


@audit_group.command("seal")
def audit_seal() -> None:
    """Chain the entries not sealed yet (the worker does this continually)."""
    from registry.audit.operations import seal

    with db.unit_of_work() as session:
        count = seal(session)
    if count is None:
        click.echo("Another sealer is at work; nothing done.")
    else:
        click.echo(f"Sealed {count} audit entries.")


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Seal, then sign a checkpoint of the chain's head and append it to the checkpoint file."""
    from registry.audit.checkpoints import checkpoint_path, write_checkpoint
    from registry.audit.operations import seal

    with db.unit_of_work() as session:
        seal(session)
    with db.unit_of_work() as session:
        checkpoint = write_checkpoint(session)
    click.echo(f"Checkpoint: {checkpoint.count} entries, head {checkpoint.head_hash}, "
               f"appended to {checkpoint_path()}.")
    click.echo(checkpoint.to_json())


@audit_group.command("public-key")
def audit_public_key() -> None:
    """Print the checkpoints' public key (PEM), for verifying them elsewhere."""
    from registry.audit.checkpoints import load_or_create_signing_key, public_key_pem

    click.echo(public_key_pem(load_or_create_signing_key().public_key()), nl=False)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run each periodic job once and exit.")
def worker_command(once: bool) -> None:
    """Periodic jobs: deliver queued mail, seal the audit chain, sign checkpoints, queue the
    day's reminders at REMINDER_HOUR."""
    import logging
    import signal
    import threading

    from registry import worker

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs = worker.default_jobs(app)
    click.echo("Worker: " + ", ".join(f"{j.name} every {j.every_seconds:g}s" for j in jobs)
               + (" (once)" if once else ""))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        ok = worker.run(app, jobs, once=once, stop=stop)
    except KeyboardInterrupt:
        ok = True
    sys.exit(0 if ok else 1)


@click.command("reminders")
@click.option("--day", default=None, help="The day to scan (YYYY-MM-DD); default: today.")
def reminders_command(day: str | None) -> None:
    """Queue the reminders due on a day now (the worker does this daily at REMINDER_HOUR);
    nothing already queued for the same event is queued again."""
    from datetime import date

    from registry.notifications.jobs import run_reminders

    try:
        on = date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter("a date YYYY-MM-DD", param_hint="--day") from None
    result = run_reminders(on)
    queued = ", ".join(f"{n} {kind}" for kind, n in sorted(result.queued.items()))
    click.echo(f"Reminders for {result.day}: {result.candidates} patients looked at; "
               f"queued {queued or 'nothing new'}.")


@click.command("demo")
def demo_command() -> None:
    """Load a small demo data set and print its logins."""
    from registry.demo import load_demo

    with db.unit_of_work() as session:
        logins = load_demo(session)
    click.echo("Demo data loaded. Logins (password for all: demo-password):")
    for role, email, note in logins:
        click.echo(f"  {role:<12} {email:<36} {note}")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(admin_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(reminders_command)


def main() -> None:
    # Start-up (the app's modules, models and routes) allocates objects that all stay: the
    # cyclic garbage collector, run ~1,000 times meanwhile, finds nothing to free and costs
    # ~0.1 s of each command's ~0.8 s. It is back on before the command runs.
    gc.disable()
    from registry import create_app

    def started() -> Flask:
        try:
            return create_app()
        finally:
            gc.enable()

    FlaskGroup(create_app=started)(prog_name="registry")

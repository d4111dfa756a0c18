"""Command line: ``flask --app registry ...`` and the ``registry`` script (same commands)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import FlaskGroup

from registry import db

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["sqlalchemy_url"] = url or current_app.config["SQLALCHEMY_URL"]
    return cfg


def upgrade_database(revision: str = "head") -> None:
    """Run the migrations, then make sure the packaged question bank is loaded."""
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
def audit_verify() -> None:
    """Check the whole hash chain; exit 1 naming the first bad entry."""
    from registry.audit.operations import verify_chain

    result = verify_chain(db.session())
    if result.ok:
        click.echo(f"Audit chain intact: {result.checked} entries verified.")
        return
    click.echo(
        f"Audit chain BROKEN at entry {result.first_bad_id}: {result.problem}. "
        f"{result.checked} entries before it verified.",
        err=True,
    )
    sys.exit(1)


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


def main() -> None:
    from registry import create_app

    FlaskGroup(create_app=lambda: create_app())(prog_name="registry")

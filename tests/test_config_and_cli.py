"""Configuration layering and the command line of the README and the API contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from registry import create_app
from registry.accounts.models import User
from registry.config import ConfigError, from_environment
from registry.rules import Parameters

ROOT = Path(__file__).resolve().parent.parent


def test_unknown_registry_variable_is_an_error():
    with pytest.raises(ConfigError, match="REGISTRY_WINDOW_DAY"):
        from_environment({"REGISTRY_WINDOW_DAY": "7"})


def test_environment_values_are_typed():
    values = from_environment({"REGISTRY_WINDOW_DAYS": "5", "REGISTRY_RATELIMIT_ENABLED": "no",
                               "PATH": "/bin"})
    assert values == {"WINDOW_DAYS": 5, "RATELIMIT_ENABLED": False}
    with pytest.raises(ConfigError, match="whole number"):
        from_environment({"REGISTRY_WINDOW_DAYS": "seven"})


def test_rule_parameters_come_from_configuration(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "SECRET_KEY": "x",
                      "WINDOW_DAYS": 5, "RULESET_2026_EFFECTIVE": "2026-09-01"})
    params = Parameters.from_config(app.config)
    assert params.window_days == 5
    assert params.ruleset_2026_effective.isoformat() == "2026-09-01"


def test_bad_configured_date_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="RULESET_2026_EFFECTIVE"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
                    "RULESET_2026_EFFECTIVE": "next summer"})


def test_an_unknown_sealing_mode_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="AUDIT_SEAL_AFTER_COMMIT must be one of"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
                    "AUDIT_SEAL_AFTER_COMMIT": "backgrond"})


def test_unknown_variable_stops_the_registry_script(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/a.sqlite3",
           "REGISTRY_WINDOW_DAY": "7", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "registry", "db", "upgrade"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )
    assert proc.returncode != 0
    assert "REGISTRY_WINDOW_DAY" in proc.stderr


def test_admin_create_and_its_field_errors(app, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["admin", "create", "--email", "boss@example.org",
                                 "--password", "long-enough-pw"])
    assert result.exit_code == 0, result.output
    user = session.execute(select(User).where(User.email == "boss@example.org")).scalar_one()
    assert user.role == "staff"
    assert user.password_hash.startswith("$argon2")
    bad = runner.invoke(args=["admin", "create", "--email", "not-an-email", "--password", "x"])
    assert bad.exit_code == 2
    assert "--email" in bad.output
    assert "--password" in bad.output


def test_demo_loads_through_the_operations_and_prints_logins(app, session):
    before = session.execute(select(func.count(User.id))).scalar_one()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "pharmacist@demo.example" in result.output
    assert "demo-password" in result.output
    assert session.execute(select(func.count(User.id))).scalar_one() > before + 5
    verify = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_fresh_database_from_the_command_line(tmp_path, monkeypatch):
    """The ``registry`` script on a new database, configured by the environment alone. The
    script itself runs once, as a process (the first ``db upgrade``); the commands after it
    run in this process through the same command group (``registry.cli.main``'s FlaskGroup)
    with the same environment and nothing else of this process' (a process each cost
    ~0.9 s of start-up for the same commands)."""
    env = {"PATH": "/usr/bin:/bin", "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/c.sqlite3",
           "HOME": str(tmp_path), "REGISTRY_ARGON2_MEMORY_COST": "1024",
           "REGISTRY_ARGON2_TIME_COST": "1",
           # This database's own checkpoints, not those of whatever else used instance/.
           "REGISTRY_AUDIT_SIGNING_KEY_FILE": f"{tmp_path}/audit-key.pem",
           "REGISTRY_AUDIT_CHECKPOINT_FILE": f"{tmp_path}/audit-checkpoints.jsonl"}
    script = str(Path(sys.executable).parent / "registry")
    upgraded = subprocess.run([script, "db", "upgrade"], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, check=False)
    assert upgraded.returncode == 0, upgraded.stderr

    made: list[Flask] = []

    def started() -> Flask:
        made.append(create_app())
        return made[-1]

    # Only the script's environment: this process' own REGISTRY_ and FLASK_ variables are
    # unset for the command (an unknown REGISTRY_ variable stops the registry).
    own = {name: None for name in os.environ
           if name.startswith(("REGISTRY_", "FLASK_")) and name not in env}
    runner = CliRunner(env={**own, **env})
    monkeypatch.chdir(tmp_path)  # where the script ran (Flask looks for a .env from there)

    def run(*args: str) -> Result:
        try:
            return runner.invoke(FlaskGroup(create_app=started), list(args),
                                 prog_name="registry")
        finally:
            for app in made:
                app.extensions["registry.engine"].dispose()
            made.clear()

    assert run("db", "is-empty").exit_code == 0
    demo = run("demo")
    assert demo.exit_code == 0, demo.output
    assert run("db", "is-empty").exit_code == 1
    assert run("db", "upgrade").exit_code == 0  # idempotent, bank not loaded twice
    verify = run("audit", "verify")
    assert verify.exit_code == 0
    assert "intact" in verify.output


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(tmp_path):
    from flask import request

    seen: list[str | None] = []
    for proxies in (0, 1):
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/p.sqlite3",
                          "SECRET_KEY": "x", "TRUSTED_PROXIES": proxies})

        @app.get("/_addr")
        def addr() -> str:
            seen.append(request.remote_addr)
            return ""

        app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"},
                              environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert seen == ["10.0.0.2", "203.0.113.9"]

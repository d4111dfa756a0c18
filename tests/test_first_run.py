"""The first run (issue 9): `make run` installs only what the app needs, `make test` still
installs the test and lint tools afterwards, and building the package prints no
setuptools deprecation warning (a `project.license` table floods the log)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _sum(pyproject: Path) -> str:
    out = subprocess.run(["cksum"], input=pyproject.read_bytes(), capture_output=True,
                         check=True).stdout
    return out.split()[0].decode()


def _plan(tmp: Path, target: str) -> str:
    """What `make TARGET` would run (make -n: nothing is run)."""
    return subprocess.run(["make", "-n", target], cwd=tmp, capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    return tmp_path


def test_make_run_installs_the_app_without_the_test_and_lint_tools(checkout: Path) -> None:
    plan = _plan(checkout, "run")
    assert "pip install --quiet -e .\n" in plan
    assert "[test" not in plan
    assert "[dev" not in plan


def test_make_test_after_make_run_still_installs_the_test_extra(checkout: Path) -> None:
    sum_ = _sum(checkout / "pyproject.toml")
    venv = checkout / ".venv"
    # what `make run` leaves behind, plus a stamp of an older pyproject.toml
    (venv / f".installed-app-{sum_}").touch()
    (venv / ".installed-123").touch()
    assert "pip install" not in _plan(checkout, "run")
    for target in ("test", "lint", "test-browser"):
        plan = _plan(checkout, target)
        assert "pip install --quiet -e '.[test,dev]'" in plan, target
    # once installed, neither reinstalls
    (venv / f".installed-{sum_}").touch()
    assert "pip install" not in _plan(checkout, "test")
    assert "pip install" not in _plan(checkout, "run")


def test_make_run_installs_again_when_pyproject_changes(checkout: Path) -> None:
    venv = checkout / ".venv"
    old = _sum(checkout / "pyproject.toml")
    (venv / f".installed-app-{old}").touch()
    (venv / f".installed-{old}").touch()
    with (checkout / "pyproject.toml").open("a") as handle:
        handle.write("\n# changed\n")
    plan = _plan(checkout, "run")
    assert "pip install --quiet -e .\n" in plan
    # the stale stamps are removed, this pyproject's own are kept
    assert "! -name '*-" + _sum(checkout / "pyproject.toml") + "' -delete" in plan


def test_readme_says_how_to_pick_another_port() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run PORT=" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert "PORT   ?= 8000" in makefile
    assert "--bind $(HOST):$(PORT)" in makefile


def test_building_the_package_warns_about_nothing(tmp_path: Path) -> None:
    """A real build (isolated, with the setuptools that build-system requires)."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "__init__.py").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"),
         str(tmp_path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Deprecat" not in output, output
    assert "deprecated" not in output, output
    wheels = list((tmp_path / "dist").glob("registry-*.whl"))
    assert len(wheels) == 1
    import zipfile

    with zipfile.ZipFile(wheels[0]) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith("METADATA"))
        assert "License-Expression: Apache-2.0" in wheel.read(metadata).decode()

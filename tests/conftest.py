"""The hooks of every pytest process; the fixtures are in tests/harness.py, loaded only by
the processes that run tests: under pytest-xdist (`make test`) the controller, which only
hands out modules and gathers reports, does not import the registry, SQLAlchemy, Alembic
and the rest (~0.8 s before the workers can even start)."""

from __future__ import annotations

import gc
import os
from collections import Counter

import pytest


def pytest_configure(config: pytest.Config) -> None:
    distributing = config.getoption("dist", "no") != "no"
    if distributing and not hasattr(config, "workerinput"):
        return  # the xdist controller
    from tests import harness

    config.pluginmanager.register(harness, "registry-test-harness")


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


# Longest modules first. `make test` hands out whole modules (--dist loadscope) in the
# order collected (--no-loadscope-reorder): a module of many seconds (the fuzzing, the
# deploy recipe's processes, a real package build) started while the other worker is
# nearly done would be a tail that one worker runs alone. Each module's seconds (setup,
# call and teardown of its tests) are kept in pytest's cache (.pytest_cache) by the run
# before; a module the cache does not know yet comes first, and a checkout's first run
# orders them by their count of tests. Every worker reads the same cache (written once, at
# the end of the run), so their collections stay identical, as xdist requires.
_MODULE_SECONDS = "registry/module-seconds"
_seconds_this_run: dict[str, float] = {}


def _module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.cache is None:
        return
    known: dict[str, float] = config.cache.get(_MODULE_SECONDS, {})
    if not known:  # no timings yet: the modules with the most tests first (xdist's order)
        counts = Counter(_module_of(item.nodeid) for item in items)
        items.sort(key=lambda item: -counts[_module_of(item.nodeid)])
        return
    # sort() keeps the collected order within a module and between equals.
    items.sort(key=lambda item: -known.get(_module_of(item.nodeid), float("inf")))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller (or a run without xdist) keeps the count
    module = _module_of(report.nodeid)
    _seconds_this_run[module] = _seconds_this_run.get(module, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    cache = session.config.cache
    if os.environ.get("PYTEST_XDIST_WORKER") or cache is None or not _seconds_this_run:
        return
    known = cache.get(_MODULE_SECONDS, {})
    known.update({m: round(s, 3) for m, s in _seconds_this_run.items()})
    cache.set(_MODULE_SECONDS, known)


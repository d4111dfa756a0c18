"""The whole audit walk split into segments checked side by side in worker processes.

Hashing an entry is pure Python (JSON read back, written canonically, SHA-256): one core
walks about a million entries a minute. Split at sequence numbers, the chain's segments
are independent once each starts from the hash stored just before it: segment ``i``
checks its entries against the hash stored at its first boundary, and segment ``i - 1``
checks that very entry (it must end exactly there). So the segments together say what one
walk says: every entry after the start is numbered next, links to the hash before it and
hashes right, and each checkpoint within holds its head.

Only that verdict comes back from the workers. Anything else (a broken link, a gap, an
edit, a checkpoint that does not match) and the caller walks again in one process, in
order, so that what is wrong is named exactly as the single walk names it.

Workers open their own connections: they see what is committed, nothing of the caller's
open transaction. Used by ``registry audit verify`` (the command line), never inside a
request.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, create_engine, func, select

from registry.audit.operations import _TABLE, CONTENT_COLUMNS, CheckpointRef, entry_hash
from registry.db import make_engine

# Below this many entries to walk a single process is quicker (starting a worker process
# and importing the registry takes about a second).
PARALLEL_FROM = 200_000


@dataclass
class Segment:
    """What a worker found in ``after < seq <= upto``."""

    clean: bool
    checked: int = 0
    last_seq: int = 0
    heads: dict[int, str] = field(default_factory=dict)  # checkpoint count -> hash there


def walk_segment(url: str, after: int, prev: str | None, upto: int | None,
                 counts: Sequence[int], batch: int = 5000) -> Segment:
    """Check the entries with ``after < seq <= upto`` (``upto`` None: to the end) in order.

    ``prev``: the hash the first must follow (None: the hash stored at ``after``). Clean
    when each entry is numbered next, links to the previous hash and hashes right, and a
    bounded segment ends at ``upto``. ``counts``: the seqs whose hashes to return (the
    checkpoints' counts in the segment).
    """
    # SQLite: a plain engine, whose reads take no lock (the registry's begins every
    # transaction with BEGIN IMMEDIATE, and the caller may hold that lock: WAL readers
    # do not wait on it).
    engine = create_engine(url) if url.startswith("sqlite") else make_engine(url)
    columns = [_TABLE.c.seq, _TABLE.c.prev_hash, _TABLE.c.hash,
               *(_TABLE.c[c.key] for c in CONTENT_COLUMNS)]
    wanted = set(counts)
    try:
        with engine.connect() as conn:
            if prev is None:
                prev = conn.execute(select(_TABLE.c.hash).where(_TABLE.c.seq == after)
                                    ).scalar_one_or_none()
                if prev is None:
                    return Segment(False)
            found = Segment(True, last_seq=after)
            while True:
                stmt = select(*columns).where(_TABLE.c.seq > found.last_seq)
                if upto is not None:
                    stmt = stmt.where(_TABLE.c.seq <= upto)
                entries = conn.execute(stmt.order_by(_TABLE.c.seq).limit(batch)).all()
                if not entries:
                    break
                last = found.last_seq
                for entry in entries:
                    if (entry.seq != last + 1 or entry.prev_hash != prev
                            or entry_hash(prev, entry) != entry.hash):
                        return Segment(False)
                    if entry.seq in wanted:
                        found.heads[entry.seq] = entry.hash
                    prev, last = entry.hash, entry.seq
                found.last_seq = last
                found.checked += len(entries)
            if upto is not None and found.last_seq != upto:
                return Segment(False)
            return found
    finally:
        engine.dispose()


def _context() -> multiprocessing.context.BaseContext:
    """Workers forked from a fork server that has imported this module and nothing else: no
    forked copy of the caller's open connections (as with spawn), and no second start of
    Python and import of the registry (~0.4 s) for each worker of each walk. The server
    lives as long as this process; spawn where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def stop_fork_server() -> None:
    """Stop the fork server (and multiprocessing's resource tracker beside it) if this
    process started one, and wait for both to exit. Otherwise they exit only once they
    notice this process is gone, a moment after it: a test run would end with them still
    running. Called at the end of each test process (tests/harness.py); the next walk
    starts them again."""
    from multiprocessing import forkserver, resource_tracker

    # Neither has a public stop; these are the methods CPython's own tests stop them with.
    getattr(forkserver._forkserver, "_stop", lambda: None)()
    getattr(resource_tracker._resource_tracker, "_stop", lambda: None)()


def walk_in_parallel(conn: Connection, after: int, prev: str,
                     checkpoints: Sequence[CheckpointRef], workers: int,
                     batch: int = 5000, at_least: int | None = None) -> tuple[int, int] | None:
    """(entries checked, last seq) when the chain after ``after`` (whose head is ``prev``)
    is intact and matches every checkpoint in it; None when a single walk must look: it is
    not intact, or too short to be worth the workers, or the database is not shared
    (SQLite in memory)."""
    url = conn.engine.url
    if workers < 2 or (url.get_backend_name() == "sqlite" and url.database in (None, "",
                                                                              ":memory:")):
        return None
    top = conn.execute(select(func.max(_TABLE.c.seq))).scalar_one_or_none() or 0
    if top - after < max(PARALLEL_FROM if at_least is None else at_least, workers):
        return None
    bounds: list[int | None] = [after + (top - after) * i // workers for i in range(workers)]
    bounds.append(None)  # the last segment reads to the end, as the single walk does
    counts = sorted({cp.count for cp in checkpoints if cp.count > after})
    rendered = url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures = []
        for i in range(workers):
            lo, hi = bounds[i], bounds[i + 1]
            assert lo is not None
            mine = [c for c in counts if c > lo and (hi is None or c <= hi)]
            futures.append(pool.submit(walk_segment, rendered, lo, prev if i == 0 else None,
                                       hi, mine, batch))
        segments = [f.result() for f in futures]
    if not all(s.clean for s in segments):
        return None
    last_seq = segments[-1].last_seq
    heads: dict[int, Any] = {}
    for s in segments:
        heads.update(s.heads)
    if any(cp.count <= last_seq and heads.get(cp.count) != cp.head_hash
           for cp in checkpoints if cp.count > after):
        return None
    return sum(s.checked for s in segments), last_seq

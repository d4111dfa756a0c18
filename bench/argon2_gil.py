"""Does argon2-cffi release the GIL while it hashes? And what do threads buy?

    .venv/bin/python bench/argon2_gil.py

1. A pure-Python loop runs alone for a while, then again while another thread verifies
   passwords non-stop: if hashing held the GIL the loop would all but stop (it would get
   the GIL only between two hashes); if it keeps most of its pace, hashing runs outside
   the GIL and a gthread worker's other requests go on while one thread hashes.
2. The same number of verifications by 1, 2 and 4 threads: with the GIL released they
   spread over the cores (2 here), up to the cores that are free.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from argon2 import PasswordHasher

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from registry.config import DEFAULTS


def spin(seconds: float) -> int:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        n += 1
    return n


def main() -> None:
    ph = PasswordHasher(time_cost=DEFAULTS["ARGON2_TIME_COST"],
                        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
                        parallelism=DEFAULTS["ARGON2_PARALLELISM"])
    stored = ph.hash("bench-password-1")
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(10):
        ph.verify(stored, "bench-password-1")
    print(f"argon2id m={ph.memory_cost} KiB t={ph.time_cost} p={ph.parallelism}: "
          f"{(time.perf_counter() - t0) * 100:.1f} ms wall, "
          f"{(time.process_time() - c0) * 100:.1f} ms CPU per verification")

    alone = spin(2.0)
    stop = threading.Event()

    def hash_forever() -> None:
        while not stop.is_set():
            ph.verify(stored, "bench-password-1")

    hasher = threading.Thread(target=hash_forever)
    hasher.start()
    during = spin(2.0)
    stop.set()
    hasher.join()
    print(f"pure-Python loop: {alone:,} iterations in 2 s alone, {during:,} while another "
          f"thread hashes ({during / alone:.0%}): GIL "
          f"{'released' if during > alone / 3 else 'HELD'} during hashing")

    total = 24
    base = None
    for threads in (1, 2, 4):
        def work(threads: int = threads) -> None:
            for _ in range(total // threads):
                ph.verify(stored, "bench-password-1")
        pool = [threading.Thread(target=work) for _ in range(threads)]
        t0 = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
        base = base or wall
        print(f"{total} verifications by {threads} thread(s): {wall:.2f} s "
              f"({total / wall:.1f} per s, x{base / wall:.2f})")


if __name__ == "__main__":
    main()

"""Mapping a function over jobs on every core.  Explorations, vector groups and
diagrams are independent per configuration; forked workers inherit the loaded spec and engine
from module state, so nothing large is pickled."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable, Iterator


def parallel_map(fn: Callable[[Any], Any], jobs: list[Any], workers: int | None = None
                 ) -> list[Any]:
    """fn over jobs on every core (fork: module state is inherited), in the jobs' order."""
    n = min(workers or os.cpu_count() or 1, len(jobs))
    if n > 1 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(n) as pool:
            return pool.map(fn, jobs, chunksize=1)
    return [fn(j) for j in jobs]


def parallel_imap(fn: Callable[[Any], Any], jobs: list[Any], workers: int | None = None
                  ) -> Iterator[Any]:
    """Like parallel_map, but each result as soon as it and those before it are done (a
    caller can report progress), in the jobs' order."""
    n = min(workers or os.cpu_count() or 1, len(jobs))
    if n > 1 and "fork" in multiprocessing.get_all_start_methods():
        with multiprocessing.get_context("fork").Pool(n) as pool:
            yield from pool.imap(fn, jobs)
        return
    for j in jobs:
        yield fn(j)

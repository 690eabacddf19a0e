"""Worker processes for the stages' picture work (drawing and preparing pictures is pure Python and NumPy, 0.1-0.5 s
each): `parallel_map(function, items, chunksize)` runs `function` on every item in one process per core and
returns the results in order. The processes are spawned, never forked (a stage holds TensorFlow, which must not be
forked), and started once per stage: the first call pays their start-up (imports), later calls reuse them.
Reads and writes no files.
"""
import functools
import multiprocessing
from concurrent.futures import ProcessPoolExecutor


@functools.cache
def _pool():
    return ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn"))


def parallel_map(function, items, chunksize=1):
    """[function(item) for item in items], computed in the worker processes; `function` must be importable
    (defined at a module's top level) and its items and results picklable."""
    return list(_pool().map(function, items, chunksize=chunksize))

"""Independent jobs run side by side, their results yielded as they finish: in this process, on
threads of this process, in worker processes (joblib's loky) or on a Dask cluster.

The grid's fits (``selection_workers``) and the bootstrap's replicates (``bootstrap_lrt``) both
run through ``unordered``, under one rule for where: threads for data large enough that a fit's
time is in numpy's matrix products (``THREADS_MIN_WORK``), worker processes below that. Every job
runs with ``FIT_THREADS`` BLAS/OpenMP threads, so ``jobs`` workers use ``jobs`` cores and never
oversubscribe the machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

FIT_THREADS = 1  # BLAS/OpenMP threads per job: parallelism comes from --jobs

#: Parallel fits run on threads when the data has at least this many rows x columns^2 (their
#: time is then in numpy's matrix products, which release the GIL), else in worker processes
#: (many small numpy calls would queue on the GIL). Measured on 2 cores, whole processes:
#: digits 1797 x 41 (3.0e6), 20 fits: 3.2-3.4 s on threads, 3.7-4.2 s in processes; blobs
#: 400 x 2, 1,920 small fits (--cv 5): 11-12 s on threads, 5.7-6.2 s in processes.
THREADS_MIN_WORK = 1_000_000

#: Where ``unordered`` runs the jobs.
PLACES = ("process", "threads", "workers", "dask")


def place_for(n_rows: int, n_features: int, jobs: int) -> str:
    """The rule above: "process" for one job at a time, else "threads" or "workers"."""
    if jobs <= 1:
        return "process"
    return "threads" if n_rows * n_features**2 >= THREADS_MIN_WORK else "workers"


def unordered(fn: Callable, work: Sequence[tuple], jobs: int, place: str) -> Iterator:
    """``fn(*args)`` for each item of ``work``, ``jobs`` at a time, yielded as they finish.

    "process" and "threads" run under one BLAS thread (``FIT_THREADS``); "workers" gives each
    loky worker that many; "dask" sends all jobs to the active Dask client's cluster.
    """
    if place not in PLACES:
        raise ValueError(f"unknown place {place!r}")
    jobs = max(1, min(jobs, len(work)))
    if place == "dask" or (place == "workers" and jobs > 1):
        from joblib import Parallel, delayed, parallel_config

        config = (
            {"backend": "dask"}
            if place == "dask"
            else {"backend": "loky", "inner_max_num_threads": FIT_THREADS}
        )
        with parallel_config(**config):
            run = Parallel(n_jobs=-1 if place == "dask" else jobs, return_as=_unordered_results())
            yield from run(delayed(fn)(*args) for args in work)
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=FIT_THREADS):
        if place == "threads" and jobs > 1:
            yield from _on_threads(fn, work, jobs)
        else:
            for args in work:
                yield fn(*args)


def _on_threads(fn: Callable, work: Sequence[tuple], n_threads: int) -> Iterator:
    """The jobs on ``n_threads`` daemon threads of this process, one job per thread at a time.

    The data is shared instead of copied to each worker, and no worker has to start. Daemon
    threads, so that Ctrl-C ends the process at once: the jobs in flight are abandoned, not
    waited for.
    """
    import queue
    import threading

    todo, done, stop = queue.SimpleQueue(), queue.SimpleQueue(), threading.Event()
    for args in work:
        todo.put(args)

    def worker():
        while not stop.is_set():
            try:
                args = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((True, fn(*args)))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                done.put((False, exc))
                return

    for i in range(n_threads):
        threading.Thread(target=worker, name=f"gmmcli-job-{i}", daemon=True).start()

    def finished():
        while True:
            try:
                return done.get(timeout=0.1)  # short waits: signals reach this thread
            except queue.Empty:
                pass

    try:
        for _ in range(len(work)):
            ok, item = finished()
            if not ok:
                raise item
            yield item
    finally:
        stop.set()  # on an error or an interrupt, the threads take no further job


def _unordered_results() -> str:
    """joblib >= 1.4 hands results back as they finish; older versions in submission order."""
    import joblib

    major, minor = (int(p) for p in joblib.__version__.split(".")[:2])
    return "generator_unordered" if (major, minor) >= (1, 4) else "generator"

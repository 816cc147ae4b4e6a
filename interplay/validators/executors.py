"""Executors: where the seeds of a run are measured.

The unit of work is a :class:`Job`, one seed of one configuration (its store key, its seed and the picklable
``measure(seed) -> record``). An :class:`Executor` runs jobs and hands each finished record to ``finish`` in this
process, which alone writes the results store (:func:`.experiment.run_seeds`). Two implementations:

- :class:`LocalExecutor` (``--executor local``, the default): this process, or ``workers`` spawned processes
  (``--jobs``). A seed that raises stops the run at once, as it always did. A spawned process re-runs the main
  module; where that would run the caller again (a script's unguarded top level, code read from standard input)
  the seeds are measured in this process instead, with a warning (:func:`main_not_reimportable`).
- :class:`~.ray_executor.RayExecutor` (``--executor ray``, the optional extra ``pip install -e ".[ray]"``): a Ray
  cluster (``--address HOST:PORT``, ``auto`` for the cluster this machine belongs to, ``ray://HOST:PORT`` for Ray
  Client; none starts a local Ray). Ray is imported only in a helper process that it starts
  (:func:`.ray_driver.main`): the Ray driver, which keeps one actor per worker (:class:`.ray_driver.SeedWorker`,
  each with its own :func:`.experiment.sharing_deployments` cache; :class:`.ray_driver.Dispatcher` keeps a seed's
  cells on one worker) and sends every finished record back over a socket. When the cluster goes away Ray ends its
  driver process outright; the helper's end is how this process notices, so a lost cluster is an error message
  here, never a silent exit, and every seed that finished before is already stored. A seed that raises is reported
  with its configuration and does not stop the others; a worker process that dies is restarted and its seed
  retried (:data:`.ray_executor.RETRIES` times).

:func:`run_batched` lets a caller that validates many configurations (the matrix, a sweep, a reproduction) send all
their missing seeds out at once on an executor that batches, so a cluster works on every cell together; on the
local executor it runs them one after another as before.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interplay.errors import UsageError

EXECUTORS = ("local", "ray")


class ExecutorError(UsageError):
    """An executor that cannot be used as asked: Ray not installed, an address that is no Ray cluster, workers that
    run other code than this driver (exit status 2)."""


class RunFailed(Exception):
    """Seeds that raised on a cluster, each named with its configuration (the others finished and are stored)."""


class ClusterLost(RunFailed):
    """The connection to the Ray cluster was lost; what finished before is stored."""


@dataclass(frozen=True)
class Job:
    """One seed of one configuration: ``measure(seed)`` is its record, stored under ``key``. ``prepare(seeds)``, when
    given, trains ahead in batches what ``measure`` will ask the deployment cache for on those seeds of the same
    configuration: an executor that measures several of them in one process calls it first (it changes no record,
    only the time)."""

    key: str
    seed: int
    measure: Callable[[int], dict]
    prepare: Callable[[list[int]], None] | None = None


@dataclass
class Failure:
    """A job that raised on a cluster: ``error`` is the exception when it could be sent back, ``text`` what it said."""

    job: Job
    text: str
    error: BaseException | None = None

    def exception(self) -> BaseException:
        """A wrong input (a probe the task does not support, a model a worker cannot build) as raised, like a local
        run would; anything else as a :class:`RunFailed` naming the configuration and the seed."""
        if isinstance(self.error, UsageError):
            return self.error
        return RunFailed(f"{describe(self.job)}, seed {self.job.seed}: {self.text}")


def describe(job: Job) -> str:
    """What a job measures, for messages: ``defense -> risk on dataset (configuration KEY)``."""
    cfg = config_of(job.measure)
    if cfg is None:
        return f"configuration {job.key}"
    what = " + ".join(str(getattr(cfg, a)) for a in ("a", "b") if hasattr(cfg, a)) or str(getattr(cfg, "defense", ""))
    if hasattr(cfg, "risk"):
        what += f" -> {cfg.risk}"
    settings = getattr(cfg, "settings", None)
    data = f" on {settings.data_name}" if settings is not None else ""
    return f"{what}{data} (configuration {job.key})"


def config_of(measure: Callable[[int], dict]) -> Any:
    """The configuration a ``functools.partial(measure_fn, cfg)`` holds (None for another callable)."""
    args = getattr(measure, "args", ())
    return args[0] if args and hasattr(args[0], "settings") else None


Finish = Callable[[Job, dict], None]


class Executor(ABC):
    """Runs jobs; ``finish(job, record)`` is called here, in this process, as each one finishes."""

    name = "local"
    batches = False  # whether callers should send many configurations' seeds together (:func:`run_batched`)
    workers = 1

    @abstractmethod
    def run(self, jobs: Sequence[Job], finish: Finish) -> list[Failure]:
        """Run ``jobs``; the jobs that raised (an executor that stops at the first one raises it instead)."""

    def close(self) -> None:  # noqa: B027 (most executors hold nothing)
        """Release what the executor holds (processes, a cluster connection)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Workers = int | Executor  # what the experiment functions take: a number of local processes, or an executor


def as_executor(workers: Workers) -> Executor:
    return workers if isinstance(workers, Executor) else LocalExecutor(workers)


# --- local ------------------------------------------------------------------------------------------------------


class LocalExecutor(Executor):
    """This process (``workers`` 1), or ``workers`` processes spawned for the run."""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def run(self, jobs: Sequence[Job], finish: Finish) -> list[Failure]:
        why = main_not_reimportable() if self.workers > 1 and len(jobs) > 1 else None
        if why is not None:
            warnings.warn(
                f"measuring the seeds in this process, not in {self.workers}: {why} (the records are the same)",
                UserWarning,
                stacklevel=_caller_level(),
            )
        if self.workers > 1 and len(jobs) > 1 and why is None:
            _measure_in_processes(jobs, self.workers, finish)
        else:
            for job in jobs:
                finish(job, job.measure(job.seed))
        return []


def main_not_reimportable() -> str | None:
    """Why a spawned worker could not re-import the main module without running this call again, or None.

    A worker re-runs the main module's top level (as ``__mp_main__``): harmless for a notebook kernel, an
    interactive prompt or ``python -c`` (no file to re-run) and for a call under ``if __name__ == "__main__":``;
    fatal for code read from standard input (no file) and for a call at a script's unguarded top level."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None:
        return None
    if not os.path.isfile(path):
        return f"the main module ({path}) is no file a worker could re-import"
    frame: Any = sys._getframe(1)
    while frame is not None and not (frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return None  # not called while the main module's top level runs: re-running it does not reach this call
    if _under_main_guard(Path(path), frame.f_lineno):
        return None
    guard = 'if __name__ == "__main__":'
    return f"{Path(path).name} calls interplay outside an `{guard}` block, which workers would re-run"


def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside interplay (where a warning is the user's to read)."""
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("interplay"):
        level, frame = level + 1, frame.f_back
    return level


def _under_main_guard(path: Path, line: int) -> bool:
    """Whether ``line`` of the module at ``path`` lies inside a top-level ``if __name__ == "__main__":``."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test).replace("'", '"') in (
            '__name__ == "__main__"',
            '"__main__" == __name__',
        ):
            if node.lineno <= line <= (node.end_lineno or node.lineno):
                return True
    return False


def _measure_in_processes(jobs: Sequence[Job], workers: int, finish: Finish) -> None:
    """``finish(job, job.measure(job.seed))`` for each job, measured in ``workers`` fresh processes, in the order
    they finish. Spawned, not forked: a fork would copy the state of torch's and the progress bar's threads
    mid-flight. The workers ignore Ctrl-C; on an interrupt or a failed seed this process stops them at once rather
    than let them finish seeds whose records nobody would read."""
    from interplay.validators.models import shipment

    with ProcessPoolExecutor(
        min(workers, len(jobs)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(shipment(),),
    ) as pool:
        futures = {pool.submit(job.measure, job.seed): job for job in jobs}
        try:
            for future in as_completed(futures):
                finish(futures[future], future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            for process in (pool._processes or {}).values():  # Python 3.14 has pool.terminate_workers()
                process.terminate()
            raise


def _start_worker(factories: dict[str, bytes]) -> None:
    """A seed worker: ignores Ctrl-C (the driver stops it) and knows the driver's model factories."""
    from interplay.validators.models import install

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install(factories)


# --- many configurations at once ------------------------------------------------------------------------------

OnSeed = Callable[[int, bool], None]


class _Planned(Exception):
    def __init__(self, jobs: Sequence[Job]):
        super().__init__(f"{len(jobs)} seeds to measure")
        self.jobs = list(jobs)


class _Planner(Executor):
    """Collects a configuration's missing seeds instead of measuring them (the first pass of :func:`run_batched`)."""

    def run(self, jobs: Sequence[Job], finish: Finish) -> list[Failure]:
        if jobs:
            raise _Planned(jobs)
        return []


class _Replay(Executor):
    """Hands back records measured by the batch (when the store could not keep them)."""

    def __init__(self, records: dict[tuple[str, int], dict]):
        self.records = records

    def run(self, jobs: Sequence[Job], finish: Finish) -> list[Failure]:
        for job in jobs:
            if (job.key, job.seed) not in self.records:
                raise RunFailed(
                    f"{describe(job)} changed during the run (was the code edited meanwhile?): the seeds measured are "
                    "stored under the configuration it had; run the same command again"
                )
            finish(job, self.records[job.key, job.seed])
        return []


def run_batched(
    workers: Workers,
    thunks: Sequence[Callable[[Workers, OnSeed | None], Any]],
    store: Any = None,
    advance: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``thunk(workers, on_seed)`` for each thunk (each runs one configuration through :func:`.experiment.run_seeds`,
    e.g. ``run_validation``), in order; ``advance(i, n)`` reports ``n`` more seeds of thunk ``i`` done.

    ``workers``: a number of local processes or an executor. Unless it batches, each thunk gets it as it is, in turn.
    On an executor that batches, every thunk runs first with a planner that collects its missing seeds (the stored
    ones are reused, as always), then all of them go to the executor together and each record is stored as it
    arrives, then each thunk runs again on its now complete seeds. A thunk whose seeds raised gets the list of its
    :class:`Failure` instead of a result; the others are unaffected. A thunk runs twice there, so it must be
    idempotent given the store (``run_validation`` is: its regime and calibration pilots are stored too)."""

    def step(i: int) -> OnSeed:
        return lambda seed, cached: advance(i, 1) if advance else None

    executor = as_executor(workers)
    if not executor.batches:
        return [thunk(workers, step(i)) for i, thunk in enumerate(thunks)]
    results: list[Any] = [None] * len(thunks)
    planned: dict[int, list[Job]] = {}
    for i, thunk in enumerate(thunks):
        try:
            results[i] = thunk(_Planner(), step(i))
        except _Planned as plan:
            planned[i] = plan.jobs
    owner: dict[tuple[str, int], list[int]] = {}
    jobs: list[Job] = []
    for i, planned_jobs in planned.items():
        for job in planned_jobs:
            if (job.key, job.seed) not in owner:
                jobs.append(job)
            owner.setdefault((job.key, job.seed), []).append(i)
    measured: dict[tuple[str, int], dict] = {}

    def finish(job: Job, record: dict) -> None:
        measured[job.key, job.seed] = record
        if store:
            store.save_run(job.key, job.seed, record)
        for i in owner[job.key, job.seed]:
            step(i)(job.seed, False)

    failed: dict[int, list[Failure]] = {}
    for failure in executor.run(jobs, finish):
        for i in owner[failure.job.key, failure.job.seed]:
            failed.setdefault(i, []).append(failure)
            step(i)(failure.job.seed, False)
    for i in planned:
        results[i] = failed[i] if i in failed else thunks[i](_Replay(measured), None)
    return results


def per_seed(callback: Callable[[], None] | None) -> Callable[[int, int], None] | None:
    """An ``advance(i, n)`` for :func:`run_batched` that calls ``callback()`` once per seed."""
    if callback is None:
        return None

    def advance(i: int, n: int) -> None:
        for _ in range(n):
            callback()

    return advance


def raise_failures(failures: Sequence[Failure]) -> None:
    """Raise what ``failures`` mean: a wrong input as raised (the first one), else one :class:`RunFailed` naming every
    failed seed with its configuration."""
    if not failures:
        return
    errors = [f.exception() for f in failures]
    usage = [e for e in errors if isinstance(e, UsageError)]
    if usage:
        raise usage[0]
    if len(errors) == 1:
        raise errors[0]
    raise RunFailed(f"{len(errors)} seeds failed (the others finished and are stored): " + "; ".join(map(str, errors)))

"""Executors: where the seeds of a run are measured.

The unit of work is a :class:`Job`, one seed of one configuration (its store key, its seed and the picklable
``measure(seed) -> record``). An :class:`Executor` runs jobs and hands each finished record to ``finish`` in this
process, which alone writes the results store (:func:`.experiment.run_seeds`). Two implementations:

- :class:`LocalExecutor` (``--executor local``, the default): this process, or ``workers`` spawned processes
  (``--jobs``). A seed that raises stops the run at once, as it always did. A spawned process re-runs the main
  module; where that would run the caller again (a script's unguarded top level, code read from standard input)
  the seeds are measured in this process instead, with a warning (:func:`main_not_reimportable`).
- :class:`RayExecutor` (``--executor ray``, the optional extra ``pip install -e ".[ray]"``): a Ray cluster
  (``--address HOST:PORT``, ``auto`` for the cluster this machine belongs to, ``ray://HOST:PORT`` for Ray Client;
  none starts a local Ray). Ray is imported only in a helper process that this module starts (:func:`main`): it is
  the Ray driver, keeps one actor per worker (:class:`SeedWorker`, each with its own
  :func:`.experiment.sharing_deployments` cache; :class:`Dispatcher` keeps a seed's cells on one worker) and sends
  every finished record back over a socket. When the cluster goes away Ray ends its driver process outright; the
  helper's end is how this process notices, so a lost cluster is an error message here, never a silent exit, and
  every seed that finished before is already stored. A seed that raises is reported with its configuration and
  does not stop the others; a worker process that dies is restarted and its seed retried (:data:`RETRIES` times).

:func:`run_batched` lets a caller that validates many configurations (the matrix, a sweep, a reproduction) send all
their missing seeds out at once on an executor that batches, so a cluster works on every cell together; on the
local executor it runs them one after another as before.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import multiprocessing
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from interplay.errors import UsageError

EXECUTORS = ("local", "ray")
INSTALL = 'pip install -e ".[ray]"'
RETRIES = 3  # restarts of a Ray worker that died, and retries of the seed it was measuring
IN_FLIGHT = 2  # seeds queued on each Ray worker: one running, the next waiting, so no worker idles between seeds
NAMESPACE = "interplay"  # the Ray namespace of the workers (named interplay-<run>-<i>, e.g. for `ray list actors`)


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


# --- ray ----------------------------------------------------------------------------------------------------------


def ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def require_ray() -> None:
    if not ray_installed():
        raise ExecutorError(f"--executor ray needs Ray, which is not installed: {INSTALL} (docs/cluster.md)")


def check_address(address: str | None) -> str | None:
    """``address`` (else ``$RAY_ADDRESS``) checked: ``auto``, ``local``, ``HOST:PORT`` or ``ray://HOST:PORT``; a
    ``HOST:PORT`` that nothing answers on is an :class:`ExecutorError` at once (Ray itself would retry for a minute).
    None: start a local Ray for the run."""
    address = (address or os.environ.get("RAY_ADDRESS") or "").strip() or None
    if address is None or address in ("auto", "local"):
        return address
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(
            f"--address {address!r} is no Ray address: give HOST:PORT (the head node's GCS port, 6379 by default), "
            "ray://HOST:PORT (Ray Client), auto (the cluster this machine belongs to), or leave it out to start a "
            "local Ray"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ExecutorError(
            f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}. Start one there (ray start --head "
            f"--port {port}; docs/cluster.md), or give --address auto on a node of a running cluster"
        ) from None
    return address


class RayExecutor(Executor):
    """A Ray cluster at ``address`` (see :func:`check_address`) with ``workers`` workers (default: the cluster's CPUs);
    one worker per CPU, each an actor that keeps its deployment cache for the executor's life."""

    name = "ray"
    batches = True

    def __init__(self, address: str | None = None, workers: int | None = None):
        require_ray()
        self.address = check_address(address)
        self.requested = workers
        self.workers = workers or 0
        self.cpus = 0
        self._process: Any = None
        self._conn: Any = None
        self._ids = itertools.count()
        self._data: dict[tuple, int] = {}  # (settings, seed, data path) -> id of the task sent to the helper
        self._blobs: dict[str, int] = {}  # measure pickle digest -> id
        self._factories: set[str] = set()
        self.log = ""
        self.startup_s: float | None = None  # connecting, and starting the first workers (benchmarks read it)
        self.stored = 0

    # -- the helper process --

    def _start(self) -> None:
        """Start the helper process: a fresh interpreter (nothing of this one's ``__main__`` is re-run), in its own
        session (Ctrl-C reaches this process only, which then stops the run), joined to this one by a socket pair;
        what it and Ray print goes to :attr:`log`."""
        mine, theirs = socket.socketpair()
        start = time.perf_counter()
        self.log = str(Path(tempfile.gettempdir()) / f"interplay-ray-driver-{os.getpid()}.log")
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "import sys; from interplay.validators.executors import main; main(sys.argv)",
                 str(theirs.fileno()), self.address or "", str(self.requested or 0)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=[theirs.fileno()], start_new_session=True,
            )  # fmt: skip
        theirs.close()
        self._conn = Connection(mine.detach())
        msg = self._receive("starting Ray")
        if msg[0] != "ready":
            self.close()
            raise ExecutorError(msg[1])
        _, self.workers, self.cpus = msg
        self.startup_s = time.perf_counter() - start

    def prestart(self, jobs: int) -> None:
        """Connect now and have the workers for about ``jobs`` seeds start while this process prepares the run (the
        regime and calibration pilots, the configurations): a worker takes seconds to import torch and the plugins.
        A cluster that cannot be joined is an :class:`ExecutorError` here, before the run."""
        if self._process is None:
            self._start()
        self._send("prestart", jobs)

    def _receive(self, doing: str) -> tuple:
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            code = None
            if self._process is not None:
                try:
                    code = self._process.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            where = self.address or "the local Ray"
            raise ClusterLost(
                f"lost the connection to the Ray cluster at {where} while {doing} (its driver process ended with "
                f"status {code}; Ray's messages: {self.log}); {self.stored} seed(s) of this run finished and are "
                "stored: run the same command again to resume"
            ) from None

    def _send(self, *msg: Any) -> None:
        try:
            self._conn.send(msg)
        except (OSError, EOFError):
            self._receive("sending work")  # raises ClusterLost with the helper's exit status
            raise

    def close(self) -> None:
        if self._process is None:
            return
        try:
            self._conn.send(("close",))
            self._process.wait(20)
        except (OSError, EOFError, subprocess.TimeoutExpired):
            pass
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self._conn.close()
        self._process = self._conn = None

    # -- running jobs --

    def _ship_factories(self) -> None:
        from interplay.validators.models import shipment_by_value

        shipped = {s: b for s, b in shipment_by_value().items() if s not in self._factories}
        if shipped:
            self._send("factories", shipped)
            self._factories |= set(shipped)

    def _prepare(self, job: Job) -> tuple:
        """``(job id, measure id, measure blob or None, seed, affinity, data id)`` for the helper; the task of a
        configuration that reads files (Adult, a user's file) is loaded here, once per seed, and sent along: the
        workers need no shared file system. The blob holds ``measure`` and ``prepare``; the affinity is the job's
        seed group, cell group and batch (its measure id when it can be prepared, :class:`Dispatcher`)."""
        blob = pickle.dumps((job.measure, job.prepare))
        digest = hashlib.sha256(blob).hexdigest()
        new = digest not in self._blobs
        mid = self._blobs.setdefault(digest, len(self._blobs))
        cfg = config_of(job.measure)
        settings, data_path = getattr(cfg, "settings", None), getattr(cfg, "data_path", None)
        data_id = None
        from interplay.validators.data import FILE_DATASETS

        if settings is not None and (settings.dataset in FILE_DATASETS or settings.source is not None):
            key = (settings, job.seed, data_path)
            if key not in self._data:
                from interplay.validators.settings import load_task

                self._data[key] = len(self._data)
                task = load_task(settings, job.seed, Path(data_path) if data_path else None)
                self._send("data", self._data[key], pickle.dumps(task))
            data_id = self._data[key]
        context = (hash(settings), data_path) if settings is not None else job.key
        group = getattr(cfg, "defense", None) or getattr(cfg, "a", None) or job.key
        affinity = ((job.seed, context), (job.seed, context, group), mid if job.prepare else None)
        return next(self._ids), mid, blob if new else None, job.seed, affinity, data_id

    def run(self, jobs: Sequence[Job], finish: Finish) -> list[Failure]:
        if not jobs:
            return []
        if self._process is None:
            self._start()
        outstanding: dict[int, Job] = {}
        failures: list[Failure] = []
        try:
            self._ship_factories()
            batch = []
            for job in jobs:
                prepared = self._prepare(job)
                outstanding[prepared[0]] = job
                batch.append(prepared)
            self._send("jobs", batch)
            while outstanding:
                msg = self._receive("running seeds")
                if msg[0] == "done":
                    finish(outstanding.pop(msg[1]), msg[2])
                    self.stored += 1
                elif msg[0] == "failed":
                    job = outstanding.pop(msg[1])
                    failures.append(Failure(job, msg[3], _load_exception(msg[2])))
                elif msg[0] == "workers":
                    _check_workers(msg[1])
                elif msg[0] == "unusable":
                    raise ExecutorError(
                        f"the Ray workers could not start ({msg[1]}): install this same interplay, with the ray extra "
                        f"and any plugins, on every node of the cluster (docs/cluster.md; Ray's messages: {self.log})"
                    )
                elif msg[0] == "lost":
                    raise ClusterLost(
                        f"lost the Ray cluster at {self.address or 'the local Ray'} ({msg[1]}); {self.stored} seed(s) "
                        "of this run finished and are stored: run the same command again to resume"
                    )
        except BaseException:
            if outstanding:
                self._cancel()
            raise
        return failures

    def _cancel(self) -> None:
        """Stop the outstanding seeds (an interrupt, a lost cluster, a mismatch): the helper kills the workers and
        leaves the cluster; a later run starts new ones."""
        if self._process is None:
            return
        try:
            self._conn.send(("cancel",))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._conn.poll(max(0.0, deadline - time.monotonic())):
                if self._conn.recv()[0] == "cancelled":
                    return
        except (OSError, EOFError):
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_exception(blob: bytes | None) -> BaseException | None:
    if blob is None:
        return None
    try:
        error = pickle.loads(blob)
    except Exception:
        return None
    return error if isinstance(error, BaseException) else None


def _check_workers(described: list[dict]) -> None:
    """Refuse workers that run other interplay code or plugins than this driver: their records would be stored
    under this driver's configuration hashes."""
    mine = worker_description()
    for d in described:
        theirs = {k: d.get(k) for k in ("code_version", "plugins")}
        if theirs != {k: mine[k] for k in theirs}:
            differ = sorted(
                p
                for p in {*mine["plugins"], *(d.get("plugins") or {})}
                if mine["plugins"].get(p) != (d.get("plugins") or {}).get(p)
            )
            what = f"code {d.get('code_version')} (this driver: {mine['code_version']})"
            if differ:
                what += f", plugins {', '.join(differ[:5])}"
            raise ExecutorError(
                f"the Ray worker on {d.get('node')} runs other interplay code than this driver: {what}. Install this "
                "same checkout or release (and plugins) on every node of the cluster (docs/cluster.md)"
            )


def worker_description() -> dict:
    """What a worker must share with the driver (the code version and every plugin's source digest), and where it
    runs."""
    from interplay.validators.registry import DEFENSES, RISKS, source_digest
    from interplay.validators.versions import code_version

    registries = (("defense", DEFENSES), ("risk", RISKS))
    plugins = {f"{kind} {slug}": source_digest(reg[slug]) for kind, reg in registries for slug in reg}
    return {"code_version": code_version(), "plugins": plugins, "node": socket.gethostname(), "pid": os.getpid()}


class SeedWorker:
    """A Ray worker (an actor, one CPU): measures seeds with a deployment cache that lives as long as the actor, so
    the cells of one seed it is given share their baseline and defended models as they do in a local matrix run."""

    def __init__(self, factories: dict[str, bytes]):
        from interplay.validators.deployment_cache import sharing_deployments
        from interplay.validators.models import install

        install(factories)
        self._sharing = sharing_deployments()
        self.cache = self._sharing.__enter__()
        self.measures: dict[int, tuple[Callable[[int], dict], Callable[[list[int]], None] | None]] = {}
        self.tasks: set[int] = set()

    def describe(self) -> dict:
        return worker_description()

    def install(self, factories: dict[str, bytes]) -> None:
        from interplay.validators.models import install

        install(factories)

    def _load(self, mid: int, blob: list, seed: int, data: tuple[int, list] | None) -> tuple:
        """The job's ``(measure, prepare)``, with the seed's task in the cache when the driver sent one."""
        import ray

        if mid not in self.measures:
            self.measures[mid] = pickle.loads(ray.get(blob[0]))
        measure, prepare = self.measures[mid]
        if data is not None and data[0] not in self.tasks:
            cfg = config_of(measure)
            path = Path(cfg.data_path) if cfg.data_path else None
            self.cache.preload(cfg.settings, seed, path, pickle.loads(ray.get(data[1][0])))
            self.tasks.add(data[0])
        return measure, prepare

    def prepare(self, mid: int, blob: list, seeds: list[int], data: list[tuple[int, list] | None]) -> None:
        """Train ahead what the measures of ``seeds`` queued after this call will ask for (:attr:`Job.prepare`)."""
        try:
            for seed, sent in zip(seeds, data, strict=True):
                _, ahead = self._load(mid, blob, seed, sent)
            ahead(seeds)
        except Exception:
            pass  # each seed's own measure raises it again, reported with its configuration

    def measure(self, mid: int, blob: list, seed: int, data: tuple[int, list] | None) -> tuple:
        """``("done", record)``, or ``("failed", the pickled exception or None, what it said)``. ``blob`` and ``data``
        hold object references (in a list, so that Ray does not fetch them unless this worker lacks them)."""
        try:
            measure, _ = self._load(mid, blob, seed, data)
            return "done", measure(seed)
        except Exception as exc:
            try:
                sent: bytes | None = pickle.dumps(exc)
            except Exception:
                sent = None
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
            return "failed", sent, f"{type(exc).__name__}: {exc}{where}"


# --- the helper process: the Ray driver -------------------------------------------------------------------------


@dataclass
class _Worker:
    homes: OrderedDict = field(default_factory=OrderedDict)  # (seed, context) groups this worker holds models of
    groups: OrderedDict = field(default_factory=OrderedDict)  # (seed, context, defense)
    load: int = 0
    alive: bool = True


class Dispatcher:
    """Which pending seeds a free worker takes next, so that its deployment cache is reused and its models train in
    batches. A worker takes first a seed of a cell group (seed, data, defense) it has worked on, then of a seed group
    (seed, data) it holds (the baseline is shared), then of a seed group no worker holds yet (claiming with it its
    share of the unheld groups of that seed's batch, divided among the workers that hold no group with seeds
    pending), and only then one taken from the group with the most seeds pending (so more workers than seed groups
    still all work, each retraining that group's baseline once). With a seed it takes the pending seeds of the same
    batch (one configuration that can be prepared, :attr:`Job.prepare`) in the groups it holds, so that their models
    train together on it. Pure bookkeeping, no Ray: tested on its own."""

    def __init__(self, workers: int):
        self.workers = [_Worker() for _ in range(workers)]
        # job -> (home, group, batch)
        self.pending: OrderedDict[int, tuple[Hashable, Hashable, Hashable]] = OrderedDict()
        self._by_home: dict[Hashable, deque[int]] = {}
        self._by_group: dict[Hashable, deque[int]] = {}
        self._by_batch: dict[Hashable, deque[int]] = {}
        self._count: dict[Hashable, int] = {}  # pending jobs per home
        self._holders: dict[Hashable, int] = {}  # workers holding each home
        self._unheld: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, job: int, home: Hashable, group: Hashable, batch: Hashable = None) -> None:
        self.pending[job] = (home, group, batch)
        self._by_home.setdefault(home, deque()).append(job)
        self._by_group.setdefault(group, deque()).append(job)
        if batch is not None:
            self._by_batch.setdefault(batch, deque()).append(job)
        self._count[home] = self._count.get(home, 0) + 1
        if not self._holders.get(home):
            self._unheld[home] = None

    def grow(self, workers: int) -> None:
        self.workers += [_Worker() for _ in range(workers - len(self.workers))]

    def _first(self, queue: deque[int] | None) -> int | None:
        while queue:
            if queue[0] in self.pending:
                return queue[0]
            queue.popleft()
        return None

    def _busy(self, worker: _Worker) -> bool:
        """Whether ``worker`` holds a seed group with seeds pending."""
        return any(self._count.get(home) for home in worker.homes)

    def _claim(self, worker: _Worker, home: Hashable) -> None:
        if home not in worker.homes:
            self._holders[home] = self._holders.get(home, 0) + 1
            self._unheld.pop(home, None)
        worker.homes[home] = None
        worker.homes.move_to_end(home)

    def _unheld_job(self) -> int | None:
        """The first pending job of a seed group that no worker holds."""
        for home in list(self._unheld):
            job = None if self._holders.get(home) else self._first(self._by_home.get(home))
            if job is not None:
                return job
            del self._unheld[home]
        return None

    def _claim_share(self, worker: _Worker, batch: Hashable) -> None:
        """Claim ``worker``'s share of the seed groups that no worker holds among those of ``batch``'s pending jobs:
        divided among the live workers that hold no group with seeds pending."""
        homes = dict.fromkeys(self.pending[j][0] for j in self._by_batch[batch] if j in self.pending)
        unheld = [home for home in homes if not self._holders.get(home)]
        idle = 1 + sum(1 for w in self.workers if w.alive and w is not worker and not self._busy(w))
        for home in unheld[: -(-(len(unheld) + 1) // idle) - 1]:  # the caller claimed its job's group already
            self._claim(worker, home)

    def _pick(self, worker: _Worker) -> int:
        for keys, index in ((worker.groups, self._by_group), (worker.homes, self._by_home)):
            for key in reversed(keys):  # the most recent first
                job = self._first(index.get(key))
                if job is not None:
                    return job
        job = self._unheld_job()
        if job is not None:
            home, _, batch = self.pending[job]
            self._claim(worker, home)
            if batch is not None:
                self._claim_share(worker, batch)
            return job
        job = self._first(self._by_home.get(max(self._count, key=lambda h: self._count[h])))
        assert job is not None, "a pending job is in its home's queue"
        return job

    def _take(self, worker: _Worker, job: int) -> Hashable:
        """Move ``job`` from pending to ``worker``; its batch."""
        home, group, batch = self.pending.pop(job)
        self._count[home] -= 1
        if not self._count[home]:
            del self._count[home]
        self._claim(worker, home)
        worker.groups[group] = None
        worker.groups.move_to_end(group)
        worker.load += 1
        return batch

    def next_batch(self, w: int) -> list[int]:
        """The jobs worker ``w`` takes now, counted as in flight on it (empty: nothing pending): one picked as the
        class says, and the pending jobs of its batch in the seed groups ``w`` holds."""
        if not self.pending:
            return []
        worker = self.workers[w]
        job = self._pick(worker)
        batch = self._take(worker, job)
        taken = [job]
        if batch is not None:
            for other in self._by_batch[batch]:
                if other in self.pending and self.pending[other][0] in worker.homes:
                    self._take(worker, other)
                    taken.append(other)
            self._by_batch[batch] = deque(j for j in self._by_batch[batch] if j in self.pending)
        return sorted(taken)  # in the order they came

    def free(self) -> Iterator[int]:
        """The live workers with room for another seed (at most :data:`IN_FLIGHT` each)."""
        return (i for i, w in enumerate(self.workers) if w.alive and w.load < IN_FLIGHT)

    def done(self, w: int) -> None:
        self.workers[w].load -= 1

    def lost(self, w: int) -> None:
        """Worker ``w`` is gone for good: its groups are nobody's."""
        worker = self.workers[w]
        worker.alive = False
        for home in worker.homes:
            self._holders[home] -= 1
            if not self._holders[home] and self._count.get(home):
                self._unheld[home] = None


def main(argv: list[str]) -> None:
    """The helper process (started by :class:`RayExecutor`, ``argv``: the socket's file descriptor, the address, the
    workers): the Ray driver. Connects (or starts a local Ray), keeps the workers, dispatches jobs and sends each
    outcome back over the socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle: it sends "cancel"
    conn = Connection(int(argv[1]))
    address, workers = argv[2] or None, int(argv[3]) or None
    try:
        import logging

        import ray
    except ImportError:
        conn.send(("error", f"--executor ray needs Ray, which is not installed: {INSTALL}"))
        return
    local = address in (None, "local")
    settings = {k: v for k, v in os.environ.items() if k.startswith("INTERPLAY_")}  # e.g. INTERPLAY_BATCHING=0
    try:
        ray.init(
            runtime_env={"env_vars": settings} if settings else None,  # the workers run as this process is set
            address="local" if local else address,
            namespace=NAMESPACE,
            num_cpus=workers if local else None,
            include_dashboard=False if local else None,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except Exception as exc:
        why = _first_line(exc)
        if "AuthenticationError" in str(exc) or "InvalidAuthToken" in str(exc):
            why = (
                "it asks for Ray's authentication token: set RAY_AUTH_MODE=token (the token in ~/.ray/auth_token or "
                "$RAY_AUTH_TOKEN), or start the cluster with RAY_AUTH_MODE=disabled"
            )
        conn.send(("error", f"cannot connect to the Ray cluster at {address}: {why} (docs/cluster.md)"))
        return
    try:
        _Driver(ray, conn, workers).loop()
    except (EOFError, OSError, BrokenPipeError):
        pass  # the main process is gone
    except Exception as exc:
        try:
            conn.send(("lost", f"{type(exc).__name__}: {exc}"))
        except (OSError, EOFError):
            pass
    finally:
        try:
            ray.shutdown()
        except Exception:
            pass


class _Driver:
    def __init__(self, ray: Any, conn: Any, workers: int | None):
        self.ray, self.conn = ray, conn
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.size = min(workers or cpus, cpus) if cpus else workers or 1  # a worker that no CPU can hold never starts
        self.run = os.urandom(4).hex()
        self.names = itertools.count()
        self.remote = ray.remote(num_cpus=1, max_restarts=RETRIES, max_task_retries=RETRIES)(SeedWorker)
        self.actors: list[Any] = []
        self.factories: dict[str, bytes] = {}
        self.blobs: dict[int, Any] = {}  # measure id -> object ref
        self.data: dict[int, Any] = {}  # data id -> object ref
        self.jobs: dict[int, tuple] = {}  # job id -> (measure id, seed, data id, whether it can be prepared)
        self.inflight: dict[Any, tuple[int, int]] = {}  # ref -> (worker, job id)
        self.dispatch = Dispatcher(0)
        try:
            self.gcs: str | None = ray.get_runtime_context().gcs_address
        except Exception:  # e.g. through Ray Client: then a dead worker is taken for a dead worker
            self.gcs = None
        conn.send(("ready", self.size, cpus))

    def cluster_gone(self) -> bool:
        """Whether the cluster's head (its GCS) no longer answers: a worker that died with it is no worker fault."""
        if not self.gcs:
            return False
        host, _, port = self.gcs.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
        except OSError:
            return True
        return False

    def loop(self) -> None:
        while True:
            wait = None if not self.inflight else 0
            while self.conn.poll(wait):
                if not self.handle(self.conn.recv()):
                    return
                wait = 0
            self.fill()
            if self.inflight:
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=0.05)
                for ref in ready:
                    self.collect(ref)

    def handle(self, msg: tuple) -> bool:
        kind = msg[0]
        if kind == "factories":
            self.factories |= msg[1]
            for actor in self.actors:
                actor.install.remote(msg[1])
        elif kind == "data":
            self.data[msg[1]] = self.ray.put(msg[2])
        elif kind == "jobs":
            for job, mid, blob, seed, (home, group, batch), data in msg[1]:
                if blob is not None:
                    self.blobs[mid] = self.ray.put(blob)
                self.jobs[job] = (mid, seed, data, batch is not None)
                self.dispatch.add(job, home, group, batch)
            self.start_workers(min(self.size, len(self.dispatch.pending) + len(self.inflight)))
        elif kind == "prestart":
            self.start_workers(min(self.size, msg[1]))
        elif kind == "cancel":
            self.stop_workers()
            self.conn.send(("cancelled",))
        elif kind == "close":
            self.stop_workers()
            return False
        return True

    def start_workers(self, n: int) -> None:
        new = [
            self.remote.options(name=f"interplay-{self.run}-{next(self.names)}").remote(self.factories)
            for _ in range(len(self.actors), n)
        ]
        if not new:
            return
        self.actors += new
        self.dispatch.grow(len(self.actors))
        try:
            described = self.ray.get([a.describe.remote() for a in new])
        except self.ray.exceptions.RayError as exc:  # e.g. interplay missing on a node: its actors cannot be built
            self.stop_workers()
            self.conn.send(("unusable", f"{type(exc).__name__}: {_first_line(exc)}"))
            return
        self.conn.send(("workers", described))

    def stop_workers(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors, self.inflight, self.jobs = [], {}, {}
        self.dispatch = Dispatcher(0)

    def fill(self) -> None:
        workers = self.dispatch.workers
        if self.dispatch.pending and workers and not any(w.alive for w in workers):
            for lost in list(self.dispatch.pending):  # every worker died RETRIES + 1 times: nothing left to run on
                del self.dispatch.pending[lost], self.jobs[lost]
                why = "no Ray worker is left: each died more often than it is restarted"
                self.conn.send(("failed", lost, None, why))
            return
        for w in list(self.dispatch.free()):
            while self.dispatch.workers[w].load < IN_FLIGHT:
                batch = self.dispatch.next_batch(w)
                if not batch:
                    return
                sent = [self._sent(job) for job in batch]
                if self.jobs[batch[0]][3]:  # the worker trains the batch's models together first (Job.prepare)
                    mid, seeds = sent[0][0], [seed for _, seed, _ in sent]
                    self.actors[w].prepare.remote(mid, [self.blobs[mid]], seeds, [data for _, _, data in sent])
                for job, (mid, seed, data) in zip(batch, sent, strict=True):
                    self.inflight[self.actors[w].measure.remote(mid, [self.blobs[mid]], seed, data)] = (w, job)

    def _sent(self, job: int) -> tuple:
        """What a worker is sent for ``job``: its measure id, its seed and its data (id and reference), if any."""
        mid, seed, data, _ = self.jobs[job]
        return mid, seed, (data, [self.data[data]]) if data is not None else None

    def collect(self, ref: Any) -> None:
        w, job = self.inflight.pop(ref)
        self.dispatch.done(w)
        del self.jobs[job]
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            if self.cluster_gone():
                raise ConnectionError(f"the cluster's head at {self.gcs} does not answer any more") from None
            self.dispatch.lost(w)
            why = f"its Ray worker died {RETRIES + 1} times ({_first_line(exc)})"
            self.conn.send(("failed", job, None, why))
            return
        except self.ray.exceptions.RayError as exc:
            self.conn.send(("failed", job, None, f"{type(exc).__name__}: {_first_line(exc)}"))
            return
        if outcome[0] == "done":
            self.conn.send(("done", job, outcome[1]))
        else:
            self.conn.send(("failed", job, outcome[1], outcome[2]))

"""The Ray executor (``--executor ray``, :mod:`.executors` for the contract): checks the address and the install,
starts the Ray driver in a helper process (:mod:`.ray_driver`) and relays jobs and records over a socket; this
process never imports Ray."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import os
import pickle
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from interplay.validators.executors import (
    ClusterLost,
    Executor,
    ExecutorError,
    Failure,
    Finish,
    Job,
    config_of,
)

INSTALL = 'pip install -e ".[ray]"'
RETRIES = 3  # restarts of a Ray worker that died, and retries of the seed it was measuring
IN_FLIGHT = 2  # seeds queued on each Ray worker: one running, the next waiting, so no worker idles between seeds
NAMESPACE = "interplay"  # the Ray namespace of the workers (named interplay-<run>-<i>, e.g. for `ray list actors`)


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
                [sys.executable, "-c", "import sys; from interplay.validators.ray_driver import main; main(sys.argv)",
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

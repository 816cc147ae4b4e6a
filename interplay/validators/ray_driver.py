"""The Ray driver's side of :class:`~.ray_executor.RayExecutor`: the helper process (:func:`main`) that connects to
the cluster, its workers (:class:`SeedWorker`, one actor per CPU) and the :class:`Dispatcher` that keeps a seed's
cells on one worker. Ray is imported here only, inside the helper process."""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import socket
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from interplay.validators.executors import config_of
from interplay.validators.ray_executor import (
    IN_FLIGHT,
    INSTALL,
    NAMESPACE,
    RETRIES,
    _first_line,
    worker_description,
)


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

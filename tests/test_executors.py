"""Executors (:mod:`interplay.validators.executors`, :mod:`~interplay.validators.ray_executor`): the local one
unchanged, Ray's without a cluster (the install message, addresses, the dispatch policy, batching many
configurations, failures), and with a real cluster.

The tests marked ``ray_cluster`` need one: ``.ci/ray_check.sh`` starts it (``ray start --head`` on 127.0.0.1, two
CPUs) and runs them with ``INTERPLAY_TEST_RAY_ADDRESS=127.0.0.1:PORT``; without that variable they are skipped.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import tomllib

from interplay.errors import UsageError
from interplay.validators import ray_executor as ray_module
from interplay.validators.executors import (
    Executor,
    ExecutorError,
    Failure,
    Job,
    LocalExecutor,
    RunFailed,
    raise_failures,
    run_batched,
)
from interplay.validators.experiment import run_seeds
from interplay.validators.ray_driver import Dispatcher
from interplay.validators.ray_executor import INSTALL, check_address
from interplay.validators.store import ResultStore

REPO = Path(__file__).resolve().parents[1]
ADDRESS = os.environ.get("INTERPLAY_TEST_RAY_ADDRESS")
cluster = pytest.mark.skipif(not ADDRESS, reason="needs a Ray cluster: INTERPLAY_TEST_RAY_ADDRESS (.ci/ray_check.sh)")


def record(seed: int) -> dict:
    return {"seed": seed, "value": seed * seed}


def boom(seed: int) -> dict:
    if seed == 1:
        raise ValueError("seed 1 breaks")
    return record(seed)


class InProcessBatches(Executor):
    """A batching executor measuring in this process and reporting failed seeds, as Ray's does (no cluster)."""

    name, batches = "fake", True

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def run(self, jobs, finish):
        failures = []
        for job in jobs:
            self.seen.append((job.key, job.seed))
            try:
                finish(job, job.measure(job.seed))
            except Exception as exc:
                failures.append(Failure(job, f"{type(exc).__name__}: {exc}", exc))
        return failures


# --- without Ray ------------------------------------------------------------------------------------------------


def test_the_base_install_does_not_grow():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(d.split(">")[0].split("=")[0].strip() == "ray" for d in project["dependencies"])
    assert any(d.startswith("ray") for d in project["optional-dependencies"]["ray"])


def test_without_ray_the_ray_executor_exits_2_with_the_install_command(tmp_path):
    """A process in which ``import ray`` fails (as without the extra): exit 2 and the install command, for every
    command that runs experiments; nothing is trained or stored."""
    hide = "import sys; sys.modules['ray'] = None; from interplay.cli.app import main; main()"
    store = tmp_path / "s.sqlite"
    args = ["validate", "--all", "--defenses", "outlier-removal", "--risks", "poisoning", "--preset", "tiny"]
    args += ["--executor", "ray", "--store", str(store), "--json"]
    out = subprocess.run([sys.executable, "-c", hide, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert INSTALL in out.stderr and INSTALL in json.loads(out.stdout)["error"]["message"]
    assert not store.exists()


def test_ray_missing_is_a_usage_error_naming_the_install(monkeypatch):
    monkeypatch.setattr(ray_module, "ray_installed", lambda: False)
    with pytest.raises(ExecutorError, match=r'pip install -e "\.\[ray\]"'):
        ray_module.RayExecutor()


def test_addresses_are_checked_before_anything_runs(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert check_address(None) is None and check_address("auto") == "auto"
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    assert check_address(None) == "auto"
    for bad in ("nonsense", "host:", "host:99999", ":6379"):
        with pytest.raises(ExecutorError, match="no Ray address"):
            check_address(bad)
    start = time.perf_counter()
    with pytest.raises(ExecutorError, match="cannot reach a Ray cluster at 127.0.0.1:1"):
        check_address("127.0.0.1:1")
    assert time.perf_counter() - start < 10


def test_executor_options_on_the_command_line(cli, tmp_path):
    store = tmp_path / "s.sqlite"
    r = cli("validate", "outlier-removal", "poisoning", "--preset", "tiny", "--executor", "spark", "--store", store)
    assert r.exit_code == 2 and "unknown executor 'spark'" in r.output
    r = cli("validate", "outlier-removal", "poisoning", "--preset", "tiny", "--address", "h:1", "--store", store)
    assert r.exit_code == 2 and "--executor ray" in r.output
    r = cli("validate", "--all", "--defenses", "outlier-removal", "--preset", "tiny", "--jobs", "2", "--store", store)
    assert r.exit_code == 2 and "--jobs applies to a single cell" in r.output
    for command in (["validate", "--help"], ["validate-combo", "--help"], ["sweep", "--help"], ["reproduce", "--help"],
                    ["measure", "--help"]):  # fmt: skip
        out = cli(*command).output
        assert "--executor" in out and "--address" in out and "--jobs" in out


def test_the_local_executor_measures_as_before(tmp_path):
    """workers=1 (or an int) is today's path: each seed in order, stored seeds reused, records and order the same."""
    store = ResultStore(tmp_path / "s.sqlite")
    calls = []
    assert run_seeds("k", 3, record, store, lambda s, c: calls.append((s, c))) == [record(s) for s in range(3)]
    assert run_seeds("k", 3, record, store, lambda s, c: calls.append((s, c)), LocalExecutor(1)) == [
        record(s) for s in range(3)
    ]
    assert calls == [(0, False), (1, False), (2, False), (0, True), (1, True), (2, True)]
    with pytest.raises(ValueError, match="seed 1 breaks"):  # the local executor stops at the first failure
        run_seeds("other", 3, boom, store)


def test_a_batching_executor_stores_each_seed_and_resubmits_none_stored(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    store.save_run("a", 0, record(0))  # finished before: never resubmitted
    fake = InProcessBatches()
    advanced = []

    def thunk(key):
        return lambda workers, on_seed: run_seeds(key, 2, record, store, on_seed, workers)

    out = run_batched(fake, [thunk("a"), thunk("b")], store, lambda i, n: advanced.append((i, n)))
    assert out == [[record(0), record(1)]] * 2
    assert sorted(fake.seen) == [("a", 1), ("b", 0), ("b", 1)]
    assert store.runs("b") == {0: record(0), 1: record(1)}
    assert sorted(advanced) == [(0, 1), (0, 1), (1, 1), (1, 1)]  # every seed once, the stored one included
    assert run_batched(fake, [thunk("a"), thunk("b")], store) == out and len(fake.seen) == 3  # all stored: no work


def test_a_failed_seed_is_reported_with_its_configuration_and_stops_nothing_else(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    fake = InProcessBatches()
    thunks = [
        lambda w, on_seed: run_seeds("bad", 3, boom, store, on_seed, w),
        lambda w, on_seed: run_seeds("good", 3, record, store, on_seed, w),
    ]
    bad, good = run_batched(fake, thunks, store)
    assert good == [record(s) for s in range(3)]
    assert [f.job.seed for f in bad] == [1] and set(store.runs("bad")) == {0, 2}  # the others are stored
    with pytest.raises(RunFailed, match=r"configuration bad, seed 1: ValueError: seed 1 breaks"):
        raise_failures(bad)
    with pytest.raises(RunFailed, match="seed 1"):  # a single configuration: the other seeds finish first
        run_seeds("bad2", 3, boom, store, None, InProcessBatches())
    assert set(store.runs("bad2")) == {0, 2}
    job = Job("k", 0, record)
    with pytest.raises(UsageError, match="not here"):  # a wrong input is raised as it is, as locally
        raise_failures([Failure(job, "x", UsageError("not here")), Failure(job, "y", ValueError("z"))])


def test_the_matrix_on_a_batching_executor_equals_the_local_run_and_keeps_failed_cells_apart(tmp_path, monkeypatch):
    import interplay

    kwargs = {"defenses": "outlier-removal,group-fairness", "risks": "poisoning", "preset": "tiny"}
    local = interplay.validate_matrix(store=tmp_path / "local.sqlite", **kwargs).to_dict()
    batched = interplay.validate_matrix(store=tmp_path / "batched.sqlite", executor=InProcessBatches(), **kwargs)
    assert _strip(batched.to_dict()) == _strip(local)
    assert _runs(tmp_path / "batched.sqlite") == _runs(tmp_path / "local.sqlite")

    from interplay.validators import experiment

    real = experiment.measure_seed

    def broken(cfg, seed):
        if cfg.defense == "group-fairness" and cfg.risk == "poisoning" and seed == 1:
            raise RuntimeError("out of luck")
        return real(cfg, seed)

    monkeypatch.setattr(experiment, "measure_seed", broken)
    records = interplay.validate_matrix(store=tmp_path / "f.sqlite", executor=InProcessBatches(), **kwargs).to_dict()
    verdicts = {(r["defense"], r["risk"]): r for r in records}
    failed = verdicts["group-fairness", "poisoning"]
    assert failed["verdict"] == "failed" and failed["observed"] is None
    assert "group-fairness -> poisoning on synthetic (configuration" in failed["reason"]
    assert "seed 1: RuntimeError: out of luck" in failed["reason"]
    assert all(r["verdict"] != "failed" for key, r in verdicts.items() if key != ("group-fairness", "poisoning"))


def _next(d: Dispatcher, w: int) -> int | None:
    """The one job a worker takes where no job has a batch."""
    batch = d.next_batch(w)
    assert len(batch) <= 1
    return batch[0] if batch else None


def test_dispatch_keeps_seed_groups_on_one_worker_and_lets_idle_workers_take_over():
    d = Dispatcher(2)
    for job, (seed, defense) in enumerate((s, x) for x in "ab" for s in (0, 1)):  # a0 a1 b0 b1 (jobs 0..3)
        d.add(job, home=seed, group=(seed, defense))
    first = [_next(d, 0), _next(d, 1)]
    assert first == [0, 1]  # each worker takes a seed group nobody holds
    assert _next(d, 0) == 2 and _next(d, 1) == 3  # then the next cell of its own seed (baseline shared)
    d = Dispatcher(3)
    for job in range(4):
        d.add(job, home=0, group=(0, job // 2))
    assert [_next(d, w) for w in range(3)] == [0, 1, 2]  # one seed group, three workers: idle ones steal
    assert _next(d, 2) == 3 and _next(d, 0) is None


def test_dispatch_splits_the_seed_groups_and_hands_out_a_configuration_s_seeds_together():
    d = Dispatcher(2)
    cells = [("a", "r1"), ("a", "r2"), ("b", "r1")]
    for job, ((defense, risk), seed) in enumerate((c, s) for c in cells for s in range(8)):
        d.add(job, home=seed, group=(seed, defense), batch=(defense, risk))
    assert d.next_batch(0) == [0, 1, 2, 3]  # worker 0 claims half of the seed groups: cell a-r1 on seeds 0-3
    assert d.next_batch(1) == [4, 5, 6, 7]  # worker 1 the other half
    assert d.next_batch(0) == [8, 9, 10, 11]  # the next cell of the defense it trained, on its own seeds
    assert d.next_batch(1) == [12, 13, 14, 15]
    assert d.next_batch(0) == [16, 17, 18, 19] and d.next_batch(1) == [20, 21, 22, 23]
    assert d.next_batch(0) == [] and all(w.load == 12 for w in d.workers)
    d = Dispatcher(16)  # more workers than seed groups: one group each, then the rest steal single seeds
    for seed in range(8):
        d.add(seed, home=seed, group=(seed, "a"), batch="a")
    assert [d.next_batch(w) for w in range(8)] == [[s] for s in range(8)]


def test_dispatch_forgets_a_lost_worker():
    d = Dispatcher(2)
    d.add(0, 0, (0, "a"))
    d.add(1, 0, (0, "b"))
    assert _next(d, 0) == 0
    d.lost(0)
    assert list(d.free()) == [1] and _next(d, 1) == 1


def _strip(doc):
    """A document without what differs between runs by nature: wall and compute times."""
    if isinstance(doc, dict):
        return {k: _strip(v) for k, v in doc.items() if k not in ("runtime_s", "compute_s")}
    if isinstance(doc, list):
        return [_strip(v) for v in doc]
    return doc


def _runs(path: Path, *, created: bool = False) -> dict:
    """Every stored seed, by (configuration, seed): its record without the run time (or when it was stored)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT config_hash, seed, record, created FROM runs").fetchall()
    if created:
        return {(k, s): c for k, s, _, c in rows}
    return {(k, s): _strip(json.loads(r)) for k, s, r, _ in rows}


# --- on a real cluster (.ci/ray_check.sh) ----------------------------------------------------------------------

# Eight cells of the tiny preset, two seeds, DP-SGD's among them (batched training's padded Poisson batches): about
# 15 s of compute, long enough to kill a worker mid-run.
CELLS = ["--defenses", "differential-privacy,group-fairness", "--risks",
         "evasion,poisoning,membership-inference,discrimination", "--preset", "tiny", "--seeds", "2"]  # fmt: skip


def _matrix(store: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "interplay.cli", "validate", "--all", *CELLS, "--store", str(store), "--json", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _seeds_stored(store: Path) -> int:
    try:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT count(*) FROM runs WHERE config_hash NOT LIKE 'pilot:%'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def ray_driver():
    """This test process as a second driver on the cluster (to find and kill the run's workers)."""
    import ray

    check_address(ADDRESS)  # a cluster that is not there fails at once (ray.init would retry for minutes)
    ray.init(address=ADDRESS, namespace=ray_module.NAMESPACE, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _finishes_after_a_worker_is_killed(run: subprocess.Popen, store: Path, ray) -> str:
    """Kill one of ``run``'s Ray workers once a seed is stored; the run must still finish, and nothing it had stored be
    lost or measured again. Its stdout."""
    deadline = time.monotonic() + 300
    while not _seeds_stored(store):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stored = _runs(store, created=True)
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == "interplay"]
    worker = ray.get_actor(sorted(names)[0], namespace=ray_module.NAMESPACE)
    os.kill(ray.get(worker.describe.remote())["pid"], signal.SIGKILL)
    assert run.poll() is None, "the run ended before a worker could be killed: give it more work"
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    after = _runs(store, created=True)
    assert all(after[key] == when for key, when in stored.items())
    return out


@cluster
@pytest.mark.ray_cluster
def test_a_matrix_on_the_cluster_survives_a_killed_worker_and_equals_the_local_run(tmp_path, ray_driver):
    run = _matrix(tmp_path / "ray.sqlite", "--executor", "ray", "--address", str(ADDRESS))
    out = _finishes_after_a_worker_is_killed(run, tmp_path / "ray.sqlite", ray_driver)

    import interplay

    local = interplay.validate_matrix(  # the same cells run locally (in this process: one interpreter less to start)
        defenses=CELLS[1], risks=CELLS[3], preset="tiny", seeds=2, store=tmp_path / "local.sqlite"
    )
    assert _runs(tmp_path / "ray.sqlite") == _runs(tmp_path / "local.sqlite")  # the records are identical
    assert _strip(json.loads(out)) == _strip(json.loads(json.dumps(local.to_dict(), default=str)))


# A sweep of three training-set sizes through DP-SGD and membership inference (reference models): long enough to
# kill a worker mid-run.
SWEEP = ["sweep", "differential-privacy", "membership-inference", "--factor", "D1", "--values", "300,400,500",
         "--preset", "tiny", "--seeds", "2", "--setting", "generic"]  # fmt: skip


@cluster
@pytest.mark.ray_cluster
def test_a_sweep_on_the_cluster_survives_a_killed_worker_and_equals_the_local_run(tmp_path, ray_driver):
    store = tmp_path / "ray.sqlite"
    cmd = [sys.executable, "-m", "interplay.cli", *SWEEP, "--store", str(store), "--out", str(tmp_path), "--json",
           "--executor", "ray", "--address", str(ADDRESS)]  # fmt: skip
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = _finishes_after_a_worker_is_killed(run, store, ray_driver)

    from typer.testing import CliRunner

    from interplay.cli.app import app

    local_store = tmp_path / "local.sqlite"
    local = CliRunner().invoke(app, [*SWEEP, "--store", str(local_store), "--out", str(tmp_path), "--json"])
    assert local.exit_code == 0, local.output
    assert _runs(store) == _runs(local_store)  # the records are identical
    assert _strip(json.loads(out)) == _strip(json.loads(local.stdout))


@cluster
@pytest.mark.ray_cluster
def test_on_the_cluster_a_raising_seed_is_reported_and_ctrl_c_keeps_what_finished(ray_driver):
    seen: dict[int, object] = {}
    with ray_module.RayExecutor(ADDRESS, 2) as ray_executor:  # measures the workers can import: divmod, time.sleep
        jobs = [Job("k", seed, functools.partial(divmod, 12)) for seed in range(4)]
        failures = ray_executor.run(jobs, lambda job, rec: seen.__setitem__(job.seed, rec))
        assert seen == {1: (12, 0), 2: (6, 0), 3: (4, 0)} and [f.job.seed for f in failures] == [0]
        assert "ZeroDivisionError" in failures[0].text and isinstance(failures[0].error, ZeroDivisionError)
        with pytest.raises(RunFailed, match="configuration k, seed 0: ZeroDivisionError"):
            raise_failures(failures)

        finished: list[int] = []
        slow = [Job("s", seed, time.sleep) for seed in (0, 0, 30, 30, 30)]  # seed: seconds asleep
        timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            ray_executor.run(slow, lambda job, rec: finished.append(job.seed))
        timer.cancel()
        assert finished == [0, 0]  # the seeds that finished before Ctrl-C were handed over (and so stored)
        time.sleep(1)
        names = [a for a in ray_driver.util.list_named_actors(all_namespaces=True) if a["namespace"] == "interplay"]
        assert not names  # the outstanding seeds were cancelled: their workers are gone

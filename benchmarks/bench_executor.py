"""Benchmark the executors: ``interplay validate --all`` with ``--executor local`` and with ``--executor ray`` on the
same cores, the per-task scheduling overhead of the Ray executor, the per-seed compute of each cell, and the
projected wall time of a full study on 1, 8, 64 and 512 workers (the figures of docs/cluster.md).

Each matrix run goes through the real CLI against a fresh store, timed from process start to exit. The Ray run
starts its own local Ray (no ``--address``: the start-up is counted) with ``--jobs`` workers, unless ``--address``
names a running cluster. Their records are compared (they must be identical). The overhead is then the Ray run's
wall time beyond the local run's, as a percentage of the local wall time (negative: Ray was faster, its workers
measuring seeds in parallel where the local matrix uses one process).

The scheduling overhead is measured on trivial seeds (``pow(2, seed)``) sent through the same executor after its
workers are up: (wall time of ``--tasks`` seeds) / seeds, per worker. The per-seed compute of a cell is the mean
``runtime_s`` of its seeds in the local run (models shared within a seed, as in any matrix run). Usage:

    .venv/bin/python benchmarks/bench_executor.py [--preset quick] [--seeds N] [--jobs 2] [--address HOST:PORT]
        [--defenses sok] [--risks ...] [--tasks 400] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The study of the issue (tracker 19): 15 defenses x 8 risks x 3 datasets x 8 seeds x 3 factor values.
STUDY = {"defenses": 15, "risks": 8, "datasets": 3, "seeds": 8, "values": 3}
WORKERS = (1, 8, 64, 512)
SHARING_LOSS = 4.7  # compute without the shared models over compute with them (docs/results.md, one DP row)


def run_matrix(args: argparse.Namespace, store: Path, *executor: str) -> tuple[float, list[dict], str]:
    cmd = [sys.executable, "-W", "ignore", "-m", "interplay.cli", "validate", "--all", "--json", "--store", str(store),
           "--preset", args.preset, "--defenses", args.defenses, *(["--risks", args.risks] if args.risks else []),
           *(["--seeds", str(args.seeds)] if args.seeds else []), *executor]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, json.loads(proc.stdout), proc.stderr


def runs(store: Path) -> dict[tuple[str, int], dict]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT config_hash, seed, record FROM runs").fetchall()
    out = {}
    for key, seed, record in rows:
        doc = json.loads(record)
        doc.pop("runtime_s", None)
        out[key, seed] = doc
    return out


def total_compute(store: Path) -> float:
    """Seconds of compute summed over the stored seeds of cells (their ``runtime_s``)."""
    with sqlite3.connect(store) as db:
        keys = {k for (k,) in db.execute("SELECT config_hash FROM validations")}
        rows = db.execute("SELECT config_hash, record FROM runs").fetchall()
    return sum(json.loads(r)["runtime_s"] for k, r in rows if k in keys)


def cells_of(store: Path) -> dict[str, dict]:
    with sqlite3.connect(store) as db:
        return {k: json.loads(c) for k, c in db.execute("SELECT config_hash, config FROM validations")}


def per_cell_compute(store: Path) -> dict[tuple[str, str], float]:
    """Mean compute seconds per seed of each cell (its stored records' ``runtime_s``)."""
    with sqlite3.connect(store) as db:
        cells = {k: json.loads(c) for k, c in db.execute("SELECT config_hash, config FROM validations")}
        rows = db.execute("SELECT config_hash, record FROM runs").fetchall()
    seconds: dict[tuple[str, str], list[float]] = {}
    for key, record in rows:
        if key in cells:
            cfg = cells[key]
            seconds.setdefault((cfg["defense"], cfg["risk"]), []).append(json.loads(record)["runtime_s"])
    return {cell: sum(v) / len(v) for cell, v in seconds.items()}


def scheduling_overhead(args: argparse.Namespace) -> dict:
    """Start-up of the Ray executor, then trivial seeds through it: seconds per seed on the driver's side."""
    from interplay.validators.executors import Job
    from interplay.validators.ray_executor import RayExecutor

    start = time.perf_counter()
    ex = RayExecutor(args.address, args.jobs)
    with ex:
        warm = [Job("warm", s, functools.partial(pow, 2)) for s in range(ex.workers if ex.workers else args.jobs)]
        ex.run(warm, lambda job, record: None)  # connects and starts the workers
        up = time.perf_counter() - start
        jobs = [Job("bench", s, functools.partial(pow, 2)) for s in range(args.tasks)]
        t = time.perf_counter()
        ex.run(jobs, lambda job, record: None)
        wall = time.perf_counter() - t
        workers = ex.workers
    return {"startup_s": up, "tasks": args.tasks, "workers": workers, "wall_s": wall,
            "per_task_s": wall / args.tasks, "per_task_per_worker_s": wall * workers / args.tasks}  # fmt: skip


def projection(per_seed: float, longest: float, overhead: float, startup: float) -> list[dict]:
    """Projected wall time of the study on each number of workers: its compute spread over the workers (at least
    its longest seed), plus the scheduling overhead of its tasks and the start-up. Up to one worker per seed group
    (dataset, seed, factor value) every group keeps its shared models; beyond that a group's baseline and probe
    models are retrained on every worker that takes some of its cells, bounded by the compute without sharing."""
    s = STUDY
    tasks = s["defenses"] * s["risks"] * s["datasets"] * s["seeds"] * s["values"]
    groups = s["datasets"] * s["seeds"] * s["values"]
    compute = tasks * per_seed
    rows = []
    for w in WORKERS:
        base = max(compute / w, longest) + tasks * overhead / w + startup
        high = base if w <= groups else max(compute * SHARING_LOSS / w, longest) + tasks * overhead / w + startup
        rows.append({"workers": w, "tasks": tasks, "groups": groups, "low_s": base, "high_s": high})
    return rows


def hours(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--defenses", default="sok")
    parser.add_argument("--risks")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--address")
    parser.add_argument("--tasks", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        local_store, ray_store = Path(tmp) / "local.sqlite", Path(tmp) / "ray.sqlite"
        load = os.getloadavg()[0]
        local_wall, local_doc, _ = run_matrix(args, local_store)
        ray_args = [
            "--executor",
            "ray",
            "--jobs",
            str(args.jobs),
            *(["--address", args.address] if args.address else []),
        ]
        ray_wall, ray_doc, _ = run_matrix(args, ray_store, *ray_args)
        local_runs, ray_runs = runs(local_store), runs(ray_store)
        identical = local_runs == ray_runs
        unequal = {key for (key, seed), r in local_runs.items() if ray_runs.get((key, seed)) != r}
        differ = [f"{c['defense']} -> {c['risk']}" for k, c in cells_of(local_store).items() if k in unequal]
        compute = per_cell_compute(local_store)
        compute_sum = {"local": total_compute(local_store), "ray": total_compute(ray_store)}
        sched = scheduling_overhead(args)
        load = max(load, os.getloadavg()[0])
    cells = len(local_doc)
    seeds = next((r["seeds"] for r in local_doc if "seeds" in r), args.seeds)
    per_seed = sum(compute.values()) / len(compute)
    longest = max(compute.values())
    doc = {
        "matrix": {"preset": args.preset, "cells": cells, "seeds": seeds, "jobs": args.jobs},
        "local_wall_s": local_wall,
        "ray_wall_s": ray_wall,
        "overhead_pct": 100 * (ray_wall - local_wall) / local_wall,
        "compute_s": compute_sum,
        "batching": os.environ.get("INTERPLAY_BATCHING", "1") != "0",
        "records_identical": identical,
        "records_differ": differ,
        "load_average_max": load,
        "scheduling": sched,
        "per_seed_compute_s": {f"{d} -> {r}": v for (d, r), v in sorted(compute.items())},
        "mean_per_seed_s": per_seed,
        "projection": projection(per_seed, longest, sched["per_task_per_worker_s"], sched["startup_s"]),
        "study": STUDY,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"validate --all --preset {args.preset}: {cells} cells x {seeds} seeds; {os.cpu_count()} CPUs, load "
          f"average up to {load:.1f} (other processes share the machine)")  # fmt: skip
    print(f"  local (one process)         {local_wall:7.1f} s")
    print(f"  ray ({args.jobs} workers)             {ray_wall:7.1f} s   overhead {doc['overhead_pct']:+.1f}% of the "
          f"local wall time; records identical: {identical}")  # fmt: skip
    if differ:
        print(f"  records differ in: {', '.join(differ)}")
    print(f"  compute summed over the seeds: local {compute_sum['local']:.1f} s, ray {compute_sum['ray']:.1f} s "
          f"(batched training {'on' if doc['batching'] else 'off'})")  # fmt: skip
    print(f"Ray executor start-up (connect, {sched['workers']} workers up): {sched['startup_s']:.1f} s; "
          f"{sched['tasks']} trivial seeds in {sched['wall_s']:.2f} s: {1000 * sched['per_task_s']:.2f} ms per seed, "
          f"{1000 * sched['per_task_per_worker_s']:.2f} ms of a worker's time per seed")  # fmt: skip
    print(f"Per-seed compute (local run, models shared within a seed): mean {per_seed:.2f} s, longest {longest:.2f} s")
    defenses = list(dict.fromkeys(d for d, _ in compute))
    risks = list(dict.fromkeys(r for _, r in compute))
    print("  " + " " * 22 + " ".join(f"{r[:10]:>10}" for r in risks))
    for d in defenses:
        print(f"  {d[:22]:22}" + " ".join(f"{compute[d, r]:10.2f}" if (d, r) in compute else " " * 10 for r in risks))
    s = STUDY
    print(f"Projected study ({s['defenses']} defenses x {s['risks']} risks x {s['datasets']} datasets x {s['seeds']} "
          f"seeds x {s['values']} factor values = {doc['projection'][0]['tasks']} seeds of cells, "
          f"{doc['projection'][0]['groups']} seed groups) at {per_seed:.2f} s per seed:")  # fmt: skip
    for row in doc["projection"]:
        span = (
            hours(row["low_s"]) if row["high_s"] == row["low_s"] else f"{hours(row['low_s'])} to {hours(row['high_s'])}"
        )
        print(f"  {row['workers']:4d} workers: {span}")


if __name__ == "__main__":
    main()

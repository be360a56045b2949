"""Distributed training: runyard vs raw torchrun vs Ray Train, side by side in one run.

Overhead: the same DDP loop (digits, an MLP, 2 workers, gloo) under ``torchrun``, under
``ry.train`` (local processes), under Ray Train's ``TorchTrainer`` and under
``ry.train(executor="ray")`` (both on a local 2-CPU Ray on 127.0.0.2); the figure is the
median time per epoch (rank 0's epoch-end timestamps), and the total wall time.

Recovery: the same loop with a checkpoint every epoch; rank 1 SIGKILLs itself in the middle
of epoch K on the first attempt. Figures: the time from the kill to the first epoch finished
after the restart, and the total wall time. torchrun runs with ``--max-restarts 3`` and the
user's own checkpoint code (``torch.save`` to a temp file + ``os.replace``); Ray Train with
``FailureConfig(max_failures=3)`` and ``ray.train.report(checkpoint=...)``; runyard with
``ctx.report(..., checkpoint=True)`` and nothing else.

    python benchmarks/bench_training.py            # 10 epochs, kill at epoch 5
    python benchmarks/bench_training.py --quick    # 6 epochs, kill at epoch 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import QUIET_ENV, print_table, save  # noqa: E402

LOOP = textwrap.dedent(
    '''
    """The one training loop every side runs (written by bench_training.py)."""
    import json, os, signal, time
    import torch

    HIDDEN, BATCH = 512, 16

    def data():
        from sklearn.datasets import load_digits
        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32) / 16.0
        return torch.utils.data.TensorDataset(x, torch.tensor(d.target))

    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, HIDDEN),
            torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))

    def log(rank, **event):
        if rank == 0 or "kill" in event:
            with open(os.environ["BENCH_LOG"], "a") as f:
                f.write(json.dumps({**event, "t": time.time()}) + "\\n")

    def maybe_kill(rank, epoch, i, n):
        kill = int(os.environ.get("BENCH_KILL_EPOCH", "-1"))
        marker = os.environ["BENCH_LOG"] + ".killed"
        if rank == 1 and epoch == kill and i == n // 2 and not os.path.exists(marker):
            open(marker, "w").close()
            log(rank, kill=epoch)
            os.kill(os.getpid(), signal.SIGKILL)

    def step(net, opt, xb, yb):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xb), yb)
        loss.backward()
        opt.step()
        return loss

    # -- runyard: the whole loop -----------------------------------------------------------
    def runyard_loop(ctx):
        ds = data()
        net = ctx.prepare(model())
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        state = ctx.restore(model=net, optimizer=opt)
        for epoch in range(state.epoch + 1 if state else 0, ctx.config["epochs"]):
            batches = ctx.loader(ds, batch_size=BATCH, epoch=epoch)
            n = len(ds) // (BATCH * ctx.world_size)
            for i, (xb, yb) in enumerate(batches):
                maybe_kill(ctx.rank, epoch, i, n)
                loss = step(net, opt, xb, yb)
            ctx.report({"loss": loss}, step=epoch, checkpoint=ctx.config["checkpoint"])
            log(ctx.rank, epoch=epoch)

    # -- torchrun: the same loop, with the user's own sampler and checkpoint code ----------
    def torchrun_main():
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel as DDP
        from torch.utils.data import DataLoader, DistributedSampler
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        epochs = int(os.environ["BENCH_EPOCHS"])
        ckpt = os.environ.get("BENCH_CKPT")
        ds = data()
        net = DDP(model())
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        start = 0
        if ckpt and os.path.exists(ckpt):
            state = torch.load(ckpt, weights_only=False)
            net.module.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start = state["epoch"] + 1
        sampler = DistributedSampler(ds, seed=0)
        for epoch in range(start, epochs):
            sampler.set_epoch(epoch)
            batches = DataLoader(ds, batch_size=BATCH, sampler=sampler)
            n = len(ds) // (BATCH * world)
            for i, (xb, yb) in enumerate(batches):
                maybe_kill(rank, epoch, i, n)
                loss = step(net, opt, xb, yb)
            t = torch.tensor([loss.item()])
            dist.all_reduce(t)
            if ckpt and rank == 0:
                tmp = ckpt + ".tmp"
                torch.save({"model": net.module.state_dict(),
                            "optimizer": opt.state_dict(), "epoch": epoch}, tmp)
                os.replace(tmp, ckpt)
            if ckpt:
                dist.barrier()
            log(rank, epoch=epoch)
        dist.destroy_process_group()

    # -- Ray Train --------------------------------------------------------------------------
    def ray_loop(config):
        import tempfile
        import ray.train
        from ray.train.torch import prepare_model
        from torch.utils.data import DataLoader, DistributedSampler
        ctx = ray.train.get_context()
        rank, world = ctx.get_world_rank(), ctx.get_world_size()
        ds = data()
        net = prepare_model(model())
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        start = 0
        checkpoint = ray.train.get_checkpoint()
        if checkpoint:
            with checkpoint.as_directory() as d:
                state = torch.load(os.path.join(d, "state.pt"), weights_only=False)
            net.module.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start = state["epoch"] + 1
        sampler = DistributedSampler(ds, seed=0)
        for epoch in range(start, config["epochs"]):
            sampler.set_epoch(epoch)
            n = len(ds) // (BATCH * world)
            for i, (xb, yb) in enumerate(DataLoader(ds, batch_size=BATCH, sampler=sampler)):
                maybe_kill(rank, epoch, i, n)
                loss = step(net, opt, xb, yb)
            if config["checkpoint"]:
                with tempfile.TemporaryDirectory() as d:
                    if rank == 0:
                        torch.save({"model": net.module.state_dict(),
                                    "optimizer": opt.state_dict(), "epoch": epoch},
                                   os.path.join(d, "state.pt"))
                    ray.train.report({"loss": loss.item()},
                                     checkpoint=ray.train.Checkpoint.from_directory(d)
                                     if rank == 0 else None)
            else:
                ray.train.report({"loss": loss.item()})
            log(rank, epoch=epoch)

    if __name__ == "__main__":
        torchrun_main()
    '''
)

RUNYARD_SIDE = """
import json, sys, time
sys.path.insert(0, {work!r})
t0 = time.time()
import runyard as ry
from runyard.training import train
from bench_loop import runyard_loop
train(runyard_loop, config={{"epochs": {epochs}, "checkpoint": {checkpoint}}}, workers=2,
      max_restarts=3, experiment="bench-training")
print(json.dumps({{"wall": time.time() - t0}}))
"""

RUNYARD_RAY_SIDE = """
import json, os, sys, time
sys.path.insert(0, {work!r})
t0 = time.time()
import ray
import cloudpickle
import bench_loop
from runyard.training import train
cloudpickle.register_pickle_by_value(bench_loop)
ray.init(address="local", num_cpus=2, include_dashboard=False,
         _node_ip_address="127.0.0.2",
         runtime_env={{"env_vars": {{"BENCH_LOG": os.environ["BENCH_LOG"],
                                    "BENCH_KILL_EPOCH": os.environ.get("BENCH_KILL_EPOCH", "-1"),
                                    "OMP_NUM_THREADS": "1"}}}})
train(bench_loop.runyard_loop, config={{"epochs": {epochs}, "checkpoint": {checkpoint}}},
      workers=2, executor="ray", max_restarts=3, experiment="bench-training")
print(json.dumps({{"wall": time.time() - t0}}))
"""

RAY_SIDE = """
import json, os, sys, time
sys.path.insert(0, {work!r})
t0 = time.time()
import ray
import cloudpickle
import bench_loop
cloudpickle.register_pickle_by_value(bench_loop)
ray.init(address="local", num_cpus=2, include_dashboard=False,
         _node_ip_address="127.0.0.2",
         runtime_env={{"env_vars": {{"BENCH_LOG": os.environ["BENCH_LOG"],
                                    "BENCH_KILL_EPOCH": os.environ.get("BENCH_KILL_EPOCH", "-1"),
                                    "OMP_NUM_THREADS": "1"}}}})
from ray.train import FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
trainer = TorchTrainer(
    bench_loop.ray_loop,
    train_loop_config={{"epochs": {epochs}, "checkpoint": {checkpoint}}},
    scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
    run_config=RunConfig(storage_path={storage!r}, name="bench",
                         failure_config=FailureConfig(max_failures=3)),
)
trainer.fit()
print(json.dumps({{"wall": time.time() - t0}}))
"""


def events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def epoch_times(log: Path) -> dict[str, Any]:
    ev = events(log)
    ends = [e["t"] for e in ev if "epoch" in e]
    kills = [e["t"] for e in ev if "kill" in e]
    per_epoch = statistics.median(b - a for a, b in zip(ends, ends[1:], strict=False))
    t0 = ev[0]["t"] if ev else 0.0
    out: dict[str, Any] = {
        "per_epoch_s": per_epoch,
        "epochs_logged": len(ends),
        "timeline": [{**e, "t": round(e["t"] - t0, 3)} for e in ev],
    }
    if kills:
        after = [t for t in ends if t > kills[0]]
        out["recovery_s"] = after[0] - kills[0] if after else None
    return out


def run_side(
    name: str, epochs: int, kill: int | None, checkpoint: bool, work: Path
) -> dict[str, Any]:
    log = work / f"{name}-{'rec' if kill is not None else 'ovh'}.jsonl"
    env = {
        **os.environ,
        **QUIET_ENV,
        "BENCH_LOG": str(log),
        "BENCH_EPOCHS": str(epochs),
        "BENCH_KILL_EPOCH": str(kill if kill is not None else -1),
        "RUNYARD_HOME": str(work / f"home-{name}-{kill}"),
        "PYTHONPATH": str(work),
    }
    if name == "torchrun":
        if checkpoint:
            env["BENCH_CKPT"] = str(work / f"torchrun-{kill}.pt")
        cmd = [
            sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--max-restarts", "3", "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0",
            str(work / "bench_loop.py"),
        ]  # fmt: skip
    else:
        template = {"runyard": RUNYARD_SIDE, "runyard-ray": RUNYARD_RAY_SIDE}.get(name, RAY_SIDE)
        code = template.format(
            work=str(work), epochs=epochs, checkpoint=checkpoint, storage=str(work / "ray")
        )
        cmd = [sys.executable, "-c", code]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.time() - t0
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-1500:], "wall_s": wall}
    return {"wall_s": wall, **epoch_times(log)}


def ray_train_available() -> str | None:
    try:
        import ray.train.torch  # noqa: F401
    except Exception as e:  # noqa: BLE001 - report why the side is skipped
        return f"{type(e).__name__}: {e}"
    return None


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The median of ``key`` over the runs that produced it, plus min / max and each run."""
    ok = [r for r in runs if "error" not in r and r.get(key) is not None]
    out: dict[str, Any] = {"runs": runs, "failed_runs": len(runs) - len(ok)}
    if ok:
        out.update({key: statistics.median(r[key] for r in ok)})
        out[f"{key}_spread"] = spread([r[key] for r in ok])
        out["wall_s"] = statistics.median(r["wall_s"] for r in ok)
    return out


def each(runs: list[dict[str, Any]], key: str) -> str:
    return " / ".join(f"{r[key]:.3g}" if r.get(key) is not None else "failed" for r in runs)


def table(results: dict[str, Any], part: str, key: str, title: str, what: str) -> None:
    base = results[part].get("torchrun", {})
    rows = []
    for side, r in results[part].items():
        if key not in r:
            rows.append([side, "failed", "", each(r["runs"], key), ""])
            continue
        ratio = r[key] / base[key] if key in base else ""
        rows.append([side, r[key], ratio, each(r["runs"], key), r["wall_s"]])
    print_table(title, ["side", what, "× torchrun", "each run", "total s (median)"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="6 epochs, kill at epoch 3")
    parser.add_argument("--no-ray", action="store_true", help="skip Ray Train")
    parser.add_argument("--only", choices=["overhead", "recovery"], help="run one part")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side (interleaved)")
    args = parser.parse_args()
    epochs, kill = (6, 3) if args.quick else (10, 5)
    sides = ["torchrun", "runyard"]
    ray_problem = "skipped (--no-ray)" if args.no_ray else ray_train_available()
    if ray_problem is None:
        sides += ["ray-train", "runyard-ray"]
    parts = [p for p in ("overhead", "recovery") if args.only in (None, p)]

    raw: dict[str, dict[str, list[dict[str, Any]]]] = {p: {} for p in parts}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            work = Path(tmp) / f"run{n}"
            work.mkdir()
            (work / "bench_loop.py").write_text(LOOP)
            for part in parts:
                for side in sides:
                    print(f"{part}: {side} (run {n + 1} of {args.repeat}) ...", flush=True)
                    at = kill if part == "recovery" else None
                    r = run_side(side, epochs, at, part == "recovery", work)
                    raw[part].setdefault(side, []).append(r)
    results: dict[str, Any] = {
        "epochs": epochs, "kill_epoch": kill, "repeat": args.repeat,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "overhead": {s: summarize(r, "per_epoch_s") for s, r in raw.get("overhead", {}).items()},
        "recovery": {s: summarize(r, "recovery_s") for s, r in raw.get("recovery", {}).items()},
    }  # fmt: skip
    if ray_problem:
        results["ray_train"] = ray_problem

    table(
        results, "overhead", "per_epoch_s",
        f"overhead: DDP MLP on digits, 2 workers, gloo, {epochs} epochs", "s/epoch (median)",
    )  # fmt: skip
    table(
        results, "recovery", "recovery_s",
        f"recovery: rank 1 SIGKILLed mid-epoch {kill} of {epochs}, checkpoint every epoch",
        "kill → next epoch s (median)",
    )  # fmt: skip
    for part, by_side in raw.items():
        for side, runs in by_side.items():
            for r in runs:
                if "error" in r:
                    print(f"\n{part} {side} failed:\n{r['error']}")
    if ray_problem:
        print(f"\nRay Train: {ray_problem}")
    print(f"\nload average (1, 5, 15 min): before {load_before}, after {os.getloadavg()}")
    save("training" if args.only is None else f"training_{args.only}", results)


if __name__ == "__main__":
    main()

"""Training functions the tests run on real worker processes (importable by the workers)."""

from __future__ import annotations

from typing import Any


def digits_data() -> tuple[Any, Any]:
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.data, dtype=torch.float32) / 16.0, torch.tensor(d.target)


def mlp() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(32, 10)
    )


def train_digits(ctx: Any) -> None:
    """The issue's loop: prepare, restore, sharded loader, report with checkpoint."""
    import time

    import torch

    x, y = digits_data()
    model = ctx.prepare(mlp())
    opt = torch.optim.SGD(model.parameters(), lr=ctx.config["lr"], momentum=0.9)
    state = ctx.restore(model=model, optimizer=opt)
    start = state.epoch + 1 if state else 0
    fail = ctx.config.get("raise_at")
    pause = ctx.config.get("batch_sleep", 0)  # seconds per batch: time to stop a node mid-epoch
    for epoch in range(start, ctx.config["epochs"]):
        model.train()
        for xb, yb in ctx.loader((x, y), batch_size=64, epoch=epoch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            if pause:
                time.sleep(pause)
        if fail is not None and fail == [ctx.rank, epoch]:
            raise ValueError(f"bad batch statistics at epoch {epoch}")
        model.eval()
        with torch.no_grad():
            acc = (model(x).argmax(1) == y).float().mean()
        ctx.report({"loss": loss, "val_acc": acc}, step=epoch, checkpoint=True)
        ctx.report({"rank_mean": ctx.rank}, step=epoch)
        ctx.report({"rank_of_rank0": ctx.rank}, step=epoch, reduce="rank0")


def report_scheduling(ctx: Any) -> None:
    """Report how each rank's process is scheduled: its policy and its nice value."""
    import os

    ctx.report(
        {
            "idle_scheduled": float(os.sched_getscheduler(0) == os.SCHED_IDLE),
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
        },
        step=0,
    )

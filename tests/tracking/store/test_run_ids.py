"""Run ids: unique, in creation order, with distinct short ids (their first 8 hex digits)."""

from __future__ import annotations

import re
import uuid

from runyard.entities import RunStatus
from runyard.tracking.store import TrackingStore
from runyard.tracking.store.base import NewRun


def test_runs_made_one_after_another_have_ordered_ids_and_distinct_short_ids(
    store: TrackingStore,
) -> None:
    exp = store.create_experiment("ids")
    singles = [store.create_run(exp).run_id for _ in range(20)]
    bulk = store.create_runs(
        [NewRun(exp, status=RunStatus.FINISHED, end_time=1, tags={"k": "v"}) for _ in range(300)]
    )
    ids = singles + bulk + [store.create_run(exp).run_id for _ in range(5)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert all(uuid.UUID(i).version == 8 for i in ids)
    assert sorted(ids) == ids  # creation order, even within one millisecond
    assert len({i[:8] for i in ids}) == len(ids)  # what the CLI shows tells them apart
    # Unnamed runs are named after their short id: one name per run.
    names = {store.get_run(i).name for i in singles}
    assert len(names) == len(singles)
    assert store.get_run(bulk[123]).tags == {"k": "v"}

"""``why``: explain a step's cache miss by diffing its key against its last earlier run."""

from __future__ import annotations

from dataclasses import dataclass

from runyard.entities import Run, RunStatus
from runyard.errors import NotFound
from runyard.pipelines._recorder import TAG
from runyard.pipelines.cache_key import KeyChange, KeyComponents, diff_components
from runyard.pipelines.resume import step_runs
from runyard.tracking.store.base import TrackingStore

__all__ = ["Explanation", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one step call of a pipeline run did or did not use the cache.

    Attributes:
        label: the call (``train`` or ``train[1]``).
        run_id: its step run.
        cache: hit, miss, off or resumed.
        reason: why it was not cached at all (for ``off``).
        previous_run_id: the earlier run of the same call its key was compared with.
        changes: what differs from that run's key, code first.
    """

    label: str
    run_id: str
    cache: str
    reason: str | None
    previous_run_id: str | None
    changes: tuple[KeyChange, ...]

    def lines(self) -> list[str]:
        """The explanation as lines for a person."""
        head = f"{self.label} (run {self.run_id})"
        if self.cache == "hit":
            return [f"{head}: cache hit — nothing to explain"]
        if self.cache == "resumed":
            return [f"{head}: reused from the run it resumed"]
        if self.cache == "off":
            return [f"{head}: not cached — {self.reason or 'no reason recorded'}"]
        if self.previous_run_id is None:
            return [f"{head}: cache miss — no earlier run of this step to compare with"]
        if not self.changes:
            return [
                f"{head}: cache miss, yet its key equals that of run {self.previous_run_id}: "
                "the cached output was missing or unreadable, or that run did not finish"
            ]
        return [f"{head}: cache miss; compared with run {self.previous_run_id}:"] + [
            f"  - {c.describe()}" for c in self.changes
        ]


def explain(store: TrackingStore, pipeline_run_id: str, step: str) -> list[Explanation]:
    """Explain the cache use of ``step`` (a node id, or ``node[i]``) in a pipeline run.

    Raises:
        NotFound: no such run, or the run has no such step.

    Example:
        >>> from runyard.pipelines.why import explain
        >>> for e in explain(store, run_id, "train"):  # doctest: +SKIP
        ...     print(*e.lines())
    """
    node, _, rest = step.partition("[")
    index = rest.rstrip("]") if rest else None
    mine = [
        r
        for r in step_runs(store, pipeline_run_id)
        if r.tags.get(TAG.NODE) == node and (index is None or r.tags.get(TAG.MAP_INDEX) == index)
    ]
    if not mine:
        raise NotFound(f"run {pipeline_run_id} has no step {step!r}")
    return [_explain_one(store, r) for r in mine]


def _explain_one(store: TrackingStore, run: Run) -> Explanation:
    label = run.name
    cache = run.tags.get(TAG.CACHE, "off")
    reason = run.tags.get(TAG.CACHE_REASON)
    if cache != "miss":
        return Explanation(label, run.run_id, cache, reason, None, ())
    current = KeyComponents.from_json(run.tags[TAG.COMPONENTS])
    found = _previous(store, run)
    if found is None:
        return Explanation(label, run.run_id, cache, reason, None, ())
    previous, before = found
    return Explanation(
        label, run.run_id, cache, reason, previous.run_id, tuple(diff_components(before, current))
    )


def _previous(store: TrackingStore, run: Run) -> tuple[Run, KeyComponents] | None:
    """The latest earlier run of the same call that had a key, with that key's components."""
    slot = run.tags.get(TAG.SLOT, "").replace("'", "''")
    page = store.search_runs(
        [run.experiment_id],
        f"tags.`{TAG.SLOT}` = '{slot}' and attributes.start_time <= {run.start_time}",
        order_by=["start_time desc"],
        max_results=200,
    )
    candidates = [
        r
        for r in page.items
        if r.run_id != run.run_id
        and r.tags.get(TAG.CACHE) in ("miss", "hit")
        and (r.tags.get(TAG.COMPONENTS) or r.tags.get(TAG.SOURCE_RUN))
    ]
    finished = [r for r in candidates if r.status is RunStatus.FINISHED]
    for r in finished or candidates:
        components = _components(store, r)
        if components is not None:
            return r, components
    return None


def _components(store: TrackingStore, run: Run) -> KeyComponents | None:
    """A run's key components; a hit's are those of the run that produced its output."""
    text = run.tags.get(TAG.COMPONENTS)
    source = run.tags.get(TAG.SOURCE_RUN)
    if not text and source:
        try:
            text = store.get_run(source).tags.get(TAG.COMPONENTS)
        except NotFound:
            return None
    return KeyComponents.from_json(text) if text else None

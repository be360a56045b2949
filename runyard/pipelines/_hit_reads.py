"""The runner's reads of cache hits, done only when a value is needed (:mod:`._lazy`).

:class:`HitReads` is a part of the pipeline runner (``runyard.pipelines.runner``), kept in
a module of its own: which hit outputs a step or the pipeline's return value must read,
reading and verifying them, running a call again when its output cannot be read, and
queueing a hit's run once nothing can still need its value. The state it works on belongs
to the runner and is declared here by type only.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from runyard.entities import RunStatus
from runyard.errors import RunyardError
from runyard.pipelines import serializers
from runyard.pipelines._inputs import Call, NodeOutput
from runyard.pipelines._keys import params_of
from runyard.pipelines._lazy import NOT_A_SEQUENCE, LazyHit
from runyard.pipelines._recorder import TAG, PendingRun, Recorder
from runyard.pipelines._state import NodeState
from runyard.pipelines.graph import Graph, NodeInput, StepNode
from runyard.pipelines.records import CacheUse, StepStatus

__all__ = ["HitReads"]


class HitReads:
    """Reading cache hits' outputs when needed; mixed into the runner."""

    graph: Graph
    rec: Recorder
    nodes: dict[str, NodeState]
    by_id: dict[str, StepNode]
    upstream: dict[str, list[str]]
    waiting_on: dict[str, set[str]]
    ready: deque[str]
    outputs: dict[str, NodeOutput]
    _record_runs: list[PendingRun | None]
    _settled_events: deque[tuple[int, str, int | None, StepStatus]]
    _unloaded: dict[str, list[LazyHit]]  # hits whose output nothing has read, by node
    _readers_left: dict[str, int]  # readers of a node not started yet
    _done_reading: set[str]  # nodes that no longer need their inputs read
    _for_output: set[str]  # nodes whose output the pipeline returns
    _bad_keys: dict[str, str]  # cache entries whose output proved unreadable
    _slots: dict[tuple[str, int | None], int]  # records a re-run replaces
    _restarting: set[str]  # nodes started before, to start again

    def _wait_for(self, node_id: str, upstream: list[str]) -> None:
        """``node_id`` starts again once ``upstream`` (being run again) have settled."""
        self.waiting_on[node_id].update(upstream)
        self.nodes[node_id].started = False

    def _whole_inputs(self, node: StepNode) -> list[str]:
        """Upstream nodes whose whole output is an argument of ``node`` and may be a list."""
        return [
            inp.node_id
            for inp in node.inputs.values()
            if isinstance(inp, NodeInput)
            and not self.by_id[inp.node_id].mapped
            and not all(h.serializer in NOT_A_SEQUENCE for h in self._unloaded.get(inp.node_id, ()))
        ]

    def _read_inputs(self, node_id: str, upstream: list[str]) -> bool:
        """Read the unread hit outputs of ``upstream``; False if one runs again first."""
        unread = [u for u in upstream if u in self._unloaded]
        failed = [u for u in unread if not self._read_output(u)]
        if failed:
            self._wait_for(node_id, failed)
        return not failed

    def _read_output(self, node_id: str) -> bool:
        """Read and verify the outputs of ``node_id``'s hits; False (and rerun) if one fails."""
        hits = self._unloaded.pop(node_id, None)
        if not hits:
            return True
        out = self.outputs[node_id]
        bad: list[tuple[LazyHit, Exception]] = []
        for hit in hits:
            try:
                value = self._load(hit.digest, hit.serializer)
            except (RunyardError, ValueError, KeyError, TypeError) as e:
                bad.append((hit, e))
                continue
            index = hit.call.index
            (out if index is None or out.items is None else out.items[index]).value = value
            self._confirm(hit)
        if bad:
            self._run_again(node_id, bad)
            return False
        if out.items is not None:
            out.value = [o.value for o in out.items]
        return True

    def _run_again(self, node_id: str, bad: list[tuple[LazyHit, Exception]]) -> None:
        """Hits of ``node_id`` whose output cannot be read: run those calls again."""
        state = self.nodes[node_id]
        for hit, error in bad:
            reason = f"its cached output {hit.digest} could not be read: {error}"
            self._bad_keys[hit.key] = reason
            state.done.pop(hit.call.index, None)
            self._slots[(node_id, hit.call.index)] = hit.slot  # its record is replaced
            run = self._record_runs[hit.slot]
            if hit.confirmed and run is not None:  # its hit run is queued: say it was not one
                self.rec.finish_step(
                    run,
                    RunStatus.FAILED,
                    tags={TAG.STATUS: StepStatus.FAILED, TAG.ERROR: f"{reason}; it ran again"},
                )
        self.outputs.pop(node_id, None)
        self._restarting.add(node_id)
        state.started = False
        self.ready.append(node_id)

    def _release_inputs(self, node_id: str) -> None:
        """``node_id`` will not read its inputs (again): confirm hits nothing else may read."""
        if node_id in self._done_reading:
            return
        self._done_reading.add(node_id)
        for u in self.upstream[node_id]:
            self._readers_left[u] -= 1
            if self._readers_left[u] <= 0 and u not in self._for_output:
                for hit in self._unloaded.get(u, ()):
                    self._confirm(hit)

    def _output_read(self) -> bool:
        """Read the outputs the pipeline returns; False if one must run again first."""
        if any(s.failed for s in self.nodes.values()):
            return True
        failed = [u for u in sorted(self._for_output) if not self._read_output(u)]
        return not failed

    def _confirm(self, hit: LazyHit) -> None:
        """Queue the run of a hit and report it (once)."""
        if hit.confirmed:
            return
        hit.confirmed = True
        call = hit.call
        tags = self._slot_tags(call)
        tags[TAG.CACHE] = CacheUse.HIT
        tags[TAG.OUTPUT_DIGEST] = hit.digest
        tags[TAG.OUTPUT_SERIALIZER] = hit.serializer
        tags[TAG.STATUS] = StepStatus.CACHED
        tags[TAG.SOURCE_RUN] = hit.source_run
        # A hit points at the run that produced the output: its artifacts, lineage and key
        # components are recorded there once. Recording them again would double the cost
        # of every hit. Its run is finished from the start, so it is queued and written in
        # bulk.
        self._record_runs[hit.slot] = self.rec.add_finished_step(call.label, tags, params_of(call))
        self._settled_events.append(
            (self.rec.tickets, call.node.node_id, call.index, StepStatus.CACHED)
        )

    def _confirm_rest(self) -> None:
        """Queue the runs of the hits not confirmed yet (the run ends)."""
        for hits in self._unloaded.values():
            for hit in hits:
                self._confirm(hit)

    def _slot_tags(self, call: Call) -> dict[str, str]:
        tags = {TAG.NODE: call.node.node_id, TAG.SLOT: f"{self.graph.name}/{call.label}"}
        if call.index is not None:
            tags[TAG.MAP_INDEX] = str(call.index)
        return tags

    def _load(self, digest: str, serializer: str) -> Any:
        return serializers.load(serializer, self.rec.cas.get_bytes(digest))

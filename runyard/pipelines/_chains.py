"""Handing a step call to the executor before the steps it reads have finished.

On an executor that :attr:`~runyard.executors.base.Executor.chains_tasks` (Ray), a step
whose upstream steps are still running need not wait for the driver: once they are
submitted, :class:`Chains` submits it too, with
:meth:`~runyard.executors.base.Executor.submit_after`, and the executor starts it where its
inputs are as soon as they exist. A chain of steps then costs the cluster's own
task-to-task latency per step instead of a round trip through the driver, and the driver's
bookkeeping runs while the cluster works.

It is a head start, never a different result:

* Only calls that could never be answered from the cache are chained: the step has
  ``cache=False`` or the run has the cache off, and no earlier run is being resumed for
  it. No cache lookup is skipped or reordered.
* Only single calls (not ``.map()``) of steps without a timeout (it would count the wait).
* The worker builds the arguments with the runner's own
  :func:`~runyard.pipelines._inputs.resolve`, from the upstream outcomes and the outputs
  the driver already had; if an upstream call failed, the step's function never runs.
* Nothing is recorded for a chained call when it is submitted. The runner starts the call
  the usual way once its upstream steps have settled (run, events, then the submission),
  and at that point :meth:`Chains.adopt` hands it the chained future — only if every
  upstream future it waited on is the one whose output the runner kept. An upstream that
  failed and was retried makes the chained call stale: it is dropped and the call is
  submitted afresh.

Outputs are stored by the worker as for any submission, and made durable before anything
that points at them is recorded.

A step's function is pickled once per run (:class:`PickledFunction`), not once per call,
and a worker loads the same pickled function once: a function defined in ``__main__`` or
a notebook (pickled by value) then keeps its module-level state across the calls a worker
runs, as with Ray's own remote functions.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from runyard.errors import InvalidArgument
from runyard.executors import Executor
from runyard.pipelines._inputs import NodeOutput, resolve
from runyard.pipelines._lazy import UNLOADED
from runyard.pipelines._state import NodeState
from runyard.pipelines._task import OutputTarget, TaskOutcome, run_step_call
from runyard.pipelines.graph import Input, ParamInput, StepNode, walk

__all__ = ["ChainedCall", "Chains", "PickledFunction", "run_chained_call"]

_LOADED_MAX = 128
_LOADED: OrderedDict[bytes, Callable[..., Any]] = OrderedDict()
"""Functions loaded in this (worker) process, by their pickled bytes; the latest last."""


def _load_function(data: bytes) -> Callable[..., Any]:
    fn = _LOADED.get(data)
    if fn is None:
        import cloudpickle  # type: ignore[import-untyped]

        fn = _LOADED[data] = cloudpickle.loads(data)
        if len(_LOADED) > _LOADED_MAX:
            _LOADED.popitem(last=False)
    return fn


class PickledFunction:
    """A step's function, pickled once; it unpickles as the function, loaded once a process.

    Pickling a function defined in ``__main__`` (by value) costs more than the rest of a
    chained call, in the driver and again in the worker.
    """

    __slots__ = ("data", "fn")

    def __init__(self, fn: Callable[..., Any]) -> None:
        import cloudpickle

        self.fn = fn
        self.data: bytes = cloudpickle.dumps(fn, protocol=5)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        return _load_function, (self.data,)


class UpstreamNotFinished(RuntimeError):
    """A chained call did not run: a step it reads failed (the runner drops the outcome)."""


@dataclass(frozen=True, slots=True)
class ChainedCall:
    """What the worker needs to run a step call whose inputs come from running steps.

    Attributes:
        fn: the step's function.
        inputs: the node's inputs by parameter name.
        params: the pipeline parameters the inputs read.
        known: the outputs of upstream steps that had settled when the call was chained.
        waits_for: the upstream nodes whose outcomes the executor hands over, in order.
        target: where the worker stores the output.
    """

    fn: Callable[..., Any]
    inputs: Mapping[str, Input]
    params: dict[str, Any]
    known: dict[str, NodeOutput]
    waits_for: tuple[str, ...]
    target: OutputTarget | None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with every chained task: see OutputTarget.__reduce__.
        fields = (self.fn, self.inputs, self.params, self.known, self.waits_for, self.target)
        return ChainedCall, fields


def run_chained_call(results: list[TaskOutcome], chained: ChainedCall) -> TaskOutcome:
    """Run a chained call (on the worker) with the outcomes of the calls it waited for."""
    outputs = dict(chained.known)
    for node_id, outcome in zip(chained.waits_for, results, strict=True):
        if not outcome.ok:
            error = UpstreamNotFinished(f"upstream step {node_id!r} failed")
            return TaskOutcome(False, None, error, str(error), "", "", 0.0)
        outputs[node_id] = NodeOutput(outcome.value, None)
    try:
        kwargs = {
            name: resolve(inp, chained.params, outputs).value
            for name, inp in chained.inputs.items()
        }
    except Exception as e:  # the runner meets the same error and never adopts this outcome
        return TaskOutcome(False, None, UpstreamNotFinished(str(e)), str(e), "", "", 0.0)
    return run_step_call(chained.fn, kwargs, True, chained.target)


@dataclass(frozen=True, slots=True)
class _Chained:
    future: Future[TaskOutcome]
    after: dict[str, int]  # upstream node -> the launch of it this call waits for


class Chains:
    """The single calls handed to the executor, and the calls chained on them (one run).

    Args:
        executor: the run's executor (one that chains tasks).
        nodes: the graph's nodes by id.
        readers: the ids of the nodes that read each node.
        upstream: the ids of the nodes each node reads.
        params: the run's parameters.
        outputs: the runner's settled node outputs (read, never written, here).
        states: the runner's node states (read, never written, here).
        cached: whether a node's calls may be answered from the cache or a resumed run.
        target: where the worker stores a node's output.
    """

    def __init__(
        self,
        executor: Executor,
        nodes: Mapping[str, StepNode],
        readers: Mapping[str, list[str]],
        upstream: Mapping[str, list[str]],
        params: Mapping[str, Any],
        outputs: Mapping[str, NodeOutput],
        states: Mapping[str, NodeState],
        cached: Callable[[StepNode], bool],
        target: Callable[[StepNode], OutputTarget | None],
    ) -> None:
        self._executor = executor
        self._nodes = nodes
        self._readers = readers
        self._upstream = upstream
        self._params = params
        self._outputs = outputs
        self._states = states
        self._cached = cached
        self._target = target
        self._numbers = itertools.count(1)
        # node -> (number of its latest launch, its future while it runs)
        self._launches: dict[str, tuple[int, Future[TaskOutcome] | None]] = {}
        self._chained: dict[str, _Chained] = {}
        self._functions: dict[int, PickledFunction] = {}  # by id() of the step

    def launched(self, node_id: str, future: Future[TaskOutcome]) -> None:
        """``node_id``'s single call went to the executor: chain the nodes that read it."""
        self._launches[node_id] = (next(self._numbers), future)
        self._chain_readers(node_id)

    def settled(self, node_id: str, future: Future[TaskOutcome]) -> None:
        """``future`` of ``node_id`` settled: forget it (its result may be large)."""
        launch = self._launches.get(node_id)
        if launch is not None and launch[1] is future:
            self._launches[node_id] = (launch[0], None)

    def adopt(self, node_id: str) -> Future[TaskOutcome] | None:
        """The chained future of ``node_id``'s call, if it is still valid; it is launched."""
        chained = self._chained.pop(node_id, None)
        if chained is None or not self._current(chained):
            return None
        return chained.future

    def _current(self, chained: _Chained) -> bool:
        return all(self._launches.get(u, (0, None))[0] == n for u, n in chained.after.items())

    def _chain_readers(self, node_id: str) -> None:
        todo = list(self._readers[node_id])
        while todo:
            node = self._nodes[todo.pop()]
            if self._chain(node):  # its own readers may follow it now
                todo.extend(self._readers[node.node_id])

    def _chain(self, node: StepNode) -> bool:
        """Hand ``node``'s call to the executor now, if it may run before its inputs settle."""
        node_id = node.node_id
        old = self._chained.get(node_id)
        if old is not None and self._current(old):
            return False
        state = self._states[node_id]
        options = node.step.options
        if node.mapped or state.started or self._cached(node):
            return False
        if options.timeout is not None and self._executor.supports_timeouts:
            return False
        after: dict[str, int] = {}
        futures: list[Future[TaskOutcome]] = []
        known: dict[str, NodeOutput] = {}
        for up in self._upstream[node_id]:
            output = self._outputs.get(up)
            if output is not None:
                if output.value is UNLOADED:
                    return False  # a cache hit not read yet: the usual start reads it
                known[up] = output
                continue
            number, future = self._launches.get(up, (0, None))
            if future is None or self._states[up].failed:
                return False
            after[up] = number
            futures.append(future)
        if not futures:
            return False  # nothing to wait for: it starts the usual way right away
        names = {
            i.name for inp in node.inputs.values() for i in walk(inp) if isinstance(i, ParamInput)
        }
        fn = self._functions.get(id(node.step))
        if fn is None:
            try:
                fn = self._functions[id(node.step)] = PickledFunction(node.step.fn)
            except Exception:  # noqa: BLE001 - cannot be pickled: the usual start reports it
                return False
        chained = ChainedCall(
            fn,
            node.inputs,
            {name: self._params[name] for name in names},
            known,
            tuple(after),
            self._target(node),
        )
        try:
            future = self._executor.submit_after(
                run_chained_call, futures, chained, resources=options.resources
            )
        except InvalidArgument:  # resources the cluster lacks: the usual start reports it
            return False
        self._chained[node_id] = _Chained(future, after)
        self._launches[node_id] = (next(self._numbers), future)
        return True

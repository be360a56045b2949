"""``@pipeline``: a function whose body wires steps into a graph, and ``.run()``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from runyard.errors import InvalidArgument
from runyard.pipelines import _tracing, _typecheck
from runyard.pipelines.graph import Graph, PipelineParam

if TYPE_CHECKING:
    from runyard.artifacts import ContentAddressedStore
    from runyard.executors.base import Executor
    from runyard.pipelines.records import PipelineResult, StepEvent
    from runyard.tracking.store.base import TrackingStore

__all__ = ["RUN_OPTIONS", "Pipeline", "pipeline"]

RUN_OPTIONS = frozenset(
    {
        "executor",
        "store",
        "artifacts",
        "experiment",
        "cache",
        "resume",
        "raise_on_failure",
        "on_event",
    }
)


class Pipeline:
    """A pipeline (made by :func:`pipeline`): trace with :meth:`graph`, run with :meth:`run`."""

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        hints = _typecheck.hints_of(fn)
        params = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise InvalidArgument(f"pipeline {name!r}: parameters must be named, not *{p.name}")
            if p.name in RUN_OPTIONS:
                raise InvalidArgument(
                    f"pipeline {name!r}: parameter {p.name!r} clashes with a run() option; "
                    "rename it"
                )
            has_default = p.default is not inspect.Parameter.empty
            params.append(
                PipelineParam(
                    p.name, hints.get(p.name), p.default if has_default else None, has_default
                )
            )
        self.params = tuple(params)
        self._graph: Graph | None = None
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the body as plain Python, steps included, with no tracking (for debugging)."""
        return self.fn(*args, **kwargs)

    def graph(self) -> Graph:
        """Trace the body once and return its validated graph.

        Raises:
            InvalidArgument: a step call with missing or mistyped inputs, an unknown
                parameter, a cycle, or a body that branches on a step's output.
        """
        if self._graph is None:
            trace = _tracing.Trace(self.name, {p.name: p for p in self.params})
            refs = {p.name: _tracing.ParamRef(p) for p in self.params}
            with _tracing.tracing(trace):
                returned = self.fn(**refs)
            graph = Graph(self.name, self.params, tuple(trace.nodes), _tracing.to_input(returned))
            graph.validate()
            self._graph = graph
        return self._graph

    def run(
        self,
        *,
        executor: str | Executor | None = None,
        store: TrackingStore | str | None = None,
        artifacts: ContentAddressedStore | str | None = None,
        experiment: str | None = None,
        cache: bool = True,
        resume: str | None = None,
        raise_on_failure: bool = True,
        on_event: Callable[[StepEvent], None] | None = None,
        **params: Any,
    ) -> PipelineResult:
        """Run the pipeline as a tracked run, each step a child run.

        Args:
            executor: ``"inline"`` (default), ``"process"``, ``"ray"`` or an Executor.
            store: a tracking store or its URI (default: the configured one).
            artifacts: a content-addressed artifact store or its URI (default: configured).
            experiment: the experiment to record the run in (default: the pipeline's name).
            cache: False to run every step, ignoring and not reading the cache.
            resume: the id of an earlier run of this pipeline; its successful steps are
                reused and only the rest run again.
            raise_on_failure: raise :class:`~runyard.pipelines.records.PipelineFailed`
                when a step fails (otherwise return the result with FAILED steps).
            on_event: called with each step's progress (for progress displays).
            **params: the pipeline's parameters.

        Returns:
            The :class:`~runyard.pipelines.records.PipelineResult`.

        Raises:
            InvalidArgument: unknown, missing or mistyped parameters, or an invalid graph;
                nothing has run.
            PipelineFailed: a step failed (after its retries) and ``raise_on_failure``.

        Example:
            >>> import runyard as ry
            >>> @ry.step
            ... def double(x: int) -> int:
            ...     return 2 * x
            >>> @ry.pipeline
            ... def twice(x: int = 1):
            ...     return double(double(x))
            >>> twice.run(x=3, store="sqlite:////tmp/ry-doc.db", artifacts="/tmp/ry-doc").value
            12
        """
        from runyard.pipelines.runner import run_pipeline

        return run_pipeline(
            self.graph(),
            params,
            executor=executor,
            store=store,
            artifacts=artifacts,
            experiment=experiment,
            use_cache=cache,
            resume=resume,
            raise_on_failure=raise_on_failure,
            on_event=on_event,
            target=_target_of(self.fn),
        )


def _target_of(fn: Callable[..., Any]) -> str:
    """``/abs/file.py:name`` (or ``module:name``) so that ``--resume`` can load it again."""
    module = inspect.getmodule(fn)
    path = getattr(module, "__file__", None)
    if path:
        return f"{path}:{fn.__name__}"
    return f"{getattr(module, '__name__', '?')}:{fn.__name__}"


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline whose body wires steps together.

    The body runs once, with placeholders for its parameters, to build the graph; it never
    sees real data, so it must not branch on step outputs (do that inside a step).

    Args:
        fn: the function (when used as ``@pipeline`` without parentheses).
        name: the pipeline's name (default: the function's name).

    Returns:
        The :class:`Pipeline` (or a decorator that makes one).

    Example:
        >>> import runyard as ry
        >>> @ry.step
        ... def inc(x: int) -> int:
        ...     return x + 1
        >>> @ry.pipeline
        ... def plus_two(x: int = 0):
        ...     return inc(inc(x))
        >>> [n.node_id for n in plus_two.graph().nodes]
        ['inc', 'inc-2']
    """

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name or f.__name__)

    return wrap(fn) if fn is not None else wrap

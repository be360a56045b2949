"""Fingerprints: content hashes of values and of step code. Pure functions.

:func:`fingerprint` hashes a value by content. It is a :func:`functools.singledispatch`
function, so projects add types with ``@fingerprint.register``; numpy arrays, pandas and
polars frames, Arrow tables and torch tensors are recognised by name without importing
their libraries. A value it cannot hash raises :class:`Unhashable` with the reason — the
runner then skips the cache for that step and says why, never risking a wrong hit.

:func:`code_fingerprint` hashes a function's normalised source (its AST, so comments,
formatting and docstrings do not count) together with the project functions and classes it
refers to, and records the versions of the third-party packages it uses.

Example:
    >>> from runyard.pipelines.fingerprint import fingerprint
    >>> fingerprint([1, 2.5, "a"]) == fingerprint([1, 2.5, "a"])
    True
    >>> fingerprint((1,)) == fingerprint([1])
    False
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import enum
import functools
import hashlib
import importlib.metadata
import inspect
import math
import struct
import sys
import sysconfig
import textwrap
import types
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from runyard.errors import InvalidArgument

__all__ = ["CodeFingerprint", "Unhashable", "code_fingerprint", "fingerprint"]


class Unhashable(InvalidArgument):
    """A value or function cannot be fingerprinted; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _digest(kind: str, *parts: bytes) -> str:
    h = hashlib.sha256(kind.encode())
    for p in parts:
        h.update(struct.pack("<Q", len(p)))
        h.update(p)
    return h.hexdigest()


@functools.singledispatch
def fingerprint(value: object) -> str:
    """The content hash (hex SHA-256) of ``value``; equal content, equal hash.

    Raises:
        Unhashable: no fingerprint is known for the value's type.
    """
    for cls in type(value).__mro__:
        by_name = _BY_TYPE_NAME.get(f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}")
        if by_name is not None:
            return by_name(value)
    custom = getattr(value, "__runyard_fingerprint__", None)
    if callable(custom):
        return _digest("custom", type(value).__qualname__.encode(), str(custom()).encode())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _digest("dataclass", _qualname(type(value)).encode(), fingerprint(fields).encode())
    raise Unhashable(
        f"cannot fingerprint a {_qualname(type(value))}; register one with "
        "@runyard.pipelines.fingerprint.fingerprint.register"
    )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@fingerprint.register(type(None))
def _none(value: None) -> str:
    return _digest("none")


@fingerprint.register(bool)
def _bool(value: bool) -> str:
    return _digest("bool", b"1" if value else b"0")


@fingerprint.register(int)
def _int(value: int) -> str:
    return _digest("int", str(value).encode())


@fingerprint.register(float)
def _float(value: float) -> str:
    return _digest("float", b"nan" if math.isnan(value) else struct.pack("<d", value))


@fingerprint.register(complex)
def _complex(value: complex) -> str:
    return _digest("complex", _float(value.real).encode(), _float(value.imag).encode())


@fingerprint.register(str)
def _str(value: str) -> str:
    return _digest("str", value.encode("utf-8", "surrogatepass"))


@fingerprint.register(bytes)
@fingerprint.register(bytearray)
def _bytes(value: bytes | bytearray) -> str:
    return _digest("bytes", bytes(value))


@fingerprint.register(list)
def _list(value: list[Any]) -> str:
    return _digest("list", *(fingerprint(v).encode() for v in value))


@fingerprint.register(tuple)
def _tuple(value: tuple[Any, ...]) -> str:
    return _digest("tuple", *(fingerprint(v).encode() for v in value))


@fingerprint.register(set)
@fingerprint.register(frozenset)
def _set(value: set[Any] | frozenset[Any]) -> str:
    return _digest("set", *sorted(fingerprint(v).encode() for v in value))


@fingerprint.register(dict)
@fingerprint.register(MappingProxyType)
def _dict(value: Mapping[Any, Any]) -> str:
    pairs = sorted(
        fingerprint(k).encode() + b":" + fingerprint(v).encode() for k, v in value.items()
    )
    return _digest("dict", *pairs)


@fingerprint.register(enum.Enum)
def _enum(value: enum.Enum) -> str:
    return _digest("enum", _qualname(type(value)).encode(), value.name.encode())


def _numpy_array(value: Any) -> str:
    if value.dtype.hasobject:
        return _digest("ndarray-object", fingerprint(value.tolist()).encode())
    import numpy as np

    data = np.ascontiguousarray(value)
    return _digest("ndarray", str(data.dtype).encode(), str(data.shape).encode(), data.tobytes())


def _numpy_scalar(value: Any) -> str:
    return _digest("npscalar", str(value.dtype).encode(), value.tobytes())


def _arrow_table(value: Any) -> str:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, value.schema) as writer:
        writer.write_table(value)
    return _digest("arrow", sink.getvalue().to_pybytes())


def _pandas(value: Any) -> str:
    import pyarrow as pa

    table = pa.Table.from_pandas(
        value.to_frame() if value.ndim == 1 else value, preserve_index=True
    )
    return _digest("pandas", str(value.ndim).encode(), _arrow_table(table).encode())


def _polars(value: Any) -> str:
    frame = value.to_frame() if value.__class__.__name__ == "Series" else value
    return _digest("polars", _arrow_table(frame.to_arrow()).encode())


def _torch_tensor(value: Any) -> str:
    tensor = value.detach().cpu().contiguous()
    raw = tensor.view(-1).view(dtype=__import__("torch").uint8).numpy().tobytes()
    return _digest("torch", str(tensor.dtype).encode(), str(tuple(tensor.shape)).encode(), raw)


_BY_TYPE_NAME: dict[str, Callable[[Any], str]] = {
    "numpy.ndarray": _numpy_array,
    "numpy.generic": _numpy_scalar,
    "pyarrow.Table": _arrow_table,
    "pandas.DataFrame": _pandas,
    "pandas.Series": _pandas,
    "polars.DataFrame": _polars,
    "polars.Series": _polars,
    "torch.Tensor": _torch_tensor,
}


# -- code ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeFingerprint:
    """The fingerprint of a step's code.

    Attributes:
        digest: hex SHA-256 over the normalised source of every project function and class
            the step reaches, and the project constants it reads.
        functions: the qualified names that went into ``digest``.
        packages: distribution name → version, for the third-party packages it uses.
        exact: False when some source was missing and bytecode stood in for it.
    """

    digest: str
    functions: tuple[str, ...]
    packages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    exact: bool = True


_CODE_MEMO: weakref.WeakKeyDictionary[Callable[..., Any], CodeFingerprint] = (
    weakref.WeakKeyDictionary()
)


def code_fingerprint(fn: Callable[..., Any]) -> CodeFingerprint:
    """Fingerprint ``fn`` and the project code it calls (memoised per function object).

    Example:
        >>> from runyard.pipelines.fingerprint import code_fingerprint
        >>> def f(x):
        ...     return x + 1
        >>> code_fingerprint(f).digest == code_fingerprint(f).digest
        True
    """
    try:
        return _CODE_MEMO[fn]
    except (KeyError, TypeError):
        pass
    result = _CodeWalk().run(fn)
    try:
        _CODE_MEMO[fn] = result
    except TypeError:
        pass
    return result


class _CodeWalk:
    def __init__(self) -> None:
        self.parts: dict[str, str] = {}
        self.packages: dict[str, str] = {}
        self.exact = True

    def run(self, fn: Callable[..., Any]) -> CodeFingerprint:
        todo: list[Any] = [fn]
        while todo:
            obj = _unwrap(todo.pop())
            name = f"{getattr(obj, '__module__', '?')}|{getattr(obj, '__qualname__', repr(obj))}"
            if name in self.parts:
                continue
            if isinstance(obj, type):
                self.parts[name] = self._class_source(obj)
                continue
            source_digest, tree = self._function_source(obj)
            self.parts[name] = source_digest
            todo.extend(self._references(obj, tree, name))
        self.packages.setdefault("python", "{}.{}".format(*sys.version_info[:2]))
        # Module names stay out of the digest: moving code between files changes nothing.
        blob = "\n".join(sorted(f"{_without_module(k)}={v}" for k, v in self.parts.items()))
        return CodeFingerprint(
            digest=_digest("code", blob.encode()),
            functions=tuple(sorted(k.replace("|", ".") for k in self.parts if ":" not in k)),
            packages=MappingProxyType(dict(sorted(self.packages.items()))),
            exact=self.exact,
        )

    def _function_source(self, fn: Any) -> tuple[str, ast.AST | None]:
        try:
            source = textwrap.dedent(inspect.getsource(fn))
            tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            code = getattr(fn, "__code__", None)
            if code is None:
                raise Unhashable(f"no source or bytecode for {fn!r}") from None
            self.exact = False
            return _digest("bytecode", _code_bytes(code)), None
        return _digest("ast", ast.dump(_normalised(tree)).encode()), tree

    def _class_source(self, cls: type) -> str:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError, SyntaxError):
            self.exact = False
            return _digest("class", _qualname(cls).encode())
        return _digest("ast", ast.dump(_normalised(tree)).encode())

    def _references(self, fn: Any, tree: ast.AST | None, owner: str) -> list[Any]:
        names, chains, imported = _names_in(tree) if tree is not None else (_code_names(fn), [], [])
        for module in imported:
            self._note_package(module)
        scope = dict(getattr(fn, "__globals__", {}))
        closure = getattr(fn, "__closure__", None) or ()
        for var, cell in zip(
            fn.__code__.co_freevars if hasattr(fn, "__code__") else (), closure, strict=False
        ):
            try:
                scope[var] = cell.cell_contents
            except ValueError:  # an empty cell
                continue
        found: list[Any] = []
        for name in sorted(names):
            if name in scope:
                self._classify(scope[name], f"{owner}:{name}", found)
        for chain in chains:
            obj = scope.get(chain[0])
            for attr in chain[1:]:
                if not isinstance(obj, types.ModuleType) or not _is_project_module(obj.__name__):
                    break
                obj = getattr(obj, attr, None)
                if obj is not None:
                    self._classify(obj, f"{owner}:{'.'.join(chain)}", found)
        return found

    def _classify(self, obj: Any, label: str, found: list[Any]) -> None:
        obj = _unwrap(obj)
        if isinstance(obj, types.ModuleType):
            if not _is_project_module(obj.__name__):
                self._note_package(obj.__name__)
            return
        if isinstance(obj, types.FunctionType | type):
            if _is_project_module(obj.__module__):
                found.append(obj)
            else:
                self._note_package(obj.__module__)
            return
        if isinstance(obj, int | float | str | bytes | bool | tuple | frozenset | type(None)):
            try:
                self.parts[label] = fingerprint(obj)
            except Unhashable:
                return
            return
        module = type(obj).__module__
        if not _is_project_module(module):
            self._note_package(module)

    def _note_package(self, module: str) -> None:
        top = module.partition(".")[0]
        if not top or top in sys.stdlib_module_names or top in ("builtins", "__main__"):
            return
        for dist in _distributions().get(top, []):
            try:
                self.packages[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue


def _without_module(name: str) -> str:
    return name.partition("|")[2] or name


def _unwrap(obj: Any) -> Any:
    from runyard.pipelines.step import Step

    if isinstance(obj, Step):
        return obj.fn
    if isinstance(obj, functools.partial):
        return obj.func
    return getattr(obj, "__wrapped__", obj) if inspect.isfunction(obj) else obj


def _normalised(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node in tree.body:
                node.decorator_list = []
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def _names_in(tree: ast.AST) -> tuple[set[str], list[list[str]], list[str]]:
    names: set[str] = set()
    chains: list[list[str]] = []
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if not hasattr(builtins, node.id):
                names.add(node.id)
        elif isinstance(node, ast.Attribute):
            chain: list[str] = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                chains.append([cur.id, *reversed(chain)])
        elif isinstance(node, ast.Import):
            imported.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.append(node.module)
    return names, chains, imported


def _code_names(fn: Any) -> set[str]:
    code = getattr(fn, "__code__", None)
    return set(code.co_names) if code is not None else set()


def _code_bytes(code: types.CodeType) -> bytes:
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    parts += [
        _code_bytes(c) if isinstance(c, types.CodeType) else repr(c).encode()
        for c in code.co_consts
    ]
    return b"\x00".join(parts)


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return tuple(str(Path(r).resolve()) for r in roots if r)


@functools.cache
def _is_project_module(name: str) -> bool:
    top = name.partition(".")[0]
    if name in ("__main__", "__mp_main__"):
        return True
    if top in sys.stdlib_module_names or top in ("builtins", "runyard"):
        return False
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return False
    resolved = str(Path(path).resolve())
    return not any(resolved.startswith(root + "/") for root in _library_roots())


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()

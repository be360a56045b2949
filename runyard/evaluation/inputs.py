"""Where predictions come from: an in-memory table or a Parquet dataset, read in batches.

``as_source`` accepts an Arrow table, a pandas or polars frame, or a path to a Parquet file
or directory. A source splits into :class:`Shard` objects (row ranges of a table, or runs of
Parquet row groups) that are small to pickle, so shards can run on other processes; each
shard streams its rows in record batches and knows the global row offset of its first row
(used as the example id when the data has no id column).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from runyard.errors import InvalidArgument

__all__ = ["ParquetShard", "Shard", "Source", "TableShard", "as_source"]


class Shard:
    """A picklable part of a source: a run of rows starting at ``offset``."""

    offset: int
    num_rows: int

    def batches(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Record batches of the shard's rows, restricted to ``columns``, in order."""
        raise NotImplementedError


@dataclass(frozen=True)
class TableShard(Shard):
    """Rows of an in-memory Arrow table."""

    table: pa.Table
    offset: int

    @property
    def num_rows(self) -> int:  # type: ignore[override]
        """Rows in the shard."""
        return int(self.table.num_rows)

    def batches(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Slices of at most ``batch_size`` rows."""
        t = self.table.select(list(columns))
        for start in range(0, t.num_rows, batch_size):
            yield from t.slice(start, batch_size).combine_chunks().to_batches()


@dataclass(frozen=True)
class ParquetShard(Shard):
    """Whole row groups of Parquet files: ``parts`` holds (file, row group ids)."""

    parts: tuple[tuple[str, tuple[int, ...]], ...]
    offset: int
    num_rows: int

    def batches(self, columns: Sequence[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """Streamed with ``ParquetFile.iter_batches``; never the whole file in memory."""
        import pyarrow.parquet as pq

        for path, groups in self.parts:
            with pq.ParquetFile(path) as f:
                yield from f.iter_batches(
                    batch_size=batch_size, row_groups=list(groups), columns=list(columns)
                )


@dataclass(frozen=True)
class Source:
    """Predictions to evaluate.

    Attributes:
        schema: the columns and their types.
        num_rows: total rows.
        description: where the rows come from (for messages and stored results).
    """

    schema: pa.Schema
    num_rows: int
    description: str
    _table: pa.Table | None = None
    _files: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def shards(self, n: int) -> list[Shard]:
        """Split into at most ``n`` shards of similar size, in row order."""
        n = max(1, n)
        if self._table is not None:
            size = -(-self.num_rows // n) if self.num_rows else 1
            return [
                TableShard(self._table.slice(s, size), s)
                for s in range(0, max(self.num_rows, 1), size)
            ]
        units = [(path, g, rows) for path, groups in self._files for g, rows in _rows(groups)]
        target = -(-self.num_rows // n) if self.num_rows else 1
        out: list[Shard] = []
        parts: list[tuple[str, list[int]]] = []
        offset = start = count = 0
        for path, group, rows in units:
            if parts and parts[-1][0] == path:
                parts[-1][1].append(group)
            else:
                parts.append((path, [group]))
            count += rows
            offset += rows
            if count >= target:
                out.append(ParquetShard(_freeze(parts), start, count))
                parts, start, count = [], offset, 0
        if parts or not out:
            out.append(ParquetShard(_freeze(parts), start, count))
        return out


def _rows(groups: tuple[int, ...]) -> list[tuple[int, int]]:
    # groups is stored as (g0, rows0, g1, rows1, ...)
    return [(groups[i], groups[i + 1]) for i in range(0, len(groups), 2)]


def _freeze(parts: list[tuple[str, list[int]]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((p, tuple(g)) for p, g in parts)


def as_source(data: Any) -> Source:
    """A :class:`Source` over ``data``.

    Args:
        data: a ``pyarrow.Table`` or ``RecordBatch``, a pandas or polars DataFrame, or the
            path of a Parquet file or of a directory of Parquet files.

    Raises:
        InvalidArgument: anything else, a path that does not exist or is not Parquet.
    """
    if isinstance(data, str | os.PathLike):
        return _parquet_source(Path(data))
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return Source(data.schema, data.num_rows, "arrow table", _table=data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise InvalidArgument(f"the pandas frame does not convert to Arrow: {e}") from e
        return Source(table.schema, table.num_rows, "pandas frame", _table=table)
    if module == "polars":
        table = data.to_arrow()
        return Source(table.schema, table.num_rows, "polars frame", _table=table)
    raise InvalidArgument(
        "predictions must be an Arrow table, a pandas or polars DataFrame, or a Parquet path; "
        f"got {type(data).__name__}"
    )


def _parquet_source(path: Path) -> Source:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not path.exists():
        raise InvalidArgument(f"no predictions at {str(path)!r}: the path does not exist")
    try:
        dataset = ds.dataset(str(path), format="parquet")
        files: list[tuple[str, tuple[int, ...]]] = []
        total = 0
        for f in sorted(dataset.files):
            meta = pq.ParquetFile(f).metadata
            groups: list[int] = []
            for g in range(meta.num_row_groups):
                rows = meta.row_group(g).num_rows
                groups.extend((g, rows))
                total += rows
            files.append((f, tuple(groups)))
    except (pa.ArrowInvalid, OSError) as e:
        raise InvalidArgument(f"{str(path)!r} is not a readable Parquet dataset: {e}") from e
    return Source(dataset.schema, total, str(path), _files=tuple(files))


def source_batches(
    source: Source, columns: Sequence[str], batch_size: int
) -> Iterator[pa.RecordBatch]:
    """Every batch of the whole source, in order (one shard)."""
    for shard in source.shards(1):
        yield from shard.batches(columns, batch_size)

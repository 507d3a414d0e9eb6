"""Streaming table writers (Parquet, CSV, NetCDF) with deterministic bytes.

Rows are appended in batches (one Parquet row group per batch); batch
boundaries depend only on the run order and sizes, and no writer stores a
timestamp, so the same experiment produces byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

FORMATS = ("parquet", "csv", "netcdf")
SUFFIX = {"parquet": ".parquet", "csv": ".csv", "netcdf": ".nc"}
MEDIA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".nc": "application/x-netcdf",
    ".json": "application/json",
    ".png": "image/png",
}


def artifact(path: Path, role: str) -> dict[str, Any]:
    """Reference to a written file: path (relative to the cwd when inside it), sha256, bytes, media type."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    p = Path(path).resolve()
    try:
        shown = str(p.relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(p)
    return {
        "path": shown,
        "sha256": h.hexdigest(),
        "bytes": p.stat().st_size,
        "media_type": MEDIA_TYPES.get(p.suffix, "application/octet-stream"),
        "role": role,
    }


class TableSink:
    """Append-only table with a fixed schema: int64/string/float64 columns."""

    def __init__(self, path: Path, fields: list[tuple[str, str]]) -> None:
        self.path = Path(path)
        self.fields = fields  # (name, "int64" | "float64" | "string")
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.partial{os.getpid()}")

    def write(self, columns: dict[str, np.ndarray | list[Any]]) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        raise NotImplementedError

    def abort(self) -> None:
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass


def _arrow_type(kind: str) -> pa.DataType:
    return {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}[kind]


class ParquetSink(TableSink):
    """Parquet, zstd. With ``dictionary`` (column names), only those columns are dictionary-encoded and
    the other float columns use BYTE_STREAM_SPLIT: model outputs rarely repeat, and trying a dictionary
    on them costs half the write time for a larger file."""

    def __init__(self, path: Path, fields: list[tuple[str, str]], dictionary: list[str] | None = None) -> None:
        super().__init__(path, fields)
        import pyarrow.parquet as pq  # noqa: PLC0415

        self.schema = pa.schema([pa.field(n, _arrow_type(k), nullable=(k == "string")) for n, k in fields])
        encoding: dict[str, Any] = {}
        if dictionary is not None:
            names = {n for n, _ in fields}
            encoding["use_dictionary"] = [n for n in dictionary if n in names]
            split = [n for n, k in fields if k == "float64" and n not in dictionary]
            if split:
                encoding["use_byte_stream_split"] = split
        self._writer = pq.ParquetWriter(
            self._tmp,
            self.schema,
            compression="zstd",
            compression_level=3,
            write_statistics=True,
            store_schema=True,
            **encoding,
        )

        # Encoding and compression run in a thread (pyarrow releases the GIL), overlapping the next
        # batch's simulation; at most two batches wait, so memory stays bounded. Order is kept.
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="parquet-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            table = self._queue.get()
            if table is None:
                return
            if self._error is None:
                try:
                    self._writer.write_table(table, row_group_size=max(1, table.num_rows))
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def write(self, columns: dict[str, np.ndarray | list[Any]]) -> None:
        self._check()
        arrays = [pa.array(columns[n], type=_arrow_type(k)) for n, k in self.fields]
        table = pa.Table.from_arrays(arrays, schema=self.schema)
        self._queue.put(table)
        self.rows += table.num_rows

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> Path:
        self._stop()
        self._check()
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._stop()
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - the partial file is removed anyway
            pass
        super().abort()


class CsvSink(TableSink):
    def __init__(self, path: Path, fields: list[tuple[str, str]]) -> None:
        super().__init__(path, fields)
        import pyarrow.csv as pcsv  # noqa: PLC0415

        self.schema = pa.schema([pa.field(n, _arrow_type(k)) for n, k in fields])
        self._writer = pcsv.CSVWriter(str(self._tmp), self.schema)

    def write(self, columns: dict[str, np.ndarray | list[Any]]) -> None:
        arrays = [pa.array(columns[n], type=_arrow_type(k)) for n, k in self.fields]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.rows += len(arrays[0]) if arrays else 0

    def close(self) -> Path:
        self._writer.close()
        os.replace(self._tmp, self.path)
        return self.path


def nc_name(name: str) -> str:
    """NetCDF variable names cannot contain '/'; the original name is kept in ``long_name``."""
    return name.replace("/", "_") or "_"


class NetcdfSink(TableSink):
    """NetCDF-4 table: one unlimited ``row`` dimension, one variable per column."""

    def __init__(self, path: Path, fields: list[tuple[str, str]]) -> None:
        super().__init__(path, fields)
        import netCDF4  # noqa: PLC0415

        self._ds = netCDF4.Dataset(self._tmp, "w", format="NETCDF4")
        self._ds.createDimension("row", None)
        self._vars = {}
        used: set[str] = set()
        for n, k in fields:
            vname = nc_name(n)
            while vname in used:
                vname += "_"
            used.add(vname)
            dtype = {"int64": "i8", "float64": "f8", "string": str}[k]
            var = self._ds.createVariable(vname, dtype, ("row",), zlib=(k != "string"), complevel=4)
            var.long_name = n
            self._vars[n] = var

    def write(self, columns: dict[str, np.ndarray | list[Any]]) -> None:
        first = columns[self.fields[0][0]]
        count = len(first)
        start = self.rows
        for n, k in self.fields:
            data = columns[n]
            if k == "string":
                self._vars[n][start : start + count] = np.asarray(["" if v is None else v for v in data], dtype=object)
            else:
                self._vars[n][start : start + count] = np.asarray(data)
        self.rows += count

    def close(self) -> Path:
        self._ds.close()
        os.replace(self._tmp, self.path)
        return self.path


def open_sink(fmt: str, path: Path, fields: list[tuple[str, str]], dictionary: list[str] | None = None) -> TableSink:
    if fmt == "parquet":
        return ParquetSink(path, fields, dictionary)
    if fmt == "csv":
        return CsvSink(path, fields)
    return NetcdfSink(path, fields)


def write_table(fmt: str, path: Path, fields: list[tuple[str, str]], columns: dict[str, Any]) -> Path:
    sink = open_sink(fmt, path, fields)
    try:
        sink.write(columns)
    except BaseException:
        sink.abort()
        raise
    return sink.close()

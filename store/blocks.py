"""Run arrays written block by block by many processes, resumable, then put in place whole.

A step that computes one row per catalog object (probabilities, features, embedding) on a Dask
cluster opens `RowBlocks` in the driver: it creates ``<name>.blocks`` beside each array of the
run, chunked by ``block_rows``, so every task owns whole chunks and no two tasks ever write the
same chunk. A task (in any process that sees the workspace's file system) writes its rows with
`RowBlocks.write`, which then records the block as done in a file of its own: zarr does not
write a chunk equal to the fill value, so "written" is never read from the chunk files. A step
that stopped (killed driver, killed worker) opens the same blocks with ``resume=True`` and
computes only the `pending` ones; `RowBlocks.finish` moves each array into place in one step,
so readers see the old array or the whole new one, never a half-written one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from store._swap import swap_in
from store.errors import SchemaError
from store.schema import RUN_ARRAYS

__all__ = ["RowBlocks"]

logger = logging.getLogger(__name__)

_SUFFIX = ".blocks"
_DONE = "done"
_STAMP = "blocks_stamp"


@dataclass(frozen=True)
class RowBlocks:
    """A run's arrays being written in row blocks; picklable, so tasks can carry it.

    Parameters
    ----------
    run_path
        The run's folder in the catalog (``catalog.zarr/runs/<run>``).
    widths
        Array name -> width of its second axis.
    n_rows
        Rows of every array: the catalog's objects when the step began.
    block_rows
        Rows per block and per chunk.
    """

    run_path: Path
    widths: Mapping[str, int]
    n_rows: int
    block_rows: int

    @classmethod
    def open(
        cls,
        run_path: Path,
        widths: Mapping[str, int],
        n_rows: int,
        block_rows: int,
        *,
        stamp: Mapping[str, Any],
        resume: bool = False,
    ) -> RowBlocks:
        """Begin (or, with `resume`, continue) writing the run's arrays `widths` in blocks.

        `stamp` says what is being computed (say, the model's digest and the catalog's
        identity); blocks written for another stamp, or without `resume`, are discarded.

        Raises
        ------
        SchemaError
            If a name is not a per-object run array or `block_rows` is not positive.
        """
        for name in widths:
            if RUN_ARRAYS.get(name, (None, 0))[1] == 0:
                msg = f"{name!r} is not a per-object run array; allowed: probs, features, embedding"
                raise SchemaError(msg)
        if block_rows < 1:
            msg = f"block_rows={block_rows} must be at least 1"
            raise SchemaError(msg)
        blocks = cls(Path(run_path), dict(widths), int(n_rows), int(block_rows))
        stamp = {**stamp, "n_rows": blocks.n_rows, "block_rows": blocks.block_rows}
        stamp = json.loads(json.dumps(stamp))  # as the array's attributes hold it
        paths = {name: blocks.path_of(name) for name in widths}
        kept = resume and all(_stamp_of(path) == stamp for path in paths.values())
        if resume and not kept:
            logger.info("%s: nothing to resume for this step; starting over", run_path)
        if not kept:
            for name, path in paths.items():
                chunk_rows = max(1, min(blocks.block_rows, blocks.n_rows))
                _create(path, (blocks.n_rows, widths[name]), chunk_rows, name, stamp)
        return blocks

    def blocks(self) -> list[tuple[int, int]]:
        """Every block as ``(start, stop)`` rows."""
        return [
            (start, min(start + self.block_rows, self.n_rows))
            for start in range(0, self.n_rows, self.block_rows)
        ]

    def pending(self) -> list[tuple[int, int]]:
        """Return the blocks not yet recorded as done in every array."""
        return [block for block in self.blocks() if not self._done(block)]

    def write(self, start: int, values: Mapping[str, np.ndarray]) -> None:
        """Write one block's rows of every array, then record the block as done.

        Raises
        ------
        SchemaError
            If `start` is not a block's first row or an array's shape is not the block's.
        """
        if start % self.block_rows or not 0 <= start < self.n_rows:
            msg = f"row {start} does not begin a block of {self.block_rows} rows"
            raise SchemaError(msg)
        stop = min(start + self.block_rows, self.n_rows)
        for name, width in self.widths.items():
            block = np.asarray(values[name], dtype=RUN_ARRAYS[name][0])
            if block.shape != (stop - start, width):
                msg = f"block {start}-{stop} of {name!r} has shape {block.shape}"
                raise SchemaError(msg)
            zarr.open_array(self.path_of(name), mode="r+")[start:stop] = block
        for name in self.widths:
            _touch(self.path_of(name) / _DONE / f"{start}-{stop}")

    def finish(self) -> None:
        """Move every array into place (each in one step) once all blocks are done.

        Raises
        ------
        SchemaError
            If a block is still pending, or the catalog gained objects while the step ran.
        """
        if pending := self.pending():
            msg = f"{self.run_path}: {len(pending)} block(s) not written yet; run the step again"
            raise SchemaError(msg)
        rows = zarr.open_array(self.run_path.parents[1] / "objects" / "object_id", mode="r")
        if rows.shape[0] != self.n_rows:
            msg = (
                f"{self.run_path} has {self.n_rows} rows but the catalog now has {rows.shape[0]}:"
                " objects were added ('galcore curate --add') while this step ran; run it again"
            )
            raise SchemaError(msg)
        for name in self.widths:
            shutil.rmtree(self.path_of(name) / _DONE)
            swap_in(self.path_of(name), self.run_path / name)

    def path_of(self, name: str) -> Path:
        """Return the folder of the array `name` while it is being written."""
        return self.run_path / f"{name}{_SUFFIX}"

    def _done(self, block: tuple[int, int]) -> bool:
        record = f"{block[0]}-{block[1]}"
        return all((self.path_of(name) / _DONE / record).is_file() for name in self.widths)


def _stamp_of(path: Path) -> dict[str, Any] | None:
    """Return what the blocks array at `path` was begun for, or None if there is none."""
    try:
        return dict(zarr.open_array(path, mode="r").attrs).get(_STAMP)
    except FileNotFoundError:
        return None


def _create(
    path: Path, shape: tuple[int, int], chunk_rows: int, name: str, stamp: Mapping[str, Any]
) -> None:
    """Create an empty (NaN) blocks array at `path`, replacing any, with its done folder."""
    shutil.rmtree(path, ignore_errors=True)
    array = zarr.create_array(
        path,
        shape=shape,
        chunks=(chunk_rows, shape[1]),
        dtype=RUN_ARRAYS[name][0],
        fill_value=np.nan,
    )
    array.attrs[_STAMP] = dict(stamp)
    (path / _DONE).mkdir()


def _touch(path: Path) -> None:
    """Create the empty file `path` in one step: it exists whole or not at all."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_bytes(b"")
    partial.replace(path)

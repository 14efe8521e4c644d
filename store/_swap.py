"""Replace a folder in one atomic step, and clean up after writers that crashed.

A writer builds the new folder beside the old one under a unique temporary name
(`PartialFolder`), holding an flock on it while it writes; `swap_in` then exchanges the two
folders with one ``renameat2(RENAME_EXCHANGE)`` call, so the target name always holds a whole
folder, and deletes the old one. `recover` (run when a catalog is opened) puts a catalog back
that an older two-step swap left missing and removes the temporary folders of dead writers.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import logging
import os
import shutil
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from store.errors import DiskFullError, StoreError

__all__ = ["PartialFolder", "disk_errors", "recover", "reports_full_disk", "swap_in"]

logger = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_FULL = (errno.ENOSPC, errno.EDQUOT)
_UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
_PARTIAL = "partial-"
_OLD = "old-"
"""What the two-step swap of earlier versions named the catalog it was replacing."""


def _libc_renameat2() -> Callable[..., int] | None:
    """Return libc's ``renameat2``, or None where it has none (not Linux, old glibc)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_renameat2 = _libc_renameat2()


def _exchange(first: Path, second: Path) -> None:
    """Swap two existing folders' names in one atomic step."""
    if _renameat2 is None:
        msg = (
            f"cannot replace {second} atomically: this system has no renameat2"
            " (RENAME_EXCHANGE); keep the workspace on a Linux file system"
        )
        raise StoreError(msg)
    done = _renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        msg = (
            f"cannot replace {second} atomically: its file system does not support"
            f" renameat2(RENAME_EXCHANGE) ({os.strerror(code)}); keep the workspace on a local"
            " Linux file system (ext4, xfs, btrfs, tmpfs)"
        )
        raise StoreError(msg)
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def swap_in(new: Path, target: Path) -> None:
    """Move folder `new` to `target`, replacing it in one step, then delete the old folder.

    Readers (and a crash at any point) see the old folder or the new one, never neither.
    """
    try:
        new.rename(target)  # atomic; fails where `target` exists and is not empty
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
        _exchange(new, target)
        shutil.rmtree(new, ignore_errors=True)  # now the old folder


def _lock(path: Path, *, wait: bool) -> int | None:
    """Open folder `path` and flock it; return the descriptor, or None if another holds it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class PartialFolder:
    """A new, empty, locked folder beside `target` in which a writer builds its replacement.

    Its name is unique (a uuid), so writers never share one, and it stays flocked until
    `swap_in` or `remove`, so `recover` never removes it while its writer lives.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        target.parent.mkdir(parents=True, exist_ok=True)
        while True:
            self.path = target.with_name(f".{target.name}.{_PARTIAL}{uuid.uuid4().hex}")
            self.path.mkdir()
            fd = _lock(self.path, wait=True)
            if os.fstat(fd).st_nlink:
                break
            os.close(fd)  # a recovery removed it before it was locked: take another name
        self._release = weakref.finalize(self, os.close, fd)

    def swap_in(self) -> None:
        """Move the folder to the target, replacing what is there in one step."""
        try:
            swap_in(self.path, self.target)
        finally:
            self._release()

    def remove(self) -> None:
        """Delete the folder and what it holds."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()


def _leftovers(target: Path, kind: str) -> dict[str, Path]:
    """Return the temporary folders of `kind` beside `target`, by their suffix."""
    prefix = f".{target.name}.{kind}"
    try:
        entries = list(target.parent.iterdir())
    except FileNotFoundError:
        return {}
    return {p.name.removeprefix(prefix): p for p in entries if p.name.startswith(prefix)}


def _restore(target: Path, old: dict[str, Path], partial: dict[str, Path]) -> None:
    """Put back the catalog a two-step swap left missing: the new one if whole, else the old."""
    for suffix, folder in old.items():
        new = partial.get(suffix)
        whole = new is not None and (new / "zarr.json").is_file()
        source = new if whole else folder
        try:
            source.rename(target)
        except OSError:  # another process restored it first
            continue
        logger.warning("restored %s from %s, left by a swap that did not finish", target, source)
        return


def recover(target: Path) -> None:
    """Repair what crashed writers left beside the folder `target`.

    If `target` is missing but an interrupted two-step swap left the catalog it replaced (and
    perhaps the whole new one), the catalog is put back. The temporary folders of writers that
    are gone (no flock held) are then removed; those of live writers are left alone.
    """
    old, partial = _leftovers(target, _OLD), _leftovers(target, _PARTIAL)
    if not old and not partial:
        return
    if not target.exists():
        _restore(target, old, partial)
    for folder in [*old.values(), *partial.values()]:
        try:
            fd = _lock(folder, wait=False)
        except FileNotFoundError:
            continue
        if fd is None:
            continue  # a live writer's
        try:
            shutil.rmtree(folder, ignore_errors=True)
            logger.info("removed %s, left by a writer that stopped", folder)
        finally:
            os.close(fd)


@contextmanager
def disk_errors(path: Path) -> Iterator[None]:
    """Turn a full disk while writing the catalog `path` into one `DiskFullError`."""
    try:
        yield
    except OSError as error:
        if error.errno not in _FULL:
            raise
        msg = (
            f"no space left on the disk of {path} while writing the catalog; nothing was"
            " changed: free some space there (or use a --workspace on another disk) and run"
            " again"
        )
        raise DiskFullError(msg) from error


_Method = TypeVar("_Method", bound=Callable[..., Any])


def reports_full_disk(method: _Method) -> _Method:
    """Decorate a writer's method (its object has `path`) to raise `DiskFullError` on ENOSPC."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        with disk_errors(self.path):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]

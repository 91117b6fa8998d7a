"""Writing files so that a failure leaves nothing half-written: file modes, staged folders, clear save errors.

A model folder is written into a hidden staging folder beside its files and moved into place only once every file is
complete, so a full disk, a crash or a kill during a save leaves the previous model as it was (and no partial one).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import SaveError

STAGING_PREFIX = ".saving-"


def umask() -> int:
    """The process's umask, read without changing it (setting it to read it races with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc (macOS, Windows): the portable way, which sets it for an instant
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits `open()` gives a new file (0644 under the usual umask 022); temporary files get 0600."""
    return 0o666 & ~umask()


def is_write_failure(error: BaseException) -> bool:
    """A failure of the disk or file system, not of the program: full, over quota, read-only, no permission."""
    if isinstance(error, OSError):
        return error.errno is not None
    text = str(error)  # safetensors (SafetensorError) and torch.save (RuntimeError) wrap the OS error in text
    return "No space left" in text or "os error" in text or "unexpected pos" in text or "file write failed" in text


def _free_bytes(path: Path) -> int | None:
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def _nearly_full(path: Path) -> bool:
    free = _free_bytes(path)
    return free is not None and free < 1 << 20


def save_error(target: Path, error: BaseException, kept: str) -> SaveError:
    if isinstance(error, OSError) and error.errno:
        reason = os.strerror(error.errno)
    elif "No space left" in str(error) or _nearly_full(target):  # torch.save only says "unexpected pos"
        reason = "No space left on device"
    else:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    full = (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)) or "No space" in reason
    fix = "free some disk space and run it again" if full else "check the folder's permissions and free space, then run it again"
    return SaveError(f"{target}: could not be saved ({reason}); {kept}; {fix}")


@contextmanager
def staged_dir(directory: str | os.PathLike) -> Iterator[Path]:
    """Write into the yielded staging folder; on success its contents replace those of `directory` (file by file,
    each rename atomic; other files in `directory` stay); on any failure it is removed and `directory` is unchanged.
    A disk or file-system failure becomes a `SaveError` that names `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=directory))
    try:
        yield staging
        _fix_modes(staging)
        _publish(staging, directory)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, SaveError) and str(staging) in str(error):  # from a save nested in this one
            raise SaveError(str(error).replace(str(staging), str(directory))) from None
        if isinstance(error, Exception) and not isinstance(error, SaveError) and is_write_failure(error):
            raise save_error(directory, error, "the files there before are unchanged") from None
        raise
    shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(directory: Path) -> None:
    """Remove staging folders that a killed process left in `directory`."""
    for path in directory.glob(STAGING_PREFIX + "*") if directory.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)


def _fix_modes(root: Path) -> None:
    """Atomic writers (safetensors, NamedTemporaryFile, mkdtemp) create 0600/0700 entries; give the usual modes."""
    mode = new_file_mode()
    for path in root.rglob("*"):
        os.chmod(path, mode | (0o111 & ~umask()) if path.is_dir() else mode)


def _publish(staging: Path, directory: Path) -> None:
    for entry in sorted(staging.iterdir(), key=lambda p: p.is_dir()):  # files first, then folders
        target = directory / entry.name
        if entry.is_dir():
            target.mkdir(exist_ok=True)
            _publish(entry, target)
        else:
            os.replace(entry, target)

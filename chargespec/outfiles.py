"""Writing output files so that nothing is half-written, nothing is followed and nothing but a
regular file is replaced.

Every file chargespec writes (vectors, reports, JUnit/JSON results, Promela models, saved fuzz
vectors) goes through `write_file`: the bytes go to a fresh temporary file created with
`O_EXCL` in the target's own directory (`tempfile.mkstemp`: a name nobody planted, never a
symlink followed), which is then renamed over the target.  The target must be absent or a
regular file: a symlink, a FIFO, a device or a directory at its place is refused, before any
work when the command calls `check_target` first (a run of minutes must not end in "cannot
write").  A failure leaves the old file as it was and no temporary file behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import InputError


def check_target(path: Path | str, *, create_parent: bool = False) -> Path:
    """The path, if a file may be written there; else InputError saying why."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        if create_parent and not parent.exists():
            return path
        raise InputError(f"{path}: cannot write: directory {parent} does not exist")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{path}: cannot write: directory {parent} is not writable"
                             ) from None
        return path
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode):
        raise InputError(f"{path}: refusing to replace a symbolic link")
    if not stat.S_ISREG(st.st_mode):
        kind = "directory" if stat.S_ISDIR(st.st_mode) else "special file"
        raise InputError(f"{path}: refusing to replace a {kind}; name a regular file")
    return path


def write_file(path: Path | str, data: bytes | str, *, create_parent: bool = False) -> None:
    """Write `data` (str is written as UTF-8) to `path` atomically; InputError if refused."""
    path = check_target(path, create_parent=create_parent)
    if create_parent:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{path}: cannot create its directory: {exc.strerror or exc}"
                             ) from None
        check_target(path)
    if isinstance(data, str):
        # a lone surrogate (an adapter may answer one) is written escaped, never a crash
        data = data.encode("utf-8", errors="backslashreplace")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:80]}.", suffix=".tmp",
                                   dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_tree(directory: Path | str, files: dict[str, bytes]) -> None:
    """Each file of `files` (relative names) under `directory`, each written atomically.
    Every target is checked before the first is written."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    for name in files:
        check_target(directory / name, create_parent=True)
    for name, data in files.items():
        write_file(directory / name, data, create_parent=True)

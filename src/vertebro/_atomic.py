"""Writing an output file so that a failure leaves nothing half written.

Every command that writes a file (batch results, study CSVs, plots) goes through
:func:`atomic_open`: the bytes go to a temporary file in the target's folder, which is renamed
over the target only once it is complete (``os.replace`` is atomic within one file system).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_open"]


@contextmanager
def atomic_open(path: Path, mode: Literal["w", "wb"] = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open ``path`` for writing through a temporary file beside it.

    On leaving the block normally the file is renamed over ``path``; on any error it is
    removed and an existing ``path`` is left untouched. ``kwargs`` go to :func:`open`
    (``encoding``, ``newline``). The folder must exist.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

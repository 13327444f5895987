"""Load PyTorch checkpoints of a verified model: ``modelseal.torch.load(m, name, ...)``.

The checkpoint is opened through the verified descriptor (no second open by path), scanned for
code injection through that same descriptor, and only then given to :func:`torch.load` as a file
object, with ``weights_only=True`` unless told otherwise. torch is imported when :func:`load` is
first called, never by ``import modelseal``.
"""

from __future__ import annotations

import os
from typing import Any

from . import ScanReport, UsageError, VerifiedModel, _scan_fd
from ._native import StrPath

__all__ = ["load"]


def load(model: VerifiedModel, name: StrPath, *, weights_only: bool = True, **kwargs: Any) -> Any:
    """``torch.load`` of the listed file `name` of the verified `model`.

    The file is opened with :meth:`VerifiedModel.open` (hashed through the descriptor and matched,
    or :class:`modelseal.NotTrusted`), then scanned through the same descriptor: a pickle that
    would run code, or that the scanner cannot parse, raises :class:`modelseal.UnsafeContent`
    whatever `weights_only` says. Then ``torch.load(f, weights_only=weights_only, **kwargs)``
    reads it from the file object (``map_location=...`` and the other keyword arguments pass
    through; ``mmap=True`` needs a path and is refused).
    """
    if not isinstance(model, VerifiedModel):
        raise TypeError("modelseal.torch.load takes the VerifiedModel that modelseal.verify() returned")
    if kwargs.get("mmap"):
        raise UsageError("mmap=True would reopen the checkpoint by path; modelseal.torch.load reads the "
                         "verified descriptor", "map the file yourself: mmap.mmap(m.open(name).fileno(), 0, ...)")
    import torch  # the real one: this module's own name is modelseal.torch

    with model.open(name) as f:
        display = model.path if model.single_file else os.path.join(model.path, os.fsdecode(name))
        report: ScanReport = _scan_fd(f.fileno(), display)
        report.check()
        f.seek(0)
        return torch.load(f, weights_only=weights_only, **kwargs)

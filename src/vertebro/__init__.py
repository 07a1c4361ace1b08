"""vertebro: decision support, an outcomes registry and evidence synthesis for vertebral
augmentation (vertebroplasty, balloon kyphoplasty) in cancer-related vertebral compression
fractures.

Decision support for clinicians: it never decides. Every statement it makes names the rule and
the published source behind it, and it says what it does not know.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .assess import assess

__all__ = ["__version__", "assess"]


class _Package(ModuleType):
    """``vertebro.assess`` is the engine's function, loaded on first use so that importing
    ``vertebro`` (every command, ``vertebro --help`` included) does not build the engine.

    The subpackage of the same name lives in ``sys.modules["vertebro.assess"]``; the import
    system's binding of it to this attribute, after it loads, is ignored, so the name stays
    the function whichever is imported first (as it was when this file imported it eagerly).
    """

    @property
    def assess(self) -> Any:
        from .assess._engine import assess as function

        return function

    @assess.setter
    def assess(self, _subpackage: ModuleType) -> None:
        pass


sys.modules[__name__].__class__ = _Package

"""Modules loaded on first use, so that ``vertebro --help`` and ``vertebro assess`` start fast.

Every command group is registered at start-up (``--help`` lists them all), so a group module's
top-level imports are paid by every command. A heavy library (NumPy, SciPy, statsmodels,
matplotlib, SQLAlchemy) is bound with :func:`lazy_module` instead: the name exists at once and
the module body runs at the first attribute access, inside the command that needs it.
``tests/cli/test_startup.py`` checks that the light commands never trigger one.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module object that imports itself on first attribute access.

    The standard library's :class:`importlib.util.LazyLoader`; an already imported module is
    returned as it is.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

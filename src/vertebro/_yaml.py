"""The one YAML reader of the bundled tables (rulebook, NOMS, prognosis, outcomes).

libyaml's parser when PyYAML was built with it (the wheels are): the same documents and errors
as ``yaml.safe_load``, about ten times faster, which is most of ``vertebro assess``'s start-up
after the imports (tests/assess/test_rulebook.py compares the two loaders on every bundled file).
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["load_yaml"]

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(raw: bytes | str) -> Any:
    """``yaml.safe_load`` with libyaml's parser when it is available."""
    return yaml.load(raw, Loader=_SafeLoader)

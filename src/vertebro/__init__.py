"""vertebro: decision support, an outcomes registry and evidence synthesis for vertebral
augmentation (vertebroplasty, balloon kyphoplasty) in cancer-related vertebral compression
fractures.

Decision support for clinicians: it never decides. Every statement it makes names the rule and
the published source behind it, and it says what it does not know.
"""

from __future__ import annotations

from ._version import __version__
from .assess import assess

__all__ = ["__version__", "assess"]

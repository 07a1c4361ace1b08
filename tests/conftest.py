"""Suite-wide hypothesis profile.

CI machines can run several times slower than a workstation, so hypothesis's per-example
deadline (200 ms by default) would turn slowness into failures; the tests check behaviour,
and speed is measured in benchmarks/ instead.
"""

from hypothesis import settings

settings.register_profile("vertebro", deadline=None, print_blob=True)
settings.load_profile("vertebro")

"""Suite-wide hypothesis profile.

CI machines can run several times slower than a workstation, so hypothesis's per-example
deadline (200 ms by default) would turn slowness into failures; the tests check behaviour,
and speed is measured in benchmarks/ instead.
"""

import os

from hypothesis import settings

# The registry's pseudonymisation key comes from the environment (or a key file), never from
# the database it protects; tests use a fixed, obviously non-secret one.
os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "vertebro-test-key-not-a-secret")

settings.register_profile("vertebro", deadline=None, print_blob=True)
settings.load_profile("vertebro")

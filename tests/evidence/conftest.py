from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from tests.analytics.conftest import pool_cohort
from tests.registry.conftest import db_url, empty_registry, registry
from vertebro.evidence import data_text, escalc

# registry fixtures re-exported so that pytest finds them here (users: admin, alice (site A),
# bob (site B), rita (researcher)), and the analytics' pool_cohort (the registry's study rows
# are built in vertebro.analytics); reused, not copied
__all__ = ["bcg", "bcg_rows", "db_url", "empty_registry", "pool_cohort", "registry"]


@pytest.fixture(scope="session")
def bcg_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data_text("reference/bcg.csv"))))


@pytest.fixture(scope="session")
def bcg(bcg_rows):  # log risk ratios of dat.bcg, as metafor's escalc("RR", ...)
    f = lambda c: np.array([float(r[c]) for r in bcg_rows])  # noqa: E731
    return escalc("RR", ai=f("tpos"), bi=f("tneg"), ci=f("cpos"), di=f("cneg"))

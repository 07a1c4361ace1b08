from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from vertebro.evidence import data_text, escalc


@pytest.fixture(scope="session")
def bcg_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data_text("reference/bcg.csv"))))


@pytest.fixture(scope="session")
def bcg(bcg_rows):  # log risk ratios of dat.bcg, as metafor's escalc("RR", ...)
    f = lambda c: np.array([float(r[c]) for r in bcg_rows])  # noqa: E731
    return escalc("RR", ai=f("tpos"), bi=f("tneg"), ci=f("cpos"), di=f("cneg"))

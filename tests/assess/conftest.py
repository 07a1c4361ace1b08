"""Vignette loading: each file in vignettes/ is a patient (or a patch of the base patient)
with the answer a clinician expects and the source of that expectation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
VIGNETTES = HERE / "vignettes"
EXAMPLES = HERE.parent.parent / "examples"


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(patch)


def base_patient() -> dict[str, Any]:
    return yaml.safe_load((VIGNETTES / "_base.yaml").read_text())


def vignette_input(spec: dict[str, Any]) -> dict[str, Any]:
    if "example" in spec:
        return json.loads((EXAMPLES / spec["example"]).read_text())
    if "input" in spec:
        return spec["input"]
    patient = base_patient()
    base_level = patient["levels"][0]
    patient = _merge(patient, spec.get("patch", {}))
    if "level0" in spec:
        patient["levels"][0] = _merge(patient["levels"][0], spec["level0"])
    for extra in spec.get("extra_levels", []):
        patient["levels"].append(_merge(base_level, extra))
    for path in spec.get("unknown", []):
        _unset(patient, path)
    return patient


def _unset(obj: dict[str, Any], path: str) -> None:
    """Remove a field (make it unknown): 'neurology.deficit' or 'levels.0.escc'."""
    parts = path.split(".")
    for p in parts[:-1]:
        obj = obj[int(p)] if isinstance(obj, list) else obj[p]
    if isinstance(obj, list):
        del obj[int(parts[-1])]
    else:
        del obj[parts[-1]]


def load_vignettes() -> list[tuple[str, dict[str, Any]]]:
    return [
        (p.stem, yaml.safe_load(p.read_text()))
        for p in sorted(VIGNETTES.glob("*.yaml"))
        if not p.name.startswith("_")
    ]


def fired_rules(result: dict[str, Any]) -> set[str]:
    fired = {f["rule"] for f in result["findings"]}
    for lv in result["levels"]:
        fired.update(lv["rules"])
    for a in result["actions"]:
        fired.update(a["rules"])
    return fired

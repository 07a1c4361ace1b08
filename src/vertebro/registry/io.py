"""File formats of the registry, one entry point each way (used by the CLI and the web)."""

from __future__ import annotations

from pathlib import Path

from vertebro.errors import InvalidInput

from . import csvio, fhir, redcap
from .service import Registry
from .transfer import Progress, check_export, export_records, import_records

__all__ = ["FORMATS", "export", "import_"]

FORMATS = ("csv", "redcap", "fhir")


def export(reg: Registry, actor: str, fmt: str, out: Path, *, research: bool = False,
           progress: Progress | None = None) -> str:
    """Write every record ``actor`` may see; returns a short description of what was written.

    csv: one long-format file; redcap: a folder (data dictionary, events, mapping, records);
    fhir: one JSON Bundle. A refused export (unknown user, a researcher without ``research``)
    is refused before any file or folder is touched; every file is written whole or not at all.
    """
    if fmt not in FORMATS:
        raise InvalidInput.field("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    check_export(reg, actor, research=research)
    records = export_records(reg, actor, research=research, progress=progress)
    if fmt == "csv":
        if out.is_dir():
            out = out / "registry.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        return f"{csvio.write_csv(out, records)} rows"
    if fmt == "redcap":
        return f"{redcap.write_project(out, records)} REDCap record rows"
    if out.is_dir():
        out = out / "bundle.json"
    return f"{fhir.write_bundle(out, records, research=research)} FHIR resources"


def import_(reg: Registry, actor: str, fmt: str, path: Path, *,
            progress: Progress | None = None, skip_duplicates: bool = False) -> dict[str, int]:
    """Import what :func:`export` wrote (csv, or a REDCap records export): all or nothing,
    streamed (see :func:`vertebro.registry.transfer.import_records`)."""
    if fmt == "csv":
        return import_records(reg, actor, csvio.read_csv(path), progress=progress,
                              skip_duplicates=skip_duplicates)
    if fmt == "redcap":
        return import_records(reg, actor, redcap.read_records(path), progress=progress,
                              skip_duplicates=skip_duplicates, field_name=redcap.redcap_field)
    raise InvalidInput.field("format", f"{fmt!r} cannot be imported (csv, redcap)")

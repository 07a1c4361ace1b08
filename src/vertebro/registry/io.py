"""File formats of the registry, one entry point each way (used by the CLI and the web)."""

from __future__ import annotations

from pathlib import Path

from vertebro.errors import FieldError, InvalidInput

from . import csvio, fhir, redcap
from .service import Registry
from .transfer import Progress, export_records, import_records

__all__ = ["FORMATS", "export", "import_"]

FORMATS = ("csv", "redcap", "fhir")


def export(reg: Registry, actor: str, fmt: str, out: Path, *, research: bool = False,
           progress: Progress | None = None) -> str:
    """Write every record ``actor`` may see; returns a short description of what was written.

    csv: one long-format file; redcap: a folder (data dictionary, events, mapping, records);
    fhir: one JSON Bundle.
    """
    records = export_records(reg, actor, research=research, progress=progress)
    if fmt == "csv":
        if out.is_dir():
            out = out / "registry.csv"
        return f"{csvio.write_csv(out, records)} rows"
    if fmt == "redcap":
        return f"{redcap.write_project(out, records)} REDCap record rows"
    if fmt == "fhir":
        if out.is_dir():
            out = out / "bundle.json"
        return f"{fhir.write_bundle(out, records, research=research)} FHIR resources"
    raise InvalidInput.field("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")


def import_(reg: Registry, actor: str, fmt: str, path: Path, *,
            progress: Progress | None = None) -> dict[str, int]:
    """Import what :func:`export` wrote (csv, or a REDCap records export): all or nothing."""
    if fmt == "csv":
        return import_records(reg, actor, csvio.read_csv(path), progress=progress)
    if fmt == "redcap":
        rows = redcap.read_records(path)
        types = {where: rec["record_type"] for where, rec in rows}
        try:
            return import_records(reg, actor, rows, progress=progress)
        except InvalidInput as exc:
            raise InvalidInput([
                FieldError(redcap.redcap_field(types.get(e.where, ""), e.field), e.reason,
                           e.where) for e in exc.errors]) from None
    raise InvalidInput.field("format", f"{fmt!r} cannot be imported (csv, redcap)")

"""File formats of the registry, one entry point each way (used by the CLI and the web)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from vertebro.errors import InvalidInput

from . import csvio, fhir, redcap
from .service import Registry
from .transfer import Progress, check_export, export_records, import_records

__all__ = ["FORMATS", "export", "import_"]

FORMATS = ("csv", "redcap", "fhir")


def export(reg: Registry, actor: str, fmt: str, out: Path, *, research: bool = False,
           progress: Progress | None = None, via: str = "python") -> str:
    """Write every record ``actor`` may see; returns a short description of what was written.

    csv: one long-format file; redcap: a folder (data dictionary, events, mapping, records);
    fhir: one JSON Bundle. A refused export (unknown user, a researcher without ``research``)
    is refused before any file or folder is touched; every file is written whole or not at all.
    A written export is an ``export`` event in the audit trail, whoever calls it (``via``:
    ``cli``, ``web``, ``api``): who, the format, the scope (research or full, which sites)
    and how many long-format records left the store, never the data itself.
    """
    if fmt not in FORMATS:
        raise InvalidInput.field("format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
    sites = check_export(reg, actor, research=research)
    counted = _Counted(export_records(reg, actor, research=research, progress=progress))
    if fmt == "csv":
        if out.is_dir():
            out = out / "registry.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        written = f"{csvio.write_csv(out, counted)} rows"
    elif fmt == "redcap":
        written = f"{redcap.write_project(out, counted)} REDCap record rows"
    else:
        if out.is_dir():
            out = out / "bundle.json"
        written = f"{fhir.write_bundle(out, counted, research=research)} FHIR resources"
    reg.record_event(actor, "export", {"format": fmt, "research": research, "sites": sites,
                                       "records": counted.n, "written": written, "via": via})
    return written


class _Counted:
    """The records an export writes, counted as they pass (the audit event's number)."""

    def __init__(self, records: Iterable[dict[str, str]]) -> None:
        self._records = records
        self.n = 0

    def __iter__(self) -> Iterator[dict[str, str]]:
        for rec in self._records:
            self.n += 1
            yield rec


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

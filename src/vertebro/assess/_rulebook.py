"""Load and validate the rulebook: the clinical rules as data, one file per source.

The rulebook lives in ``vertebro/rulebook/`` (``index.yaml`` plus one YAML file per source) and
is validated when it loads: unknown keys, duplicate ids, a condition on an unknown fact, an
unknown profile, action or flag are :class:`~vertebro.errors.RulebookError` s naming the rule.
Its version is the declared version plus a hash of the files, so a stored assessment records
exactly which rules produced it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from vertebro._yaml import load_yaml
from vertebro.errors import RulebookError

from ._conditions import Condition, compile_condition

__all__ = [
    "Parameter",
    "Profile",
    "Rule",
    "Rulebook",
    "Source",
    "default_rulebook",
    "load_rulebook",
]

# "individual": no source supports a default; a specialist plans it (e.g. C1-C2).
Technique = Literal["vertebroplasty", "kyphoplasty", "individual"]
Kind = Literal["safety", "indication", "exclusion", "plan"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Spec):
    id: str
    citation: str
    version: str
    seed: str | None = None  # file name in shared/seeds, when the source is a seed


class ThenSpec(_Spec):
    disposition: Literal["contraindicated", "refer_surgery"] | None = None
    indicates: str | None = None
    exclude_level: Literal[True] | None = None
    technique: Technique | None = None
    approach: str | None = None
    needle: str | None = None
    priority: int | None = None
    flag: str | None = None
    action: str | None = None
    offer: Literal["intervening", "impending"] | None = None
    max_gap: int | None = None
    # A red flag's urgent actions: asked whenever the flag is settled, whatever the disposition.
    actions: list[str] | None = None
    # The action's wording when this rule asks for it (else the label in index.yaml).
    label: str | None = None


class RuleSpec(_Spec):
    id: str
    section: str
    scope: Literal["patient", "level"]
    when: dict[str, Any]
    then: ThenSpec
    says: str
    profiles: list[str] | None = None
    # Where the rule reads its source more strictly (or loosely) than the text: the choice in
    # a sentence; the report says when a verdict rests on it (docs/rulebook.md, readings).
    reading: str | None = None


class ParameterSpec(_Spec):
    id: str
    section: str
    value: int
    says: str


class SourceFileSpec(_Spec):
    source: SourceSpec
    parameters: list[ParameterSpec] = []
    rules: list[RuleSpec] = []


class ProfileSpec(_Spec):
    name: str
    source: str
    summary: str


class FlagSpec(_Spec):
    label: str
    severity: Literal["relative_contraindication", "caution", "info"]


class IndexSpec(_Spec):
    version: str
    default_profile: str
    files: list[str]
    profiles: dict[str, ProfileSpec]
    actions: dict[str, str]
    # Actions that belong to a procedure: asked only where augmentation is still possible.
    procedure_actions: list[str] = []
    flags: dict[str, FlagSpec]


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    version: str
    seed: str | None


@dataclass(frozen=True, eq=False)
class Rule:
    """One compiled rule: a stable id, its source, a condition, an effect, a plain statement."""

    id: str
    source: Source
    section: str
    scope: Literal["patient", "level"]
    condition: Condition
    then: ThenSpec
    says: str
    profiles: tuple[str, ...] | None
    kind: Kind
    file: str
    reading: str | None = None

    @property
    def cite(self) -> str:
        # Sources by short name only: the seed files are not part of what a user has.
        return f"{self.source.id}, {self.section}"

    def effect_text(self) -> str:
        t = self.then
        parts = [f"{k}: {v}" for k, v in t.model_dump(exclude_none=True).items() if k != "priority"]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The rule for review, JSON-ready (``vertebro rules --format json``, ``/api/rulebook``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "scope": self.scope,
            "when": self.condition.describe(),
            "then": self.then.model_dump(exclude_none=True),
            "says": self.says,
            "profiles": list(self.profiles) if self.profiles else None,
            "reading": self.reading,
            "source": {
                "id": self.source.id,
                "section": self.section,
                "citation": self.source.citation,
                "version": self.source.version,
            },
            "file": self.file,
        }


@dataclass(frozen=True)
class Parameter:
    id: str
    source: Source
    section: str
    value: int
    says: str


@dataclass(frozen=True)
class Profile:
    id: str
    name: str
    source: str
    summary: str


@dataclass(frozen=True, eq=False)  # identity hash: the engine caches its compiled form per rulebook
class Rulebook:
    version: str
    default_profile: str
    profiles: dict[str, Profile]
    rules: tuple[Rule, ...]
    parameters: dict[str, Parameter]
    actions: dict[str, str]
    flags: dict[str, FlagSpec]
    sources: dict[str, Source]
    procedure_actions: frozenset[str] = frozenset()

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def by_kind(self, kind: Kind, scope: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind == kind and r.scope == scope)

    def parameter(self, suffix: str) -> Parameter:
        matches = [p for pid, p in self.parameters.items() if pid.endswith(suffix)]
        if len(matches) != 1:
            raise RulebookError(
                f"expected one parameter ending in {suffix!r}, found {len(matches)}"
            )
        return matches[0]


def _kind(spec: RuleSpec, index: IndexSpec) -> Kind:
    t = spec.then
    set_keys = set(t.model_dump(exclude_none=True))
    rid = spec.id
    for code in t.actions or ():
        if code not in index.actions:
            raise RulebookError(f"rule {rid}: unknown action {code!r} (declare it in index.yaml)")
    if t.disposition:
        if not set_keys <= {"disposition", "actions"}:
            raise RulebookError(
                f"rule {rid}: a disposition rule has no effect but its urgent actions "
                f"({sorted(set_keys)})"
            )
        return "safety"
    if t.actions:
        raise RulebookError(f"rule {rid}: actions: (urgent actions) is only for disposition rules")
    if t.label is not None and t.action is None:
        raise RulebookError(f"rule {rid}: label: words an action; the rule asks for none")
    if t.indicates:
        if t.indicates not in index.profiles:
            raise RulebookError(f"rule {rid}: indicates unknown profile {t.indicates!r}")
        if set_keys != {"indicates"} or spec.scope != "level":
            raise RulebookError(
                f"rule {rid}: an indication rule is level-scoped with no other effect"
            )
        return "indication"
    if t.exclude_level:
        if set_keys != {"exclude_level"} or spec.scope != "level":
            raise RulebookError(
                f"rule {rid}: an exclusion rule is level-scoped with no other effect"
            )
        return "exclusion"
    if not set_keys:
        raise RulebookError(f"rule {rid}: then: has no effect")
    slots = set_keys & {"technique", "approach", "needle"}
    if slots and (t.priority is None or spec.scope != "level"):
        raise RulebookError(
            f"rule {rid}: technique/approach/needle rules are level-scoped with a priority"
        )
    if t.priority is not None and not slots:
        raise RulebookError(f"rule {rid}: priority is only for technique/approach/needle rules")
    if t.flag and t.flag not in index.flags:
        raise RulebookError(f"rule {rid}: unknown flag {t.flag!r} (declare it in index.yaml)")
    if t.action and t.action not in index.actions:
        raise RulebookError(f"rule {rid}: unknown action {t.action!r} (declare it in index.yaml)")
    if (t.max_gap is not None) != (t.offer == "intervening"):
        raise RulebookError(f"rule {rid}: offer: intervening needs max_gap (and only it)")
    return "plan"


def _read(base: Traversable, name: str) -> tuple[Any, bytes]:
    node = base.joinpath(name)
    if not node.is_file():
        raise RulebookError(f"rulebook file {name} is missing")
    raw = node.read_bytes()
    try:
        return load_yaml(raw), raw
    except yaml.YAMLError as exc:
        raise RulebookError(f"{name}: not valid YAML: {exc}") from None


def _validate(model: type[_Spec], data: Any, name: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in first)
        raise RulebookError(f"{name}: {details}") from None


def load_rulebook(directory: Path | Traversable | None = None) -> Rulebook:
    """Load, validate and compile a rulebook (the bundled one by default)."""
    base: Traversable = resources.files("vertebro.rulebook") if directory is None else directory
    index_data, raw = _read(base, "index.yaml")
    index: IndexSpec = _validate(IndexSpec, index_data, "index.yaml")
    if index.default_profile not in index.profiles:
        raise RulebookError(
            f"index.yaml: default_profile {index.default_profile!r} is not a profile"
        )
    digest = hashlib.sha256(raw)
    rules: list[Rule] = []
    parameters: dict[str, Parameter] = {}
    sources: dict[str, Source] = {}
    seen: set[str] = set()
    for name in index.files:
        data, raw = _read(base, name)
        digest.update(raw)
        spec: SourceFileSpec = _validate(SourceFileSpec, data, name)
        src = Source(spec.source.id, spec.source.citation, spec.source.version, spec.source.seed)
        if src.id in sources:
            raise RulebookError(f"{name}: source {src.id} is declared twice")
        sources[src.id] = src
        for p in spec.parameters:
            if p.id in seen:
                raise RulebookError(f"{name}: duplicate id {p.id}")
            seen.add(p.id)
            parameters[p.id] = Parameter(p.id, src, p.section, p.value, p.says)
        for r in spec.rules:
            if r.id in seen:
                raise RulebookError(f"{name}: duplicate rule id {r.id}")
            seen.add(r.id)
            for prof in r.profiles or ():
                if prof not in index.profiles:
                    raise RulebookError(f"rule {r.id}: unknown profile {prof!r}")
            kind = _kind(r, index)
            cond = compile_condition(r.when, r.id, allow_plan=kind == "plan", scope=r.scope)
            rules.append(
                Rule(
                    r.id,
                    src,
                    r.section,
                    r.scope,
                    cond,
                    r.then,
                    r.says,
                    tuple(r.profiles) if r.profiles else None,
                    kind,
                    name,
                    r.reading,
                )
            )
    profiles = {pid: Profile(pid, p.name, p.source, p.summary) for pid, p in index.profiles.items()}
    for pid in profiles:
        if not any(r.then.indicates == pid for r in rules):
            raise RulebookError(f"profile {pid} has no indication rule")
    for code in index.procedure_actions:
        if code not in index.actions:
            raise RulebookError(f"index.yaml: procedure action {code!r} is not an action")
    version = f"{index.version}+{digest.hexdigest()[:12]}"
    return Rulebook(
        version,
        index.default_profile,
        profiles,
        tuple(rules),
        parameters,
        dict(index.actions),
        dict(index.flags),
        sources,
        frozenset(index.procedure_actions),
    )


@cache
def default_rulebook() -> Rulebook:
    """The bundled rulebook, loaded once per process."""
    return load_rulebook()

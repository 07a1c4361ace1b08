"""The decision engine: validated input -> facts -> three-valued rules -> disposition -> plan.

Disposition precedence (DESIGN.md section 3): ``contraindicated`` (an absolute contraindication
is known present) > ``refer_surgery`` (a red flag is known present) > ``incomplete`` (an unknown
fact could change the answer) > ``not_indicated`` > ``candidate``. Safety rules of every source
apply together; the indication differs per guideline profile, and each profile gets a verdict.

Because rules evaluate in Kleene logic (see ``_conditions``), ``candidate`` means every way of
filling in the unknown facts still gives ``candidate``, and ``contraindicated``,
``refer_surgery`` and ``not_indicated`` mean no way of filling them in gives ``candidate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import Any, Literal

from vertebro._version import __version__
from vertebro.errors import InvalidInput
from vertebro.spine import VERTEBRAE, vertebra_index

from ._conditions import Truth
from ._facts import (
    LevelFacts,
    level_facts,
    patient_facts,
    performance_status,
    sins_summary,
    unknown_inputs,
)
from ._input import AssessmentInput, LevelInput, validate_input
from ._noms import noms_section
from ._outcomes import Outcomes, load_outcomes
from ._rulebook import Rule, Rulebook, default_rulebook

__all__ = ["DISPOSITIONS", "ENGINE_VERSION", "NOTICE", "assess"]

ENGINE_VERSION = __version__
DISPOSITIONS = ("candidate", "refer_surgery", "contraindicated", "not_indicated", "incomplete")
NOTICE = (
    "Decision support for clinicians, not a decision and not a medical device: every statement "
    "names its rule and source; the treating team decides with the patient."
)
_SLOTS = ("technique", "approach", "needle")


def _or(values: Iterable[Truth]) -> Truth:
    unknown = False
    for v in values:
        if v is True:
            return True
        if v is None:
            unknown = True
    return None if unknown else False


def _and2(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    return None if (a is None or b is None) else True


def _not(a: Truth) -> Truth:
    return None if a is None else not a


def _decide(contra: Truth, red: Truth, indicated: Truth) -> str:
    if contra is True:
        return "contraindicated"
    if red is True:
        return "refer_surgery"
    if contra is None or red is None or indicated is None:
        return "incomplete"
    return "candidate" if indicated else "not_indicated"


@dataclass(frozen=True)
class _Compiled:
    """The rulebook split by what the engine does with each rule, in evaluation order."""

    rb: Rulebook
    outcomes: Outcomes
    safety_patient: tuple[Rule, ...]
    safety_level: tuple[Rule, ...]
    exclusions: tuple[Rule, ...]
    indications: dict[str, tuple[Rule, ...]]
    plan_patient: tuple[Rule, ...]
    plan_level: tuple[Rule, ...]
    # per profile, the plan rules that apply, patient rules first: offers, then the others
    # (evaluated apart, since the others may read level.needs_workup, which the offers set)
    plan_offers: dict[str, tuple[Rule, ...]]
    plan_others: dict[str, tuple[Rule, ...]]
    slots: dict[str, tuple[Rule, ...]]  # by priority, highest first
    action_order: dict[str, int]
    max_levels: int


@cache
def _compile(rb: Rulebook) -> _Compiled:
    plan = [r for r in rb.rules if r.kind == "plan"]
    slots = {
        s: tuple(
            sorted((r for r in plan if getattr(r.then, s)), key=lambda r: -(r.then.priority or 0))
        )
        for s in _SLOTS
    }
    general = [r for r in plan if not any(getattr(r.then, s) for s in _SLOTS)]
    ordered = [r for r in general if r.scope == "patient"] + [
        r for r in general if r.scope == "level"
    ]

    def plan_rules(profile: str, offers: bool) -> tuple[Rule, ...]:
        return tuple(
            r
            for r in ordered
            if bool(r.then.offer) == offers and (not r.profiles or profile in r.profiles)
        )

    return _Compiled(
        rb=rb,
        outcomes=load_outcomes(),
        safety_patient=rb.by_kind("safety", "patient"),
        safety_level=rb.by_kind("safety", "level"),
        exclusions=rb.by_kind("exclusion", "level"),
        indications={p: tuple(r for r in rb.rules if r.then.indicates == p) for p in rb.profiles},
        plan_patient=tuple(r for r in general if r.scope == "patient"),
        plan_level=tuple(r for r in general if r.scope == "level"),
        plan_offers={p: plan_rules(p, offers=True) for p in rb.profiles},
        plan_others={p: plan_rules(p, offers=False) for p in rb.profiles},
        slots=slots,
        action_order={code: i for i, code in enumerate(rb.actions)},
        max_levels=rb.parameter("max_levels_per_session").value,
    )


@dataclass
class _Unknowns:
    """Unknown input fields, each with the rules that need them and why (for missing/notes)."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, paths: Iterable[str], rule: Rule, affects: str, level: str | None) -> None:
        for path in paths:
            entry = self.items.get(path)
            if entry is None:
                entry = {"field": path, "why": rule.says, "affects": [], "rules": []}
                if level and path.startswith(("levels[", level)):
                    entry["level"] = level
                self.items[path] = entry
            if affects not in entry["affects"]:
                entry["affects"].append(affects)
            if rule.id not in entry["rules"]:
                entry["rules"].append(rule.id)


class _Run:
    """One assessment, in phases: decide, explain, plan, offer, output.

    Holds the facts and every rule's value, so that explanations are cheap.
    """

    def __init__(self, c: _Compiled, inp: AssessmentInput, profile: str) -> None:
        self.c, self.inp, self.profile = c, inp, profile
        self.pf = patient_facts(inp)
        self.levels: list[LevelFacts] = [
            level_facts(lv, i, inp, self.pf) for i, lv in enumerate(inp.levels)
        ]
        self.names = [lv.level for lv in inp.levels]
        n = len(self.levels)
        self.findings: list[dict[str, Any]] = []
        self.unknowns = _Unknowns()
        self.missing_paths: set[str] = set()
        self.level_rules: list[list[str]] = [[] for _ in range(n)]
        self.flags: list[list[str]] = [[] for _ in range(n)]
        self.patient_flags: list[str] = []
        self.actions: dict[str, dict[str, Any]] = {}
        self.offers: dict[int, str] = {}

    # -- helpers ---------------------------------------------------------------------------
    def _facts(self, i: int | None) -> Mapping[str, Any]:
        return self.pf if i is None else self.levels[i].facts

    def unknown_paths(self, rule: Rule, i: int | None) -> list[str]:
        names = rule.condition.unknown_fields(self._facts(i))
        out: list[str] = []
        for name in names:
            for p in unknown_inputs(name, i if name.startswith("level.") else None, self.inp):
                if p not in out:
                    out.append(p)
        return out

    def _each(self, rules: tuple[Rule, ...]) -> list[tuple[Rule, int | None, Truth]]:
        """Every (rule, level position or None, value) of a group of rules."""
        out: list[tuple[Rule, int | None, Truth]] = []
        pf, lfs = self.pf, [lf.facts for lf in self.levels]
        for r in rules:
            fn = r.condition.fn
            if r.scope == "patient":
                out.append((r, None, fn(pf)))
            else:
                for i, f in enumerate(lfs):
                    out.append((r, i, fn(f)))
        return out

    def _finding(self, rule: Rule, effect: str, level: str | None, **extra: Any) -> None:
        f: dict[str, Any] = {"rule": rule.id, "effect": effect, "source": rule.source.id}
        if level is not None:
            f["level"] = level
        f["text"] = rule.says
        if rule.reading:
            f["reading"] = rule.reading
        f.update(extra)
        self.findings.append(f)

    # -- phase 1: the answer, under every profile -------------------------------------------
    def decide(self) -> None:
        c, n = self.c, len(self.levels)
        self.safety = self._each(c.safety_patient) + self._each(c.safety_level)
        self.contra = _or([v for r, _, v in self.safety if r.then.disposition == "contraindicated"])
        self.red = _or([v for r, _, v in self.safety if r.then.disposition == "refer_surgery"])
        # Per level: excluded?  Per profile and level: indicated?  (Kleene and/or/not.)
        self.excl_vals = self._each(c.exclusions)
        excl_by_level: list[list[Truth]] = [[] for _ in range(n)]
        for _, i, v in self.excl_vals:
            excl_by_level[i].append(v)  # type: ignore[index]
        self.excluded = [_or(vs) for vs in excl_by_level]
        self.ind_vals: dict[str, list[tuple[Rule, int | None, Truth]]] = {}
        self.level_ind: dict[str, list[Truth]] = {}
        self.overall: dict[str, Truth] = {}
        for p, rules in c.indications.items():
            vals = self._each(rules)
            by_level: list[list[Truth]] = [[] for _ in range(n)]
            for _, i, v in vals:
                by_level[i].append(v)  # type: ignore[index]
            per = [_and2(_or(by_level[k]), _not(self.excluded[k])) for k in range(n)]
            self.ind_vals[p], self.level_ind[p] = vals, per
            self.overall[p] = _or(per) if n else None
        self.verdicts = {p: _decide(self.contra, self.red, self.overall[p]) for p in c.rb.profiles}
        self.disposition = self.verdicts[self.profile]

    # -- phase 2: why, and what is unknown ---------------------------------------------------
    def explain(self) -> None:
        incomplete = self.disposition == "incomplete"
        # Safety unknowns block unless a known contraindication or red flag settles the answer.
        safety_blocks = incomplete and (self.contra is None or self.red is None)
        for r, i, v in self.safety:
            lvl = self.names[i] if i is not None else None
            if v is True:
                self._finding(r, r.then.disposition or "", lvl)
                if i is not None:
                    self.level_rules[i].append(r.id)
            elif v is None:
                paths = self.unknown_paths(r, i)
                self.unknowns.add(paths, r, f"disposition ({r.then.disposition})", lvl)
                if safety_blocks:
                    self.missing_paths.update(paths)
        # Indication unknowns block when the chosen profile's answer hinges on them.
        primary_ind = self.level_ind[self.profile]
        ind_blocks = incomplete and self.overall[self.profile] is None
        for r, i, v in self.excl_vals:
            assert i is not None
            if v is True:
                self._finding(r, "exclude_level", self.names[i])
                self.level_rules[i].append(r.id)
            elif v is None and primary_ind[i] is None:
                paths = self.unknown_paths(r, i)
                self.unknowns.add(paths, r, f"treatment of {self.names[i]}", self.names[i])
                if ind_blocks:
                    self.missing_paths.update(paths)
        for p, vals in self.ind_vals.items():
            primary = p == self.profile
            for r, i, v in vals:
                assert i is not None
                name = self.names[i]
                if v is True and primary:
                    self._finding(r, "indicates", name, guideline=p)
                    self.level_rules[i].append(r.id)
                elif v is False and primary and primary_ind[i] is False and not self.excluded[i]:
                    failed = r.condition.explain(self.levels[i].facts).failed
                    self._finding(r, "not_met", name, guideline=p, failed=failed)
                elif v is None and self.level_ind[p][i] is None:
                    paths = self.unknown_paths(r, i)
                    affects = f"treatment of {name}" if primary else f"guidelines.{p}"
                    self.unknowns.add(paths, r, affects, name)
                    if primary and ind_blocks:
                        self.missing_paths.update(paths)
        if not self.levels and incomplete:
            self.missing_paths.add("levels")

    # -- phase 3: the plan: flags, actions, offers -------------------------------------------
    def plan(self) -> None:
        c, n = self.c, len(self.levels)
        primary_ind = self.level_ind[self.profile]
        # A level is treated only if it is indicated AND no contraindication or red flag holds:
        # true only when settled, unknown whenever any of them is (Kleene and).
        safe = _and2(_not(self.contra), _not(self.red))
        self.treated: list[Truth] = [_and2(primary_ind[k], safe) for k in range(n)]
        # Nothing to plan without a level that may be treated (an empty input lists no
        # procedure actions).
        self.possible = self.disposition in ("candidate", "incomplete") and any(
            t is not False for t in self.treated
        )
        plan_facts = {
            "assessment.disposition": self.disposition,
            "assessment.augmentation_possible": self.possible,
        }
        self.pf.update(plan_facts)
        for k, lf in enumerate(self.levels):
            lf.facts.update(plan_facts)
            lf.facts["level.treated"] = self.treated[k]

        # A settled red flag asks for its urgent actions whatever the disposition (issue 9.1).
        for r, i, v in self.safety:
            if v is True and r.then.actions:
                lvl = self.names[i] if i is not None else None
                for code in r.then.actions:
                    self._add_action(r, lvl, code)

        self.intervening: tuple[Rule, int] | None = None
        # Offers first: a level's work-up is asked only if it is in the plan or could be.
        open_rules: list[tuple[Rule, int | None]] = []
        offer_open: set[int] = set()
        for r, i, v in self._each(c.plan_offers[self.profile]):
            if v is True:
                self._apply(r, i)
            elif v is None:
                open_rules.append((r, i))
                if i is not None:
                    offer_open.add(i)
        for k, lf in enumerate(self.levels):
            index = self.inp.levels[k].index
            lf.facts["level.needs_workup"] = (
                index is not False or k in self.offers or k in offer_open
            )
        for r, i, v in self._each(c.plan_others[self.profile]):
            if v is None:
                open_rules.append((r, i))
            elif v is True:
                self._apply(r, i)
        # An unknown fact only matters if it could add an action or flag not already there.
        for r, i in open_rules:
            lvl = self.names[i] if i is not None else None
            t = r.then
            have_action = (
                t.action is None
                or not self._procedure_ok(t.action, i)
                or (
                    t.action in self.actions
                    and (lvl is None or lvl in self.actions[t.action]["levels"])
                )
            )
            have_flag = t.flag is None or t.flag in (
                self.flags[i] if i is not None else self.patient_flags
            )
            if have_action and have_flag and not t.offer:
                continue
            what = (t.flag or t.action or t.offer or "plan") + (f" at {lvl}" if lvl else "")
            self.unknowns.add(self.unknown_paths(r, i), r, what, lvl)

    def _procedure_ok(self, code: str, i: int | None) -> bool:
        """A procedure action (operator back-up, MDT for a relative contraindication, ...) is
        asked only where augmentation is still possible: for a level, one in the plan."""
        if code not in self.c.rb.procedure_actions:
            return True
        if not self.possible:
            return False
        return i is None or self.treated[i] is not False or i in self.offers

    def _apply(self, r: Rule, i: int | None) -> None:
        t, lvl = r.then, (self.names[i] if i is not None else None)
        if t.flag:
            (self.flags[i] if i is not None else self.patient_flags).append(t.flag)
            self._finding(r, "flag", lvl, flag=t.flag)
        if t.action and self._procedure_ok(t.action, i):
            self._add_action(r, lvl)
            if not t.flag:
                self._finding(r, "action", lvl, action=t.action)
        if t.offer == "impending" and i is not None and self.treated[i] is not True:
            self.offers[i] = "impending"
            self._finding(r, "offer", lvl, offer="impending")
        elif t.offer == "intervening":
            gap = max(t.max_gap or 0, self.intervening[1] if self.intervening else 0)
            self.intervening = (r, gap)
        if i is not None:
            self.level_rules[i].append(r.id)

    def _add_action(self, r: Rule, level: str | None, code: str | None = None) -> None:
        code = code or r.then.action
        assert code is not None
        a = self.actions.get(code)
        if a is None:
            a = self.actions[code] = {
                "code": code,
                "label": r.then.label or self.c.rb.actions[code],
                "rule": r.id,
                "rules": [],
                "levels": [],
            }
        elif r.then.label and a["label"] == self.c.rb.actions[code]:
            a["label"] = r.then.label  # a rule's own wording beats the generic label
        if r.id not in a["rules"]:
            a["rules"].append(r.id)
        if level is not None and level not in a["levels"]:
            a["levels"].append(level)

    def intervening_levels(self) -> list[tuple[LevelFacts, str]]:
        """Vertebrae between two planned levels, not described in the input, to offer."""
        if self.intervening is None or not any(t is not False for t in self.treated):
            return []
        rule, gap = self.intervening
        planned = sorted(
            vertebra_index(self.names[k]) for k, t in enumerate(self.treated) if t is not False
        )
        present = {vertebra_index(x) for x in self.names}
        # A construct spans at least two levels above and below the tumour (AJNR-instrumented,
        # Surgery), so a vertebra between two screw-free levels of an uninstrumented spine
        # carries no screws.
        hw: Literal["none"] | None = "none" if self.pf["patient.instrumented"] is False else None
        out: list[tuple[LevelFacts, str]] = []
        for lo_i, hi_i in pairwise(planned):
            if not 1 <= hi_i - lo_i - 1 <= gap:
                continue
            for k in range(lo_i + 1, hi_i):
                if k in present:
                    continue
                name = VERTEBRAE[k]
                lf = level_facts(
                    LevelInput(level=name, index=False, instrumentation=hw), -1, self.inp, self.pf
                )
                lf.facts["level.treated"] = False
                out.append((lf, name))
                self._finding(rule, "offer", name, offer="intervening")
        return out

    # -- phase 4: technique, approach, needle per planned level ------------------------------
    def resolve(
        self, facts: Mapping[str, Any], i: int | None, label: str
    ) -> tuple[dict[str, Any], list[str]]:
        """The highest-priority rule that holds decides each slot; if a higher rule is unknown
        and would give another answer, the slot stays undetermined and the unknown is noted."""
        chosen: dict[str, Any] = {}
        fired: list[str] = []
        for slot in _SLOTS:
            values: list[str] = []
            open_rules: list[Rule] = []
            decided_by: Rule | None = None
            for r in self.c.slots[slot]:
                v = r.condition.fn(facts)
                if v is False:
                    continue
                val = getattr(r.then, slot)
                if val not in values:
                    values.append(val)
                if v is True:
                    decided_by = r
                    break
                open_rules.append(r)
            if len(values) == 1 and decided_by is not None:
                chosen[slot] = values[0]
                if decided_by.id not in fired:
                    fired.append(decided_by.id)
                    self._finding(decided_by, slot, label, **{slot: values[0]})
                continue
            chosen[slot] = None
            for r in open_rules:
                if i is not None:
                    paths = self.unknown_paths(r, i)
                else:
                    paths = [
                        f"{label} ({fact}, offered level not in the input)"
                        for fact in r.condition.unknown_fields(facts)
                    ]
                self.unknowns.add(paths, r, f"{slot} at {label}", label)
        return chosen, fired

    # -- phase 5: the output ------------------------------------------------------------------
    def output(self, max_levels: int) -> dict[str, Any]:
        c = self.c
        out_levels: list[dict[str, Any]] = []
        planned: list[str] = []
        techniques: set[str | None] = set()
        for k, lf in enumerate(self.levels):
            name, treated = self.names[k], self.treated[k]
            entry: dict[str, Any] = {
                "level": name,
                "position": k,  # where the level is in the input (levels[k] in missing/notes)
                "role": {True: "index", False: "impending", None: None}[self.inp.levels[k].index],
                "treat": treated,
                "offer": self.offers.get(k),
            }
            in_plan = treated is not False or k in self.offers
            slots, fired = (
                self.resolve(lf.facts, k, name) if in_plan else (dict.fromkeys(_SLOTS), [])
            )
            if in_plan:
                techniques.add(slots["technique"])
                planned.append(name)
            entry.update(slots)
            entry.update(
                {
                    "sins": sins_summary(lf),
                    "genant_grade": lf.genant,
                    "height_loss_pct": lf.height_loss,
                    "flags": self.flags[k],
                    "rules": self.level_rules[k] + fired,
                }
            )
            out_levels.append(entry)
        for lf, name in self.intervening_levels():
            lf.facts["level.needs_workup"] = True
            slots, fired = self.resolve(lf.facts, None, name)
            techniques.add(slots["technique"])
            planned.append(name)
            # An offered vertebra gets the flags and actions of a listed one (an offered T1 is
            # as high a level as a listed T1); nothing is known about it beyond its name, so
            # only rules that hold already apply, e.g. the imaging it needs.
            flags: list[str] = []
            rules = [self.intervening[0].id] if self.intervening else []
            for r in c.plan_level:
                t = r.then
                if t.offer or r.condition.fn(lf.facts) is not True:
                    continue
                if t.flag and t.flag not in flags:
                    flags.append(t.flag)
                    self._finding(r, "flag", name, flag=t.flag)
                if t.action and (t.action not in c.rb.procedure_actions or self.possible):
                    self._add_action(r, name)
                rules.append(r.id)
            entry = {
                "level": name,
                "position": None,
                "role": "intervening",
                "treat": False,
                "offer": "intervening",
            }
            entry.update(slots)
            entry.update(
                {
                    "sins": None,
                    "genant_grade": None,
                    "height_loss_pct": None,
                    "flags": flags,
                    "rules": rules + fired,
                }
            )
            out_levels.append(entry)
        out_levels.sort(key=lambda e: vertebra_index(e["level"]))

        required = sorted(
            (self.names[k] for k, t in enumerate(self.treated) if t is not False),
            key=vertebra_index,
        )
        optional = sorted(set(planned) - set(required), key=vertebra_index)
        sessions, without_room = _sessions(required, optional, max_levels)
        actions = sorted(self.actions.values(), key=lambda a: c.action_order[a["code"]])
        for a in actions:
            if a["levels"]:
                a["levels"].sort(key=vertebra_index)
            else:
                del a["levels"]
        items = self.unknowns.items
        missing = [
            {k: v for k, v in e.items() if k != "affects"}
            for p, e in items.items()
            if p in self.missing_paths
        ]
        if "levels" in self.missing_paths:
            missing.append(
                {
                    "field": "levels",
                    "why": "at least one fractured level must be described",
                    "rules": [],
                }
            )
        notes = [e for p, e in items.items() if p not in self.missing_paths]

        outcomes: dict[str, Any] = {}
        evidence: list[dict[str, Any]] = []
        if self.possible and any(t is not False for t in self.treated):
            both = {"kyphoplasty", "vertebroplasty"}
            # undetermined or individually planned levels: show both techniques' outcomes
            wanted = both if techniques - both else techniques
            outcomes = {
                t: c.outcomes.by_technique[t]
                for t in ("kyphoplasty", "vertebroplasty")
                if t in wanted
            }
            evidence = [e for e in c.outcomes.evidence if wanted & set(e["techniques"])]

        return {
            "disposition": self.disposition,
            "readings": self.readings(),
            "guideline": self.profile,
            "guidelines": self.verdicts,
            "levels": out_levels,
            "sessions": sessions,
            "offers_without_session": without_room,
            "actions": actions,
            "findings": self.findings,
            "missing": missing,
            "notes": notes,
            "flags": self.patient_flags,
            "performance_status": performance_status(self.inp),
            # issue 14, additive: NOMS and the prognostic scores; no rule reads it
            "noms": noms_section(self.inp, out_levels, c.rb, self.pf),
            "expected_outcomes": outcomes,
            "evidence": evidence,
            "rulebook_version": c.rb.version,
            "engine_version": ENGINE_VERSION,
            "notice": NOTICE,
        }

    def readings(self) -> list[dict[str, str]]:
        """The reading choices the disposition rests on: rules read differently from their
        source's words (docs/rulebook.md) whose findings decide this answer."""
        deciding = {
            "contraindicated": {"contraindicated"},
            "refer_surgery": {"refer_surgery"},
            "candidate": {"indicates"},
            "not_indicated": {"not_met", "exclude_level"},
            "incomplete": set(),
        }[self.disposition]
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        for f in self.findings:
            if f["effect"] in deciding and "reading" in f and f["rule"] not in seen:
                seen.add(f["rule"])
                out.append({"rule": f["rule"], "source": f["source"], "reading": f["reading"]})
        if self.disposition == "incomplete":
            # the unknowns that block the answer, read through a choice
            rb = self.c.rb
            for m in self.unknowns.items.values():
                if m["field"] not in self.missing_paths:
                    continue
                for rid in m["rules"]:
                    r = rb.rule(rid)
                    if r.reading and rid not in seen:
                        seen.add(rid)
                        out.append({"rule": rid, "source": r.source.id, "reading": r.reading})
        return out

    def run(self, max_levels: int) -> dict[str, Any]:
        self.decide()
        self.explain()
        self.plan()
        return self.output(max_levels)


def _sessions(
    required: list[str], optional: list[str], size: int
) -> tuple[list[list[str]], list[str]]:
    """Sessions for the required levels first, in spinal order, ``size`` a session; an optional
    (offered) level joins a session only where there is room, never adds one or splits the
    required levels (JNCCN-2012: 3, some 4, levels a session). Returns the sessions and the
    optional levels left without room."""
    sessions = [required[j : j + size] for j in range(0, len(required), size)]
    spans = [(vertebra_index(s[0]), vertebra_index(s[-1])) for s in sessions]
    # Greedy, closest first: a level inside a session's span (intervening) before one outside,
    # then by distance to the session's nearest level, then from the skull down.
    pairs = sorted(
        (
            not (lo < vertebra_index(name) < hi),
            min(abs(vertebra_index(name) - vertebra_index(x)) for x in sessions[j]),
            vertebra_index(name),
            j,
            name,
        )
        for name in optional
        for j, (lo, hi) in enumerate(spans)
    )
    placed: set[str] = set()
    for *_, j, name in pairs:
        if name not in placed and len(sessions[j]) < size:
            sessions[j].append(name)
            placed.add(name)
    for s in sessions:
        s.sort(key=vertebra_index)
    return sessions, [x for x in optional if x not in placed]


def assess(
    patient: Mapping[str, Any] | AssessmentInput,
    *,
    guideline: str | None = None,
    max_levels_per_session: int | None = None,
    rulebook: Rulebook | None = None,
) -> dict[str, Any]:
    """Assess one patient with a cancer-related vertebral compression fracture.

    Parameters
    ----------
    patient
        The input of DESIGN.md section 3, as a mapping (parsed JSON) or a validated
        :class:`AssessmentInput`. Absent or ``null`` fields are unknown, never "no".
    guideline
        The profile whose indication sets the primary disposition: ``jnccn2012`` (default),
        ``nice2008`` or ``snis2014``. Every profile's verdict is reported in ``guidelines``.
    max_levels_per_session
        Levels per session; default from the rulebook (3, JNCCN-2012).
    rulebook
        A rulebook other than the bundled one (for review and testing).

    Returns
    -------
    dict
        JSON-ready output of DESIGN.md section 3. Treat it as read-only: the expected-outcome
        tables inside are shared between assessments.

    Raises
    ------
    vertebro.errors.InvalidInput
        For input that is not valid; the message names each field and why.
    """
    inp = validate_input(patient)
    c = _compile(rulebook or default_rulebook())
    profile = guideline or c.rb.default_profile
    if profile not in c.rb.profiles:
        raise InvalidInput.field(
            "guideline", f"{profile!r} is not a guideline profile ({', '.join(c.rb.profiles)})"
        )
    max_levels = c.max_levels if max_levels_per_session is None else max_levels_per_session
    if isinstance(max_levels, bool) or not isinstance(max_levels, int) or max_levels < 1:
        raise InvalidInput.field(
            "max_levels_per_session", f"{max_levels!r} is not a positive whole number"
        )
    return _Run(c, inp, profile).run(max_levels)

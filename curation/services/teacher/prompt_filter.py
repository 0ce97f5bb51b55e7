"""Which prompts a generation job answers: the prompt filter, validated and applied.

    {"scope": "all" | "missing",          # missing: prompts without samples from this teacher
     "source": "imported",                # Prompt.source
     "metadata_key": "lang", "metadata_value": "en",   # value optional: the key must exist
     "ids": [1, 2, 3],                    # only these prompts
     "limit": 500}                        # the first N matches, by id

Gold prompts are never answered into the pool: they are for evaluation only.

A job answers the filter *as of its launch*: ``freeze`` records the highest matching
prompt id and the launch time, and ``frozen_prompts`` re-applies the filter within
those bounds ("missing" counts only samples that existed at launch). So a job that
resumes after a crash sees the same prompts, its own samples never turn a prompt into
"already answered", and prompts imported later wait for the next job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KeyTransform

from curation.models import GoldItem, Prompt, TeacherSample
from curation.services.errors import Invalid
from curation.services.inputs import MAX_ID, load_json, parse_id, parse_number

# Missing first: the launch page's default, so a second run does not answer the answered prompts again.
SCOPES = {
    "missing": "Prompts without an answer from this teacher",
    "all": "All prompts (answered ones are answered again)",
}
MAX_IDS = 100_000
MAX_LIMIT = 10_000_000
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\- ]{1,100}$")
_ID_OR_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
FIELDS = ("scope", "source", "metadata_key", "metadata_value", "ids", "limit")


@dataclass
class PromptFilter:
    scope: str = "all"
    source: str = ""
    metadata_key: str = ""
    metadata_value: str = ""
    ids: tuple[int, ...] = ()
    limit: int | None = None

    def as_dict(self) -> dict:
        out = {"scope": self.scope}
        if self.source:
            out["source"] = self.source
        if self.metadata_key:
            out["metadata_key"] = self.metadata_key
            if self.metadata_value != "":
                out["metadata_value"] = self.metadata_value
        if self.ids:
            out["ids"] = list(self.ids)
        if self.limit:
            out["limit"] = self.limit
        return out

    def describe(self) -> str:
        parts = [SCOPES[self.scope].lower()]
        if self.source:
            parts.append(f"source {self.source}")
        if self.metadata_key:
            parts.append(
                f"metadata {self.metadata_key}"
                + (f" = {self.metadata_value}" if self.metadata_value != "" else " present")
            )
        if self.ids:
            parts.append(f"{len(self.ids)} chosen id{'s' if len(self.ids) != 1 else ''}")
        if self.limit:
            parts.append(f"first {self.limit}")
        return ", ".join(parts)


def parse_ids(value) -> list[int]:
    """Ids from a list, or from text like "4, 8 15-17" (ranges inclusive); ValueError saying what is wrong."""
    if value in (None, "", []):
        return []
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) and parse_id(v) for v in value):
            raise ValueError(f"give prompt ids as whole numbers from 1 to {MAX_ID}")
        return list(dict.fromkeys(value))
    if not isinstance(value, str):
        raise ValueError("give prompt ids as a list of numbers or text like '4, 8, 15-17'")
    out: list[int] = []
    for token in re.split(r"[\s,;]+", value.strip()):
        if not token:
            continue
        m = _ID_OR_RANGE.fullmatch(token)
        lo, hi = (parse_id(m.group(1)), parse_id(m.group(2) or m.group(1))) if m else (None, None)
        if lo is None or hi is None:
            raise ValueError(f"{token!r} is not a prompt id or a range like 15-17")
        if hi < lo or hi - lo >= MAX_IDS:
            raise ValueError(f"range {token!r} is backwards or too long")
        out.extend(range(lo, hi + 1))
        if len(out) > MAX_IDS:
            break
    return list(dict.fromkeys(out))


def id_ranges(ids) -> str:
    """The inverse of ``parse_ids``: sorted ids as text with runs folded ("4, 8, 15-17")."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(ids)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out)


def parse_filter(data: dict | None, project) -> PromptFilter:
    """A validated ``PromptFilter``; ``Invalid`` names every bad field."""
    data = dict(data or {})
    errors = Invalid()
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        errors.add("prompt_filter", f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    scope = data.get("scope") or "all"
    if scope not in SCOPES:
        errors.add("scope", f"choose 'all' or 'missing', not {scope!r}")
    source = data.get("source") or ""
    if source and source not in Prompt.Source.values:
        errors.add("source", f"unknown source {source!r}; choose one of {', '.join(Prompt.Source.values)}")
    key = str(data.get("metadata_key") or "").strip()
    value = data.get("metadata_value")
    value = "" if value is None else value
    if not isinstance(value, (str, int, float, bool)):
        errors.add("metadata_value", "must be text, a number or true/false")
    if key and not _KEY_RE.match(key):
        errors.add("metadata_key", "use letters, digits, spaces, '_', '.' or '-' (at most 100 characters)")
    elif value != "" and not key:
        errors.add("metadata_key", "name the metadata key the value belongs to")
    try:
        ids = parse_ids(data.get("ids"))
        if len(ids) > MAX_IDS:
            errors.add("ids", f"at most {MAX_IDS:,} ids; use another filter for more")
        elif ids:
            known = set(Prompt.objects.filter(project=project, id__in=ids).values_list("id", flat=True))
            missing = [i for i in ids if i not in known]
            if missing:
                shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
                errors.add(
                    "ids",
                    f"{len(missing)} {'ids are not prompts' if len(missing) != 1 else 'id is not a prompt'} "
                    f"of this project: {shown}",
                )
    except ValueError as exc:
        ids = []
        errors.add("ids", str(exc))
    limit = parse_number(data.get("limit"), "limit", errors, kind=int, minimum=1, maximum=MAX_LIMIT, label="")
    errors.raise_if_any()
    return PromptFilter(scope, source, key, value if not isinstance(value, str) else value.strip(), tuple(ids), limit)


def _metadata_q(queryset, key: str, value):
    if value == "":
        return queryset.filter(metadata__has_key=key)
    # A KeyTransform annotation, not a "metadata__<key>" lookup: a key named like a lookup
    # ("contains") must still mean the key. Text matches text; "true" or "3" also match
    # the JSON values true and 3.
    qs = queryset.annotate(_meta_value=KeyTransform(key, "metadata"))
    cond = Q(_meta_value=value)
    if isinstance(value, str):
        try:
            typed = load_json(value, limit=0)
        except ValueError:
            typed = None
        if isinstance(typed, (bool, int, float)):
            cond |= Q(_meta_value=typed)
    return qs.filter(cond)


def matching_prompts(project, pf: PromptFilter, teacher_spec_id: int | None, *, as_of=None, max_id=None):
    """Prompts matching ``pf`` (ordered by id, without the limit applied)."""
    qs = Prompt.objects.filter(project=project)
    gold = GoldItem.objects.filter(project=project).values("content_hash")
    qs = qs.exclude(content_hash__in=gold)
    if max_id is not None:
        qs = qs.filter(id__lte=max_id)
    if pf.source:
        qs = qs.filter(source=pf.source)
    if pf.ids:
        qs = qs.filter(id__in=pf.ids)
    if pf.metadata_key:
        qs = _metadata_q(qs, pf.metadata_key, pf.metadata_value)
    if pf.scope == "missing":
        answered = TeacherSample.objects.filter(
            prompt=OuterRef("pk"),
            model_spec_id=teacher_spec_id,
            scored=False,
            error="",
        )
        if as_of is not None:
            answered = answered.filter(created_at__lt=as_of)
        qs = qs.filter(~Exists(answered))
    return qs.order_by("id")


def count_matching(project, pf: PromptFilter, teacher_spec_id: int | None) -> int:
    n = matching_prompts(project, pf, teacher_spec_id).count()
    return min(n, pf.limit) if pf.limit else n


def freeze(project, pf: PromptFilter, teacher_spec_id: int | None) -> dict:
    """What a job records at launch so every run of it sees the same prompts."""
    ids = matching_prompts(project, pf, teacher_spec_id).values_list("id", flat=True)
    last = None
    if pf.limit:
        last = next(iter(ids[pf.limit - 1 : pf.limit]), None)
    if last is None:
        last = ids.last()
    return {"max_prompt_id": last, "count": count_matching(project, pf, teacher_spec_id)}


def frozen_prompts(job, pf: PromptFilter):
    """The prompts of ``job`` (launched with ``pf``), the same on every run of it."""
    frozen = job.params.get("frozen") or {}
    max_id = frozen.get("max_prompt_id")
    if max_id is None:
        return Prompt.objects.none()
    teacher_id = (job.params.get("teacher") or {}).get("spec_id")
    return matching_prompts(job.project, pf, teacher_id, as_of=job.created_at, max_id=max_id)


def filter_of(job) -> PromptFilter:
    d = dict(job.params.get("prompt_filter") or {})
    d["ids"] = tuple(d.get("ids") or ())
    return PromptFilter(**d)

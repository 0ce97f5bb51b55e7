"""docs/architecture.md stays true: its "Where does X live" table names modules that exist
and the names they define."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"


def where_table() -> list[tuple[str, list[str], list[str]]]:
    """(what, module paths, names) of each row of the "Where does X live" table."""
    text = DOC.read_text()
    section = text.split("## Where does X live", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 3 or cells[0] in ("What", "---"):
            continue
        rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def defines(source: str, name: str) -> bool:
    """Whether a module's source defines ``name`` at its top level (def, class or assignment)."""
    return bool(re.search(rf"^(?:def|class) {re.escape(name)}\b|^{re.escape(name)}\s*[:=]", source, re.M))


def test_the_where_table_names_modules_that_exist_and_define_its_names():
    rows = where_table()
    assert len(rows) >= 20, "the table went missing or lost its shape"
    problems = []
    for what, paths, names in rows:
        if not paths:
            problems.append(f"{what}: no module")
        for path in paths:
            if not (ROOT / path.rstrip("/")).exists():
                problems.append(f"{what}: {path} does not exist")
        sources = "\n".join((ROOT / p).read_text() for p in paths if p.endswith(".py") and (ROOT / p).is_file())
        for name in names:
            if not defines(sources, name):
                problems.append(f"{what}: {name} is not defined in {', '.join(paths)}")
    assert not problems, "\n".join(problems)


def test_the_table_covers_the_rules_the_issue_asked_for():
    covered = " ".join(what.lower() for what, _, _ in where_table())
    for topic in (
        "permissions",
        "gold guard",
        "gold visibility",
        "status transitions",
        "job lifecycle",
        "kd loss",
        "evaluation",
        "review.apply",
        "error type",
        "number",
        "top-k",
        "gate metrics",
        "queue routing",
        "htmx",
        "read models",
    ):
        assert topic in covered, topic


def test_every_python_path_the_document_names_exists():
    """Module paths in backticks (``curation/...py``, ``workers/...``) must exist."""
    text = DOC.read_text()
    missing = [
        path
        for path in set(re.findall(r"`((?:curation|workers|webapp|bench|tests|templates|static)/[^`\s]+)`", text))
        if "<" not in path and not _exists(path.split("#")[0].rstrip("/"))
    ]
    assert not missing, sorted(missing)


def _exists(path: str) -> bool:
    """A path, or a module path naming one of its objects (``curation/api/parsers.GateJSONParser``)."""
    module = path.rsplit(".", 1)[0] + ".py" if "." in path.rsplit("/", 1)[-1] else path
    return (ROOT / path).exists() or (ROOT / module).exists()

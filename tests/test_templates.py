"""Templates stay readable: no line longer than ``MAX_LINE`` characters."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINE = 160


def test_no_template_line_is_longer_than_the_limit():
    long_lines = [
        f"{path.relative_to(ROOT)}:{number} ({len(line)} characters)"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if len(line) > MAX_LINE
    ]
    assert not long_lines, f"{len(long_lines)} template lines over {MAX_LINE} characters:\n" + "\n".join(long_lines)

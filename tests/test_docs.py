"""The documentation stays true: its links lead somewhere and its settings are the real ones."""

import re
from pathlib import Path

from app.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)
SETTING = re.compile(r"\bMUSTER_[A-Z0-9_]+\b")
# Read by the test suite, not by Muster: documented with the settings, but not settings.
TEST_ONLY = re.compile(r"MUSTER_TEST_[A-Z_]+")


def _prose(text: str) -> str:
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(h) for h in HEADING.findall(FENCE.sub("", path.read_text()))}


def test_every_relative_link_in_the_docs_reaches_a_file_and_heading():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(_prose(doc.read_text())):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            name, _, fragment = target.partition("#")
            path = (doc.parent / name).resolve() if name else doc
            where = f"{doc.relative_to(REPO)} → {target}"
            if not path.exists():
                broken.append(f"{where}: no such file")
            elif fragment and path.is_dir():
                broken.append(f"{where}: an anchor into a folder")
            elif fragment and fragment not in _anchors(path):
                broken.append(f"{where}: no heading with that anchor")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n\n## The `muster` command\n")
    assert _anchors(tmp_path / "a.md") == {"top", "the-muster-command"}
    prose = _prose("see [x](a.md#top) and `[not](a link)`\n```\n[nor](this.md)\n```\n")
    assert LINK.findall(prose) == ["a.md#top"]


def test_configuration_lists_every_setting_and_no_other():
    documented = set(SETTING.findall((REPO / "docs" / "configuration.md").read_text()))
    real = {f"MUSTER_{name.upper()}" for name in Settings.model_fields}
    assert real - documented == set(), "settings missing from docs/configuration.md"
    mentioned = {name for doc in DOCS for name in SETTING.findall(doc.read_text())}
    stale = {name for name in mentioned - real if not TEST_ONLY.fullmatch(name)}
    assert stale == set(), "the docs name settings that do not exist"

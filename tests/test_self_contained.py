"""A user's clone is the whole project: nothing in it may read a folder beside the checkout."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where the team collects public payloads, beside the checkout: a clone has no such folder.
OUTSIDE = re.compile(r"\.\./shared|\bshared/fixtures\b")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [REPO / name for name in listed if (REPO / name).is_file()]


def test_no_file_in_the_repository_reaches_outside_it():
    offenders = []
    for path in _tracked_text_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "files that read outside the repository:\n" + "\n".join(offenders)


def test_the_sender_fixtures_are_vendored_with_their_provenance():
    fixtures = REPO / "tests" / "fixtures"
    readme = (fixtures / "README.md").read_text()
    payloads = sorted(p.relative_to(fixtures).as_posix() for p in fixtures.rglob("*.json"))
    assert payloads, "tests/fixtures holds the real payloads"
    for payload in payloads:
        assert Path(payload).name in readme, f"{payload} has no provenance in the README"

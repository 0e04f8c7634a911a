"""A user's clone is the whole project: nothing in it reads a folder beside the checkout,
and what it installs is locked."""

import re
import subprocess
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


# --- the lock: what `make run`, `make test` and the Dockerfile install --------------------

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(?:\\|$)")


def _pins(lock: str) -> dict[str, str]:
    """`name==version` of every requirement in a pip-compile lock, each checked for hashes."""
    pins: dict[str, str] = {}
    blocks = re.split(r"\n(?=[A-Za-z0-9])", (REPO / lock).read_text())
    for block in blocks:
        match = PIN.match(block)
        if match is None:
            continue
        name, version = canonicalize_name(match[1]), match[2]
        assert "--hash=sha256:" in block, f"{lock}: {name} has no hash"
        pins[name] = version
    assert pins, f"{lock} pins nothing"
    return pins


def _declared() -> dict[str, list[Requirement]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    build = [Requirement(r) for r in pyproject["build-system"]["requires"]]
    runtime = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    dev = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["dev"]]
    return {"requirements.txt": build + runtime, "requirements-dev.txt": build + runtime + dev}


def test_the_locks_pin_every_declared_dependency_within_its_range():
    """Fails when pyproject.toml gains or tightens a dependency that `make lock` did not
    re-resolve."""
    for lock, requirements in _declared().items():
        pins = _pins(lock)
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement} is not in {lock}: run `make lock`"
            assert requirement.specifier.contains(pins[name], prereleases=True), (
                f"{lock} pins {name}=={pins[name]}, outside {requirement}: run `make lock`"
            )


def test_the_development_lock_keeps_the_runtime_pins():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_the_locks_name_no_download_location():
    for lock in ("requirements.txt", "requirements-dev.txt"):
        text = (REPO / lock).read_text()
        assert not re.search(r"^\s*--(extra-)?index-url|^\s*--find-links|://", text, re.M), lock

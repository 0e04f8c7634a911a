"""Operator files in YAML or JSON (checklist template, contributing-factor categories)."""

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


def read_structured(path: Path) -> Any:
    """The file's data: JSON when it is named `.json`, YAML (a superset) otherwise.

    Raises OSError, ValueError or yaml.YAMLError."""
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def duplicated(keys: Iterable[str]) -> str | None:
    """`duplicate keys: a, b` when a key repeats, None otherwise (for a validator)."""
    repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
    return f"duplicate keys: {', '.join(repeated)}" if repeated else None

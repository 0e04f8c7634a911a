"""The layer contract covers the whole application: a module it does not name would be
free to import anything, so every module under app/ must fall under one of its layers."""

import configparser
import pkgutil
from pathlib import Path

import app

REPO = Path(__file__).resolve().parents[1]


def _layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    layers = config["importlinter:contract:layers"]["layers"]
    return [
        name.strip()
        for line in layers.splitlines()
        for name in line.replace("|", ":").split(":")
        if name.strip()
    ]


def test_every_module_of_the_app_sits_in_a_layer():
    named = set(_layers())
    modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.") if not m.ispkg]
    assert modules
    unplaced = [
        module
        for module in modules
        if not any(module == n or module.startswith(f"{n}.") for n in named)
    ]
    assert not unplaced, f"modules outside the layer contract (.importlinter): {unplaced}"

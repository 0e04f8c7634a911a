"""Build hook: a wheel carries the Alembic migration environment inside the package.

The migration scripts live in the top-level `alembic/` directory, where
`alembic revision` writes them and where reviewers expect them. An installed
wheel has no source tree, so `build_py` copies that directory into the built
package as `app/_alembic/`; `app.core.migrations` looks there first. Editable
installs skip the copy and read `alembic/` from the checkout.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "alembic"


class BuildPyWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "app" / "_alembic"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))


setup(cmdclass={"build_py": BuildPyWithMigrations})

"""The production image: the Dockerfile and the wheel it builds (the chart: test_helm.py).

No container engine runs here, so the Dockerfile is checked by parsing it (hadolint
lints it in `make lint`) and by replaying its build stage: a wheel built from exactly
what the Dockerfile copies is installed into an empty virtualenv, which then migrates
and serves, and the image's HEALTHCHECK command is run against it.
"""

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import dockerfile
import httpx

from tests.processes import launch

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "muster"


# --- Dockerfile ----------------------------------------------------------------------------


def _stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(REPO / "Dockerfile")):
        if command.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def _all(stage: list[dockerfile.Command], instruction: str) -> list[dockerfile.Command]:
    return [command for command in stage if command.cmd == instruction]


def _env(stage: list[dockerfile.Command]) -> dict[str, str]:
    values: dict[str, str] = {}
    for command in _all(stage, "ENV"):
        pairs = command.value
        values.update(zip(pairs[::2], pairs[1::2], strict=True))
    return values


def test_the_image_is_built_in_two_stages_and_runs_as_a_non_root_user():
    stages = _stages()
    assert len(stages) >= 2, "multi-stage: build wheels, then a runtime with the wheels only"
    build, runtime = stages[0], stages[-1]
    wheels = [run.value[0] for run in _all(build, "RUN") if "pip wheel" in run.value[0]]
    assert "--require-hashes" in wheels[0], "the dependencies are the hash-locked ones"
    assert "requirements.txt" in wheels[0]
    assert "--no-index" in wheels[-1], "Muster's wheel is built from the locked wheels only"

    users = _all(runtime, "USER")
    assert users, "the final stage sets USER"
    user = users[-1].value[0].split(":")[0]
    assert user.isdigit(), "a numeric UID, so Kubernetes can check runAsNonRoot"
    assert int(user) >= 10000

    runs = " ".join(run.value[0] for run in _all(runtime, "RUN"))
    for tool in ("build-essential", "gcc", "g++", "apt-get install", "python3-dev"):
        assert tool not in runs, f"{tool} in the final stage"
    installs = [run for run in _all(runtime, "RUN") if "pip install" in run.value[0]]
    assert len(installs) == 1
    assert "--no-index" in installs[0].value[0], "the runtime installs the built wheels only"
    assert any("from=build" in flag for flag in installs[0].flags)
    assert not [c for c in _all(runtime, "COPY") if not any("--from" in f for f in c.flags)], (
        "no source from the build context reaches the runtime stage"
    )

    env = _env(runtime)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["MUSTER_HOST"] == "0.0.0.0"
    assert _all(runtime, "EXPOSE")[0].value == (env["MUSTER_PORT"],) == ("8000",)
    assert _all(runtime, "ENTRYPOINT")[-1].value == ("muster",)
    assert _all(runtime, "CMD")[-1].value == ("serve",)
    assert "MUSTER_WORKERS" in env
    assert _base_image(runtime).startswith("python:3.11-slim")


def _base_image(stage: list[dockerfile.Command]) -> str:
    """The stage's FROM image with the global ARG defaults filled in."""
    arguments = {}
    for command in dockerfile.parse_file(str(REPO / "Dockerfile")):
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG" and "=" in command.value[0]:
            name, _, default = command.value[0].partition("=")
            arguments[name] = default
    return re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], stage[0].value[0])


def _healthcheck() -> list[str]:
    """The HEALTHCHECK's command, in exec form (no shell needed to run it)."""
    (check,) = _all(_stages()[-1], "HEALTHCHECK")
    assert check.json, "exec form"
    assert check.value[0] == "CMD"
    return [str(part) for part in check.value[1:]]


def test_the_healthcheck_asks_healthz_with_python():
    command = _healthcheck()
    assert command[:2] == ["python", "-c"]
    assert "/healthz" in command[2]
    assert "curl" not in command
    assert "wget" not in command


def _dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    """Roughly Docker's rule: a pattern matches the path or one of its parents."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.lstrip("/")
        if pattern.startswith("**/"):
            tails = ["/".join(parts[i:]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(tail, pattern[3:]) for tail in tails):
                return True
        elif any(fnmatch.fnmatch(candidate, pattern) for candidate in candidates):
            return True
    return False


def test_dockerignore_keeps_local_state_out_and_everything_copied_in():
    patterns = _dockerignore()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "muster.db",
        "data/muster.db",
        ".env",
        "app/__pycache__/main.cpython-311.pyc",
        ".pytest_cache/v",
        ".mypy_cache/x",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the builder"
    for command in _all(_stages()[0], "COPY"):
        for source in command.value[:-1]:
            assert (REPO / source).exists(), source
            assert not _ignored(source, patterns), f"{source} is copied but ignored"


def _replay_build_stage(context: Path) -> None:
    """Lay out the build stage's WORKDIR as its COPY instructions would."""
    patterns = _dockerignore()
    for command in _all(_stages()[0], "COPY"):
        *sources, target = command.value
        for source in sources:
            origin = REPO / source
            destination = (
                context / target / Path(source).name if target.endswith("/") else context / target
            )
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    destination,
                    ignore=lambda folder, names: [
                        n
                        for n in names
                        if _ignored(str((Path(folder) / n).relative_to(REPO)), patterns)
                    ],
                )
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)


def _run(*args: object, **options: Any) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, **options)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def test_the_wheel_built_like_the_image_migrates_and_serves_without_the_source_tree(tmp_path):
    context, wheels, venv, run_dir = (tmp_path / d for d in ("context", "wheels", "venv", "run"))
    _replay_build_stage(context)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", wheels, context)
    (wheel,) = wheels.glob("muster-*.whl")

    # An empty virtualenv; the dependencies come from this one's site-packages, but not
    # the editable install of the checkout (a .pth in a .pth-added folder is not read).
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (purelib / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        venv / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        wheel,
    )
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_")} | {
        "MUSTER_DATABASE_URL": f"sqlite+aiosqlite:///{run_dir}/muster.db",
    }

    where = _run(
        venv / "bin" / "python",
        "-c",
        "import app.core.migrations as m; print(m.__file__); print(m.script_location())",
        cwd=run_dir,
        env=env,
    ).split()
    assert where[0].startswith(str(purelib)), "the installed package, not the checkout"
    bundled = Path(where[1])
    assert bundled == purelib / "app" / "_alembic"
    assert sorted(p.name for p in (bundled / "versions").glob("*.py")) == sorted(
        p.name for p in (REPO / "alembic" / "versions").glob("*.py")
    )
    assert "upgraded to head" in _run(venv / "bin" / "muster", "migrate", cwd=run_dir, env=env)

    server = launch(
        env | {"MUSTER_AUTO_MIGRATE": "false"}, run_dir, command=venv / "bin" / "muster"
    )
    # The image's HEALTHCHECK, as Docker runs it, with the image's python.
    check_env = env | {
        "MUSTER_PORT": str(server.port),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
    }
    try:
        server.wait_until_up()
        ready = httpx.get(f"{server.base}/readyz")
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{server.base}/docs/assets/swagger-ui-bundle.js").status_code == 200
        _run(*_healthcheck(), env=check_env)
    finally:
        server.stop()
    down = subprocess.run(_healthcheck(), env=check_env, capture_output=True)
    assert down.returncode != 0

"""The production packaging: the Dockerfile, the wheel it builds, and the Helm chart.

No container engine runs here, so the Dockerfile is checked by parsing it and by
replaying its build stage: a wheel built from exactly what the Dockerfile copies is
installed into an empty virtualenv, which then migrates and serves, and the image's
HEALTHCHECK command is run against it. The chart's values are checked against its
schema; `helm lint` and `helm template` run where a `helm` binary is on PATH.
"""

import copy
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import httpx
import jsonschema
import pytest
import yaml

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
    assert any("pip wheel" in run.value[0] for run in _all(build, "RUN"))

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


def _healthcheck() -> str:
    (check,) = _all(_stages()[-1], "HEALTHCHECK")
    assert check.value[0] == "CMD"
    return str(check.value[1])


def test_the_healthcheck_asks_healthz_with_python():
    command = _healthcheck()
    assert command.startswith("python ")
    assert "/healthz" in command
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
    # The image's HEALTHCHECK, as Docker runs it (shell form), with the image's python.
    check_env = env | {
        "MUSTER_PORT": str(server.port),
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
    }
    try:
        server.wait_until_up()
        ready = httpx.get(f"{server.base}/readyz")
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{server.base}/docs/assets/swagger-ui-bundle.js").status_code == 200
        _run("/bin/sh", "-c", _healthcheck(), env=check_env)
    finally:
        server.stop()
    down = subprocess.run(["/bin/sh", "-c", _healthcheck()], env=check_env, capture_output=True)
    assert down.returncode != 0


# --- Helm chart ----------------------------------------------------------------------------

TEMPLATES = {
    "_helpers.tpl",
    "deployment.yaml",
    "service.yaml",
    "ingress.yaml",
    "migration-job.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "servicemonitor.yaml",
    "secret.yaml",
    "configmap.yaml",
    "NOTES.txt",
}
POSTGRES_URL = "postgresql+asyncpg://muster:secret@postgres:5432/muster"


def _values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a user's values over the chart's (maps merge, the rest replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _schema_errors(values: dict[str, Any]) -> list[str]:
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(values)
    ]


def test_chart_metadata_follows_the_project():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "muster"
    assert chart["type"] == "application"
    assert chart["appVersion"] == project["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert {p.name for p in (CHART / "templates").iterdir()} == TEMPLATES


def test_the_schema_is_draft_07_and_describes_every_default():
    schema = yaml.safe_load((CHART / "values.schema.json").read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(_values()) <= set(schema["properties"])
    defaults = _values()
    assert defaults["replicaCount"] == 2
    assert defaults["migrations"]["job"] is True
    assert defaults["securityContext"]["readOnlyRootFilesystem"] is True
    assert defaults["podSecurityContext"]["runAsUser"] == 10001


def test_values_validate_once_a_database_is_given():
    assert _schema_errors(_merge(_values(), {"database": {"url": POSTGRES_URL}})) == []
    assert _schema_errors(_merge(_values(), {"existingSecret": "muster-env"})) == []
    ci = yaml.safe_load((CHART / "ci" / "postgres-values.yaml").read_text())
    assert _schema_errors(_merge(_values(), ci)) == []


def test_values_without_a_database_fail_validation():
    errors = _schema_errors(_values())
    assert [error.split(":")[0] for error in errors] == ["database.url"], errors
    without = _values()
    del without["database"]
    assert any("'database' is a required property" in e for e in _schema_errors(without))


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"database": {"url": POSTGRES_URL}, "existingSecret": "muster-env"}, "database.url"),
        ({"database": {"url": "postgresql://muster@postgres/muster"}}, "database.url"),
        ({"database": {"url": POSTGRES_URL}, "replicaCount": "2"}, "replicaCount"),
        ({"database": {"url": POSTGRES_URL}, "config": {"MUSTER_DB_POOL_SIZE": 5}}, "config"),
        ({"database": {"url": POSTGRES_URL}, "config": {"MUSTER_DATABASE_URL": "x"}}, "config"),
        ({"database": {"url": POSTGRES_URL}, "config": {"LOG_LEVEL": "debug"}}, "config"),
        (
            {"database": {"url": POSTGRES_URL}, "secretEnv": {"MUSTER_DATABASE_URL": "x"}},
            "secretEnv",
        ),
        ({"database": {"url": POSTGRES_URL, "driver": "mysql"}}, "database.driver"),
        ({"database": {"url": POSTGRES_URL}, "replicacount": 3}, "replicacount"),
    ],
)
def test_values_that_cannot_work_fail_validation(override, complaint):
    errors = _schema_errors(_merge(_values(), override))
    assert errors, f"{override} passed"
    assert any(complaint in error for error in errors), errors


_OPENERS = re.compile(r"\{\{-?\s*(if|range|with|define|block)\b")
_ENDS = re.compile(r"\{\{-?\s*end\s*-?\}\}")
_VALUES = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _without_comments(text: str) -> str:
    return re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.DOTALL)


def test_templates_are_balanced_and_use_only_values_that_exist():
    """What can be checked without helm: block structure, helper names, value paths."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    defined = set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', helpers))
    defaults = _values()
    for path in sorted((CHART / "templates").iterdir()):
        text = _without_comments(path.read_text())
        assert len(_OPENERS.findall(text)) == len(_ENDS.findall(text)), f"{path.name}: unbalanced"
        assert text.count("{{") == text.count("}}"), path.name
        for name in re.findall(r'include\s+"([^"]+)"', text):
            assert name in defined, f"{path.name} includes undefined {name}"
        for dotted in _VALUES.findall(text):
            node: Any = defaults
            for key in dotted.strip(".").split("."):
                assert isinstance(node, dict), f"{path.name}: .Values{dotted}"
                assert key in node, f"{path.name}: .Values{dotted}"
                node = node[key]


def test_the_chart_renders_with_helm():
    """`helm lint`, `helm template` and the refusals, when a helm binary is available."""
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip(
            "helm is not on PATH (not packaged for this Debian release): the chart was "
            "checked by schema and static template checks only; install helm to render it"
        )
    ci_values = CHART / "ci" / "postgres-values.yaml"
    lint = subprocess.run(
        [helm, "lint", "--strict", CHART, "-f", ci_values], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    def render(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [helm, "template", "muster", CHART, "--namespace", "ops", *args],
            capture_output=True,
            text=True,
        )

    rendered = render("-f", str(ci_values))
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "Job",
            "PodDisruptionBudget",
            "Secret",
            "Secret",
            "Service",
            "ServiceMonitor",
        ]
    )
    by_kind = {d["kind"]: d for d in documents}
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert {"name": "MUSTER_AUTO_MIGRATE", "value": "false"} in container["env"]
    assert "replicas" not in by_kind["Deployment"]["spec"], "the HPA owns the replica count"
    job = by_kind["Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    service_selector = by_kind["Service"]["spec"]["selector"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not service_selector.items() <= job_labels.items(), "the Service would route to the Job"

    import kubernetes_validate

    for document in documents:
        if document["kind"] == "ServiceMonitor":
            assert document["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        for version in ("1.25", kubernetes_validate.latest_version()):
            kubernetes_validate.validate(document, version, strict=True)

    sqlite = "sqlite+aiosqlite:////data/muster.db"
    refused = [
        render("--set", f"database.url={sqlite}"),
        render(
            "--set",
            f"database.url={sqlite}",
            "--set",
            "replicaCount=1",
            "--set",
            "autoscaling.enabled=true",
        ),
        render("--set", "existingSecret=muster-env", "--set", "database.driver=sqlite"),
        render(
            "--set",
            f"database.url={sqlite}",
            "--set",
            "replicaCount=1",
            "--set",
            "config.MUSTER_WORKERS=2",
        ),
    ]
    for result in refused:
        assert result.returncode != 0
        assert "SQLite serves one process only" in result.stderr, result.stderr
    single = render("--set", f"database.url={sqlite}", "--set", "replicaCount=1")
    assert single.returncode == 0, single.stderr
    single_kinds = [d["kind"] for d in yaml.safe_load_all(single.stdout) if d]
    assert "Job" not in single_kinds, "SQLite migrates at start-up"
    assert "PodDisruptionBudget" not in single_kinds
    nothing = render()
    assert nothing.returncode != 0
    assert "database" in nothing.stderr

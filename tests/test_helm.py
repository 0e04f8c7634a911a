"""The Helm chart, rendered by a real helm and validated against Kubernetes' own schemas.

`make test` installs helm into .tools/bin (scripts/install-helm) and names it in
MUSTER_HELM. Each representative set of values is linted, rendered, validated strictly
(an unknown field fails) against the newest Kubernetes release kubernetes-validate
knows, and checked for what an operator relies on.
"""

import copy
import functools
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "helm" / "muster"
CI_VALUES = CHART / "ci" / "postgres-values.yaml"
POSTGRES_URL = "postgresql+asyncpg://muster:secret@postgres:5432/muster"
DATABASE = ("--set", f"database.url={POSTGRES_URL}")
KUBERNETES = kubernetes_validate.latest_version()

VALUE_SETS: dict[str, tuple[str, ...]] = {
    "database-url": DATABASE,
    "existing-secret": ("--set", "existingSecret=muster-env"),
    "autoscaling": (*DATABASE, "--set", "autoscaling.enabled=true"),
    "ingress": (
        *DATABASE,
        "--set",
        "ingress.enabled=true",
        "--set",
        "ingress.tls[0].secretName=muster-tls",
        "--set",
        "ingress.tls[0].hosts[0]=muster.example.com",
    ),
    "service-monitor": (*DATABASE, "--set", "serviceMonitor.enabled=true"),
    "everything-on": ("-f", str(CI_VALUES)),
}
# Custom resources that Kubernetes' schemas do not describe, with the API they belong to.
CUSTOM_RESOURCES = {"ServiceMonitor": "monitoring.coreos.com/v1"}


def _helm() -> str:
    found = os.environ.get("MUSTER_HELM") or shutil.which("helm")
    local = REPO / ".tools" / "bin" / "helm"
    if not found and local.exists():
        found = str(local)
    if not found:
        pytest.fail("helm is needed to check the chart: `make tools` installs it into .tools/bin")
    return found


def _helm_run(*args: str | Path, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    command = [_helm(), *(str(a) for a in args)]
    command = [str(chart) if part == "CHART" else part for part in command]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _template(*args: str, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    return _helm_run("template", "muster", "CHART", "--namespace", "ops", *args, chart=chart)


@functools.cache
def _rendered(value_set: str) -> tuple[dict[str, Any], ...]:
    result = _template(*VALUE_SETS[value_set])
    assert result.returncode == 0, result.stderr
    return tuple(d for d in yaml.safe_load_all(result.stdout) if d)


def _one(documents: tuple[dict[str, Any], ...], kind: str, name: str = "muster") -> dict[str, Any]:
    (found,) = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _kinds(documents: tuple[dict[str, Any], ...]) -> list[str]:
    return sorted(d["kind"] for d in documents)


# --- rendered by helm ----------------------------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_passes_strictly(value_set):
    lint = _helm_run("lint", "--strict", "CHART", *VALUE_SETS[value_set])
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 chart(s) failed" in lint.stdout


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_manifest_is_valid_kubernetes(value_set):
    for document in _rendered(value_set):
        kind = document["kind"]
        if kind in CUSTOM_RESOURCES:
            assert document["apiVersion"] == CUSTOM_RESOURCES[kind]
            continue
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_pods_run_as_an_operator_expects(value_set):
    documents = _rendered(value_set)
    deployment = _one(documents, "Deployment")
    job = _one(documents, "Job", "muster-migrate")
    for workload in (deployment, job):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]["memory"]
            assert container["resources"]["requests"]["cpu"]
            assert container["resources"]["limits"]["memory"]

    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert {"name": "MUSTER_AUTO_MIGRATE", "value": "false"} in container["env"]

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_selectors_pick_the_api_pods_and_only_them(value_set):
    documents = _rendered(value_set)
    deployment = _one(documents, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    job_labels = _one(documents, "Job", "muster-migrate")["spec"]["template"]["metadata"]["labels"]

    service = _one(documents, "Service")["spec"]["selector"]
    assert service.items() <= pod_labels.items()
    assert not service.items() <= job_labels.items(), "the Service would route to the Job"
    pdb = _one(documents, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"]
    assert pdb == selector
    for document in documents:
        if document["kind"] == "HorizontalPodAutoscaler":
            target = document["spec"]["scaleTargetRef"]
            assert (target["kind"], target["name"]) == ("Deployment", "muster")
            assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        if document["kind"] == "ServiceMonitor":
            service_labels = _one(documents, "Service")["metadata"]["labels"]
            assert document["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
            assert document["spec"]["endpoints"][0]["path"] == "/metrics"


def test_each_option_renders_what_it_turns_on():
    base = _kinds(_rendered("database-url"))
    assert base == sorted(
        ["ConfigMap", "Deployment", "Job", "PodDisruptionBudget", "Secret", "Secret", "Service"]
    )
    assert _one(_rendered("database-url"), "Deployment")["spec"]["replicas"] == 2
    assert _kinds(_rendered("autoscaling")) == sorted([*base, "HorizontalPodAutoscaler"])
    assert _kinds(_rendered("ingress")) == sorted([*base, "Ingress"])
    tls = _one(_rendered("ingress"), "Ingress")["spec"]["tls"]
    assert tls == [{"secretName": "muster-tls", "hosts": ["muster.example.com"]}]
    assert _kinds(_rendered("service-monitor")) == sorted([*base, "ServiceMonitor"])


def test_no_secret_is_rendered_when_an_existing_one_is_named():
    documents = _rendered("existing-secret")
    assert "Secret" not in _kinds(documents)
    for workload in (_one(documents, "Deployment"), _one(documents, "Job", "muster-migrate")):
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        names = [
            source["secretRef"]["name"] for source in container["envFrom"] if "secretRef" in source
        ]
        assert names == ["muster-env"]
    own = _one(_rendered("database-url"), "Secret")
    assert own["stringData"]["MUSTER_DATABASE_URL"] == POSTGRES_URL


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one sentence helm printed for a refused render."""
    assert result.returncode != 0, result.stdout
    error = result.stderr.strip().splitlines()[0]
    assert error.startswith("Error: execution error at ("), result.stderr
    assert "schema" not in result.stderr
    return error.partition("): ")[2]


def test_without_a_database_helm_says_what_to_set_in_one_sentence():
    assert _refusal(_template()) == (
        "muster: set database.url (postgresql+asyncpg://user:password@host:5432/muster) "
        "or existingSecret (a Secret with the key MUSTER_DATABASE_URL)"
    )
    both = _refusal(_template(*DATABASE, "--set", "existingSecret=muster-env"))
    assert both.startswith("muster: set database.url or existingSecret, not both")


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--set", "replicaCount=1", "--set", "autoscaling.enabled=true"),
        ("--set", "replicaCount=1", "--set-string", "config.MUSTER_WORKERS=2"),
    ],
)
def test_sqlite_is_refused_for_more_than_one_process(args):
    sqlite = ("--set", "database.url=sqlite+aiosqlite:////data/muster.db")
    assert "SQLite serves one process only" in _refusal(_template(*sqlite, *args))


def test_sqlite_in_an_existing_secret_is_refused_for_replicas_too():
    refused = _template("--set", "existingSecret=muster-env", "--set", "database.driver=sqlite")
    assert "SQLite serves one process only" in _refusal(refused)


def test_a_single_sqlite_pod_migrates_itself():
    single = _template(
        "--set", "database.url=sqlite+aiosqlite:////data/muster.db", "--set", "replicaCount=1"
    )
    assert single.returncode == 0, single.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(single.stdout) if d]
    assert "Job" not in kinds, "SQLite migrates at start-up"
    assert "PodDisruptionBudget" not in kinds


def test_a_broken_template_fails_the_checks(tmp_path):
    """The checks above can fail: a chart with a broken template does not lint."""
    broken = tmp_path / "muster"
    shutil.copytree(CHART, broken)
    service = broken / "templates" / "service.yaml"
    service.write_text(service.read_text().replace("{{- end }}", "", 1) + "\n{{ if }}\n")
    lint = _helm_run("lint", "--strict", "CHART", *DATABASE, chart=broken)
    assert lint.returncode != 0
    assert "service.yaml" in lint.stdout + lint.stderr


# --- values and their schema (no helm needed) ----------------------------------------------


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
    assert _schema_errors(defaults) == [], "a missing database is the templates' sentence"
    assert _schema_errors(_merge(defaults, yaml.safe_load(CI_VALUES.read_text()))) == []


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
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
def test_values_that_cannot_work_fail_validation(override, complaint, tmp_path):
    errors = _schema_errors(_merge(_values(), override))
    assert errors, f"{override} passed"
    assert any(complaint in error for error in errors), errors
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(override))
    rendered = _template("-f", str(values))
    assert rendered.returncode != 0, f"helm rendered {override}"
    assert complaint.split(".")[-1] in rendered.stderr

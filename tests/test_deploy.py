"""The deployment files, checked without a container runtime (none runs on these machines).

- compose.yaml against the Compose specification (check-jsonschema's vendored compose-spec schema);
- deploy/kubernetes/ against the Kubernetes OpenAPI schemas (kubernetes-validate, strict);
- deploy/prometheus/rules.yml by `promtool check rules` and `promtool test rules` where Debian's prometheus
  package is installed, and always by parsing every expression (promql-parser) and checking its structure;
- every command they run parses with the real `skylane` parser, every port is the one the command and the
  registry use, every environment variable is one the code reads (shown by running the code that reads it),
  every path exists, and every metric the rules and the dashboard query is in services/common/metric_names.py.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import promql_parser
import pytest
import yaml

from services.cli import build_parser, settings_for
from services.common.config import ConfigError, ConfigStore, _apply_overrides
from services.common.metric_names import METRICS, SERIES
from services.common.settings import AppSettings
from services.registry import SERVICES

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
APP_DIR = "/app"  # the image's WORKDIR: `--config-dir config` (the default) is /app/config there
KUBERNETES_VERSIONS = ("1.28.0", kubernetes_validate.utils.latest_version())
ALERTS = {
    "SkylaneHighErrorRatio",
    "SkylaneDeadLettersGrowing",
    "SkylanePartnerCircuitOpen",
    "SkylaneBudgetNearlySpent",
    "SkylanePointsLiabilityJump",
}


# --- compose.yaml -----------------------------------------------------------------------------------------


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation (${VAR}, ${VAR:-default}, ${VAR-default}, $$) over a loaded document."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group(1), match.group(2), match.group(3) or ""
        current = env.get(name)
        if op == ":-":
            return current or default
        if op == "-":
            return default if current is None else current
        return current or ""

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", substitute, value)


def _compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    document = yaml.safe_load((REPO / "compose.yaml").read_text())
    return _interpolate(document, env or {})


def _skylane_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("image") == "skylane:latest"}


def _port_arg(command: list[str], flag: str) -> int:
    return int(command[command.index(flag) + 1])


def test_compose_matches_the_compose_specification() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_service_runs_on_postgres_with_a_valid_command() -> None:
    compose = _compose()["services"]
    init_sql = (DEPLOY / "postgres-init.sql").read_text()
    parser = build_parser()
    for name, entry in SERVICES.items():
        service = compose[name]
        args = parser.parse_args(service["command"])
        assert (args.command, args.service) == ("serve", name)
        assert args.port == entry.default_port and args.metrics_port == entry.default_metrics_port
        assert args.host == "0.0.0.0"
        url = service["environment"][f"SKYLANE_{name.upper()}_DB_URL"]
        assert url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url
        database = url.rsplit("/", 1)[1]
        assert re.search(rf"CREATE DATABASE {database};", init_sql)
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert str(entry.default_port) in service["healthcheck"]["test"][-1]
        assert service["stop_signal"] == "SIGTERM"
        assert service["deploy"]["replicas"] >= 2
        assert set(service["expose"]) == {str(args.port), str(args.metrics_port)}


def test_a_one_shot_migration_runs_before_the_services() -> None:
    compose = _compose()["services"]
    migrate = compose["migrate"]
    args = build_parser().parse_args(migrate["command"])
    assert (args.command, args.db_command, args.service) == ("db", "upgrade", "all")
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in SERVICES:
        variable = f"SKYLANE_{name.upper()}_DB_URL"
        assert migrate["environment"][variable] == compose[name]["environment"][variable]


def test_every_address_comes_from_the_environment() -> None:
    """Each address has a variable: set it, and the resolved file carries the new value."""
    env = {
        **{f"SKYLANE_{n.upper()}_DB_URL": f"postgresql+asyncpg://u@db.internal:6432/{n}" for n in SERVICES},
        **{f"SKYLANE_PARTNER_{p.upper()}_ENDPOINT": f"{p}.partners.internal:443" for p in _lender_ids()},
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel.internal:4317",
        "SKYLANE_PUBLISH_HOST": "0.0.0.0",
    }
    compose = _compose(env)["services"]
    for name in SERVICES:
        assert compose[name]["environment"][f"SKYLANE_{name.upper()}_DB_URL"].endswith(f"@db.internal:6432/{name}")
        assert compose[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.internal:4317"
    router = compose["router"]["environment"]
    for lender in _lender_ids():
        assert router[f"SKYLANE_ROUTER__partners__lenders__{lender}__endpoint"] == f"{lender}.partners.internal:443"
    published = [p for s in compose.values() for p in s.get("ports", [])]
    assert published and all(p.startswith("0.0.0.0:") for p in published)
    # No address is left in a skylane service's environment that no variable can change.
    raw = yaml.safe_load((REPO / "compose.yaml").read_text())
    for name, service in _skylane_services(raw).items():
        for variable, value in (service.get("environment") or {}).items():
            assert str(value).startswith("${"), f"{name}: {variable} is not taken from the environment"


def test_every_variable_set_is_read_by_the_code() -> None:
    """Runs what reads each variable: the CLI's settings and options, and the config loader's overrides."""
    compose = _compose({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel.internal:4317"})
    for name, service in _skylane_services(compose).items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        with mock.patch.dict(os.environ, env, clear=True):
            args = build_parser().parse_args(service["command"])
            if args.command == "serve" and args.service in SERVICES:
                assert args.otlp_endpoint == "http://otel.internal:4317"
            for svc in SERVICES if getattr(args, "service", None) == "all" else [getattr(args, "service", "")]:
                if svc in SERVICES:
                    assert settings_for(svc, args).db_url == env[f"SKYLANE_{svc.upper()}_DB_URL"]
        read = {"OTEL_EXPORTER_OTLP_ENDPOINT"} | {f"SKYLANE_{s.upper()}_DB_URL" for s in SERVICES}
        overrides = {k for k in env if re.match(r"SKYLANE_[A-Z]+__", k)}
        assert set(env) <= read | overrides, f"{name}: {set(env) - read - overrides} read by nothing"
        if overrides:
            _check_overrides_load(name, {k: env[k] for k in overrides})


def _check_overrides_load(service: str, env: dict[str, str]) -> None:
    """The override variables, applied to config/<service>.yaml by the service's own loader, set what they name."""
    with tempfile.TemporaryDirectory() as scratch:
        _check_overrides_in(service, env, f"sqlite+aiosqlite:///{scratch}/{service}.db")


def _check_overrides_in(service: str, env: dict[str, str], db_url: str) -> None:
    app = SERVICES[service].build(
        AppSettings(config_path=REPO / "config" / f"{service}.yaml", db_url=db_url, environ=env)
    )
    try:
        document = app.config.current.document
        for variable, value in env.items():
            path = variable.split("__")[1:]
            target: Any = document
            for part in path:
                target = next(i for i in target if i.get("id") == part) if isinstance(target, list) else target[part]
            assert target == yaml.safe_load(value), variable
    finally:
        asyncio.run(app.db.dispose())


def _lender_ids() -> list[str]:
    router = yaml.safe_load((REPO / "config" / "router.yaml").read_text())
    return [lender["id"] for lender in router["partners"]["lenders"]]


def test_partner_endpoints_point_at_the_demo_partners_by_default() -> None:
    compose = _compose()["services"]
    scenario = yaml.safe_load((REPO / "config" / "scenarios" / "partners.yaml").read_text())
    ports = {p["id"]: p["port"] for p in scenario["partners"]}
    router = compose["router"]["environment"]
    for lender in _lender_ids():
        assert router[f"SKYLANE_ROUTER__partners__lenders__{lender}__endpoint"] == f"partner-sim:{ports[lender]}"
    sim = compose["partner-sim"]
    args = build_parser().parse_args(sim["command"])
    assert args.command == "partner-sim" and args.host == "0.0.0.0"
    assert args.router == f"router:{SERVICES['router'].default_port}"
    assert Path(REPO / args.scenario).exists()  # the default scenario, read from the mounted config
    assert set(sim["expose"]) == {str(p) for p in ports.values()}


def test_config_is_mounted_for_hot_reload() -> None:
    defaults = build_parser().parse_args(["serve", "router"])
    for name, service in _skylane_services(_compose()).items():
        mounts = [v.split(":") for v in service.get("volumes", [])]
        assert ["./config", f"{APP_DIR}/{defaults.config_dir}", "ro"] in mounts, name
        if service["command"][0] == "serve":
            assert build_parser().parse_args(service["command"]).config_poll > 0  # the file is polled
    assert f"WORKDIR {APP_DIR}" in _runtime_stage()


def test_published_ports_reach_every_service_through_the_balancer() -> None:
    compose = _compose()["services"]
    nginx = (DEPLOY / "nginx" / "nginx.conf").read_text()
    published = {int(p.rsplit(":", 2)[-2]): int(p.rsplit(":", 1)[-1]) for p in compose["lb"]["ports"]}
    for name, entry in SERVICES.items():
        assert published[entry.default_port] == entry.default_port
        assert re.search(rf"listen {entry.default_port};\s+http2 on;\s+location / {{\s+grpc_pass grpc://{name};", nginx)
        assert re.search(rf"upstream {name} {{[^}}]*server {name}:{entry.default_port} resolve;", nginx)
        assert compose["lb"]["depends_on"][name]["condition"] == "service_healthy"
    assert {p.rsplit(":", 1)[-1] for p in compose["prometheus"]["ports"]} == {"9090"}
    assert {p.rsplit(":", 1)[-1] for p in compose["grafana"]["ports"]} == {"3000"}
    assert all(p.startswith("127.0.0.1:") for s in compose.values() for p in s.get("ports", []))  # default: local


def test_every_path_compose_mounts_exists() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source}"


def test_prometheus_scrapes_every_replica_and_loads_the_rules() -> None:
    compose = _compose()["services"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {(sd["names"][0], sd["port"]) for job in config["scrape_configs"] for sd in job.get("dns_sd_configs", [])}
    for name in SERVICES:
        metrics_port = _port_arg(compose[name]["command"], "--metrics-port")
        assert (name, metrics_port) in targets
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).exists()
    mount = next(v for v in compose["prometheus"]["volumes"] if v.startswith("./deploy/prometheus:"))
    assert f"--config.file={mount.split(':')[1]}/prometheus.yml" in compose["prometheus"]["command"]


def test_grafana_is_wired_to_prometheus_and_the_dashboard() -> None:
    compose = _compose()["services"]
    grafana = compose["grafana"]
    provisioning = DEPLOY / "grafana" / "provisioning"
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "skylane.yml").read_text())["providers"]
    dashboard_target = mounts["./deploy/grafana/skylane.json"]
    assert str(Path(dashboard_target).parent) == provider["options"]["path"]
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboard_target
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose
    variable = next(v for v in _dashboard()["templating"]["list"] if v["type"] == "datasource")
    assert variable["current"]["value"] == source["uid"]


# --- Dockerfile and .dockerignore -------------------------------------------------------------------------


def _runtime_stage() -> str:
    text = (REPO / "Dockerfile").read_text()
    return text[text.index(" AS runtime") :]


def test_runtime_image_carries_no_grpcio_tools() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("grpcio-tools") for d in project["dependencies"])
    assert not any(d.startswith("grpcio-tools") for d in project["optional-dependencies"]["tracing"])
    runtime = _runtime_stage()
    assert 'pip install --no-cache-dir --no-index --find-links /wheels "skylane[tracing]"' in runtime
    assert '! python -c "import grpc_tools"' in runtime
    for root in ("services", "skylane"):
        for path in (REPO / root).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                assert not any(n.split(".")[0] == "grpc_tools" for n in names), f"{path} imports grpc_tools"


def _dockerignore() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        if any(fnmatch(path, p) or fnmatch(path.split("/")[-1], p) for p in candidates):
            ignored = not negate
    return ignored


def test_image_copies_only_what_exists_and_is_in_the_build_context() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    patterns = _dockerignore()
    copies = re.findall(r"^COPY (?!--from)(.+)$", dockerfile, flags=re.MULTILINE)
    sources = [s for line in copies for s in line.split()[:-1]]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is copied but .dockerignore excludes it"
    for heavy in (".venv", ".git", "var", "tests", "bench", "services/router/__pycache__/x.pyc"):
        assert _ignored(heavy, patterns), f"{heavy} would be sent to the build"
    assert 'ENTRYPOINT ["skylane"]' in dockerfile
    import tomllib

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]["skylane"] == "services.cli:main"
    cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, flags=re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert build_parser().parse_args(cmd).command == "serve"


# --- Kubernetes -------------------------------------------------------------------------------------------


def _manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield path.name, document


def _kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _manifests() if doc["kind"] == kind}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_manifests_pass_kubernetes_validate(version: str) -> None:
    checked = 0
    for name, document in _manifests():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} {document['kind']}/{document['metadata']['name']}: {exc.message} at {exc.path}")
        checked += 1
    assert checked >= 10


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files
    assert {i["name"] for i in kustomization["images"]} == {"skylane"}
    assert all(
        doc["metadata"]["namespace"] == kustomization["namespace"]
        for _, doc in _manifests()
        if doc["kind"] != "Namespace"
    )


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_each_service_deployment_runs_its_command_on_its_ports() -> None:
    deployments, services = _kind("Deployment"), _kind("Service")
    secret = _kind("Secret")["skylane-database"]["stringData"]
    config_maps = _kind("ConfigMap")
    kustomization_text = (KUBERNETES / "kustomization.yaml").read_text()
    for name, entry in SERVICES.items():
        container = _container(deployments[name])
        args = build_parser().parse_args(container["args"])
        assert (args.command, args.service, args.host) == ("serve", name, "0.0.0.0")
        assert (args.port, args.metrics_port) == (entry.default_port, entry.default_metrics_port)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"grpc": args.port, "metrics": args.metrics_port}
        assert container["readinessProbe"]["grpc"]["port"] == args.port
        assert container["livenessProbe"]["grpc"]["port"] == args.port
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(args.metrics_port)
        service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in services[name]["spec"]["ports"]}
        assert service_ports == {"grpc": (args.port, "grpc"), "metrics": (args.metrics_port, "metrics")}
        (db_url,) = container["env"]
        assert db_url["name"] == f"SKYLANE_{name.upper()}_DB_URL"
        reference = db_url["valueFrom"]["secretKeyRef"]
        assert reference["name"] == "skylane-database" and reference["key"] in secret
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in config_maps
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["config"] == f"{APP_DIR}/{args.config_dir}"
        volumes = {v["name"]: v for v in deployments[name]["spec"]["template"]["spec"]["volumes"]}
        config_map = volumes["config"]["configMap"]["name"]
        # Made from config/ by the command in kustomization.yaml, with every service's file.
        assert f"create configmap {config_map}" in kustomization_text
        for service_name in SERVICES:
            assert f"--from-file=config/{service_name}.yaml" in kustomization_text
            assert (REPO / "config" / f"{service_name}.yaml").exists()
        grace = deployments[name]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > args.grace


def test_migration_job_and_partner_settings_match_compose() -> None:
    job = _kind("Job")["skylane-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert (args.command, args.db_command, args.service) == ("db", "upgrade", "all")
    assert {e["name"] for e in container["env"]} == {f"SKYLANE_{n.upper()}_DB_URL" for n in SERVICES}
    router_env = _kind("ConfigMap")["skylane-router-env"]["data"]
    compose_router = _compose()["services"]["router"]["environment"]
    assert router_env == {k: v for k, v in compose_router.items() if k.startswith("SKYLANE_ROUTER__")}
    _check_overrides_load("router", router_env)
    sim = _container(_kind("Deployment")["partner-sim"])
    assert build_parser().parse_args(sim["args"]).router == f"router:{SERVICES['router'].default_port}"
    sim_ports = {p["containerPort"] for p in sim["ports"]}
    assert {int(v.rsplit(":", 1)[1]) for v in router_env.values()} == sim_ports
    assert set(_kind("ConfigMap")["skylane-env"]["data"]) == {"OTEL_EXPORTER_OTLP_ENDPOINT"}


# --- config overrides: how the deployments set list items (partner endpoints) -------------------------------


def test_env_overrides_reach_list_items_by_id_or_index() -> None:
    document = {
        "partners": {"lenders": [{"id": "quickcash", "endpoint": "a:1"}, {"id": "steadybank", "endpoint": "b:2"}]}
    }
    env = {
        "SKYLANE_ROUTER__partners__lenders__quickcash__endpoint": "partner-sim.internal:7443",
        "SKYLANE_ROUTER__PARTNERS__LENDERS__1__ENDPOINT": "steady.internal:443",
    }
    result = _apply_overrides(document, env, "SKYLANE_ROUTER")
    assert [lender["endpoint"] for lender in result["partners"]["lenders"]] == [
        "partner-sim.internal:7443",
        "steady.internal:443",
    ]
    assert document["partners"]["lenders"][0]["endpoint"] == "a:1"  # the file's document is left alone
    with pytest.raises(ConfigError, match=r"no list item 'nobody' \(ids: quickcash, steadybank\)"):
        _apply_overrides(document, {"SKYLANE_ROUTER__partners__lenders__nobody__endpoint": "x:1"}, "SKYLANE_ROUTER")


def test_env_overrides_survive_a_reload_of_the_mounted_file(tmp_path: Path) -> None:
    config = tmp_path / "router.yaml"
    shutil.copy(REPO / "config" / "router.yaml", config)
    env = {"SKYLANE_ROUTER__partners__lenders__quickcash__endpoint": "partner-sim.internal:7443"}
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
    app = SERVICES["router"].build(AppSettings(config_path=config, db_url=db_url, environ=env))
    asyncio.run(app.db.dispose())
    # The router's own schema and prefix, in a store of its own (the app's reload listeners need a running app).
    store = ConfigStore(config, app.config.schema, env_prefix=app.config.env_prefix, environ=env)
    config.write_text(config.read_text().replace("ping_budget_ms: 750", "ping_budget_ms: 700"))
    changed, _, _ = store.reload()
    model = store.model.partners
    assert changed and model.ping_budget_ms == 700
    assert next(p for p in model.lenders if p.id == "quickcash").endpoint == "partner-sim.internal:7443"


# --- alert rules and dashboard --------------------------------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "skylane.json").read_text())


def _dashboard_queries() -> list[str]:
    """Every PromQL expression of the dashboard, Grafana's variables replaced by what they stand for."""
    queries = []
    for panel in _dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m")
            queries.append(re.sub(r"\$\{?[a-z_]+\}?", ".*", expr))
    return queries


def _label_values_metrics() -> list[str]:
    variables = _dashboard()["templating"]["list"]
    return [m.group(1) for v in variables if (m := re.match(r"label_values\((\w+),", str(v.get("definition", ""))))]


def _selectors(node: Any) -> Iterator[Any]:
    """Every vector selector in a parsed PromQL expression."""
    if isinstance(node, promql_parser.VectorSelector):
        yield node
    elif isinstance(node, promql_parser.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, promql_parser.Call):
        for arg in node.args:
            yield from _selectors(arg)
    elif isinstance(node, promql_parser.BinaryExpr):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)
    elif isinstance(node, promql_parser.AggregateExpr | promql_parser.ParenExpr | promql_parser.UnaryExpr):
        yield from _selectors(node.expr)
    elif isinstance(node, promql_parser.SubqueryExpr):
        yield from _selectors(node.expr)


def _used_metrics(expressions: list[str]) -> dict[str, set[str]]:
    """Metric name -> label names matched on, over the expressions (each must parse)."""
    used: dict[str, set[str]] = {}
    for expression in expressions:
        for selector in _selectors(promql_parser.parse(expression)):
            assert selector.name, f"a selector without a metric name in {expression}"
            used.setdefault(selector.name, set()).update(m.name for m in selector.matchers.matchers)
    return used


def test_alert_rules_are_valid() -> None:
    """promtool where installed (Debian's prometheus package); the structural check below always runs."""
    promtool = shutil.which("promtool")
    if promtool:
        for args in (
            ["check", "rules", "rules.yml"],
            ["test", "rules", "rules_test.yml"],
            ["check", "config", "prometheus.yml"],
        ):
            done = subprocess.run([promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
    rules = _rules()
    assert {r["alert"] for r in rules} == ALERTS
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        promql_parser.parse(rule["expr"])  # raises on a syntax error
        for template in rule["annotations"].values():
            assert set(re.findall(r"\$labels\.(\w+)", template)) <= _by_labels(rule["expr"]), rule["alert"]


def _by_labels(expression: str) -> set[str]:
    """Labels an alert's series keep: those its top-level aggregation groups by."""
    return {label.strip() for group in re.findall(r"by \(([^)]*)\)", expression) for label in group.split(",")}


def test_every_metric_the_rules_and_dashboard_use_is_listed() -> None:
    used = _used_metrics([r["expr"] for r in _rules()] + _dashboard_queries())
    for name in _label_values_metrics():
        used.setdefault(name, set())
    unknown = set(used) - set(SERIES)
    assert not unknown, f"not in services/common/metric_names.py: {sorted(unknown)}"
    for name, labels in used.items():
        metric = SERIES[name]
        allowed = set(metric.labels) | {"instance", "job"} | ({"le"} if name.endswith("_bucket") else set())
        assert labels <= allowed, f"{name} is matched on {labels - allowed}, which it does not have"


def test_the_dashboard_shows_every_listed_metric() -> None:
    used = _used_metrics(_dashboard_queries())
    assert {m.name for m in METRICS} == {SERIES[name].name for name in used}


def test_metric_names_follow_prometheus_conventions() -> None:
    names = [m.name for m in METRICS]
    assert len(names) == len(set(names))
    for metric in METRICS:
        assert re.fullmatch(r"skylane_[a-z]+_[a-z0-9_]+", metric.name)
        assert metric.name.endswith("_total") == (metric.type == "counter"), metric.name
        assert metric.service in {*SERVICES, "all"}
        assert metric.help and all(re.fullmatch(r"[a-z_]+", label) for label in metric.labels)
        assert bool(metric.buckets) == (metric.type == "histogram"), metric.name


def test_metric_names_build_their_collectors() -> None:
    """The list is enough to make every collector; a scrape names each series as PromQL does."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    for metric in METRICS:
        collector = metric.collector(registry)
        labelled = collector.labels(*("x" for _ in metric.labels)) if metric.labels else collector
        getattr(labelled, {"counter": "inc", "gauge": "set", "histogram": "observe"}[metric.type])(1)
    scraped = {
        line.split("{")[0].split(" ")[0]
        for line in generate_latest(registry).decode().splitlines()
        if line and not line.startswith("#")
    }
    assert {series for metric in METRICS for series in metric.series()} <= scraped


def test_dashboard_panels_fit_the_grid_and_use_the_provisioned_datasource() -> None:
    dashboard = _dashboard()
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"] and panel["description"]

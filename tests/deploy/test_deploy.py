"""Deployment files: the dashboard asks only for metrics we export, the compose file and the
chart are valid (scripts/validate-deploy.sh), and the offline schema tools behave."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from fusion.rules import build_rules, load_rules_file
from sensors.registry import SensorRegistry
from streams import metrics
from streams.app import ROLES

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "borderfusion.json"
COMPOSE = ROOT / "docker-compose.yml"
CHART = ROOT / "deploy" / "helm" / "borderfusion"
TOPICS = [
    "readings.radar",
    "readings.thermal",
    "readings.seismic",
    "readings.ais",
    "readings.friendly",
    "observations",
    "tracks",
    "alerts",
    "alerts.acks",
    "deadletter",
]
SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def _tool(name: str) -> ModuleType:
    path = ROOT / "deploy" / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"deploy_tools_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported_sample_names() -> set[str]:
    """Every series name streams/metrics.py can put on /metrics."""
    names: set[str] = set()
    for obj in vars(metrics).values():
        if isinstance(obj, MetricWrapperBase):
            for family in obj.describe():
                names.update(family.name + s for s in SAMPLE_SUFFIXES[family.type])
    return names


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        query = var.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def test_dashboard_queries_only_metrics_we_export() -> None:
    exported = exported_sample_names()
    queried = {
        m
        for e in dashboard_exprs()
        for m in re.findall(r"\b[a-z_:][a-z0-9_:]*_[a-z0-9_]+", e)
        if m.startswith(("borderfusion_", "faust_"))
    }
    assert queried, "no metric names found in the dashboard"
    assert queried <= exported, f"dashboard queries undefined metrics: {sorted(queried - exported)}"


def test_dashboard_covers_the_operational_figures() -> None:
    text = " ".join(dashboard_exprs())
    for family in [
        "borderfusion_readings_accepted_total",
        "borderfusion_readings_rejected_total",
        "borderfusion_observations_total",
        "borderfusion_active_tracks",
        "borderfusion_alerts_total",
        "borderfusion_fusion_latency_seconds_bucket",
        "borderfusion_sensor_to_alert_latency_seconds_bucket",
        "borderfusion_spool_depth",
        "borderfusion_archive_lag_seconds",
        "borderfusion_deadletters_total",
        "borderfusion_consumer_lag",
    ]:
        assert family in text, family
    assert "sum by (reason" in text or "sum by (sensor_type, reason)" in text
    assert "sum by (rule, severity)" in text


def test_consumer_lag_metric_has_the_contract_labels() -> None:
    family = metrics.CONSUMER_LAG.describe()[0]
    assert (family.name, family.type) == ("borderfusion_consumer_lag", "gauge")
    assert metrics.CONSUMER_LAG._labelnames == ("topic", "partition", "group")


def test_dashboard_panels_have_unique_ids_and_use_the_provisioned_datasource() -> None:
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    provisioned = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    uid = provisioned["datasources"][0]["uid"]
    ds_var = next(v for v in dash["templating"]["list"] if v["name"] == "datasource")
    assert ds_var["current"]["value"] == uid


def test_example_config_follows_design_section_5() -> None:
    registry = SensorRegistry.load(ROOT / "deploy" / "config" / "sensors.yaml")
    assert {s.type for s in registry} == {"radar", "thermal", "seismic", "ais"}
    zones = json.loads((ROOT / "deploy" / "config" / "zones.geojson").read_text())
    kinds = {f["properties"]["kind"] for f in zones["features"]}
    assert {"border", "territory", "sector"} <= kinds
    border = next(f for f in zones["features"] if f["properties"]["kind"] == "border")
    assert border["properties"]["border_type"] == "blue"
    # The worker builds its rules from this file at start-up: an unknown rule or key there
    # would stop the compose stack and the chart's workers.
    cfg = load_rules_file(str(ROOT / "deploy/config/rules.yaml"))
    rules = build_rules(cfg)
    assert set(cfg["rules"]) <= set(rules)
    assert rules["approach"].cfg["threshold_s"] == cfg["rules"]["approach"]["threshold_s"]


def test_chart_ships_the_same_example_config() -> None:
    for name in ["sensors.yaml", "zones.geojson", "rules.yaml"]:
        assert (CHART / "files" / name).read_bytes() == (ROOT / "deploy/config" / name).read_bytes()


def test_compose_creates_every_topic_and_runs_every_role() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    script = services["topics"]["command"][0]
    created = set(
        re.findall(
            r"\b(?:readings\.\w+|observations|tracks|alerts\.acks|alerts|deadletter)\b", script
        )
    )
    assert created == set(TOPICS)
    for role in ROLES:
        assert services[role]["command"] == ["worker", "--role", role]
        assert services[role]["environment"]["BORDERFUSION_USERS_FILE"] == "/run/secrets/users"
        assert "users" in services[role]["secrets"]
    assert services["archive"]["deploy"]["replicas"] == 1
    assert services["delivery"]["environment"]["BORDERFUSION_DELIVERY_FILE"] == (
        "/run/secrets/delivery"
    )
    gateway = services["gateway"]["command"]
    assert gateway[0] == "gateway" and {"--nmea-udp", "--nmea-tcp"} <= set(gateway)
    assert any(p.endswith(":10110/udp") for p in services["gateway"]["ports"])
    assert any(p.endswith(":10111/tcp") for p in services["gateway"]["ports"])
    assert services["simulator"]["profiles"] == ["demo"]
    assert services["kafka"]["image"].split(":")[-1].startswith("4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    for role in ["web", "gateway", "prometheus", "grafana"]:
        assert all(p.startswith(("127.0.0.1:", "${BORDERFUSION_")) for p in services[role]["ports"])


def test_prometheus_scrapes_every_worker_role_with_the_metrics_token() -> None:
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    workers = next(j for j in prom["scrape_configs"] if j["job_name"] == "borderfusion-workers")
    assert set(workers["dns_sd_configs"][0]["names"]) == set(ROLES)
    secret = workers["authorization"]["credentials_file"]
    assert workers["authorization"]["type"] == "Bearer" and secret.startswith("/run/secrets/")
    compose = yaml.safe_load(COMPOSE.read_text())
    assert secret.rsplit("/", 1)[1] in compose["services"]["prometheus"]["secrets"]
    assert set(compose["secrets"]) == {"users", "prometheus-token", "delivery"}


def test_compose_secrets_script_makes_a_working_metrics_token(tmp_path: Path) -> None:
    """deploy/secrets/init.sh writes a users file whose `metrics` user owns the token file."""
    from streams.web.auth import UserStore

    script = tmp_path / "init.sh"
    script.write_text((ROOT / "deploy/secrets/init.sh").read_text())
    env = {**__import__("os").environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True, timeout=60)
    token = (tmp_path / "prometheus.token").read_text().strip()
    user = UserStore.load(tmp_path / "users.yaml").by_token(token)
    assert user is not None and user.role == "metrics" and user.password_hash is None
    first = (tmp_path / "users.yaml").read_bytes()
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True, timeout=60)
    assert (tmp_path / "users.yaml").read_bytes() == first  # never overwrites
    assert yaml.safe_load((tmp_path / "delivery.yaml").read_text()) == {}


def test_compose_semantic_checks_catch_unscalable_workers() -> None:
    validate_compose = _tool("validate_compose")
    doc = yaml.safe_load(COMPOSE.read_text())
    assert validate_compose.semantic_errors(doc) == []
    doc["services"]["fusion"] = dict(
        doc["services"]["fusion"], container_name="fusion", ports=["6067:6066"]
    )
    doc["services"]["web"]["depends_on"] = {"nosuch": {"condition": "service_started"}}
    doc["version"] = "3.9"
    del doc["services"]["archive"]["deploy"]
    errors = validate_compose.semantic_errors(doc)
    assert len(errors) == 5, errors


def test_k8s_schema_converter_inlines_refs_and_is_strict() -> None:
    conv = _tool("k8s_schemas")
    swagger = {
        "definitions": {
            "io.k8s.Port": {
                "type": "object",
                "required": ["port"],
                "properties": {
                    "port": {"type": "string", "format": "int-or-string"},
                    "name": {"type": "string"},
                },
            },
            "io.k8s.Node": {
                "type": "object",
                "properties": {"child": {"$ref": "#/definitions/io.k8s.Node"}},
            },
            "io.k8s.Widget": {
                "type": "object",
                "required": ["kind"],
                "x-kubernetes-group-version-kind": [
                    {"group": "example.k8s.io", "version": "v1", "kind": "Widget"}
                ],
                "properties": {
                    "kind": {"type": "string"},
                    "port": {"$ref": "#/definitions/io.k8s.Port"},
                    "tree": {"$ref": "#/definitions/io.k8s.Node"},
                },
            },
        }
    }
    expander = conv.Expander(swagger["definitions"])
    schema = conv.strict(
        expander.expand(swagger["definitions"]["io.k8s.Widget"], ("io.k8s.Widget",))
    )
    assert conv.kind_file_name("example.k8s.io", "v1", "Widget") == "widget-example-v1.json"
    assert conv.kind_file_name("", "v1", "ConfigMap") == "configmap-v1.json"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["kind"]["type"] == "string"  # required: not nullable
    port = schema["properties"]["port"]
    assert port["type"] == ["object", "null"] and port["additionalProperties"] is False
    assert port["properties"]["port"]["oneOf"] == [{"type": "string"}, {"type": "integer"}]
    assert port["properties"]["name"]["type"] == ["string", "null"]
    tree = schema["properties"]["tree"]
    assert tree["properties"]["child"] == {}  # recursion cut, not infinite


def _cached_tools() -> tuple[Path, Path, Path] | None:
    helm, kubeconform = ROOT / ".cache/bin/helm", ROOT / ".cache/bin/kubeconform"
    schemas = ROOT / ".cache/k8s-schemas"
    if helm.exists() and kubeconform.exists() and any(schemas.glob("*/.complete")):
        return helm, kubeconform, next(schemas.glob("*/.complete")).parent
    return None


@pytest.mark.slow
def test_validate_deploy_script_passes() -> None:
    """The whole offline validation (builds helm/kubeconform on first run: minutes)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/validate-deploy.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={"PYTHON": sys.executable, **__import__("os").environ},
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summaries = re.findall(
        r"Summary: (\d+) resources found.*Invalid: (\d+), Errors: (\d+), "
        r"Skipped: (\d+)",
        proc.stdout,
    )
    assert len(summaries) == 2
    for found, invalid, errors, skipped in summaries:
        assert int(found) > 10 and (invalid, errors, skipped) == ("0", "0", "0")
    assert "docker-compose.yml: valid" in proc.stdout


@pytest.mark.slow
def test_kubeconform_rejects_a_broken_manifest(tmp_path: Path) -> None:
    """The strict schemas are not a rubber stamp: an unknown field and a wrong type fail."""
    tools = _cached_tools()
    if tools is None:
        pytest.skip("run scripts/validate-deploy.sh first to build the cached tools")
    helm, kubeconform, schema_dir = tools
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "t",
            str(CHART),
            "--kube-version",
            "1.34.4",
            "--values",
            str(CHART / "ci/all-on-values.yaml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    broken = rendered.replace(
        "podManagementPolicy: Parallel", "podManagementPolicy: Parallel\n  replica: 3", 1
    )
    broken = broken.replace("cooldownPeriod: 1200", 'cooldownPeriod: "1200"', 1)
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(broken)
    proc = subprocess.run(
        [
            str(kubeconform),
            "-strict",
            "-summary",
            "-kubernetes-version",
            "1.34.4",
            "-schema-location",
            f"{schema_dir.parent}/{{{{.NormalizedKubernetesVersion}}}}-standalone{{{{.StrictSuffix}}}}"
            "/{{.ResourceKind}}{{.KindSuffix}}.json",
            "-schema-location",
            str(ROOT / "deploy/helm/schemas") + "/{{.ResourceKind}}{{.KindSuffix}}.json",
            str(manifest),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "additional properties 'replica' not allowed" in proc.stdout
    assert "cooldownPeriod': got string, want integer" in proc.stdout
    assert "Invalid: 2" in proc.stdout


@pytest.mark.slow
def test_chart_runs_every_role_with_users_and_one_archive_pod() -> None:
    tools = _cached_tools()
    if tools is None:
        pytest.skip("run scripts/validate-deploy.sh first to build the cached tools")
    rendered = subprocess.run(
        [str(tools[0]), "template", "t", str(CHART), "--kube-version", "1.34.4",
         "--values", str(CHART / "ci/all-on-values.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    pods = {d["metadata"]["name"]: d for d in docs if d["kind"] in ("StatefulSet", "Deployment")}
    roles = {}
    for name, d in pods.items():
        c = d["spec"]["template"]["spec"]["containers"][0]
        if c["args"][0] == "worker":
            roles[c["args"][2]] = d
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env["BORDERFUSION_USERS_FILE"] == "/etc/borderfusion/users/users.yaml", name
    assert set(roles) == set(ROLES)
    archive = roles["archive"]
    assert archive["kind"] == "StatefulSet" and archive["spec"]["replicas"] == 1
    assert archive["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "archive"
    monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
    creds = monitor["spec"]["endpoints"][0]["authorization"]["credentials"]
    token_secret = next(
        d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == creds["name"]
    )
    assert creds["key"] in token_secret["stringData"]
    gw_svc = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "bf-gateway"
    )
    assert {(p["port"], p["protocol"]) for p in gw_svc["spec"]["ports"]} >= {
        (10110, "UDP"),
        (10111, "TCP"),
    }
    # the all-on gateway serves HTTPS with mutual TLS: files, named port, probes, scrape
    assert {p["name"] for p in gw_svc["spec"]["ports"] if p["protocol"] == "TCP"} >= {"https"}
    gw = next(c for d in pods.values() for c in d["spec"]["template"]["spec"]["containers"]
              if c["args"][0] == "gateway")  # fmt: skip
    env = {e["name"]: e.get("value") for e in gw["env"]}
    mounts = {m["mountPath"] for m in gw["volumeMounts"]}
    for var in ("CERT", "KEY", "CLIENT_CA"):
        path = env[f"BORDERFUSION_GATEWAY_TLS_{var}"]
        assert path.rsplit("/", 1)[0] in mounts, path
    assert gw["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https", "scheme": "HTTPS"}
    assert "https://127.0.0.1:8088/healthz" in gw["readinessProbe"]["exec"]["command"][-1]
    scrape = {e["port"]: e for e in monitor["spec"]["endpoints"]}
    assert scrape["https"]["scheme"] == "https" and "http" in scrape
    # every pod reaches Kafka over SASL_SSL with the CA and a client certificate mounted
    # where its settings point (streams/kafka_security.py)
    for name, d in pods.items():
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in c["env"]}
        mounts = {m["mountPath"] for m in c["volumeMounts"]}
        assert env["BORDERFUSION_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        for var in ("CAFILE", "CERTFILE", "KEYFILE"):
            path = env[f"BORDERFUSION_KAFKA_SSL_{var}"]
            assert path.rsplit("/", 1)[0] in mounts, (name, path)
        client = next(v for v in spec["volumes"] if v["name"] == "kafka-client")
        assert client["secret"]["secretName"] == "borderfusion-kafka-user"
        assert {i["key"] for i in client["secret"]["items"]} == {"user.crt", "user.key"}

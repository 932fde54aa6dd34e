#!/bin/sh
# Replaces a built-in model embedded in the binary with the EMA weights of
# a training run's latest checkpoint, stored in float16: the natural model
# (models/defaultmodel/weights, the default) or the face model
# (models/defaultmodel/weights-face).
# usage: scripts/update-default-model.sh RUN [natural|face]
set -eu
run=${1:?usage: scripts/update-default-model.sh RUN [natural|face]}
case "${2:-natural}" in
natural) dst=models/defaultmodel/weights ;;
face) dst=models/defaultmodel/weights-face ;;
*) echo "usage: scripts/update-default-model.sh RUN [natural|face]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/degradiff export "$run" --out "$tmp" --fp16
mkdir -p "$dst"
cp "$tmp/unet/config.json" "$dst/config.json"
cp "$tmp/unet/diffusion_pytorch_model.safetensors" "$dst/diffusion_pytorch_model.safetensors"
cp "$tmp/scheduler/scheduler_config.json" "$dst/scheduler_config.json"
cp "$tmp/info.json" "$dst/info.json"
ls -l "$dst"

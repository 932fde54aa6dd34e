#!/bin/sh
# Replaces the default model embedded in the binary with the EMA weights of
# a training run's latest checkpoint, stored in float16.
# usage: scripts/update-default-model.sh RUN
set -eu
run=${1:?usage: scripts/update-default-model.sh RUN}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./cmd/degradiff export "$run" --out "$tmp" --fp16
dst=models/defaultmodel/weights
mkdir -p "$dst"
cp "$tmp/unet/config.json" "$dst/config.json"
cp "$tmp/unet/diffusion_pytorch_model.safetensors" "$dst/diffusion_pytorch_model.safetensors"
cp "$tmp/scheduler/scheduler_config.json" "$dst/scheduler_config.json"
cp "$tmp/info.json" "$dst/info.json"
ls -l "$dst"

#!/usr/bin/env bash
# Packs the binaries scripts/gpu-bench.sh needs, stripped and xz-compressed, into
# out/gpu-bundle.tar.xz (~62 MB), for a GPU machine that has neither network nor a Rust
# toolchain. There:
#   mkdir -p /tmp/b && tar xJf out/gpu-bundle.tar.xz -C /tmp/b && BIN=/tmp/b/bundle scripts/gpu-bench.sh
# The binaries need only glibc; wgpu loads the GPU's Vulkan driver at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --features experiments/wgpu --bins --examples
REL=${CARGO_TARGET_DIR:-target}/release
STAGE=$(mktemp -d)
mkdir -p "$STAGE/bundle" out
for b in bench-sim pmfm-dataset train-surrogate surrogate-speedup examples/pcd_bench; do
  strip -o "$STAGE/bundle/$(basename "$b")" "$REL/$b"
done
tar cJf out/gpu-bundle.tar.xz.tmp -C "$STAGE" bundle
mv out/gpu-bundle.tar.xz.tmp out/gpu-bundle.tar.xz
rm -rf "$STAGE"
ls -l out/gpu-bundle.tar.xz

#!/usr/bin/env bash
# Fetch the ONNX Runtime shared library that `migru-core`'s `llm` feature loads at run time.
#
# The library comes from the PyPI wheel `onnxruntime` (a zip); only the one `.so` is kept, so no
# Python is needed at run time. Prints the library's absolute path on stdout, for example:
#   export ORT_DYLIB_PATH="$(scripts/fetch-onnxruntime.sh)"
# Environment: ORT_VERSION (default 1.31.1), ORT_CACHE_DIR (default <repo>/.cache/onnxruntime).
set -euo pipefail

version="${ORT_VERSION:-1.31.1}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${ORT_CACHE_DIR:-$repo_root/.cache/onnxruntime}"
lib_name="libonnxruntime.so.$version"
target="$cache_dir/$lib_name"

if [[ -f "$target" ]]; then
    echo "$target"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "fetch-onnxruntime.sh: only Linux x86_64 is handled here; on macOS use the onnxruntime wheel for your platform and set ORT_DYLIB_PATH" >&2; exit 2 ;;
esac

mkdir -p "$cache_dir/wheels"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 \
    --dest "$cache_dir/wheels" "onnxruntime==$version" >&2
wheel="$(ls "$cache_dir"/wheels/onnxruntime-"$version"-*.whl | head -n 1)"

# The wheel is a zip; extract only the runtime library (python's zipfile: no `unzip` needed).
python3 - "$wheel" "onnxruntime/capi/$lib_name" "$target" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, open(target + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move(target + ".part", target)
PY
echo "$target"

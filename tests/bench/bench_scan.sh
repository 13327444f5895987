#!/bin/bash
# Scan throughput beside sha256sum of the same file: a 1 GiB safetensors model, a 200 MB
# pickle checkpoint (protocol 4, tensors as bytes, the shape torch's legacy format has), and
# when Debian's python3-torch / python3-joblib are there, a 200 MB torch.save checkpoint and
# a 200 MB joblib file of numpy arrays (whose raw bytes the scanner sizes and skips).
#   bench_scan.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: bench_scan.sh BUILD_DIR}
scan="$build/tools/modelseal-scan"
[ -x "$scan" ] || { echo "bench_scan: $scan not found" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$tmp" <<'PY'
import json, os, pickle, struct, sys
out = sys.argv[1]
# 1 GiB safetensors: 64 tensors of 16 MiB.
n, size = 64, 16 << 20
header, off = {}, 0
for i in range(n):
    header["layer%d.weight" % i] = {"dtype": "F32", "shape": [size // 4], "data_offsets": [off, off + size]}
    off += size
text = json.dumps(header).encode()
chunk = os.urandom(1 << 20)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text)
    for _ in range(n * size // len(chunk)):
        f.write(chunk)
# ~200 MB pickle: 200 tensors of 1 MiB as bytes, with small lists and strings beside them.
state = {"layer%d" % i: {"weight": chunk[:-1] + bytes([i % 256]), "bias": list(range(64)), "name": "block %d" % i} for i in range(200)}
with open(os.path.join(out, "checkpoint.pkl"), "wb") as f:
    pickle.dump(state, f, protocol=4)
try:
    import numpy, joblib
    arrays = {"layer%d" % i: numpy.frombuffer(chunk, dtype="<f4").copy() for i in range(200)}
    joblib.dump(arrays, os.path.join(out, "arrays.joblib"))
    import torch
    torch.save({k: torch.from_numpy(v) for k, v in arrays.items()}, os.path.join(out, "torch_save.pt"))
except ImportError:
    pass
PY

now() { date +%s.%N; }
for file in model.safetensors checkpoint.pkl torch_save.pt arrays.joblib; do
  path="$tmp/$file"
  [ -f "$path" ] || continue
  bytes=$(stat -c %s "$path")
  cat "$path" > /dev/null  # warm the page cache for both
  t0=$(now); "$scan" -q "$path" > /dev/null; t1=$(now)
  sha256sum "$path" > /dev/null; t2=$(now)
  /usr/bin/python3 - "$file" "$bytes" "$t0" "$t1" "$t2" <<'PY'
import sys
name, size, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
scan, sha = max(t1 - t0, 1e-6), max(t2 - t1, 1e-6)
mb = size / 1e6
print("%-18s %8.1f MB  scan %10.1f MB/s  sha256sum %8.1f MB/s  scan/sha256sum %8.1fx"
      % (name, mb, mb / scan, mb / sha, sha / scan))
PY
done

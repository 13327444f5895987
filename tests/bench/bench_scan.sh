#!/bin/bash
# Scan throughput beside sha256sum of the same file: a 1 GiB safetensors model and a 200 MB
# pickle checkpoint (protocol 4, tensors as bytes, the shape torch's legacy format has).
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
PY

now() { date +%s.%N; }
for file in model.safetensors checkpoint.pkl; do
  path="$tmp/$file"
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

#!/usr/bin/env bash
# Memory before authentication (red-team finding 10): peak RSS of `modelseal verify` given junk
# model.sig files of 1, 16 and 64 MiB (many small JSON values, one huge string, deep arrays),
# as a multiple of the file's size; and the same for a real signature of 20,000 files. Nothing is
# asserted: the figures are printed.
#   bash tests/bench/bench_junk_sig.sh build
set -euo pipefail
build=${1:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tools/modelseal-keygen" -t ed25519 -o "$work/k" --insecure-no-passphrase -q
mkdir -p "$work/m"
printf 'x' > "$work/m/a.bin"
peak() {   # peak RSS in KiB of the command
  /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1 || true
  cat "$work/rss"
}
printf '%-28s %10s %12s %8s\n' "model.sig" "bytes" "peak RSS KiB" "x size"
for mib in 1 16 64; do
  n=$((mib << 20))
  /usr/bin/python3 - "$work/m/model.sig" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","junk":[')
    f.write(",".join(["0"] * (n // 2 - 64)))
    f.write("]}")
PY
  kib=$(peak "$build/tools/modelseal-verify" "$work/m" -p "$work/k.pub")
  printf '%-28s %10d %12d %8.1f\n' "small values, $mib MiB" "$n" "$kib" "$(awk "BEGIN{print $kib*1024/$n}")"
  /usr/bin/python3 - "$work/m/model.sig" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":{"payloadType":"x","signatures":[{"sig":"AA=="}],"payload":"')
    f.write("A" * (n - 200))
    f.write('"}}')
PY
  kib=$(peak "$build/tools/modelseal-verify" "$work/m" -p "$work/k.pub")
  printf '%-28s %10d %12d %8.1f\n' "one payload string, $mib MiB" "$n" "$kib" "$(awk "BEGIN{print $kib*1024/$n}")"
done
rm -rf "$work/m"; mkdir -p "$work/m"
/usr/bin/python3 -c "
import os
for i in range(20000):
    d = os.path.join('$work/m', 'd%03d' % (i // 200))
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, 'f%05d' % i), 'w').write(str(i))"
MODELSEAL_PASSPHRASE= "$build/tools/modelseal-sign" "$work/m" -k "$work/k.key" -q
n=$(stat -c %s "$work/m/model.sig")
kib=$(peak "$build/tools/modelseal-verify" "$work/m" -p "$work/k.pub")
printf '%-28s %10d %12d %8.1f\n' "real, 20000 files" "$n" "$kib" "$(awk "BEGIN{print $kib*1024/$n}")"

"""Not part of the normal suite: N random binary files of 1 KiB-1 MiB (default 100,000, about
50 GiB on average; use --count and --max to scale down) must give no finding above low, and
`modelseal scan` throughput is compared with sha256sum on the same files.

usage: bench_random.py BUILD_DIR [--count N] [--max BYTES] [--dir DIR] [--seed S]"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--max", type=int, default=1 << 20)
    ap.add_argument("--dir")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--batch", type=int, default=2000)
    a = ap.parse_args()
    scan = os.path.join(a.build, "tools", "modelseal-scan")
    rng = random.Random(a.seed)
    flagged, total_bytes, t_scan, t_sha = [], 0, 0.0, 0.0
    for start in range(0, a.count, a.batch):
        d = tempfile.mkdtemp(dir=a.dir, prefix="bench-random-")
        try:
            n = min(a.batch, a.count - start)
            files = []
            for i in range(n):
                size = rng.randint(1024, a.max)
                p = os.path.join(d, "r%06d.bin" % (start + i))
                with open(p, "wb") as f:
                    f.write(rng.randbytes(size))
                files.append(p)
                total_bytes += size
            t0 = time.monotonic()
            out = subprocess.run([scan, "--json", d], capture_output=True, text=True).stdout
            t_scan += time.monotonic() - t0
            t0 = time.monotonic()
            subprocess.run(["sha256sum"] + files, capture_output=True)
            t_sha += time.monotonic() - t0
            for f in json.loads(out)["files"]:
                if f.get("error") or any(x["severity"] != "low" for x in f["findings"]):
                    flagged.append(f)
                    shutil.copy(f["path"], os.path.join(a.dir or ".", "flagged-" + os.path.basename(f["path"])))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        print("%d files, %d flagged" % (start + n, len(flagged)), file=sys.stderr)
    mib = total_bytes / (1 << 20)
    print(json.dumps({"files": a.count, "bytes": total_bytes, "flagged_above_low": len(flagged),
                      "scan_MiB_per_s": round(mib / t_scan, 1), "sha256sum_MiB_per_s": round(mib / t_sha, 1)}))
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())

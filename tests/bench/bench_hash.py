"""Hashing throughput of modelseal against its peers, on the same files, in the same run.

Generates model directories of realistic shapes (one 2 GiB file; four 512 MiB shards plus small
JSON files, Hugging Face style; 20,000 files of 4 KiB; a deep tree), then times modelseal
sign/verify/digest, sha256sum, `openssl dgst -sha256`, `find | xargs -P$(nproc) sha256sum`, and
OpenSSL's single-core SHA-256 speed as the per-core limit. Prints a table of throughput and ratios
and writes the same as JSON. Peak RSS of sign and verify is reported for 2 GiB and 8 GiB models.

usage: bench_hash.py BUILD_DIR [--json OUT] [--quick] [--keep DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20
GiB = 1 << 30


def write_random(path, size, chunk=64 * MiB):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Random bytes, but never a pickle PROTO header at the start: the scanner in `sign` would
    # rightly refuse a file that starts like a pickle and does not parse as one.
    block = b"\0" + os.urandom(max(min(chunk, size), 1) - 1)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
            # vary the data a little so that no layer can dedupe it
            block = block[1:] + block[:1] if left else block


def make_models(root, quick):
    scale = 8 if quick else 1
    models = {}
    m = os.path.join(root, "one-2GiB")
    write_random(os.path.join(m, "model.safetensors"), 2 * GiB // scale)
    models["one 2 GiB file"] = m
    m = os.path.join(root, "hf-4x512MiB")
    for i in range(4):
        write_random(os.path.join(m, f"model-0000{i + 1}-of-00004.safetensors"), 512 * MiB // scale)
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "model.safetensors.index.json"):
        write_random(os.path.join(m, name), 2048)
    models["4 x 512 MiB + 6 JSON"] = m
    m = os.path.join(root, "small-20000x4KiB")
    n = 20000 // scale
    for i in range(n):
        d = os.path.join(m, f"d{i // 1000:02d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            f.write(b"\0" + os.urandom(4095))
    models["20,000 x 4 KiB"] = m
    m = os.path.join(root, "deep-tree")
    for i in range(200):
        d = os.path.join(m, *[f"l{k}" for k in range(i % 40)])
        write_random(os.path.join(d, f"w{i}.bin"), 1 * MiB // scale)
    models["deep tree (200 x 1 MiB, 40 levels)"] = m
    return models


def tree_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            if f != "model.sig":
                total += os.path.getsize(os.path.join(dirpath, f))
    return total


def file_list(path):
    out = []
    for dirpath, _, files in os.walk(path):
        out += [os.path.join(dirpath, f) for f in files if f != "model.sig"]
    return sorted(out)


def timed(cmd, repeat=3, shell=False):
    """Best wall time of `repeat` runs (warm page cache), and the peak RSS of the children."""
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.run(cmd, shell=shell, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"bench: {cmd if shell else ' '.join(cmd)} failed: {p.stderr.decode()[:300]}")
        best = dt if best is None else min(best, dt)
    return best


def peak_rss_kib(cmd):
    """Peak RSS of one run of cmd: VmHWM of its own address space, read until it exits (ru_maxrss
    would include the forking Python process)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    status_file = f"/proc/{p.pid}/status"
    while p.poll() is None:
        try:
            with open(status_file) as f:
                for line in f:
                    if line.startswith("VmHWM:") and os.path.basename(os.readlink(f"/proc/{p.pid}/exe")) != "python3":
                        peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    if p.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed")
    return peak


def openssl_single_core():
    """OpenSSL's single-core SHA-256 speed on 1 MiB blocks, in bytes/s."""
    p = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", str(MiB), "-seconds", "3"],
                       capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if line.startswith("sha256"):
            return float(re.findall(r"([0-9.]+)k", line)[-1]) * 1000
    raise SystemExit("bench: cannot parse openssl speed output")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="1/8 of the sizes, for a smoke run")
    ap.add_argument("--no-8gib", action="store_true")
    args = ap.parse_args()
    tools = os.path.join(os.path.abspath(args.build), "tools")
    ms = lambda c: os.path.join(tools, "modelseal-" + c)
    cores = os.cpu_count() or 1
    tmp = tempfile.mkdtemp(prefix="modelseal-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        key = os.path.join(tmp, "bench")
        subprocess.run([ms("keygen"), "-o", key, "--insecure-no-passphrase", "-q"], check=True)
        print(f"generating models in {tmp} ...", file=sys.stderr, flush=True)
        models = make_models(tmp, args.quick)
        core_speed = openssl_single_core()
        results = {"cores": cores, "openssl_single_core_bytes_per_s": core_speed, "models": []}
        for label, path in models.items():
            size = tree_bytes(path)
            files = file_list(path)
            flist = os.path.join(tmp, "files.txt")
            with open(flist, "w") as f:
                f.write("\n".join(files))
            timed(["cat", *files[:1]], repeat=1)
            rows = {}
            rows["sha256sum"] = timed(f"xargs -a {flist} -d '\\n' sha256sum", shell=True)
            rows["openssl dgst -sha256"] = timed(f"xargs -a {flist} -d '\\n' openssl dgst -sha256", shell=True)
            rows[f"xargs -P{cores} sha256sum"] = timed(
                f"find {path} -type f ! -name model.sig -print0 | xargs -0 -P{cores} -n 64 sha256sum", shell=True)
            rows["modelseal digest"] = timed([ms("digest"), path])
            rows["modelseal sign"] = timed([ms("sign"), path, "-k", key + ".key", "-q"])
            rows["modelseal verify"] = timed([ms("verify"), path, "-p", key + ".pub", "-q"])
            if len(files) == 1:
                shard = max(size // (cores * 4), MiB)
                rows[f"modelseal sign --shard-size {shard}"] = timed(
                    [ms("sign"), path, "-k", key + ".key", "-q", "--shard-size", str(shard)])
                rows["modelseal verify (shards)"] = timed([ms("verify"), path, "-p", key + ".pub", "-q"])
            limit = core_speed * min(cores, len(files))
            entry = {"model": label, "bytes": size, "files": len(files), "limit_bytes_per_s": limit, "runs": []}
            for name, secs in rows.items():
                # Shards spread one file over every core: their limit is all cores.
                row_limit = core_speed * cores if "shard" in name else limit
                entry["runs"].append({"tool": name, "seconds": secs, "bytes_per_s": size / secs,
                                      "vs_sha256sum": rows["sha256sum"] / secs,
                                      "vs_limit": (size / secs) / row_limit})
            results["models"].append(entry)
            print_table(entry, cores)
        results["peak_rss_kib"] = measure_rss(tmp, ms, key, args)
        print("\npeak RSS (KiB):", json.dumps(results["peak_rss_kib"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure_rss(tmp, ms, key, args):
    out = {}
    sizes = [2 * GiB] + ([] if args.no_8gib or args.quick else [8 * GiB])
    if args.quick:
        sizes = [256 * MiB, GiB]
    for size in sizes:
        m = os.path.join(tmp, f"rss-{size >> 20}MiB")
        for i in range(4):
            write_random(os.path.join(m, f"part{i}.bin"), size // 4)
        out[f"{size >> 20} MiB"] = {
            "sign": peak_rss_kib([ms("sign"), m, "-k", key + ".key", "-q"]),
            "verify": peak_rss_kib([ms("verify"), m, "-p", key + ".pub", "-q"]),
        }
        shutil.rmtree(m)
    return out


def print_table(entry, cores):
    print(f"\n{entry['model']}: {entry['bytes'] / MiB:.0f} MiB in {entry['files']} files; "
          f"limit {entry['limit_bytes_per_s'] / MiB:.0f} MiB/s (min({cores} cores, files) x OpenSSL single-core; "
          f"shard rows: {cores} cores)")
    print(f"  {'tool':<40} {'MiB/s':>8} {'x sha256sum':>12} {'x limit':>8}")
    for r in entry["runs"]:
        print(f"  {r['tool']:<40} {r['bytes_per_s'] / MiB:>8.0f} {r['vs_sha256sum']:>12.2f} {r['vs_limit']:>8.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Benchmark of verification at load time (issue 18): not a test, it prints ratios against
baselines measured in the same run, each the median of several runs with the page cache warm.

  bench_loadtime.py BUILD_DIR [--mib N] [--runs N] [--json FILE]

  shard-signed first open   the first open of one 1 GiB file signed with --shard-size 128M
                            (head -c1), under the shim, vs `modelseal verify` of it
                            (target <= 1.15); and with the whole read (cat)
  preverify                 4 files read one by one by one process under the shim with
                            MODELSEAL_PREVERIFY=model vs `modelseal verify` (target <= 1.2)
  eight at once, cold       8 processes started together, each reading every file, the
                            verification cache empty: total CPU vs 8 plain cats + 1 verify
                            (target <= 1.3); each process's wall time after the first
                            finishes vs a plain cat                          (target <= 1.1)
  warm new process          first open of every file with the cache warm vs a plain cat
                            (target <= 1.05)
  torch                     Debian's python3-torch loading a checkpoint in 4 spawned workers,
                            shim (cache on) vs no shim
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(argv, env=None):
    """Wall and CPU seconds of one run of argv (output discarded)."""
    c0, t0 = children_cpu(), time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, children_cpu() - c0


def median(runs, fn):
    walls, cpus = zip(*(fn() for _ in range(runs)))
    return statistics.median(walls), statistics.median(cpus)


def paired(runs, *fns):
    """Runs of each fn taken in turn (a, b, a, b, ...), so that a slow moment of the machine
    falls on both sides: the median (wall, cpu) of each."""
    results = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            results[i].append(fn())
    return [(statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs)) for rs in results]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    tool = lambda n: os.path.join(build, "tools", "modelseal-" + n)  # noqa: E731
    shim = os.path.join(build, "lib", "preload", "libmodelseal-preload.so")
    tmp = tempfile.mkdtemp(prefix="ms-bench-loadtime-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        subprocess.run([tool("keygen"), "-q", "--insecure-no-passphrase", "-o", os.path.join(tmp, "k")], check=True)
        key, pub = os.path.join(tmp, "k.key"), os.path.join(tmp, "k.pub")
        policy = os.path.join(tmp, "policy.json")
        with open(policy, "w") as f:
            json.dump({"keys": [{"type": "ed25519", "path": pub}]}, f)
        one, four = os.path.join(tmp, "one"), os.path.join(tmp, "four")
        os.makedirs(one)
        os.makedirs(four)
        chunk = os.urandom(1 << 20)
        with open(os.path.join(one, "model.bin"), "wb") as f:
            for _ in range(a.mib):
                f.write(chunk)
        parts = [os.path.join(four, "part-%d.bin" % i) for i in range(4)]
        for p in parts:
            with open(p, "wb") as f:
                for _ in range(a.mib // 4):
                    f.write(os.urandom(1 << 20)[:1] + chunk[1:])
        subprocess.run([tool("sign"), "-q", one, "-k", key, "--shard-size", "128M"], check=True)
        subprocess.run([tool("sign"), "-q", four, "-k", key], check=True)
        time.sleep(0.05)   # versions a clock tick old can be recorded
        big = os.path.join(one, "model.bin")
        subprocess.run(["cat", big] + parts, stdout=subprocess.DEVNULL, check=True)   # warm the page cache
        base = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_") and k != "LD_PRELOAD"}

        def shim_env(root, **extra):
            return dict(base, LD_PRELOAD=shim, MODELSEAL_POLICY=policy, MODELSEAL_ROOTS=root, **extra)

        cache = os.path.join(tmp, "cache")
        fresh = lambda: shutil.rmtree(cache, True)  # noqa: E731
        out = {"mib": a.mib, "runs": a.runs, "cores": os.cpu_count()}

        off = {"MODELSEAL_CACHE_DIR": "off"}
        verify_one, shim_one, shim_one_read = paired(
            a.runs, lambda: timed([tool("verify"), one, "--policy", policy, "-q"]),
            # The open alone (head reads one byte), then the open and the whole read.
            lambda: timed(["head", "-c1", big], shim_env(one, **off)),
            lambda: timed(["cat", big], shim_env(one, **off)))
        out["shard_first_open"] = {"shim": shim_one[0], "shim_and_read": shim_one_read[0], "verify": verify_one[0],
                                   "ratio": shim_one[0] / verify_one[0],
                                   "ratio_with_read": shim_one_read[0] / verify_one[0]}

        verify_four, pre, nopre, plain = paired(
            a.runs, lambda: timed([tool("verify"), four, "--policy", policy, "-q"]),
            lambda: timed(["cat"] + parts, shim_env(four, MODELSEAL_PREVERIFY="model", **off)),
            lambda: timed(["cat"] + parts, shim_env(four, **off)),
            lambda: timed(["cat"] + parts))
        out["preverify"] = {"shim": pre[0], "shim_without_preverify": nopre[0], "verify": verify_four[0],
                            "plain_read": plain[0], "ratio": pre[0] / verify_four[0],
                            "ratio_without_preverify": nopre[0] / verify_four[0]}

        def eight(**extra):
            fresh()
            env = shim_env(four, MODELSEAL_CACHE_DIR=cache, **extra)
            c0, t0 = children_cpu(), time.perf_counter()
            procs = [subprocess.Popen(["cat"] + parts, env=env, stdout=subprocess.DEVNULL) for _ in range(8)]
            ends = []
            for p in procs:
                if p.wait() != 0:
                    raise SystemExit("a shim reader failed")
                ends.append(time.perf_counter() - t0)
            return sorted(ends), children_cpu() - c0

        budget = 8 * plain[1] + verify_four[1]
        for name, extra in [("eight_cold", {}), ("eight_cold_preverify", {"MODELSEAL_PREVERIFY": "model"})]:
            runs8 = [eight(**extra) for _ in range(a.runs)]
            cpu8 = statistics.median(r[1] for r in runs8)
            after_first = statistics.median(max(r[0][1:]) - r[0][0] for r in runs8)
            out[name] = {"cpu": cpu8, "cpu_budget": budget, "cpu_ratio": cpu8 / budget,
                         "first_finishes": statistics.median(r[0][0] for r in runs8),
                         "last_finishes": statistics.median(r[0][-1] for r in runs8),
                         "others_after_first": after_first, "plain_read": plain[0], "verify": verify_four[0],
                         "wall_ratio": after_first / plain[0]}

        fresh()
        subprocess.run([tool("verify"), four, "--policy", policy, "--record", "-q"],
                       env=dict(base, MODELSEAL_CACHE_DIR=cache), check=True)
        warm, plain2 = paired(a.runs, lambda: timed(["cat"] + parts, shim_env(four, MODELSEAL_CACHE_DIR=cache)),
                              lambda: timed(["cat"] + parts))
        # The opens and reads alone, timed inside the process (its start-up, which loads the shim
        # and its policy, left out).
        inside = lambda env: float(subprocess.run([PY, "-c", READ_TIMED] + parts, env=env, check=True,  # noqa: E731
                                                  capture_output=True).stdout)
        opens = [[], []]
        for _ in range(a.runs):
            opens[0].append(inside(shim_env(four, MODELSEAL_CACHE_DIR=cache)))
            opens[1].append(inside(base))
        warm_open, plain_open = statistics.median(opens[0]), statistics.median(opens[1])
        out["warm_new_process"] = {"shim": warm[0], "plain_read": plain2[0], "ratio": warm[0] / plain2[0],
                                   "opens_shim": warm_open, "opens_plain": plain_open,
                                   "opens_ratio": warm_open / plain_open}

        out["torch"] = bench_torch(tmp, tool, shim_env, cache, a.runs)
        report(out)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=2)
    finally:
        shutil.rmtree(tmp, True)


READ_TIMED = r"""
import sys, time
t = time.perf_counter()
for p in sys.argv[1:]:
    with open(p, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass
print(time.perf_counter() - t)
"""

TORCH_LOADER = r"""
import inspect, multiprocessing as mp, sys, torch
def work(path):
    kw = {"mmap": True} if "mmap" in inspect.signature(torch.load).parameters else {}
    sd = torch.load(path, **kw)
    return float(sum(t.double().sum() for t in sd.values()))
if __name__ == "__main__":
    with mp.get_context("spawn").Pool(4) as pool:
        sums = pool.map(work, [sys.argv[1]] * 4)
    assert len(set(sums)) == 1
"""


def bench_torch(tmp, tool, shim_env, cache, runs):
    import importlib.util
    import inspect
    if importlib.util.find_spec("torch") is None:
        return {"skipped": "python3-torch is not installed"}
    import torch
    model = os.path.join(tmp, "torch")
    os.makedirs(model)
    ckpt = os.path.join(model, "model.pt")
    torch.save({"w%d" % i: torch.randn(125 * 1024 * 1024 // 4) for i in range(4)}, ckpt)   # 500 MiB
    key = os.path.join(tmp, "k.key")
    subprocess.run([tool("sign"), "-q", model, "-k", key], check=True)
    time.sleep(0.05)
    loader = os.path.join(tmp, "loader.py")
    with open(loader, "w") as f:
        f.write(TORCH_LOADER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_") and k != "LD_PRELOAD"}
    def shimmed():
        shutil.rmtree(cache, True)
        return timed([PY, loader, ckpt], shim_env(model, MODELSEAL_CACHE_DIR=cache))

    plain, under = paired(runs, lambda: timed([PY, loader, ckpt], env), shimmed)
    return {"mmap": "mmap" in inspect.signature(torch.load).parameters, "plain": plain[0], "shim": under[0],
            "ratio": under[0] / plain[0], "checkpoint_mib": os.path.getsize(ckpt) >> 20}


def report(o):
    print("load-time verification, %d MiB, %d cores, median of %d runs" % (o["mib"], o["cores"], o["runs"]))
    s = o["shard_first_open"]
    print("shard-signed first open (shim):   %.3f s  vs verify %.3f s: %.2fx (target <= 1.15); "
          "with the read: %.2fx" % (s["shim"], s["verify"], s["ratio"], s["ratio_with_read"]))
    p = o["preverify"]
    print("4 files, MODELSEAL_PREVERIFY:     %.3f s  vs verify %.3f s: %.2fx (target <= 1.2); without: %.2fx" %
          (p["shim"], p["verify"], p["ratio"], p["ratio_without_preverify"]))
    for name, label in [("eight_cold", "8 processes at once, cold cache: "),
                        ("eight_cold_preverify", "the same with PREVERIFY=model:  ")]:
        e = o[name]
        print("%s CPU %.3f s vs 8 cats + 1 verify %.3f s: %.2fx (target <= 1.3)" %
              (label, e["cpu"], e["cpu_budget"], e["cpu_ratio"]))
        print("  first finishes after %.3f s, the last %.3f s later: %.2fx a plain read of %.3f s (target <= 1.1);"
              " verify takes %.3f s" % (e["first_finishes"], e["others_after_first"], e["wall_ratio"], e["plain_read"],
                                        e["verify"]))
    w = o["warm_new_process"]
    print("new process, cache warm:          %.3f s  vs plain read %.3f s: %.2fx (target <= 1.05)" %
          (w["shim"], w["plain_read"], w["ratio"]))
    print("  its opens and reads alone:      %.3f s  vs %.3f s: %.2fx" % (w["opens_shim"], w["opens_plain"],
                                                                          w["opens_ratio"]))
    t = o["torch"]
    if "skipped" in t:
        print("torch: skipped (%s)" % t["skipped"])
    else:
        print("torch.load%s of %d MiB in 4 spawned workers: %.3f s shim vs %.3f s plain: %.2fx" %
              ("(mmap=True)" if t["mmap"] else " (this torch has no mmap=)", t["checkpoint_mib"], t["shim"],
               t["plain"], t["ratio"]))


if __name__ == "__main__":
    sys.exit(main())

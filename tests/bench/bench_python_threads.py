"""Two Python threads verifying two models at once, against one verifying one: the package calls
the library with the GIL released, so the two verifications should take about the time of one
(given two free cores). Each verification hashes with one thread (threads=1) so that the
comparison is between Python threads. Prints the times and the ratio; asserts nothing about time.

    bench_python_threads.py BUILD [--mib N] [--rounds N]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.environ.get("MODELSEAL_SOURCE", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "lib", "python"))
import modelseal  # noqa: E402


def make_model(path, mib):
    os.makedirs(path)
    chunk = os.urandom(1 << 20)
    for i in range(4):
        with open(os.path.join(path, f"shard-{i}.bin"), "wb") as f:
            for _ in range(mib // 4):
                f.write(chunk)


def best_of(rounds, fn):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--mib", type=int, default=128, help="size of each model")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tools = os.path.join(args.build, "tools")
    tmp = tempfile.mkdtemp(prefix="modelseal-bench-py-")
    try:
        key = os.path.join(tmp, "k")
        subprocess.run([os.path.join(tools, "modelseal-keygen"), "-o", key, "--insecure-no-passphrase", "-q"],
                       check=True)
        models = [os.path.join(tmp, "a"), os.path.join(tmp, "b")]
        for m in models:
            make_model(m, args.mib)
            subprocess.run([os.path.join(tools, "modelseal-sign"), m, "-k", key + ".key", "-q"], check=True)
        pub = key + ".pub"

        def verify(m):
            modelseal.verify(m, public_key=pub, threads=1)

        verify(models[0])  # warm the page cache
        verify(models[1])
        one = best_of(args.rounds, lambda: verify(models[0]))
        sequential = best_of(args.rounds, lambda: (verify(models[0]), verify(models[1])))

        def concurrent():
            ts = [threading.Thread(target=verify, args=(m,)) for m in models]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        parallel = best_of(args.rounds, concurrent)
        cores = len(os.sched_getaffinity(0))
        print(f"bench-python-threads: {args.mib} MiB per model, {cores} cores available, best of {args.rounds}")
        print(f"  one thread, one model:        {one:.3f} s ({args.mib / one:.0f} MiB/s)")
        print(f"  one thread, two models:       {sequential:.3f} s")
        print(f"  two threads, two models:      {parallel:.3f} s")
        print(f"  ratio two threads / one model: {parallel / one:.2f} (1.0: fully parallel; 2.0: serialized)")
        print(f"  speed-up over sequential:      {sequential / parallel:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

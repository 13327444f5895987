"""Benchmark of encrypted models (issue 15): not a test, it prints ratios against baselines
measured in the same run, each the median of several paired runs with the page cache warm.

  bench_encrypted.py BUILD_DIR [--mib N] [--files N] [--runs N] [--json FILE]

  verify -i      `modelseal verify -i` of the model encrypted at rest (NAME.age) vs `modelseal
                 verify` of its plaintext (target <= 1.6), and both vs `sha256sum` of the plaintext
  shim open      under the shim, the first open of one encrypted file (decrypted into sealed memory
                 and checked) vs the first open of the same file in plaintext (hashed), both read
                 whole with cat
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_loadtime import paired, timed  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    tool = lambda name: os.path.join(a.build, "tools", "modelseal-" + name)  # noqa: E731
    shim = os.path.join(a.build, "lib", "preload", "libmodelseal-preload.so")
    tmp = tempfile.mkdtemp(prefix="ms-bench-enc-")
    try:
        plain, enc = os.path.join(tmp, "plain"), os.path.join(tmp, "enc")
        os.makedirs(plain)
        each = a.mib // a.files
        names = ["model-%05d.safetensors" % i for i in range(a.files)]
        for n in names:
            with open(os.path.join(plain, n), "wb") as f:
                for _ in range(each):
                    f.write(os.urandom(1 << 20))
        key, ident = os.path.join(tmp, "k"), os.path.join(tmp, "id")
        subprocess.run([tool("keygen"), "--insecure-no-passphrase", "-o", key, "-q"], check=True)
        rcp = subprocess.run([tool("keygen"), "-t", "x25519", "-o", ident, "-q"], check=True,
                             capture_output=True, text=True).stdout.strip()
        subprocess.run([tool("sign"), plain, "-k", key + ".key", "-q"], check=True)
        subprocess.run([tool("encrypt"), plain, "-p", key + ".pub", "-r", rcp, "-o", enc, "-q"], check=True)
        files = [os.path.join(plain, n) for n in names]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_") and k != "LD_PRELOAD"}
        env["MODELSEAL_CACHE_DIR"] = "off"
        (sha, _), (vplain, _), (venc, _) = paired(
            a.runs,
            lambda: timed(["sha256sum"] + files, env),
            lambda: timed([tool("verify"), plain, "-p", key + ".pub", "-q"], env),
            lambda: timed([tool("verify"), enc, "-p", key + ".pub", "-i", ident, "-q"], env))

        def shim_env(root):
            return dict(env, LD_PRELOAD=shim, MODELSEAL_ROOTS=root, MODELSEAL_PUBLIC_KEY=key + ".pub",
                        MODELSEAL_IDENTITY=ident)
        first = names[0]
        (cat_plain, _), (open_plain, _), (open_enc, _) = paired(
            a.runs,
            lambda: timed(["cat", os.path.join(plain, first)], env),
            lambda: timed(["cat", os.path.join(plain, first)], shim_env(plain)),
            lambda: timed(["cat", os.path.join(enc, first)], shim_env(enc)))
        o = {"mib": a.mib, "files": a.files, "cores": os.cpu_count(), "runs": a.runs,
             "sha256sum": sha, "verify_plain": vplain, "verify_encrypted": venc,
             "ratio_verify": venc / vplain, "cat_plain": cat_plain, "shim_open_plain": open_plain,
             "shim_open_encrypted": open_enc, "ratio_open": open_enc / open_plain}
        print("encrypted models, %d MiB in %d files, %d cores, median of %d paired runs (whole process, wall)"
              % (a.mib, a.files, o["cores"], a.runs))
        print("  sha256sum of the plaintext         %7.3f s" % sha)
        print("  verify (plaintext)                 %7.3f s   %.2fx sha256sum" % (vplain, vplain / sha))
        print("  verify -i (NAME.age)               %7.3f s   %.2fx verify   (target <= 1.6)" % (venc, o["ratio_verify"]))
        print("  cat of one %d MiB file, no shim    %7.3f s" % (each, cat_plain))
        print("  shim, first open, plaintext        %7.3f s" % open_plain)
        print("  shim, first open, encrypted        %7.3f s   %.2fx the plaintext open" % (open_enc, o["ratio_open"]))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(o, f, indent=1)
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()

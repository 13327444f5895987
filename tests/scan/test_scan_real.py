#!/usr/bin/python3
"""Real files: model files that are not pickles must not be flagged, and real torch.save
checkpoints must be judged correctly.

    test_scan_real.py npm   MODELSEAL_SCAN NPM_PREFIX   tfjs shards and ONNX models from npm
    test_scan_real.py torch MODELSEAL_SCAN              checkpoints written by python3-torch

Exits 77 (skipped) when npm, or Debian's python3-torch, is not available.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
PACKAGES = ["@vladmandic/face-api", "@ricky0123/vad-web"]


def scan(binary, *paths):
    p = subprocess.run([binary, "--json", *paths], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return p.returncode, json.loads(p.stdout.decode()), p.stderr.decode()


def test_npm(binary, prefix):
    npm = shutil.which("npm")
    if not npm:
        print("npm is not installed: skipped")
        return SKIP
    modules = os.path.join(prefix, "node_modules")
    if not all(os.path.isdir(os.path.join(modules, p)) for p in PACKAGES):
        r = subprocess.run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--ignore-scripts",
                            *PACKAGES], timeout=900)
        if r.returncode != 0:
            print("npm install failed")
            return 1
    files = []
    for pkg in PACKAGES:
        for root, _, names in os.walk(os.path.join(modules, pkg)):
            files += [os.path.join(root, n) for n in names if n.endswith((".bin", ".onnx"))]
    shards = [f for f in files if f.endswith(".bin")]
    onnx = [f for f in files if f.endswith(".onnx")]
    if not shards or not onnx:
        print("expected tfjs shards and ONNX models, found %d and %d" % (len(shards), len(onnx)))
        return 1
    rc, doc, err = scan(binary, *files)
    bad = [f for f in doc["files"] if f["verdict"] == "unsafe" or "error" in f]
    for f in bad:
        print("FAIL: %s flagged: %s" % (f["path"], json.dumps(f)))
    if rc != 0:
        print("FAIL: exit %d" % rc)
    # Every file of both packages (JS, JSON manifests, typings...) must pass too.
    rc2, doc2, _ = scan(binary, *[os.path.join(modules, p) for p in PACKAGES])
    for f in doc2["files"]:
        if f["verdict"] == "unsafe" or "error" in f:
            print("FAIL: %s flagged: %s" % (f["path"], json.dumps(f)))
    print("%d tfjs shards, %d ONNX models, %d package files scanned" % (len(shards), len(onnx), len(doc2["files"])))
    return 0 if rc == 0 and rc2 == 0 and not bad else 1


def test_torch(binary):
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch"], stderr=subprocess.DEVNULL)
    if probe.returncode != 0:
        print("python3-torch is not installed: skipped")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        script = r'''
import os, sys, collections, torch
out = sys.argv[1]
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
torch.save(model.state_dict(), os.path.join(out, "state_dict.pt"))
torch.save({"epoch": 3, "weights": torch.randn(5, 5), "ints": torch.arange(7), "half": torch.ones(2, dtype=torch.float16),
            "names": ["a", "b"], "param": torch.nn.Parameter(torch.zeros(3))}, os.path.join(out, "checkpoint.pt"))
torch.save(model.state_dict(), os.path.join(out, "legacy.pt"), _use_new_zipfile_serialization=False)
torch.save({"weights": torch.randn(2), "hook": Evil()}, os.path.join(out, "evil.pt"))
torch.save({"weights": torch.randn(2), "hook": Evil()}, os.path.join(out, "evil_legacy.pt"),
           _use_new_zipfile_serialization=False)
'''
        r = subprocess.run(["/usr/bin/python3", "-c", script, tmp])
        if r.returncode != 0:
            print("torch.save failed")
            return 1
        rc, doc, err = scan(binary, tmp)
        want = {"state_dict.pt": ("safe", "pytorch-zip"), "checkpoint.pt": ("safe", "pytorch-zip"),
                "legacy.pt": ("safe", "pytorch-legacy"), "evil.pt": ("unsafe", "pytorch-zip"),
                "evil_legacy.pt": ("unsafe", "pytorch-legacy")}
        ok = rc == 1
        for f in doc["files"]:
            name = os.path.basename(f["path"])
            got = (f["verdict"], f["format"])
            if got != want[name]:
                ok = False
                print("FAIL: %s: %s, expected %s: %s" % (name, got, want[name], json.dumps(f)))
            if name.startswith("evil") and not any("system" in x["what"] for x in f["findings"]):
                ok = False
                print("FAIL: %s: os.system not reported" % name)
        rc, _, _ = scan(binary, *[os.path.join(tmp, n) for n in want if not n.startswith("evil")])
        if rc != 0:
            ok = False
            print("FAIL: real benign checkpoints: exit %d" % rc)
        print("torch.save checkpoints: %s" % ("ok" if ok else "FAILED"))
        return 0 if ok else 1


def main():
    mode, binary = sys.argv[1], sys.argv[2]
    if mode == "npm":
        return test_npm(binary, sys.argv[3])
    return test_torch(binary)


if __name__ == "__main__":
    sys.exit(main())

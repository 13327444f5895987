"""Shared set-up for the load-time tests: keys, signed models, and running under the shim."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("MODELSEAL_BUILD", "")
SHIM = os.environ.get("MODELSEAL_PRELOAD", os.path.join(BUILD, "lib/preload/libmodelseal-preload.so"))
PYTHON = "/usr/bin/python3"
# MODELSEAL_TEST_CACHE=on runs the tests with the machine's verification cache on, in a folder of
# this test process's own.
CACHE_DIR = tempfile.mkdtemp(prefix="ms-test-cache-") if os.environ.get("MODELSEAL_TEST_CACHE") == "on" else ""
if CACHE_DIR:
    import atexit
    atexit.register(shutil.rmtree, CACHE_DIR, True)


def shim_preload():
    """LD_PRELOAD for the shim; in a sanitizer build the sanitizer runtimes go first, and leak
    checking is off for the programs under test (they are not ours)."""
    runtime = os.environ.get("MODELSEAL_PRELOAD_RUNTIME")
    env = {"LD_PRELOAD": SHIM}
    if runtime:
        env = {"LD_PRELOAD": runtime + ":" + SHIM, "ASAN_OPTIONS": os.environ["MODELSEAL_PRELOAD_ASAN_OPTIONS"]}
    if CACHE_DIR:
        env["MODELSEAL_CACHE_DIR"] = CACHE_DIR
    return env


SHIM_VARS = ("LD_PRELOAD", "MODELSEAL_POLICY", "MODELSEAL_ROOTS", "MODELSEAL_MODE", "MODELSEAL_AUDIT_LOG",
             "MODELSEAL_SCAN", "MODELSEAL_VERBOSE", "MODELSEAL_PRIVATE_COPY_MAX", "MODELSEAL_PUBLIC_KEY",
             "MODELSEAL_PREVERIFY", "MODELSEAL_CACHE_DIR", "XDG_RUNTIME_DIR", "MODELSEAL_IDENTITY",
             "MODELSEAL_DECRYPT_MAX")


def tool(cmd):
    return os.path.join(BUILD, "tools", "modelseal-" + cmd)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in SHIM_VARS}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(argv, env=None, cwd=None, timeout=120):
    return subprocess.run(argv, env=env or clean_env(), cwd=cwd, capture_output=True, timeout=timeout)


def must(argv, **kw):
    r = run(argv, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (argv, r.returncode, r.stderr.decode(errors="replace")))
    return r


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="ms-loadtime-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def p(self, *parts):
        return os.path.join(self.tmp, *parts)

    def keygen(self, name, kind="ed25519"):
        must([tool("keygen"), "--insecure-no-passphrase", "-t", kind, "-o", self.p(name)])
        return self.p(name + ".key"), self.p(name + ".pub")

    def sign(self, model, *keys, extra=()):
        argv = [tool("sign"), model, "-q"] + list(extra)
        for k in keys:
            argv += ["-k", k]
        must(argv)

    def write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    def write_policy(self, name, policy):
        path = self.p(name)
        with open(path, "w") as f:
            json.dump(policy, f)
        return path

    def flip_byte(self, path, pos=0):
        with open(path, "r+b") as f:
            f.seek(pos)
            b = f.read(1)
            f.seek(pos)
            f.write(bytes([b[0] ^ 0x01]))

    def shim_env(self, roots, policy, **extra):
        return clean_env(**dict(shim_preload(), MODELSEAL_POLICY=policy, MODELSEAL_ROOTS=roots, **extra))

    def assertRefused(self, r, reason, path=None):
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        lines = [l for l in err.splitlines() if l.startswith("modelseal: open refused")]
        self.assertTrue(lines, err)
        self.assertIn(reason, lines[0], err)
        if path:
            self.assertTrue(lines[0].endswith(": " + path), lines[0])
        self.assertTrue("Permission denied" in err or "PermissionError" in err, err)

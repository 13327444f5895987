"""Shared helpers for the CLI tests: run the real programs, make models and keys."""
import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("MODELSEAL_BUILD", "build")
SOURCE = os.environ.get("MODELSEAL_SOURCE", ".")
SHARED = os.environ.get("MODELSEAL_SHARED", os.path.join(SOURCE, "..", "shared"))
SCHEMAS = os.path.join(SOURCE, "schemas")
SHIM = os.path.join(BUILD, "lib", "preload", "libmodelseal-preload.so")


def shim_preload():
    """LD_PRELOAD for the loader shim. In a sanitizer build the sanitizer runtimes go first, and
    leak checking is off for the programs under test (cat, python3: not ours)."""
    runtime = os.environ.get("MODELSEAL_PRELOAD_RUNTIME")
    env = {"LD_PRELOAD": SHIM}
    if runtime:
        env = {"LD_PRELOAD": runtime + ":" + SHIM, "ASAN_OPTIONS": os.environ["MODELSEAL_PRELOAD_ASAN_OPTIONS"]}
    if CACHE_DIR:
        env["MODELSEAL_CACHE_DIR"] = CACHE_DIR
    return env


# MODELSEAL_TEST_CACHE=on runs the shim with the machine's verification cache on, in a folder of
# this test process's own (the tamper matrix also records every pristine model in it).
CACHE_DIR = tempfile.mkdtemp(prefix="ms-test-cache-") if os.environ.get("MODELSEAL_TEST_CACHE") == "on" else ""
if CACHE_DIR:
    atexit.register(shutil.rmtree, CACHE_DIR, True)


def tool(name):
    return os.path.join(BUILD, "tools", "modelseal-" + name)


_other_user_tools = None


def tool_for_other_users(name):
    """A copy of modelseal-NAME that any user can run, for tests that drop privileges: the build
    folder may sit under a folder only its owner can enter (a clone in /root). The programs link
    libmodelseal statically, so the copy runs on its own."""
    global _other_user_tools
    if _other_user_tools is None:
        _other_user_tools = tempfile.mkdtemp(prefix="modelseal-tools-")
        os.chmod(_other_user_tools, 0o755)
        atexit.register(shutil.rmtree, _other_user_tools, True)
    dst = os.path.join(_other_user_tools, os.path.basename(tool(name)))
    if not os.path.exists(dst):
        shutil.copy(tool(name), dst)
        os.chmod(dst, 0o755)
    return dst


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    def __repr__(self):
        return f"rc={self.rc}\nstdout={self.out}\nstderr={self.err}"


def run(cmd, *args, env=None, timeout=120, input=None, cwd=None):
    """Runs modelseal-CMD with ARGS (no terminal, so never a prompt or a progress line)."""
    full_env = dict(os.environ)
    full_env.pop("MODELSEAL_PASSPHRASE", None)
    full_env.update(env or {})
    proc = subprocess.run([tool(cmd), *map(str, args)], capture_output=True, env=full_env, timeout=timeout,
                          stdin=subprocess.DEVNULL if input is None else None, input=input, cwd=cwd,
                          start_new_session=True)  # no controlling terminal: no /dev/tty prompt
    return Result(proc)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def tree_state(root):
    """Every file under root with its bytes' digest, mode and mtime: proof that nothing changed."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            entry = (st.st_mode, st.st_size, st.st_mtime_ns)
            if os.path.isfile(p) and not os.path.islink(p) and os.access(p, os.R_OK):
                with open(p, "rb") as f:
                    entry += (hashlib.sha256(f.read()).hexdigest(),)
            state[os.path.relpath(p, root)] = entry
    return state


class CliTest(unittest.TestCase):
    """A test case with a temporary folder, a model and an Ed25519 key pair in it."""

    FILES = {
        "config.json": b'{"hidden_size": 8}\n',
        "model-00001-of-00002.safetensors": os.urandom(300_000),
        "model-00002-of-00002.safetensors": os.urandom(123_457),
        "tokenizer/vocab.txt": b"a\nb\nc\n",
        "tokenizer/deep/merges.txt": b"a b\n",
        "empty.bin": b"",
    }

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-cli-")
        self.model = os.path.join(self.tmp, "model")
        for name, data in self.FILES.items():
            write(os.path.join(self.model, name), data)
        self.key, self.pub = self.keygen("signer")

    def tearDown(self):
        for dirpath, dirnames, filenames in os.walk(self.tmp):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o700)
            for f in filenames:
                p = os.path.join(dirpath, f)
                if not os.path.islink(p):
                    os.chmod(p, 0o600)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def keygen(self, name, type_="ed25519"):
        prefix = os.path.join(self.tmp, name)
        r = run("keygen", "-t", type_, "-o", prefix, "--insecure-no-passphrase", "-q")
        self.assertEqual(r.rc, 0, r)
        return prefix + ".key", prefix + ".pub"

    def sign(self, model=None, *extra, key=None, expect=0):
        r = run("sign", model or self.model, "-k", key or self.key, "-q", *extra)
        self.assertEqual(r.rc, expect, r)
        return r

    def verify(self, model=None, *extra, pub=None, expect=0):
        r = run("verify", model or self.model, "-p", pub or self.pub, *extra)
        self.assertEqual(r.rc, expect, r)
        return r

    def assertOneLineError(self, r, contains=None):
        lines = [l for l in r.err.splitlines() if not l.startswith("hint: ")]
        self.assertEqual(len(lines), 1, r)
        self.assertTrue(lines[0].startswith("modelseal: "), r)
        if contains:
            self.assertIn(contains, lines[0], r)

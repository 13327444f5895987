"""Shared helpers of the Python package's tests: the built tools, a signed model, keys.

The package is imported from the source tree (PYTHONPATH) with the built shared library
($MODELSEAL_LIBRARY); tests/install imports the installed copy instead."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("MODELSEAL_BUILD", "build")
SOURCE = os.environ.get("MODELSEAL_SOURCE", ".")
sys.path.insert(0, os.path.join(SOURCE, "lib", "python"))

import modelseal  # noqa: E402


def tool(name):
    return os.path.join(BUILD, "tools", "modelseal-" + name)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout.decode("utf-8", "replace")
        self.err = proc.stderr.decode("utf-8", "replace")

    @property
    def message(self):
        """The 'modelseal: ...' line, without its prefix."""
        lines = [l for l in self.err.splitlines() if l.startswith("modelseal: ")]
        assert len(lines) == 1, self
        return lines[0][len("modelseal: "):]

    @property
    def hint(self):
        lines = [l for l in self.err.splitlines() if l.startswith("hint: ")]
        return lines[0][len("hint: "):] if lines else ""

    def __repr__(self):
        return f"rc={self.rc}\nstdout={self.out}\nstderr={self.err}"


def run(cmd, *args, env=None, timeout=300):
    full_env = dict(os.environ)
    full_env.pop("MODELSEAL_PASSPHRASE", None)
    full_env.update(env or {})
    proc = subprocess.run([tool(cmd), *map(str, args)], capture_output=True, env=full_env, timeout=timeout,
                          stdin=subprocess.DEVNULL, start_new_session=True)
    return Result(proc)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors_bytes(n_floats=1024):
    """A file in the safetensors layout: u64 header length, JSON header, raw tensor data."""
    import json
    import struct
    data = b"".join(struct.pack("<f", i * 0.5) for i in range(n_floats))
    header = json.dumps({"w": {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


class ModelTest(unittest.TestCase):
    """A temporary folder with a model and an Ed25519 key pair; the model signed by the CLI."""

    FILES = {
        "config.json": b'{"hidden_size": 8}\n',
        "model.safetensors": safetensors_bytes(),
        "tokenizer/vocab.txt": b"a\nb\nc\n",
        "tokenizer/deep/merges.txt": b"a b\n",
        "empty.bin": b"",
    }
    SIGN = True

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-py-")
        self.model = os.path.join(self.tmp, "model")
        for name, data in self.FILES.items():
            write(os.path.join(self.model, name), data)
        self.key, self.pub = self.keygen("signer")
        if self.SIGN:
            self.cli_sign()

    def tearDown(self):
        for dirpath, dirnames, _ in os.walk(self.tmp):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o700)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.model, name)

    def keygen(self, name, type_="ed25519", passphrase_file=None):
        prefix = os.path.join(self.tmp, name)
        args = ["--passphrase-file", passphrase_file] if passphrase_file else ["--insecure-no-passphrase"]
        r = run("keygen", "-t", type_, "-o", prefix, "-q", *args)
        self.assertEqual(r.rc, 0, r)
        return prefix + ".key", prefix + ".pub"

    def cli_sign(self, model=None, *extra, key=None):
        r = run("sign", model or self.model, "-k", key or self.key, "-q", *extra)
        self.assertEqual(r.rc, 0, r)
        return r

    def cli_verify(self, model=None, *extra, pub=None):
        return run("verify", model or self.model, "-p", pub or self.pub, *extra)

    def assertSameRefusal(self, cli, call, cls=None):
        """`call()` raises the exception of the CLI's exit status, with the CLI's line and hint."""
        want = {1: modelseal.NotTrusted, 2: modelseal.UsageError, 3: modelseal.ModelsealOSError}[cli.rc]
        if cls is not None:
            self.assertIs(want, cls, cli)
        with self.assertRaises(want) as cm:
            call()
        e = cm.exception
        self.assertEqual(str(e), cli.message, cli)
        self.assertEqual(e.hint, cli.hint, cli)
        self.assertEqual(e.exit_status, cli.rc)
        return e


def main():
    unittest.main(verbosity=2)

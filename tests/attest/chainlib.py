"""Shared helpers for the attest/chain CLI tests: run the real programs, build the example chain
(with walkthrough.sh), read and rewrite .intoto.jsonl bundles, sign DSSE in Python."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from harness import Result, run  # noqa: E402,F401  (the CLI tests' runner, shared)

BUILD = os.environ.get("MODELSEAL_BUILD", "build")
SOURCE = os.environ.get("MODELSEAL_SOURCE", ".")
SCHEMAS = os.path.join(SOURCE, "schemas")
TOOLS = os.path.join(BUILD, "tools")
HERE = os.path.dirname(os.path.abspath(__file__))

BUNDLES = ["bert.intoto.jsonl", "datasets/wiki-2024.intoto.jsonl", "datasets/code-2024.intoto.jsonl"]
EVAL = "https://in-toto.io/attestation/test-result/v0.1"
SCAN = "https://modelseal.dev/scan/v1"
APPROVAL = "https://modelseal.dev/release-approval/v1"
PROVENANCE = "https://slsa.dev/provenance/v1"


def read_lines(path):
    with open(path, "rb") as f:
        return [l for l in f.read().split(b"\n") if l.strip()]


def write_lines(path, lines):
    with open(path, "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))


def statement_of(line):
    env = json.loads(line)
    return json.loads(base64.b64decode(env["payload"]))


def drop(path, predicate_type, keep=lambda st: False):
    """Removes the lines of `path` with this predicate type (unless keep(statement))."""
    lines = read_lines(path)
    out = [l for l in lines if statement_of(l)["predicateType"] != predicate_type or keep(statement_of(l))]
    assert len(out) < len(lines), f"no {predicate_type} line in {path}"
    write_lines(path, out)


def schema_validator(name):
    import jsonschema
    with open(os.path.join(SCHEMAS, name)) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def sign_envelope(payload, payload_type, key_paths):
    """A DSSE envelope signed in Python (python3-cryptography) with unencrypted PKCS#8 keys."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    sigs = []
    for path in key_paths:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        msg = pae(payload_type, payload)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig = key.sign(msg)
        else:
            sig = key.sign(msg, ec.ECDSA(hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()))
        sigs.append({"sig": base64.b64encode(sig).decode(), "keyid": ""})
    return {"payload": base64.b64encode(payload).decode(), "payloadType": payload_type, "signatures": sigs}


class ChainTest(unittest.TestCase):
    """Builds the example chain once (walkthrough.sh, up to signing the layout); every test works on
    its own copy in self.d."""

    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="modelseal-chain-")
        env = dict(os.environ, PATH=TOOLS + os.pathsep + os.environ.get("PATH", ""), MODELSEAL_SOURCE=SOURCE)
        proc = subprocess.run(["sh", os.path.join(HERE, "walkthrough.sh"), os.path.join(cls.base, "chain"),
                               "build-only"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError("walkthrough.sh failed:\n" + proc.stdout.decode())

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.base, ignore_errors=True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-chain-test-")
        self.d = os.path.join(self.tmp, "chain")
        shutil.copytree(os.path.join(self.base, "chain"), self.d, symlinks=True)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.d, *parts)

    def attest(self, *args):
        r = run("attest", *args, cwd=self.d)
        self.assertEqual(r.rc, 0, r)
        return r

    def verify(self, *extra, bundles=BUNDLES, layout="release.layout.dsse.json", layout_key="keys/owner.pub"):
        args = ["verify", "bert", "--layout", layout, "--layout-key", layout_key]
        for b in bundles:
            args += ["--attestations", b]
        return run("chain", *args, *extra, cwd=self.d)

    def assertFails(self, r, *needles, rc=1):
        """Exit status rc, one error line on stderr naming what failed."""
        self.assertEqual(r.rc, rc, r)
        errors = [l for l in r.err.splitlines() if l.startswith("modelseal: ")]
        self.assertEqual(len(errors), 1, r)
        self.assertTrue(all(l.startswith(("modelseal: ", "hint: ")) for l in r.err.splitlines()), r)
        for n in needles:
            self.assertIn(n, errors[0], r)
        return errors[0]

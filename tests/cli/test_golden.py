"""Golden signature: signing the bundled example model with keys-example/ (Ed25519 is
deterministic) gives tests/data/golden/example-model.sig byte for byte, and a one-byte forgery
of that signature is refused (as signify's regression test does)."""
import base64
import json
import os
import shutil
import stat
import tempfile
import unittest

from harness import SOURCE, run

KEY = os.path.join(SOURCE, "keys-example", "example-NOT-FOR-PRODUCTION.key")
PUB = os.path.join(SOURCE, "keys-example", "example-NOT-FOR-PRODUCTION.pub")
GOLDEN = os.path.join(SOURCE, "tests", "data", "golden", "example-model.sig")
PASS = {"MODELSEAL_PASSPHRASE": "modelseal-example-passphrase"}   # keys-example/README.md


class Golden(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.model = os.path.join(self.tmp, "example-model")
        shutil.copytree(os.path.join(SOURCE, "tests", "data", "example-model"), self.model)
        self.key = os.path.join(self.tmp, "example.key")   # git keeps no modes: a private copy
        shutil.copyfile(KEY, self.key)
        os.chmod(self.key, stat.S_IRUSR | stat.S_IWUSR)
        with open(GOLDEN, "rb") as f:
            self.golden = f.read()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_sign_is_byte_for_byte_the_golden_signature(self):
        r = run("sign", self.model, "-k", self.key, env=PASS)
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(self.model, "model.sig"), "rb") as f:
            self.assertEqual(f.read(), self.golden)

    def test_golden_verifies_and_every_one_byte_forgery_fails(self):
        sig = os.path.join(self.tmp, "golden.sig")
        shutil.copyfile(GOLDEN, sig)
        r = run("verify", self.model, "-p", PUB, "-s", sig)
        self.assertEqual(r.rc, 0, r)
        bundle = json.loads(self.golden)
        env = bundle["dsseEnvelope"]
        raw_sig = base64.b64decode(env["signatures"][0]["sig"])
        payload = base64.b64decode(env["payload"])
        forgeries = {
            "signature byte": ("sig", raw_sig[:10] + bytes([raw_sig[10] ^ 1]) + raw_sig[11:]),
            "payload byte": ("payload", payload[:40] + bytes([payload[40] ^ 1]) + payload[41:]),
        }
        for name, (field, data) in forgeries.items():
            forged = json.loads(self.golden)
            if field == "sig":
                forged["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(data).decode()
            else:
                forged["dsseEnvelope"]["payload"] = base64.b64encode(data).decode()
            with open(sig, "w") as f:
                json.dump(forged, f)
            r = run("verify", self.model, "-p", PUB, "-s", sig)
            self.assertEqual(r.rc, 1, f"{name}: {r}")
            self.assertIn("no signature is from a trusted key", r.err, name)


if __name__ == "__main__":
    unittest.main()

"""`modelseal sign` refuses unsafe content, and `modelseal scan --attest` records a signed scan
result about the model's root digest."""
import base64
import json
import os
import pickle
import sys
import unittest

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from harness import SCHEMAS, CliTest, run, write  # noqa: E402


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class ScanIntegration(CliTest):
    def test_sign_refuses_unsafe_content(self):
        write(os.path.join(self.model, "pytorch_model.bin"), pickle.dumps({"w": Evil()}, protocol=4))
        r = run("sign", self.model, "-k", self.key)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "refusing to sign unsafe content")
        self.assertIn("system", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        r = run("sign", self.model, "-k", self.key, "--insecure-allow-unsafe-content", "-q")
        self.assertEqual(r.rc, 0, r)

    def attestation(self, bundle):
        with open(bundle) as f:
            lines = f.read().splitlines()
        env = json.loads(lines[-1])
        return json.loads(base64.b64decode(env["payload"])), len(lines)

    def test_scan_attest(self):
        bundle = os.path.join(self.tmp, "model.intoto.jsonl")
        r = run("scan", self.model, "--attest", "-k", self.key)
        self.assertEqual(r.rc, 0, r)
        st, n = self.attestation(bundle)
        self.assertEqual(st["predicateType"], "https://modelseal.dev/scan/v1")
        digest = run("digest", self.model).out.strip()
        self.assertEqual("sha256:" + st["subject"][0]["digest"]["sha256"], digest)
        with open(os.path.join(SCHEMAS, "predicate-scan-v1.schema.json")) as f:
            jsonschema.Draft202012Validator(json.load(f)).validate(st["predicate"])
        self.assertEqual(st["predicate"]["verdict"], "safe")

        write(os.path.join(self.model, "evil.pkl"), pickle.dumps(Evil()))
        r = run("scan", self.model, "--attest", "-k", self.key)
        self.assertEqual(r.rc, 1, r)
        st, n2 = self.attestation(bundle)
        self.assertEqual(n2, n + 1)
        self.assertEqual(st["predicate"]["verdict"], "unsafe")

        r = run("scan", self.model, "--attest")
        self.assertEqual(r.rc, 2, r)


if __name__ == "__main__":
    unittest.main()

"""Every schema is valid JSON Schema 2020-12, and real output of the tools validates against it."""
import base64
import glob
import json
import os
import unittest

import jsonschema

from harness import SCHEMAS, SHARED, CliTest, run, write


def schema(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return json.load(f)


def validate(doc, name):
    jsonschema.Draft202012Validator(schema(name)).validate(doc)


class Schemas(CliTest):
    def test_every_schema_is_valid(self):
        files = glob.glob(os.path.join(SCHEMAS, "*.schema.json"))
        self.assertGreaterEqual(len(files), 5)
        for f in files:
            with self.subTest(schema=os.path.basename(f)):
                with open(f) as fh:
                    jsonschema.Draft202012Validator.check_schema(json.load(fh))

    def test_bundle_and_statement(self):
        for extra in ([], ["--shard-size", "100000"]):
            self.sign(None, *extra)
            with open(os.path.join(self.model, "model.sig")) as f:
                bundle = json.load(f)
            validate(bundle, "bundle.schema.json")
            validate(json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"])), "oms-statement.schema.json")
        for version in ("v1.0.1-elliptic-key", "v1.1.0-elliptic-key"):
            with open(os.path.join(SHARED, "vectors/oms", version, "model.sig")) as f:
                validate(json.load(f), "bundle.schema.json")

    def test_verify_reports(self):
        self.sign()
        r = run("verify", self.model, "-p", self.pub, "--json")
        self.assertEqual(r.rc, 0, r)
        report = json.loads(r.out)
        validate(report, "verify-report.schema.json")
        self.assertTrue(report["verified"])
        self.assertEqual(len(report["files"]), len(self.FILES))

        write(os.path.join(self.model, "config.json"), b"{}")
        write(os.path.join(self.model, "extra"), b"x")
        r = run("verify", self.model, "-p", self.pub, "--json")
        self.assertEqual(r.rc, 1, r)
        report = json.loads(r.out)
        validate(report, "verify-report.schema.json")
        self.assertFalse(report["verified"])
        bad = {f["name"]: f["reason"] for f in report["files"] if not f["ok"]}
        self.assertIn("modified", bad["config.json"])
        self.assertIn("unlisted", bad["extra"])

        other_key, _ = self.keygen("other")
        self.sign(key=other_key)
        r = run("verify", self.model, "-p", self.pub, "--json")
        self.assertEqual(r.rc, 1, r)
        validate(json.loads(r.out), "verify-report.schema.json")

    def test_inspect_reports(self):
        self.sign()
        r = run("inspect", os.path.join(self.model, "model.sig"), "--json")
        self.assertEqual(r.rc, 0, r)
        doc = json.loads(r.out)
        validate(doc, "inspect-report.schema.json")
        self.assertFalse(doc["verified"])
        self.assertEqual(doc["statement"]["subject"][0]["name"], "model")
        # A bundle whose payload is not JSON is shown, not trusted.
        with open(os.path.join(self.model, "model.sig")) as f:
            b = json.load(f)
        b["dsseEnvelope"]["payload"] = base64.b64encode(b"not json").decode()
        write(os.path.join(self.model, "model.sig"), json.dumps(b))
        r = run("inspect", os.path.join(self.model, "model.sig"), "--json")
        self.assertEqual(r.rc, 0, r)
        doc = json.loads(r.out)
        validate(doc, "inspect-report.schema.json")
        self.assertIn("statement_error", doc)


    def test_certified_signers_in_reports(self):
        """verify --json and inspect --json of model_signing's certificate and Sigstore bundles."""
        oms = os.path.join(SHARED, "vectors", "oms")
        sigstore = ["--identity", "stefanb@us.ibm.com", "--issuer", "https://sigstore.verify.ibm.com/oauth2",
                    "--ignore", "ignore-me"]
        chain = ["--certificate-chain", os.path.join(oms, "keys", "certificate", "ca-cert.pem")]
        for name, args, method in (("v1.1.0-sigstore", sigstore, "sigstore"),
                                   ("v1.1.0-certificate", chain, "certificate"),
                                   ("v1.1.0-elliptic-key", ["-p", os.path.join(oms, "signing-key-pub.pem")], "key")):
            with self.subTest(vector=name):
                r = run("verify", os.path.join(oms, name), *args, "--json")
                self.assertEqual(r.rc, 0, r)
                report = json.loads(r.out)
                validate(report, "verify-report.schema.json")
                signer = report["signers"][0]
                self.assertEqual("certificate" in signer, method != "key", signer)
                r = run("inspect", os.path.join(oms, name, "model.sig"), "--json")
                self.assertEqual(r.rc, 0, r)
                doc = json.loads(r.out)
                validate(doc, "inspect-report.schema.json")
                self.assertEqual(doc["verification_material"]["method"], method)
                if method == "sigstore":
                    cert = signer["certificate"]
                    self.assertEqual(cert["identity"], "stefanb@us.ibm.com")
                    self.assertEqual(cert["issuer"], "https://sigstore.verify.ibm.com/oauth2")
                    entry = doc["verification_material"]["tlog_entries"][0]
                    self.assertEqual(cert["log_index"], entry["log_index"])
                    self.assertEqual(cert["integrated_time"], entry["integrated_time"])
                    self.assertEqual(doc["verification_material"]["certificate"]["identities"], ["stefanb@us.ibm.com"])


if __name__ == "__main__":
    unittest.main()

"""A trust policy names certified signers beside keys (issue 13): a Sigstore identity under a
trusted root, and certificate roots with an optional identity, under the same rules as keys
(threshold, model globs, validity window, revocation). The vectors are model_signing's own; each
refusal is exit 1 with one line naming why, and each bad policy is exit 2."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import jsonschema

from harness import SHARED, SOURCE, run

OMS = os.path.join(SHARED, "vectors", "oms")
PKI = os.path.join(OMS, "keys", "certificate")
ROOT = os.path.join(SOURCE, "lib", "sigstore", "trusted_root.json")
SIGSTORE = {"identity": "stefanb@us.ibm.com", "issuer": "https://sigstore.verify.ibm.com/oauth2"}
IGNORE = ["--ignore", "ignore-me"]
with open(os.path.join(SOURCE, "schemas", "policy.schema.json")) as f:
    SCHEMA = json.load(f)


def schema_valid(doc):
    try:
        jsonschema.validate(doc, SCHEMA)
        return True
    except jsonschema.ValidationError:
        return False


class PolicySigners(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-policy-signers-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def policy(self, doc, name="policy.json"):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            json.dump(doc, f)
        return p

    def verify(self, model, doc, *extra):
        """Runs verify with `doc` as the policy; a policy the tool accepts must fit the schema."""
        r = run("verify", os.path.join(OMS, model), "--policy", self.policy(doc), *extra)
        if r.rc in (0, 1):
            self.assertTrue(schema_valid(doc), doc)
        return r

    def refused(self, r, rc, *contains):
        self.assertEqual(r.rc, rc, r)
        lines = [l for l in r.err.splitlines() if not l.startswith("hint:")]
        self.assertEqual(len(lines), 1, r)
        for c in contains:
            self.assertIn(c, lines[0], r)

    def other_ca(self):
        key, cert = os.path.join(self.tmp, "other.key"), os.path.join(self.tmp, "other-ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=Other CA"],
                       check=True, capture_output=True)
        return cert

    # --- Sigstore keyless ---------------------------------------------------------------------------

    def test_sigstore_identity_verifies(self):
        for model in ("v1.1.0-sigstore", "v1.0.1-sigstore"):
            r = self.verify(model, {"keys": [{"sigstore": SIGSTORE}]}, *IGNORE)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("stefanb@us.ibm.com", r.out)
        regexp = {"identity_regexp": "stefanb@.*\\.com", "issuer": SIGSTORE["issuer"]}
        r = self.verify("v1.1.0-sigstore", {"keys": [{"id": "ibm", "sigstore": regexp, "trusted_root": ROOT}]}, *IGNORE)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("signed by ibm", r.out)

    def test_sigstore_refusals(self):
        wrong = {"identity": "eve@example.com", "issuer": SIGSTORE["issuer"]}
        self.refused(self.verify("v1.1.0-sigstore", {"keys": [{"sigstore": wrong}]}, *IGNORE), 1, "identity")
        wrong = {"identity": SIGSTORE["identity"], "issuer": "https://accounts.google.com"}
        self.refused(self.verify("v1.1.0-sigstore", {"keys": [{"sigstore": wrong}]}, *IGNORE), 1, "issuer")
        with open(ROOT) as f:
            root = json.load(f)
        stripped = self.policy(dict(root, certificateAuthorities=[]), "no-fulcio.json")
        self.refused(self.verify("v1.1.0-sigstore", {"keys": [{"sigstore": SIGSTORE, "trusted_root": stripped}]},
                                 *IGNORE), 1)
        # A key bundle is not certified by any Sigstore identity.
        self.refused(self.verify("v1.1.0-elliptic-key", {"keys": [{"sigstore": SIGSTORE}]}), 1)
        # The trusted root's path is relative to the policy's folder.
        shutil.copy(ROOT, os.path.join(self.tmp, "root.json"))
        r = self.verify("v1.1.0-sigstore", {"keys": [{"sigstore": SIGSTORE, "trusted_root": "root.json"}]}, *IGNORE)
        self.assertEqual(r.rc, 0, r)

    # --- Certificate roots --------------------------------------------------------------------------

    def test_certificate_roots_verify(self):
        shutil.copy(os.path.join(PKI, "ca-cert.pem"), os.path.join(self.tmp, "ca.pem"))
        for model in ("v1.1.0-certificate", "v0.2.0-certificate"):
            r = self.verify(model, {"keys": [{"certificate": {"roots": "ca.pem"}}]})
            self.assertEqual(r.rc, 0, r)
        r = self.verify("v1.1.0-certificate",
                        {"keys": [{"id": "release-pki", "certificate": {"roots": [self.other_ca(), "ca.pem"]}}]})
        self.assertEqual(r.rc, 0, r)
        self.assertIn("signed by release-pki", r.out)

    def test_certificate_refusals(self):
        self.refused(self.verify("v1.1.0-certificate", {"keys": [{"certificate": {"roots": self.other_ca()}}]}), 1)
        ca = os.path.join(PKI, "ca-cert.pem")
        self.refused(self.verify("v1.1.0-certificate",
                                 {"keys": [{"certificate": {"roots": ca, "identity": "someone-else"}}]}), 1,
                     "someone-else")
        # The intermediate is not a root: a chain must reach the given root itself.
        self.refused(self.verify("v1.1.0-certificate",
                                 {"keys": [{"certificate": {"roots": os.path.join(PKI, "int-ca-cert.pem")}}]}), 1)
        self.refused(self.verify("v1.1.0-sigstore", {"keys": [{"certificate": {"roots": ca}}]}, *IGNORE), 1)

    # --- The same rules as keys ---------------------------------------------------------------------

    def test_rules_apply_to_certified_signers(self):
        ca = os.path.join(PKI, "ca-cert.pem")
        cert = {"certificate": {"roots": ca}}
        self.refused(self.verify("v1.1.0-certificate", {"keys": [dict(cert, revoked=True)]}), 1, "revoked")
        self.refused(self.verify("v1.1.0-certificate", {"keys": [dict(cert, not_after="2020-01-01T00:00:00Z")]}),
                     1, "expired")
        self.refused(self.verify("v1.1.0-certificate", {"keys": [dict(cert, not_before="2999-01-01T00:00:00Z")]}),
                     1, "not valid before")
        self.refused(self.verify("v1.1.0-certificate", {"keys": [dict(cert, models=["llama-*"])]}), 1,
                     "may not sign model \"v1.1.0-certificate\"")
        r = self.verify("v1.1.0-certificate", {"keys": [dict(cert, models=["llama-*", "v1.1.0-*"])]})
        self.assertEqual(r.rc, 0, r)

    def test_mixed_policy_and_threshold(self):
        key = {"type": "p384", "path": os.path.join(OMS, "signing-key-pub.pem")}
        mixed = [{"id": "release-key", **key}, {"id": "ibm", "sigstore": SIGSTORE},
                 {"id": "pki", "certificate": {"roots": os.path.join(PKI, "ca-cert.pem")}}]
        for model, extra in (("v1.1.0-elliptic-key", []), ("v1.1.0-sigstore", IGNORE), ("v1.1.0-certificate", [])):
            r = self.verify(model, {"keys": mixed}, *extra)
            self.assertEqual(r.rc, 0, (model, r))
        # One signature cannot meet a threshold of two, whichever signer made it.
        self.refused(self.verify("v1.1.0-sigstore", {"keys": mixed, "threshold": 2}, *IGNORE), 1,
                     "signed by 1 trusted key, the policy requires 2")

    def test_json_report_names_the_certified_signer(self):
        r = self.verify("v1.1.0-sigstore", {"keys": [{"id": "ibm", "sigstore": SIGSTORE}]}, *IGNORE, "--json")
        self.assertEqual(r.rc, 0, r)
        report = json.loads(r.out)
        self.assertEqual([s["id"] for s in report["signers"]], ["ibm"])

    def test_verbose_and_inspect_show_the_identity(self):
        r = self.verify("v1.1.0-sigstore", {"keys": [{"id": "ibm", "sigstore": SIGSTORE}]}, *IGNORE, "-v")
        self.assertEqual(r.rc, 0, r)
        line = [l for l in r.out.splitlines() if l.startswith("signer ibm: ")]
        self.assertEqual(len(line), 1, r.out)
        self.assertRegex(line[0], r"identity stefanb@us\.ibm\.com, issuer https://sigstore\.verify\.ibm\.com/oauth2, "
                                  r"Rekor log index [0-9]+, logged 20[0-9-]+T[0-9:]+Z$")
        r = self.verify("v1.1.0-certificate", {"keys": [{"certificate": {"roots": os.path.join(PKI, "ca-cert.pem")}}]},
                        "-v")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len([l for l in r.out.splitlines() if l.startswith("signer ")]), 1, r.out)
        r = run("inspect", os.path.join(OMS, "v1.1.0-sigstore", "model.sig"))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(r.out.startswith("UNVERIFIED"), r.out)
        for needle in ("method:        sigstore", "identity:      stefanb@us.ibm.com",
                       "oidc issuer:   https://sigstore.verify.ibm.com/oauth2", "tlog entry:    log index ",
                       "timestamps:    1 RFC 3161"):
            self.assertIn(needle, r.out)
        r = run("inspect", os.path.join(OMS, "v1.1.0-certificate", "model.sig"))
        self.assertIn("method:        certificate", r.out)
        self.assertIn("(2 certificates in the chain)", r.out)

    # --- Bad policies: the operator's to fix, exit 2 --------------------------------------------------

    def test_bad_policies(self):
        ca = os.path.join(PKI, "ca-cert.pem")
        notpem = self.policy({"not": "pem"}, "not-a-cert.pem")
        cases = [
            ({"keys": [{"sigstore": {"identity": "a@b"}}]}, "issuer"),
            ({"keys": [{"sigstore": {"issuer": "https://x"}}]}, "identity"),
            ({"keys": [{"sigstore": dict(SIGSTORE, identity_regexp="a.*")}]}, "exactly one"),
            ({"keys": [{"sigstore": {"identity_regexp": "(", "issuer": "https://x"}}]}, "invalid identity regexp"),
            ({"keys": [{"sigstore": {"identity_regexp": "(" * 40 + "a" + ")" * 40, "issuer": "https://x"}}]},
             "invalid identity regexp"),
            ({"keys": [{"sigstore": {"identity_regexp": "a" * 2000, "issuer": "https://x"}}]}, "invalid identity regexp"),
            ({"keys": [{"sigstore": dict(SIGSTORE, isuer="x")}]}, "unknown field \"isuer\""),
            ({"keys": [{"sigstore": SIGSTORE, "certificate": {"roots": ca}}]}, "exactly one"),
            ({"keys": [{"sigstore": SIGSTORE, "type": "p256"}]}, "exactly one"),
            ({"keys": [{"certificate": {"roots": ca}, "trusted_root": ROOT}]}, "trusted_root"),
            ({"keys": [{"sigstore": SIGSTORE, "trusted_root": os.path.join(self.tmp, "missing.json")}]}, "missing.json"),
            ({"keys": [{"certificate": {}}]}, "roots"),
            ({"keys": [{"certificate": {"roots": []}}]}, "roots"),
            ({"keys": [{"certificate": {"roots": notpem}}]}, "not-a-cert.pem"),
            ({"keys": [{"certificate": {"roots": ca, "identiy": "x"}}]}, "unknown field \"identiy\""),
            ({"keys": [{"id": "x", "sigstore": SIGSTORE}, {"id": "x", "certificate": {"roots": ca}}]}, "named"),
        ]
        # What a schema can say, it says too; the rest (a regexp, files, unique ids) only the tool can.
        schema_blind = ("invalid identity regexp", "missing.json", "not-a-cert.pem", "named")
        for doc, needle in cases:
            r = self.verify("v1.1.0-sigstore", doc, *IGNORE)
            self.assertEqual(schema_valid(doc), needle in schema_blind, doc)
            self.assertEqual(r.rc, 3 if needle == "missing.json" else 2, (doc, r))
            self.assertIn(needle, r.err.splitlines()[0], (doc, r))
        # The command line's regexp is held to the same limits.
        r = run("verify", os.path.join(OMS, "v1.1.0-sigstore"), *IGNORE, "--issuer", "https://x",
                "--identity-regexp", "(" * 40 + "a" + ")" * 40)
        self.refused(r, 2, "invalid identity regexp")


if __name__ == "__main__":
    unittest.main()

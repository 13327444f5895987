"""Every signer kind a policy can name (keys, Sigstore identities, certificate roots) works through
modelseal.verify with no Python-side code of its own: model_signing's reference vectors give the
same decision, signers and message as `modelseal verify --policy`."""
import json
import os
import unittest

from pyharness import SOURCE, ModelTest, main, modelseal, run

SHARED = os.environ.get("MODELSEAL_SHARED", os.path.join(SOURCE, "..", "shared"))
OMS = os.path.join(SHARED, "vectors", "oms")
PKI = os.path.join(OMS, "keys", "certificate")
SIGSTORE = {"identity": "stefanb@us.ibm.com", "issuer": "https://sigstore.verify.ibm.com/oauth2"}


@unittest.skipUnless(os.path.isdir(OMS), "the shared OMS vectors are not beside the project")
class Signers(ModelTest):
    SIGN = False

    def policy(self, keys):
        p = os.path.join(self.tmp, "policy.json")
        with open(p, "w") as f:
            json.dump({"keys": keys}, f)
        return p

    def same_as_cli(self, vector, keys):
        model = os.path.join(OMS, vector)
        policy = self.policy(keys)
        ignore = ["ignore-me"] if os.path.exists(os.path.join(model, "ignore-me")) else []
        cli = run("verify", model, "--policy", policy, "--json", *sum((["--ignore", i] for i in ignore), []))
        if cli.rc != 0:
            self.assertSameRefusal(cli, lambda: modelseal.verify(model, policy=policy, ignore=ignore))
            return None
        m = modelseal.verify(model, policy=policy, ignore=ignore)
        report = json.loads(cli.out)
        self.assertEqual(m.root_digest, report["root_digest"])
        self.assertEqual([s.id for s in m.signers], [s["id"] for s in report["signers"]])
        with open(os.path.join(model, "signme-1"), "rb") as f:
            self.assertEqual(m.read("signme-1"), f.read())
        return m

    def test_public_key(self):
        for vector in ("v1.1.0-elliptic-key", "v1.0.1-elliptic-key"):
            with self.subTest(vector=vector):
                m = self.same_as_cli(vector, [{"id": "release", "type": "p384",
                                               "path": os.path.join(OMS, "signing-key-pub.pem")}])
                self.assertIsNotNone(m)
                self.assertEqual([s.id for s in m.signers], ["release"])

    def test_sigstore_identity(self):
        self.same_as_cli("v1.1.0-sigstore", [{"id": "ibm", "sigstore": SIGSTORE}])
        self.same_as_cli("v1.1.0-sigstore", [{"sigstore": dict(SIGSTORE, identity="eve@example.com")}])

    def test_certificate_roots(self):
        ca = os.path.join(PKI, "ca-cert.pem")
        self.same_as_cli("v1.1.0-certificate", [{"id": "pki", "certificate": {"roots": ca}}])
        self.same_as_cli("v1.1.0-certificate", [{"certificate": {"roots": ca, "identity": "someone-else"}}])
        self.same_as_cli("v1.1.0-sigstore", [{"certificate": {"roots": ca}}])


if __name__ == "__main__":
    main()

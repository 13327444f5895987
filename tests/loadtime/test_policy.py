"""The trust policy through the real CLI (`modelseal verify --policy`, `modelseal sign -k -k`):
key validity times, revocation of keys and model digests, thresholds, model globs, bad policies,
and every policy used here validated against schemas/policy.schema.json."""
import json
import os
import shutil
import unittest

import jsonschema

from lt import TempDirTest, must, run, tool

SCHEMA = json.load(open(os.path.join(os.environ.get("MODELSEAL_SOURCE", "../.."), "schemas", "policy.schema.json")))


class Policy(TempDirTest):
    def setUp(self):
        super().setUp()
        self.k1, self.pub1 = self.keygen("alice")
        self.k2, self.pub2 = self.keygen("bob")
        self.k3, self.pub3 = self.keygen("carol", "p256")
        self.model = self.make_model("bert-base")

    def make_model(self, name):
        model = self.p(name)
        self.write(os.path.join(model, "config.json"), '{"layers": 12}\n')
        self.write(os.path.join(model, "w.bin"), os.urandom(4096))
        return model

    def key(self, pub, kind="ed25519", **extra):
        k = {"type": kind, "path": pub}
        k.update(extra)
        return k

    def verify(self, policy, model=None, want_rc=0, reason=None):
        jsonschema.validate(policy, SCHEMA)
        path = self.write_policy("policy.json", policy)
        r = run([tool("verify"), model or self.model, "--policy", path])
        err = r.stderr.decode()
        self.assertEqual(r.returncode, want_rc, err)
        if reason:
            lines = err.splitlines()
            self.assertTrue(lines and lines[0].startswith("modelseal: "), err)
            self.assertIn(reason, lines[0])
            self.assertTrue(all(l.startswith(("modelseal: ", "hint: ")) for l in lines), err)
        return r

    def test_valid_key_passes(self):
        self.sign(self.model, self.k1)
        self.verify({"version": 1, "keys": [self.key(self.pub1, not_before="2020-01-01T00:00:00Z",
                                                      not_after="2999-01-01T00:00:00+02:00")]})
        r = run([tool("verify"), self.model, "-p", self.pub1])  # -p stays a one-key policy
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_expired_key(self):
        self.sign(self.model, self.k1)
        self.verify({"keys": [self.key(self.pub1, id="alice", not_after="2001-02-03T04:05:06Z")]}, want_rc=1,
                    reason="key alice expired at 2001-02-03T04:05:06Z")

    def test_not_yet_valid_key(self):
        self.sign(self.model, self.k1)
        self.verify({"keys": [self.key(self.pub1, id="alice", not_before="2999-01-01T00:00:00Z")]}, want_rc=1,
                    reason="key alice is not valid before 2999-01-01T00:00:00Z")

    def test_revoked_key(self):
        self.sign(self.model, self.k1)
        self.verify({"keys": [self.key(self.pub1, id="alice", revoked=True)]}, want_rc=1,
                    reason="key alice is revoked")

    def test_revoked_model_digest(self):
        self.sign(self.model, self.k1)
        report = json.loads(must([tool("verify"), self.model, "-p", self.pub1, "--json"]).stdout)
        digest = report["root_digest"]
        for form in [digest, digest[len("sha256:"):].upper()]:
            with self.subTest(form=form):
                self.verify({"keys": [self.key(self.pub1)], "revoked_digests": [form]}, want_rc=1,
                            reason="model digest %s is revoked by the policy" % digest)

    def test_threshold_met_by_two_keys(self):
        self.sign(self.model, self.k1, self.k3)
        policy = {"keys": [self.key(self.pub1, id="alice"), self.key(self.pub3, "p256", id="carol")], "threshold": 2}
        r = self.verify(policy)
        self.assertIn(b"signed by alice, carol", r.stdout)

    def test_threshold_not_met_by_one_key_signing_twice(self):
        # sign refuses the same key twice, so the second signature is copied into the envelope.
        self.assertEqual(run([tool("sign"), self.model, "-k", self.k1, "-k", self.k1]).returncode, 2)
        self.sign(self.model, self.k1)
        sig = os.path.join(self.model, "model.sig")
        bundle = json.load(open(sig))
        sigs = bundle["dsseEnvelope"]["signatures"]
        sigs.append(dict(sigs[0], keyid="bob"))
        json.dump(bundle, open(sig, "w"))
        policy = {"keys": [self.key(self.pub1, id="alice"), self.key(self.pub2, id="bob")], "threshold": 2}
        self.verify(policy, want_rc=1, reason="signed by 1 trusted key, the policy requires 2")

    def test_keyid_hint_is_not_trusted(self):
        self.sign(self.model, self.k1)
        good = json.load(open(os.path.join(self.model, "model.sig")))["dsseEnvelope"]["signatures"][0]["keyid"]
        self.sign(self.model, self.k2)
        sig = os.path.join(self.model, "model.sig")
        bundle = json.load(open(sig))
        bundle["dsseEnvelope"]["signatures"][0]["keyid"] = good
        bundle["verificationMaterial"]["publicKey"]["hint"] = good
        json.dump(bundle, open(sig, "w"))
        self.verify({"keys": [self.key(self.pub1)]}, want_rc=1, reason="no signature is from a trusted key")

    def test_model_name_outside_the_keys_glob(self):
        other = self.make_model("gpt2")
        self.sign(self.model, self.k1)
        self.sign(other, self.k1)
        policy = {"keys": [self.key(self.pub1, id="alice", models=["bert-*", "roberta"])]}
        self.verify(policy)
        self.verify(policy, model=other, want_rc=1, reason='key alice may not sign model "gpt2"')

    def test_bad_policies_are_usage_errors(self):
        self.sign(self.model, self.k1)
        pem = open(self.pub1).read()
        bad = {
            "not json": "{",
            "not an object": "[]",
            "no keys": '{"keys": []}',
            "keys missing": "{}",
            "unknown key type": json.dumps({"keys": [{"type": "rsa", "pem": pem}]}),
            "wrong key type": json.dumps({"keys": [{"type": "p384", "pem": pem}]}),
            "no pem or path": json.dumps({"keys": [{"type": "ed25519"}]}),
            "threshold above keys": json.dumps({"keys": [{"type": "ed25519", "pem": pem}], "threshold": 2}),
            "threshold zero": json.dumps({"keys": [{"type": "ed25519", "pem": pem}], "threshold": 0}),
            "bad time": json.dumps({"keys": [{"type": "ed25519", "pem": pem, "not_after": "tomorrow"}]}),
            "bad digest": json.dumps({"keys": [{"type": "ed25519", "pem": pem}], "revoked_digests": ["abc"]}),
            "unknown field": json.dumps({"keys": [{"type": "ed25519", "pem": pem}], "trust_all": True}),
            "bad unlisted": json.dumps({"keys": [{"type": "ed25519", "pem": pem}], "unlisted_files": "allow"}),
            "missing key file": json.dumps({"keys": [{"type": "ed25519", "path": "nope.pub"}]}),
        }
        for name, text in bad.items():
            with self.subTest(policy=name):
                path = self.p("bad.json")
                self.write(path, text)
                r = run([tool("verify"), self.model, "--policy", path])
                want = 3 if name == "missing key file" else 2
                self.assertEqual(r.returncode, want, r.stderr)
                self.assertTrue(r.stderr.decode().startswith("modelseal: "), r.stderr)
                self.assertEqual(r.stdout, b"")
                if name not in ("not json", "missing key file", "wrong key type", "threshold above keys"):
                    with self.assertRaises(jsonschema.ValidationError):
                        jsonschema.validate(json.loads(text), SCHEMA)

    def test_unlisted_files_policy(self):
        self.sign(self.model, self.k1)
        self.write(os.path.join(self.model, "extra.txt"), "x")
        self.verify({"keys": [self.key(self.pub1)]}, want_rc=1, reason="extra.txt: unlisted file")
        self.verify({"keys": [self.key(self.pub1)], "unlisted_files": "insecure-ignore"})

    def test_example_policy_in_man_page_validates(self):
        man = open(os.path.join(os.environ.get("MODELSEAL_SOURCE", "../.."), "man", "modelseal-policy.5")).read()
        examples = 0
        for block in man.split(".EX\n{")[1:]:
            text = "{" + block[:block.index(".EE")].replace("\\e", "\\")
            jsonschema.validate(json.loads(text), SCHEMA)
            examples += 1
        self.assertEqual(examples, 2)



class CertifiedSignersThroughTheShim(TempDirTest):
    """The shim reads the same policy file as verify: model_signing's certificate and Sigstore
    bundles are trusted through it with no code of its own, and their tampered files refused."""
    OMS = os.path.join(os.environ.get("MODELSEAL_SHARED", "../../../shared"), "vectors", "oms")
    SIGSTORE = {"identity": "stefanb@us.ibm.com", "issuer": "https://sigstore.verify.ibm.com/oauth2"}

    def copy(self, name):
        dst = self.p(name)
        shutil.copytree(os.path.join(self.OMS, name), dst)
        return dst

    def check(self, name, signer, unlisted=None):
        model = self.copy(name)
        doc = {"keys": [signer]}
        if unlisted:
            doc["unlisted_files"] = unlisted
        jsonschema.validate(doc, SCHEMA)
        env = self.shim_env(model, self.write_policy(name + ".json", doc))
        first = os.path.join(model, "signme-1")
        r = run(["cat", first], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(first, "rb") as f:
            self.assertEqual(r.stdout, f.read())
        self.flip_byte(first)
        self.assertRefused(run(["cat", first], env=env), "", first)
        # The shim's trust is the policy's: a signer it does not name is refused.
        other = {"keys": [{"sigstore": {"identity": "eve@example.com", "issuer": self.SIGSTORE["issuer"]}}]}
        env = self.shim_env(model, self.write_policy(name + "-other.json", other))
        self.assertRefused(run(["cat", os.path.join(model, "signme-2")], env=env), "")

    def test_certificate_signer(self):
        ca = os.path.join(self.OMS, "keys", "certificate", "ca-cert.pem")
        self.check("v1.1.0-certificate", {"id": "pki", "certificate": {"roots": ca}})

    def test_sigstore_signer(self):
        # The vector holds ignore-me, which is not signed: the operator says so in the policy.
        self.check("v1.1.0-sigstore", {"id": "ibm", "sigstore": self.SIGSTORE}, unlisted="insecure-ignore")


if __name__ == "__main__":
    unittest.main(verbosity=2)

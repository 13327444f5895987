"""What a signature speaks about is decided by the verifier (red-team findings 8 and 12): a key
scoped to some models cannot vouch for another folder by writing a matching name into its
subject, and what the signer left out is what the signature records, not a fixed list."""
import base64
import hashlib
import json
import os
import unittest

from cryptography.hazmat.primitives import serialization

from harness import CliTest, run, write


class Scope(CliTest):
    def policy(self, globs):
        p = os.path.join(self.tmp, "policy.json")
        with open(p, "w") as f:
            json.dump({"keys": [{"type": "ed25519", "path": self.pub, "models": globs}]}, f)
        return p

    def test_scope_is_checked_against_the_verifiers_name(self):
        gpt2 = os.path.join(self.tmp, "gpt2")
        os.rename(self.model, gpt2)
        # The signer names the folder gpt2 "bert-evil" to fit a key scoped to bert-*.
        self.sign(gpt2, "--model-name", "bert-evil")
        r = run("verify", gpt2, "--policy", self.policy(["bert-*"]))
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, 'the signature is for model "bert-evil", not "gpt2"')
        # Named by the verifier, the scope applies to that name: bert-evil may be signed by it...
        r = run("verify", gpt2, "--policy", self.policy(["bert-*"]), "--model-name", "bert-evil")
        self.assertEqual(r.rc, 0, r)
        # ...and gpt2 may not, whatever the signer wrote.
        self.sign(gpt2)
        r = run("verify", gpt2, "--policy", self.policy(["bert-*"]))
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, 'may not sign model "gpt2"')
        r = run("verify", gpt2, "--policy", self.policy(["gpt2"]))
        self.assertEqual(r.rc, 0, r)
        # A name given on the command line must be the signed one, scoped or not.
        r = run("verify", gpt2, "-p", self.pub, "--model-name", "bert")
        self.assertEqual(r.rc, 1, r)
        r = run("verify", os.path.join(gpt2, "."), "--policy", self.policy(["gpt2"]))
        self.assertEqual(r.rc, 0, r)
        r = run("verify", ".", "--policy", self.policy(["gpt2"]), cwd=gpt2)
        self.assertEqual(r.rc, 0, r)

    def bundle_with_ignores(self, ignores):
        """A statement whose ignore_paths is exactly `ignores`, signed by the test's key."""
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        with open(self.key, "rb") as f:
            sk = load_pem_private_key(f.read(), None)
        resources = []
        for dirpath, dirnames, filenames in os.walk(self.model):
            for n in filenames:
                p = os.path.join(dirpath, n)
                rel = os.path.relpath(p, self.model)
                if rel.split("/")[0] in ignores or rel == "model.sig":
                    continue
                with open(p, "rb") as f:
                    resources.append((rel, hashlib.sha256(f.read()).hexdigest()))
        resources.sort(key=lambda r: r[0].split("/"))
        root = hashlib.sha256(b"".join(bytes.fromhex(d) for _, d in resources)).hexdigest()
        st = {"_type": "https://in-toto.io/Statement/v1",
              "subject": [{"name": "model", "digest": {"sha256": root}}],
              "predicateType": "https://model_signing/signature/v1.0",
              "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                                              "ignore_paths": ignores},
                            "resources": [{"name": n, "algorithm": "sha256", "digest": d} for n, d in resources]}}
        body = json.dumps(st).encode()
        ptype = b"application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(body), body)
        bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                  "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                  "dsseEnvelope": {"payload": base64.b64encode(body).decode(), "payloadType": ptype.decode(),
                                   "signatures": [{"sig": base64.b64encode(sk.sign(pae)).decode(), "keyid": ""}]}}
        write(os.path.join(self.model, "model.sig"), json.dumps(bundle))

    def test_recorded_ignores_are_honoured_exactly(self):
        # An explicit empty list: nothing is left out, not even git paths.
        self.bundle_with_ignores([])
        self.verify()
        write(os.path.join(self.model, ".github", "workflows", "evil.py"), "import os\n")
        r = run("verify", self.model, "-p", self.pub)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(".github/workflows/evil.py: unlisted file", r.err)
        # The signer said .github is not part of the model: then it is not checked.
        self.bundle_with_ignores([".github"])
        self.verify()


if __name__ == "__main__":
    unittest.main()

"""Key identity is the canonical public key (red-team finding 7): the same P-256/P-384 key in
another encoding (compressed point, explicit curve parameters) is the same key, so it cannot be
listed twice to meet a threshold of two, in a policy or a layout; and a bundle carrying the same
signature twice counts one signer."""
import base64
import json
import os
import subprocess
import unittest

from harness import CliTest, run

OPENSSL = "/usr/bin/openssl"


def reencode(pub, out, *args):
    subprocess.run([OPENSSL, "ec", "-pubin", "-in", pub, "-pubout", "-out", out, *args], check=True,
                   capture_output=True)
    return out


class KeyIdentity(CliTest):
    def variants(self, pub):
        return {"compressed": reencode(pub, os.path.join(self.tmp, "c.pub"), "-conv_form", "compressed"),
                "explicit": reencode(pub, os.path.join(self.tmp, "e.pub"), "-param_enc", "explicit")}

    def policy(self, paths, threshold):
        p = os.path.join(self.tmp, "policy.json")
        with open(p, "w") as f:
            json.dump({"threshold": threshold, "keys": [{"type": self.type_, "path": k} for k in paths]}, f)
        return p

    def test_reencoded_key_is_the_same_key(self):
        for self.type_ in ("p256", "p384"):
            key, pub = self.keygen("ec-" + self.type_, self.type_)
            self.sign(key=key)
            for name, other in self.variants(pub).items():
                with open(other) as f:
                    self.assertNotEqual(f.read(), open(pub).read(), name)   # really another encoding
                # The re-encoded key alone verifies (it is the signer's key)...
                r = run("verify", self.model, "-p", other)
                self.assertEqual(r.rc, 0, f"{name}: {r}")
                # ...and counts once: listing it twice is refused, threshold 2 is not met.
                r = run("verify", self.model, "--policy", self.policy([pub, other], 2))
                self.assertEqual(r.rc, 2, f"{name}: {r}")
                self.assertOneLineError(r, "listed twice")
                # The bundle's signature duplicated: still one signer of a threshold of 2.
                sig = os.path.join(self.model, "model.sig")
                with open(sig) as f:
                    bundle = json.load(f)
                sigs = bundle["dsseEnvelope"]["signatures"]
                bundle["dsseEnvelope"]["signatures"] = sigs + sigs
                with open(sig, "w") as f:
                    json.dump(bundle, f)
                _, pub2 = self.keygen("second-" + name + self.type_, self.type_)
                r = run("verify", self.model, "--policy", self.policy([pub, pub2], 2))
                self.assertEqual(r.rc, 1, f"{name}: {r}")
                self.assertIn("signed by 1 trusted key, the policy requires 2", r.err)
                self.sign(key=key)

    def test_layout_refuses_one_key_under_two_names(self):
        key, pub = self.keygen("owner", "p256")
        other = self.variants(pub)["compressed"]
        layout = os.path.join(self.tmp, "layout.json")
        with open(layout, "w") as f:
            json.dump({"_type": "https://modelseal.dev/layout/v1", "expires": "2099-01-01T00:00:00Z",
                       "keys": {"alice": {"path": pub}, "bob": {"path": other}},
                       "owners": {"keys": ["alice"]},
                       "steps": [{"name": "approve", "predicateType": "https://modelseal.dev/release-approval/v1",
                                  "keys": ["alice", "bob"], "threshold": 2, "subject": "model"}]}, f)
        r = run("chain", "sign-layout", layout, "-k", key, "-o", os.path.join(self.tmp, "layout.dsse.json"))
        self.assertEqual(r.rc, 2, r)
        self.assertIn("the same key as another name", r.err)


if __name__ == "__main__":
    unittest.main()

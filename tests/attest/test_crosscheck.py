"""A second implementation checks ours: python3-cryptography verifies the DSSE signatures (over a
PAE computed here, independently) of envelopes modelseal wrote, recomputes the OMS root digests of
the subjects, and writes an envelope that modelseal must accept."""
import base64
import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import APPROVAL, BUNDLES, ChainTest, drop, pae, read_lines, run, sign_envelope  # noqa: E402

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
except ImportError:  # python3-cryptography is not installed
    print("python3-cryptography is missing: skipped")
    sys.exit(77)


def verify_with(pub_path, payload_type, payload, sig):
    with open(pub_path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    msg = pae(payload_type, payload)
    if isinstance(key, ed25519.Ed25519PublicKey):
        key.verify(sig, msg)
    else:
        key.verify(sig, msg, ec.ECDSA(hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()))


def oms_digests(directory):
    """Written from the spec: the OMS root digest (sha256 over the files' sha256 digests, in path
    order) and the manifest digest that also binds names (sha256 over name, NUL, digest)."""
    names = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in (".git", ".github")]
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), directory)
            if rel not in ("model.sig", ".gitattributes", ".gitignore"):
                names.append(rel)
    root, named = hashlib.sha256(), hashlib.sha256()
    for name in sorted(names, key=lambda n: n.split("/")):
        with open(os.path.join(directory, name), "rb") as f:
            digest = hashlib.sha256(f.read()).digest()
        root.update(digest)
        named.update(name.encode() + b"\0" + digest)
    return root.hexdigest(), named.hexdigest()


class CrossCheck(ChainTest):
    SIGNERS = {"https://example.org/dataset-card/v1": "data-team", "https://slsa.dev/provenance/v1": "trainer",
               "https://modelseal.dev/scan/v1": "scanner",
               "https://in-toto.io/attestation/test-result/v0.1": "evaluator"}

    def test_pae_matches_the_spec_example(self):
        # The example of the DSSE protocol document.
        self.assertEqual(pae("http://example.com/HelloWorld", b"hello world"),
                         b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")

    def test_python_verifies_every_envelope_modelseal_wrote(self):
        checked = 0
        for bundle in BUNDLES:
            for line in read_lines(self.p(bundle)):
                env = json.loads(line)
                self.assertEqual(env["payloadType"], "application/vnd.in-toto+json")
                payload = base64.b64decode(env["payload"])
                st = json.loads(payload)
                signer = self.SIGNERS.get(st["predicateType"]) or st["predicate"]["approver"].split("@")[0]
                sig = base64.b64decode(env["signatures"][0]["sig"])
                verify_with(self.p("keys", signer + ".pub"), env["payloadType"], payload, sig)
                with self.assertRaises(InvalidSignature):   # and the signature covers the payload type too
                    verify_with(self.p("keys", signer + ".pub"), "application/json", payload, sig)
                checked += 1
        self.assertEqual(checked, 7)

    def test_python_verifies_the_signed_layout(self):
        with open(self.p("release.layout.dsse.json")) as f:
            env = json.load(f)
        verify_with(self.p("keys", "owner.pub"), env["payloadType"], base64.b64decode(env["payload"]),
                    base64.b64decode(env["signatures"][0]["sig"]))

    def test_ecdsa_envelopes(self):
        for kind in ("p256", "p384"):
            r = run("keygen", "-q", "--insecure-no-passphrase", "-t", kind, "-o", f"keys/{kind}", cwd=self.d)
            self.assertEqual(r.rc, 0, r)
            self.attest("bert", "-k", f"keys/{kind}.key", "-k", "keys/alice.key", "--approve", "9", "--approver",
                        kind, "-o", f"{kind}.intoto.jsonl")
            env = json.loads(read_lines(self.p(f"{kind}.intoto.jsonl"))[0])
            payload = base64.b64decode(env["payload"])
            verify_with(self.p("keys", f"{kind}.pub"), env["payloadType"], payload,
                        base64.b64decode(env["signatures"][0]["sig"]))
            verify_with(self.p("keys", "alice.pub"), env["payloadType"], payload,
                        base64.b64decode(env["signatures"][1]["sig"]))

    def test_subject_digests_are_oms_roots(self):
        for bundle, directory in zip(BUNDLES, ["bert", "datasets/wiki-2024", "datasets/code-2024"]):
            st = json.loads(base64.b64decode(json.loads(read_lines(self.p(bundle))[0])["payload"]))
            root, named = oms_digests(self.p(directory))
            self.assertEqual(st["subject"][0]["digest"]["sha256"], root)
            if directory == "bert":   # a model subject binds its file names; a dependency's need not
                self.assertEqual(st["subject"][0]["digest"]["modelseal-manifest-sha256"], named)

    def test_modelseal_accepts_an_envelope_written_by_python(self):
        # Carol's approval, written and signed here instead of bob's.
        drop(self.p("bert.intoto.jsonl"), APPROVAL, keep=lambda st: st["predicate"]["approver"] != "bob@example.com")
        statement = {"_type": "https://in-toto.io/Statement/v1",
                     "subject": [{"name": "bert", "digest": dict(zip(("sha256", "modelseal-manifest-sha256"),
                                                                     oms_digests(self.p("bert"))))}],
                     "predicateType": APPROVAL,
                     "predicate": {"version": "2.1.0", "approver": "carol@example.com",
                                   "approvedOn": "2026-03-02T09:00:00Z"}}
        env = sign_envelope(json.dumps(statement, indent=1).encode(), "application/vnd.in-toto+json",
                            [self.p("keys", "carol.key")])
        with open(self.p("bert.intoto.jsonl"), "a") as f:
            f.write(json.dumps(env) + "\n")
        r = self.verify()
        self.assertEqual(r.rc, 0, r)
        self.assertIn("signed by alice", r.out)
        self.assertIn("carol", [l for l in r.out.splitlines() if l.startswith("step approval")][0])
        # ... and still refuses it once a byte of its payload changes.
        lines = read_lines(self.p("bert.intoto.jsonl"))
        env["payload"] = base64.b64encode(base64.b64decode(env["payload"]).replace(b"carol@", b"carl@")).decode()
        lines[-1] = json.dumps(env).encode()
        with open(self.p("bert.intoto.jsonl"), "wb") as f:
            f.write(b"".join(l + b"\n" for l in lines))
        self.assertEqual(self.verify().rc, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

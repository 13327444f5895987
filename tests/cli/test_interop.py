"""A second implementation (Debian's python3-cryptography) checks modelseal's bundles, and
modelseal verifies bundles that it did not write."""
import base64
import hashlib
import json
import os
import unittest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from harness import CliTest, run, write


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def path_key(name):
    # The reference sorts PurePosixPath keys: by components, each by code point.
    return name.split("/")


class Interop(CliTest):
    def independent_manifest(self, model, shard_size=0):
        """Recomputes resources and the root digest with hashlib, as the OMS spec says."""
        ignore = {".git", ".gitattributes", ".github", ".gitignore", "model.sig"}
        items = []
        for dirpath, dirnames, filenames in os.walk(model):
            rel_dir = os.path.relpath(dirpath, model)
            dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in ignore]
            for f in filenames:
                rel = os.path.normpath(os.path.join(rel_dir, f))
                if rel in ignore:
                    continue
                with open(os.path.join(dirpath, f), "rb") as fh:
                    data = fh.read()
                if not shard_size:
                    items.append(((path_key(rel), 0), rel, hashlib.sha256(data).hexdigest()))
                    continue
                starts = list(range(0, len(data), shard_size)) or [0]
                for s in starts:
                    e = min(len(data), s + shard_size)
                    items.append(((path_key(rel), s), f"{rel}:{s}:{e}", hashlib.sha256(data[s:e]).hexdigest()))
        items.sort()
        root = hashlib.sha256(b"".join(bytes.fromhex(d) for _, _, d in items)).hexdigest()
        return [(n, d) for _, n, d in items], root

    def check_bundle(self, model, pub_path, shard_size=0):
        with open(os.path.join(model, "model.sig")) as f:
            bundle = json.load(f)
        env = bundle["dsseEnvelope"]
        body = base64.b64decode(env["payload"])
        sig = base64.b64decode(env["signatures"][0]["sig"])
        with open(pub_path, "rb") as f:
            pub = serialization.load_pem_public_key(f.read())
        msg = pae(env["payloadType"], body)
        if isinstance(pub, ed25519.Ed25519PublicKey):
            pub.verify(sig, msg)  # raises on failure
        else:
            pub.verify(sig, msg, ec.ECDSA(hashes.SHA256() if pub.curve.key_size == 256 else hashes.SHA384()))
        self.assertEqual(env["payloadType"], "application/vnd.in-toto+json")
        self.assertEqual(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json")
        st = json.loads(body)
        resources, root = self.independent_manifest(model, shard_size)
        self.assertEqual([(r["name"], r["digest"]) for r in st["predicate"]["resources"]], resources)
        self.assertEqual(st["subject"][0]["digest"]["sha256"], root)
        self.assertEqual(st["subject"][0]["name"], os.path.basename(model))
        # The key hint is model_signing's: sha256 of the public key's PEM.
        pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.assertEqual(bundle["verificationMaterial"]["publicKey"]["hint"], hashlib.sha256(pem).hexdigest())
        return root

    def test_python_checks_modelseal_bundles(self):
        for key_type in ("ed25519", "p256", "p384"):
            for shard in (0, 100_000):
                with self.subTest(key=key_type, shard=shard):
                    key, pub = self.keygen(f"k-{key_type}-{shard}", key_type)
                    self.sign(None, *(["--shard-size", str(shard)] if shard else []), key=key)
                    root = self.check_bundle(self.model, pub, shard)
                    r = run("digest", self.model, *(["--shard-size", str(shard)] if shard else []))
                    self.assertEqual(r.out.strip(), "sha256:" + root)

    def python_signed_bundle(self, sign, pub_pem):
        resources, root = self.independent_manifest(self.model)
        st = {"_type": "https://in-toto.io/Statement/v1",
              "subject": [{"name": "model", "digest": {"sha256": root}}],
              "predicateType": "https://model_signing/signature/v1.0",
              "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                                              "ignore_paths": ["model.sig"]},
                            "resources": [{"name": n, "algorithm": "sha256", "digest": d} for n, d in resources]}}
        body = json.dumps(st, indent=2).encode()
        ptype = "application/vnd.in-toto+json"
        bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                  "verificationMaterial": {"publicKey": {"hint": hashlib.sha256(pub_pem).hexdigest()},
                                           "tlogEntries": []},
                  "dsseEnvelope": {"payload": base64.b64encode(body).decode(), "payloadType": ptype,
                                   "signatures": [{"sig": base64.b64encode(sign(pae(ptype, body))).decode(),
                                                   "keyid": ""}]}}
        write(os.path.join(self.model, "model.sig"), json.dumps(bundle, indent=2))
        pub = os.path.join(self.tmp, "py.pub")
        write(pub, pub_pem)
        return pub

    def test_modelseal_verifies_python_bundles(self):
        spki = (serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        sk = ed25519.Ed25519PrivateKey.generate()
        pub = self.python_signed_bundle(sk.sign, sk.public_key().public_bytes(*spki))
        self.verify(None, "-v", pub=pub)
        ek = ec.generate_private_key(ec.SECP256R1())
        pub = self.python_signed_bundle(lambda m: ek.sign(m, ec.ECDSA(hashes.SHA256())), ek.public_key().public_bytes(*spki))
        self.verify(None, "-v", pub=pub)
        # ...and one byte changed in a file is caught.
        with open(os.path.join(self.model, "config.json"), "r+b") as f:
            f.write(b"[")
        r = run("verify", self.model, "-p", pub)
        self.assertEqual(r.rc, 1, r)


if __name__ == "__main__":
    unittest.main()

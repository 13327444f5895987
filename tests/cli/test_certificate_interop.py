"""The certificate method against an independent implementation (issue 14), Debian's
python3-cryptography, both ways:
- a bundle that `modelseal sign --signing-certificate` writes is checked here from scratch: the
  chain to the root by each issuer's signature, the leaf's usages, the DSSE signature with the
  leaf's key over the PAE, the statement's root digest and every file's digest on disk;
- bundles that this file writes itself (its own CA, intermediate and leaf, P-256 and P-384,
  statement and DSSE envelope built by hand) verify with `modelseal verify --certificate-chain`,
  and their tampered or foreign-rooted copies are refused with exit 1."""
import base64
import datetime
import hashlib
import json
import os
import shutil
import tempfile
import unittest

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness import SHARED, run, write

PKI = os.path.join(SHARED, "vectors", "oms", "keys", "certificate")
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(ptype, body):
    ptype = ptype.encode()
    return b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(body), body)


def hash_for(key):
    return hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()


def signed_by(cert, issuer):
    """cert's signature verifies with issuer's key (RSA PKCS#1 v1.5 or ECDSA) and names match."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        return True
    except InvalidSignature:
        return False


def file_digests(model):
    out = {}
    for dirpath, _, files in os.walk(model):
        for f in files:
            path = os.path.join(dirpath, f)
            name = os.path.relpath(path, model)
            if name == "model.sig":
                continue
            with open(path, "rb") as fh:
                out[name] = hashlib.sha256(fh.read()).hexdigest()
    return out


def independent_verify(model, root_pem):
    """Returns None when the bundle verifies, else the reason (this file's own verifier)."""
    with open(os.path.join(model, "model.sig")) as f:
        bundle = json.load(f)
    chain = [x509.load_der_x509_certificate(base64.b64decode(c["rawBytes"]))
             for c in bundle["verificationMaterial"]["x509CertificateChain"]["certificates"]]
    root = x509.load_pem_x509_certificate(root_pem)
    leaf = chain[0]
    for cert, issuer in zip(chain, chain[1:] + [root]):
        if not signed_by(cert, issuer):
            return "chain broken at " + cert.subject.rfc4514_string()
    if not signed_by(root, root):
        return "root is not self-signed"
    at = leaf.not_valid_before   # as model_signing: the chain is checked at the leaf's notBefore
    for cert in chain + [root]:
        if not cert.not_valid_before <= at <= cert.not_valid_after:
            return "not valid at the leaf's notBefore"
    ku = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    if not ku.digital_signature or ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        return "leaf usages"
    env = bundle["dsseEnvelope"]
    body = base64.b64decode(env["payload"])
    key = leaf.public_key()
    try:
        key.verify(base64.b64decode(env["signatures"][0]["sig"]), pae(env["payloadType"], body),
                   ec.ECDSA(hash_for(key)))
    except InvalidSignature:
        return "DSSE signature"
    statement = json.loads(body)
    resources = {r["name"]: r["digest"] for r in statement["predicate"]["resources"]}
    if resources != file_digests(model):
        return "file digests"
    root_digest = hashlib.sha256(b"".join(bytes.fromhex(resources[n]) for n in sorted(resources))).hexdigest()
    if statement["subject"][0]["digest"]["sha256"] != root_digest:
        return "root digest"
    return None


def make_cert(subject, key, issuer_name, issuer_key, ca, days=365, usages=True):
    now = datetime.datetime.utcnow()
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
    elif usages:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        b = b.add_extension(x509.SubjectAlternativeName([x509.RFC822Name("release@example.com")]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


class CertificateInterop(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-certinterop-")
        self.model = os.path.join(self.tmp, "bert")
        write(os.path.join(self.model, "config.json"), b'{"layers": 12}\n')
        write(os.path.join(self.model, "weights", "part-1.bin"), os.urandom(70_000))
        write(os.path.join(self.model, "weights", "part-2.bin"), os.urandom(3))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_modelseal_bundle_verifies_independently(self):
        key = os.path.join(self.tmp, "signing-key.pem")   # a private key must be the owner's alone
        shutil.copy(os.path.join(PKI, "signing-key.pem"), key)
        os.chmod(key, 0o600)
        r = run("sign", self.model, "-k", key, "--signing-certificate",
                os.path.join(PKI, "signing-key-cert.pem"), "--certificate-chain", os.path.join(PKI, "int-ca-cert.pem"),
                "-q")
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(PKI, "ca-cert.pem"), "rb") as f:
            root = f.read()
        self.assertIsNone(independent_verify(self.model, root))
        # This verifier is not a rubber stamp: it refuses a changed file and another root.
        write(os.path.join(self.model, "config.json"), b'{"layers": 13}\n')
        self.assertEqual(independent_verify(self.model, root), "file digests")

    def python_bundle(self, curve, chain_len=3):
        """A certificate bundle written here: root -> intermediate -> leaf (or root -> leaf)."""
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = make_cert("Interop Root", root_key, "Interop Root", root_key, ca=True)
        leaf_key = ec.generate_private_key(curve)
        if chain_len == 3:
            int_key = ec.generate_private_key(ec.SECP384R1())
            inter = make_cert("Interop Intermediate", int_key, "Interop Root", root_key, ca=True)
            leaf = make_cert("release", leaf_key, "Interop Intermediate", int_key, ca=False)
            chain = [leaf, inter]
        else:
            leaf = make_cert("release", leaf_key, "Interop Root", root_key, ca=False)
            chain = [leaf]
        digests = file_digests(self.model)
        names = sorted(digests)
        statement = {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "bert", "digest": {"sha256": hashlib.sha256(
                b"".join(bytes.fromhex(digests[n]) for n in names)).hexdigest()}}],
            "predicateType": "https://model_signing/signature/v1.0",
            "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                                            "ignore_paths": ["model.sig"]},
                          "resources": [{"algorithm": "sha256", "name": n, "digest": digests[n]} for n in names]},
        }
        body = json.dumps(statement).encode()
        sig = leaf_key.sign(pae(PAYLOAD_TYPE, body), ec.ECDSA(hash_for(leaf_key.public_key())))
        bundle = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"x509CertificateChain": {"certificates": [
                {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()} for c in chain]},
                "tlogEntries": []},
            "dsseEnvelope": {"payload": base64.b64encode(body).decode(), "payloadType": PAYLOAD_TYPE,
                             "signatures": [{"sig": base64.b64encode(sig).decode()}]},
        }
        write(os.path.join(self.model, "model.sig"), json.dumps(bundle).encode())
        root_path = os.path.join(self.tmp, "root.pem")
        write(root_path, root.public_bytes(serialization.Encoding.PEM))
        return root_path

    def test_independent_bundles_verify_with_modelseal(self):
        for curve, chain_len in ((ec.SECP256R1(), 3), (ec.SECP384R1(), 3), (ec.SECP256R1(), 2)):
            with self.subTest(curve=curve.name, chain=chain_len):
                root = self.python_bundle(curve, chain_len)
                with open(root, "rb") as f:
                    self.assertIsNone(independent_verify(self.model, f.read()))
                r = run("verify", self.model, "--certificate-chain", root)
                self.assertEqual(r.rc, 0, r)
                r = run("verify", self.model, "--certificate-chain", root, "--certificate-identity",
                        "release@example.com")
                self.assertEqual(r.rc, 0, r)
                r = run("verify", self.model, "--certificate-chain", root, "--certificate-identity", "eve@example.com")
                self.assertEqual(r.rc, 1, r)
                # Another root (the shared PKI's) does not vouch for this chain.
                r = run("verify", self.model, "--certificate-chain", os.path.join(PKI, "ca-cert.pem"))
                self.assertEqual(r.rc, 1, r)

    def test_independent_bundles_tampered(self):
        root = self.python_bundle(ec.SECP256R1())
        sig = os.path.join(self.model, "model.sig")
        with open(sig) as f:
            good = json.load(f)

        def refused(bundle, what):
            write(sig, json.dumps(bundle).encode())
            r = run("verify", self.model, "--certificate-chain", root)
            self.assertEqual(r.rc, 1, (what, r))
            self.assertEqual(len([l for l in r.err.splitlines() if not l.startswith("hint:")]), 1, (what, r))

        no_int = json.loads(json.dumps(good))
        del no_int["verificationMaterial"]["x509CertificateChain"]["certificates"][1]
        refused(no_int, "intermediate removed")
        flipped = json.loads(json.dumps(good))
        raw = bytearray(base64.b64decode(flipped["dsseEnvelope"]["signatures"][0]["sig"]))
        raw[-1] ^= 1
        flipped["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
        refused(flipped, "signature byte")
        write(sig, json.dumps(good).encode())
        write(os.path.join(self.model, "weights", "part-2.bin"), b"xyz")
        r = run("verify", self.model, "--certificate-chain", root)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("part-2.bin", r.err)


if __name__ == "__main__":
    unittest.main()

"""Every OMS signature model_signing makes verifies offline, with the trust each method needs
(issue 13): Sigstore keyless by identity and issuer under the shipped trusted root, certificate
bundles by their roots, and the OpenSSF specification's own vectors; each tampered copy, and each
bundle whose material does not fit the trust given, is refused with exit 1 and one line. Signing
with the certificate method (sign --signing-certificate) round-trips."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import SHARED, SOURCE, run

OMS = os.path.join(SHARED, "vectors", "oms")
PKI = os.path.join(OMS, "keys", "certificate")
ROOT = os.path.join(SOURCE, "lib", "sigstore", "trusted_root.json")
SPEC = os.path.join(SOURCE, "tests", "data", "oms-spec", "test-vectors", "v1.0")
IDENTITY = ["--identity", "stefanb@us.ibm.com", "--issuer", "https://sigstore.verify.ibm.com/oauth2"]


class OmsMethods(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-oms-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def copy(self, name):
        dst = tempfile.mkdtemp(dir=self.tmp)
        os.rmdir(dst)
        shutil.copytree(os.path.join(OMS, name), dst)
        return dst

    def refused(self, r, *contains):
        self.assertEqual(r.rc, 1, r)
        lines = [l for l in r.err.splitlines() if not l.startswith("hint:")]
        self.assertEqual(len(lines), 1, r)
        for c in contains:
            self.assertIn(c, lines[0], r)

    def edit(self, model, fn):
        sig = os.path.join(model, "model.sig")
        with open(sig) as f:
            b = json.load(f)
        fn(b)
        with open(sig, "w") as f:
            json.dump(b, f)

    def test_sigstore_keyless_vectors(self):
        for name in ("v1.1.0-sigstore", "v1.0.1-sigstore"):
            model = os.path.join(OMS, name)
            r = run("verify", model, *IDENTITY, "--ignore", "ignore-me", "--trusted-root", ROOT)
            self.assertEqual(r.rc, 0, r)
            r = run("verify", model, *IDENTITY, "--ignore", "ignore-me")   # the shipped root by default
            self.assertEqual(r.rc, 0, r)
            r = run("verify", ".", *IDENTITY, "--ignore", "ignore-me", cwd=model)
            self.assertEqual(r.rc, 0, r)
            r = run("verify", model, "--identity-regexp", "stefanb@.*\\.com", "--issuer",
                    "https://sigstore.verify.ibm.com/oauth2", "--ignore", "ignore-me")
            self.assertEqual(r.rc, 0, r)

    def test_sigstore_refusals(self):
        model = os.path.join(OMS, "v1.1.0-sigstore")
        args = ["--ignore", "ignore-me"]
        self.refused(run("verify", model, "--identity", "eve@example.com", "--issuer",
                         "https://sigstore.verify.ibm.com/oauth2", *args), "identity")
        self.refused(run("verify", model, "--identity", "stefanb@us.ibm.com", "--issuer",
                         "https://accounts.google.com", *args), "issuer")
        self.refused(run("verify", model, "--identity-regexp", "stefanb", "--issuer",
                         "https://sigstore.verify.ibm.com/oauth2", *args))   # the whole SAN must match
        with open(ROOT) as f:
            root = json.load(f)
        for part in ("certificateAuthorities", "tlogs", "ctlogs"):
            stripped = dict(root, **{part: []})
            p = os.path.join(self.tmp, part + ".json")
            with open(p, "w") as f:
                json.dump(stripped, f)
            r = run("verify", model, *IDENTITY, *args, "--trusted-root", p)
            self.assertIn(r.rc, (1, 2), r)   # an empty list may make the root itself unusable
            self.assertNotEqual(r.rc, 0, r)
        # Tampered copies of the bundle.
        def flip_payload(b):
            p = bytearray(base64.b64decode(b["dsseEnvelope"]["payload"]))
            p[100] ^= 1
            b["dsseEnvelope"]["payload"] = base64.b64encode(bytes(p)).decode()
        def later(b):
            e = b["verificationMaterial"]["tlogEntries"][0]
            e["integratedTime"] = str(int(e["integratedTime"]) + 1)
        def swap_proof(b):
            h = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"]
            h[0], h[1] = h[1], h[0]
        for name, fn in (("payload", flip_payload), ("integratedTime", later), ("proof", swap_proof)):
            m = self.copy("v1.1.0-sigstore")
            self.edit(m, fn)
            self.refused(run("verify", m, *IDENTITY, *args))
        # One byte of a signed file.
        m = self.copy("v1.1.0-sigstore")
        with open(os.path.join(m, "signme-1"), "r+b") as f:
            f.write(b"X")
        self.refused(run("verify", m, *IDENTITY, *args), "signme-1")

    def test_certificate_vectors(self):
        for name in ("v1.1.0-certificate", "v0.2.0-certificate"):
            model = os.path.join(OMS, name)
            r = run("verify", model, "--certificate-chain", os.path.join(PKI, "ca-cert.pem"), "--ignore", "ignore-me")
            self.assertEqual(r.rc, 0, r)
        model = os.path.join(OMS, "v1.1.0-certificate")
        # A chain to another root.
        other = os.path.join(self.tmp, "other-ca.pem")
        subprocess.run(["/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", os.path.join(self.tmp, "other.key"), "-out", other, "-subj", "/CN=other",
                        "-days", "2"], check=True, capture_output=True)
        self.refused(run("verify", model, "--certificate-chain", other, "--ignore", "ignore-me"))
        # The intermediate removed.
        m = self.copy("v1.1.0-certificate")
        self.edit(m, lambda b: b["verificationMaterial"]["x509CertificateChain"].update(
            certificates=b["verificationMaterial"]["x509CertificateChain"]["certificates"][:1]))
        self.refused(run("verify", m, "--certificate-chain", os.path.join(PKI, "ca-cert.pem"), "--ignore", "ignore-me"))

    def test_material_must_fit_the_trust_given(self):
        # A key bundle given an identity, a keyless bundle given a key.
        self.refused(run("verify", os.path.join(OMS, "v1.1.0-elliptic-key"), *IDENTITY))
        self.refused(run("verify", os.path.join(OMS, "v1.1.0-sigstore"), "-p", os.path.join(OMS, "signing-key-pub.pem"),
                         "--ignore", "ignore-me"), "carries a certificate")
        self.refused(run("verify", os.path.join(OMS, "v1.1.0-certificate"), *IDENTITY, "--ignore", "ignore-me"))

    def test_specification_vectors(self):
        model = os.path.join(OMS, "v1.1.0-sigstore")
        r = run("verify", model, *IDENTITY, "--ignore", "ignore-me", "-s",
                os.path.join(SPEC, "valid", "sigstore.bundle.json"))
        self.assertEqual(r.rc, 0, r)
        for sub in ("invalid", "invalid-payload"):
            for f in sorted(os.listdir(os.path.join(SPEC, sub))):
                for trust in (IDENTITY, ["-p", os.path.join(OMS, "signing-key-pub.pem")],
                              ["--certificate-chain", os.path.join(PKI, "ca-cert.pem")]):
                    r = run("verify", model, *trust, "--ignore", "ignore-me", "-s", os.path.join(SPEC, sub, f))
                    self.assertEqual(r.rc, 1, f"{sub}/{f} {trust[0]}: {r}")

    def test_sign_with_a_certificate_round_trips(self):
        model = os.path.join(self.tmp, "m")
        os.makedirs(model)
        with open(os.path.join(model, "w.bin"), "wb") as f:
            f.write(os.urandom(5000))
        key = os.path.join(self.tmp, "signing-key.pem")
        shutil.copyfile(os.path.join(PKI, "signing-key.pem"), key)
        os.chmod(key, 0o600)
        r = run("sign", model, "-k", key, "--signing-certificate", os.path.join(PKI, "signing-key-cert.pem"),
                "--certificate-chain", os.path.join(PKI, "int-ca-cert.pem"), "-q")
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(model, "model.sig")) as f:
            certs = json.load(f)["verificationMaterial"]["x509CertificateChain"]["certificates"]
        self.assertEqual(len(certs), 2)
        r = run("verify", model, "--certificate-chain", os.path.join(PKI, "ca-cert.pem"))
        self.assertEqual(r.rc, 0, r)
        # The wrong key for the certificate: refused before anything is written.
        os.remove(os.path.join(model, "model.sig"))
        r = run("keygen", "-t", "p384", "-o", os.path.join(self.tmp, "other"), "--insecure-no-passphrase", "-q")
        r = run("sign", model, "-k", os.path.join(self.tmp, "other.key"), "--signing-certificate",
                os.path.join(PKI, "signing-key-cert.pem"))
        self.assertEqual(r.rc, 2, r)
        self.assertFalse(os.path.exists(os.path.join(model, "model.sig")))


if __name__ == "__main__":
    unittest.main()

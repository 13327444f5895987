"""Every signing program signs with a key on a real token (softhsm2): `-k pkcs11:...` in sign,
attest and chain sign-layout; what they write verifies with modelseal and, for a P-256 model
signature, with python3-cryptography; a wrong PIN is one line, exit 2, and writes nothing."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from harness import SHARED, run, write  # noqa: E402

MODULE = next(p for p in ("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib/softhsm/libsofthsm2.so")
              if os.path.exists(p))


class Pkcs11Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-p11cli-")
        os.makedirs(os.path.join(self.tmp, "tokens"))
        conf = os.path.join(self.tmp, "softhsm2.conf")
        write(conf, f"directories.tokendir = {self.tmp}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        self.env = {"SOFTHSM2_CONF": conf, "P11_SO": "so-secret-1234", "P11_PIN": "4711-test-pin"}
        self.pin = os.path.join(self.tmp, "pin")
        write(self.pin, "4711-test-pin\n")
        os.chmod(self.pin, 0o600)
        env = dict(os.environ, **self.env)
        for args in (["--init-token", "--label", "rel", "--so-pin", "env:P11_SO"],
                     ["--token-label", "rel", "--login", "--login-type", "so", "--so-pin", "env:P11_SO",
                      "--init-pin", "--pin", "env:P11_PIN"]):
            subprocess.run(["pkcs11-tool", "--module", MODULE, *args], env=env, check=True, capture_output=True)
        self.model = os.path.join(self.tmp, "model")
        write(os.path.join(self.model, "config.json"), '{"a": 1}\n')
        write(os.path.join(self.model, "weights.bin"), os.urandom(100_000))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def uri(self, obj, pin=None):
        return f"pkcs11:token=rel;object={obj}?module-path={MODULE}&pin-source={pin or self.pin}"

    def keygen(self, obj, type_):
        prefix = os.path.join(self.tmp, obj)
        r = run("keygen", "--pkcs11", self.uri(obj), "-t", type_, "-o", prefix, env=self.env)
        self.assertEqual(r.rc, 0, r)
        return prefix + ".pub"

    def test_sign_attest_and_layout_with_token_keys(self):
        for type_ in ("ed25519", "p256", "p384"):
            pub = self.keygen("k-" + type_, type_)
            r = run("sign", self.model, "-k", self.uri("k-" + type_), "-q", env=self.env)
            self.assertEqual(r.rc, 0, r)
            r = run("verify", self.model, "-p", pub)
            self.assertEqual(r.rc, 0, r)
            jsonl = os.path.join(self.tmp, f"{type_}.intoto.jsonl")
            r = run("attest", self.model, "--approve", "1.0", "--approver", "release", "-k", self.uri("k-" + type_),
                    "-o", jsonl, "-q", env=self.env)
            self.assertEqual(r.rc, 0, r)
            self.assertTrue(os.path.getsize(jsonl) > 0)
            if type_ == "p256":
                self.check_with_python(pub)

    def check_with_python(self, pub):
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        with open(os.path.join(self.model, "model.sig")) as f:
            env = json.load(f)["dsseEnvelope"]
        body = base64.b64decode(env["payload"])
        ptype = env["payloadType"].encode()
        pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(body), body)
        with open(pub, "rb") as f:
            key = serialization.load_pem_public_key(f.read())
        key.verify(base64.b64decode(env["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))

    def test_layout_signed_on_the_token(self):
        pub = self.keygen("owner", "p256")
        layout = os.path.join(self.tmp, "layout.json")
        with open(layout, "w") as f:
            json.dump({"_type": "https://modelseal.dev/layout/v1", "expires": "2099-01-01T00:00:00Z",
                       "keys": {"owner": {"path": pub}}, "owners": {"keys": ["owner"]},
                       "steps": [{"name": "approve", "predicateType": "https://modelseal.dev/release-approval/v1",
                                  "keys": ["owner"], "subject": "model"}]}, f)
        out = os.path.join(self.tmp, "layout.dsse.json")
        r = run("chain", "sign-layout", layout, "-k", self.uri("owner"), "-o", out, env=self.env)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(os.path.exists(out))

    def import_signer(self, label, id_hex):
        """The shared test PKI's P-384 signing key and its certificate, stored on the token."""
        pki = os.path.join(SHARED, "vectors", "oms", "keys", "certificate")
        key_der, cert_der = os.path.join(self.tmp, label + ".key.der"), os.path.join(self.tmp, label + ".crt.der")
        subprocess.run(["openssl", "pkey", "-in", os.path.join(pki, "signing-key.pem"), "-outform", "DER",
                        "-out", key_der], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-in", os.path.join(pki, "signing-key-cert.pem"), "-outform", "DER",
                        "-out", cert_der], check=True, capture_output=True)
        env = dict(os.environ, **self.env)
        for obj, kind in ((key_der, "privkey"), (cert_der, "cert")):
            subprocess.run(["pkcs11-tool", "--module", MODULE, "--token-label", "rel", "--login", "--pin",
                            "env:P11_PIN", "--write-object", obj, "--type", kind, "--label", label, "--id", id_hex],
                           env=env, check=True, capture_output=True)
        return pki

    def test_signing_certificate_on_the_token(self):
        pki = self.import_signer("signer", "0a0b")
        cert_uri = f"pkcs11:token=rel;object=signer?module-path={MODULE}"   # a public object: no PIN
        chain = ["--certificate-chain", os.path.join(pki, "int-ca-cert.pem")]
        r = run("sign", self.model, "-k", self.uri("signer"), "--signing-certificate", cert_uri, *chain, "-q",
                env=self.env)
        self.assertEqual(r.rc, 0, r)
        with open(os.path.join(self.model, "model.sig")) as f:
            material = json.load(f)["verificationMaterial"]
        self.assertEqual(len(material["x509CertificateChain"]["certificates"]), 2)
        r = run("verify", self.model, "--certificate-chain", os.path.join(pki, "ca-cert.pem"))
        self.assertEqual(r.rc, 0, r)
        r = run("verify", self.model, "--certificate-chain", os.path.join(pki, "int-ca-cert.pem"))
        self.assertEqual(r.rc, 1, r)   # the intermediate is not a root
        os.unlink(os.path.join(self.model, "model.sig"))
        # A certificate that is not the key's, one that is not there, a URI naming no object:
        # one line, exit 2, nothing written.
        self.keygen("other", "p384")
        for uri, needle in ((f"pkcs11:token=rel;object=missing?module-path={MODULE}", "no certificate matches"),
                            (f"pkcs11:token=rel?module-path={MODULE}", "needs object= or id=")):
            r = run("sign", self.model, "-k", self.uri("signer"), "--signing-certificate", uri, *chain, env=self.env)
            self.assertEqual(r.rc, 2, r)
            lines = [l for l in r.err.splitlines() if not l.startswith("hint:")]
            self.assertEqual(len(lines), 1, r)
            self.assertIn(needle, lines[0])
            self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        r = run("sign", self.model, "-k", self.uri("other"), "--signing-certificate", cert_uri, *chain, env=self.env)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("does not match the certificate's public key", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_wrong_pin_is_one_line_and_writes_nothing(self):
        self.keygen("k", "p256")
        bad = os.path.join(self.tmp, "bad-pin")
        write(bad, "0000-wrong\n")
        os.chmod(bad, 0o600)
        r = run("sign", self.model, "-k", self.uri("k", bad), env=self.env)
        self.assertEqual(r.rc, 2, r)
        lines = [l for l in r.err.splitlines() if not l.startswith("hint:")]
        self.assertEqual(len(lines), 1, r)
        self.assertNotIn("0000-wrong", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))


if __name__ == "__main__":
    unittest.main()

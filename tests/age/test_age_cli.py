"""modelseal encrypt / decrypt / keygen -t x25519: refusals, atomicity, and that nothing which does
not match the signature lands (tampered, swapped, or re-encrypted by someone else)."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from harness import CliTest, run, tree_state, write  # noqa: E402

BIG = "model-00001-of-00002.safetensors"


class AgeCli(CliTest):
    def setUp(self):
        super().setUp()
        self.idfile = os.path.join(self.tmp, "id.agekey")
        r = run("keygen", "-t", "x25519", "-o", self.idfile, "-q")
        self.assertEqual(r.rc, 0, r)
        self.recipient = r.out.strip()

    def encrypt(self, *extra, expect=0, model=None):
        r = run("encrypt", model or self.model, "-p", self.pub, "-r", self.recipient, *extra)
        self.assertEqual(r.rc, expect, r)
        return r

    def decrypt(self, *extra, expect=0, model=None):
        r = run("decrypt", model or self.model, "-p", self.pub, "-i", self.idfile, *extra)
        self.assertEqual(r.rc, expect, r)
        return r

    def test_help_and_usage(self):
        for t in ("encrypt", "decrypt"):
            r = run(t, "--help")
            self.assertEqual(r.rc, 0, r)
            self.assertIn("Example:", r.out)
        r = run("keygen", "-t", "x25519")
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "-o NAME")
        r = run("encrypt", self.model, "-p", self.pub)
        self.assertEqual(r.rc, 2, r)
        r = run("encrypt", self.model, "-p", self.pub, "-r", "age1notarecipient")
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "recipient")

    def test_refuses_unsigned_or_untrusted_model(self):
        before = tree_state(self.model)
        self.encrypt(expect=3)   # no signature at all: the verifier says it cannot read one
        self.sign()
        other_key, other_pub = self.keygen("other")
        r = run("encrypt", self.model, "-p", other_pub, "-r", self.recipient)
        self.assertEqual(r.rc, 1, r)
        write(os.path.join(self.model, "config.json"), b"{}")   # changed after signing
        r = run("encrypt", self.model, "-p", self.pub, "-r", self.recipient)
        self.assertEqual(r.rc, 1, r)
        self.assertFalse([n for n in os.listdir(self.model) if n.endswith(".age")])
        del before

    def test_round_trip_out_dirs(self):
        self.sign()
        enc, dec = os.path.join(self.tmp, "enc"), os.path.join(self.tmp, "dec")
        self.encrypt("-o", enc)
        names = sorted(self.FILES)
        self.assertEqual(sorted(os.path.relpath(os.path.join(d, f), enc) for d, _, fs in os.walk(enc) for f in fs),
                         sorted([n + ".age" for n in names] + ["model.sig"]))
        with open(os.path.join(enc, BIG + ".age"), "rb") as f:
            self.assertTrue(f.read(22) == b"age-encryption.org/v1\n")
        self.decrypt("-o", dec, model=enc)
        for n, data in self.FILES.items():
            with open(os.path.join(dec, n), "rb") as f:
                self.assertEqual(f.read(), data, n)
        self.verify(dec)

    def test_remove_plaintext_then_decrypt_in_place(self):
        self.sign()
        self.encrypt("--remove-plaintext")
        left = sorted(f for _, _, fs in os.walk(self.model) for f in fs)
        self.assertTrue(all(f.endswith(".age") or f == "model.sig" for f in left), left)
        self.decrypt()
        for n, data in self.FILES.items():
            with open(os.path.join(self.model, n), "rb") as f:
                self.assertEqual(f.read(), data, n)

    def encrypted_model(self):
        self.sign()
        self.encrypt("--remove-plaintext")

    def assertNotLanded(self, r, name=BIG):
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r)
        self.assertFalse(os.path.exists(os.path.join(self.model, name)), r)
        self.assertFalse([f for f in os.listdir(self.model) if ".tmp-" in f])

    def test_tampered_chunk_refused(self):
        self.encrypted_model()
        p = os.path.join(self.model, BIG + ".age")
        with open(p, "r+b") as f:
            f.seek(70000)
            b = f.read(1)
            f.seek(70000)
            f.write(bytes([b[0] ^ 1]))
        self.assertNotLanded(self.decrypt(expect=1))

    def test_truncated_refused(self):
        self.encrypted_model()
        p = os.path.join(self.model, BIG + ".age")
        os.truncate(p, os.path.getsize(p) - 1)
        self.assertNotLanded(self.decrypt(expect=1))

    def test_reencrypted_by_someone_else_refused(self):
        # age is not a signature: anyone can encrypt to the recipient.
        self.encrypted_model()
        fake = os.path.join(self.tmp, "fake")
        write(fake, os.urandom(300_000))
        subprocess.run(["age", "-e", "-r", self.recipient, "-o", os.path.join(self.model, BIG + ".age"), fake], check=True)
        r = self.decrypt(expect=1)
        self.assertNotLanded(r)
        self.assertIn("modified: sha256 is", r.err)   # the content checker's one message

    def test_swapped_files_refused(self):
        self.encrypted_model()
        a = os.path.join(self.model, "model-00001-of-00002.safetensors.age")
        b = os.path.join(self.model, "model-00002-of-00002.safetensors.age")
        os.rename(a, a + ".x")
        os.rename(b, a)
        os.rename(a + ".x", b)
        self.assertNotLanded(self.decrypt(expect=1))

    def test_identity_checks(self):
        self.encrypted_model()
        os.chmod(self.idfile, 0o644)
        r = self.decrypt(expect=2)
        self.assertOneLineError(r, "accessible by group or others")
        os.chmod(self.idfile, 0o600)
        other = os.path.join(self.tmp, "other.agekey")
        self.assertEqual(run("keygen", "-t", "x25519", "-o", other, "-q").rc, 0)
        r = run("decrypt", self.model, "-p", self.pub, "-i", other)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "no identity matches")
        self.assertNotIn("AGE-SECRET-KEY", r.err)

    def test_verify_an_encrypted_model(self):
        # Decrypted in memory as it is hashed: nothing is written, the model is left as it was.
        self.sign()
        self.encrypt("--remove-plaintext")
        before = tree_state(self.model)
        r = self.verify(None, "-i", self.idfile)
        self.assertIn(": OK (%d files" % len(self.FILES), r.out)
        self.assertEqual(tree_state(self.model), before)
        r = self.verify(None, "-i", self.idfile, "--json")
        self.assertEqual(sorted(f["name"] for f in json.loads(r.out)["files"]),
                         sorted(n + ".age" for n in self.FILES))
        # Without an identity: refused, with a hint to give one.
        r = self.verify(expect=1)
        self.assertOneLineError(r, "encrypted (age), and no identity was given")
        self.assertIn("hint: the model is encrypted: give the age identity", r.err)
        # A mix of plaintext and NAME.age: both are checked.
        self.decrypt()
        self.verify(None, "-i", self.idfile)
        os.remove(os.path.join(self.model, "config.json.age"))
        self.verify(None, "-i", self.idfile)
        # An age file for a name the signature does not list is an unlisted file.
        subprocess.run(["age", "-e", "-r", self.recipient, "-o", os.path.join(self.model, "extra.py.age"),
                        os.path.join(self.model, "config.json")], check=True)
        r = self.verify(None, "-i", self.idfile, expect=1)
        self.assertOneLineError(r, "extra.py.age: unlisted file")
        os.remove(os.path.join(self.model, "extra.py.age"))

    def test_verify_refuses_tampered_swapped_or_foreign_ciphertext(self):
        self.sign()
        self.encrypt("--remove-plaintext")
        big = os.path.join(self.model, BIG + ".age")
        with open(big, "rb") as f:
            good = f.read()
        with open(big, "r+b") as f:   # a flipped bit in the second chunk
            f.seek(70000)
            b = f.read(1)
            f.seek(70000)
            f.write(bytes([b[0] ^ 1]))
        self.assertOneLineError(self.verify(None, "-i", self.idfile, expect=1), BIG + ".age")
        # Encrypted to the right recipient by someone else: age is not a signature.
        fake = os.path.join(self.tmp, "fake")
        write(fake, os.urandom(300_000))
        subprocess.run(["age", "-e", "-r", self.recipient, "-o", big, fake], check=True)
        r = self.verify(None, "-i", self.idfile, expect=1)
        self.assertOneLineError(r, "modified: sha256 is")
        with open(big, "wb") as f:
            f.write(good)
        # Swapped ciphertexts, and an identity the model was not encrypted to.
        other = os.path.join(self.model, "model-00002-of-00002.safetensors.age")
        os.rename(big, big + ".x")
        os.rename(other, big)
        os.rename(big + ".x", other)
        self.verify(None, "-i", self.idfile, expect=1)
        os.rename(other, other + ".x")
        os.rename(big, other)
        os.rename(other + ".x", big)
        self.verify(None, "-i", self.idfile)
        stranger = os.path.join(self.tmp, "stranger.agekey")
        self.assertEqual(run("keygen", "-t", "x25519", "-o", stranger, "-q").rc, 0)
        r = self.verify(None, "-i", stranger, expect=1)
        self.assertOneLineError(r, "no identity matches")
        self.assertNotIn("AGE-SECRET-KEY", r.err)
        r = self.verify(None, "--passphrase-file", self.idfile, expect=2)
        self.assertOneLineError(r, "--passphrase-file goes with --passphrase")


if __name__ == "__main__":
    unittest.main()

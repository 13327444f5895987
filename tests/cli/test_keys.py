"""Key files: created 0600, readable by `openssl pkey`, keys from `openssl genpkey` load, and
group/world-readable keys are refused. The passphrase never appears in any output."""
import os
import stat
import subprocess
import unittest

from harness import CliTest, run, write

PASS = "tr0ub4dor&3 correct horse"


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60)


class Keys(CliTest):
    def test_keygen_writes_private_key_0600_that_openssl_opens(self):
        for t in ("ed25519", "p256", "p384"):
            with self.subTest(type=t):
                prefix = os.path.join(self.tmp, "k-" + t)
                r = run("keygen", "-t", t, "-o", prefix, env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.assertNotIn(PASS, r.out + r.err)
                self.assertEqual(stat.S_IMODE(os.stat(prefix + ".key").st_mode), 0o600)
                with open(prefix + ".key") as f:
                    self.assertTrue(f.read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
                p = openssl("pkey", "-in", prefix + ".key", "-passin", "pass:" + PASS, "-pubout")
                self.assertEqual(p.returncode, 0, p)
                with open(prefix + ".pub", "rb") as f:
                    self.assertEqual(p.stdout, f.read())
                self.assertNotEqual(openssl("pkey", "-in", prefix + ".key", "-passin", "pass:wrong").returncode, 0)
                # and it signs something our verifier accepts
                r = run("sign", self.model, "-k", prefix + ".key", env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.verify(pub=prefix + ".pub")

    def test_openssl_genpkey_keys_load(self):
        plain = os.path.join(self.tmp, "plain.key")
        enc = os.path.join(self.tmp, "enc.key")
        self.assertEqual(openssl("genpkey", "-algorithm", "ed25519", "-out", plain).returncode, 0)
        self.assertEqual(openssl("genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:" + PASS,
                                 "-out", enc).returncode, 0)
        for key in (plain, enc):
            with self.subTest(key=os.path.basename(key)):
                os.chmod(key, 0o600)
                pub = key + ".pub"
                p = openssl("pkey", "-in", key, "-passin", "pass:" + PASS, "-pubout", "-out", pub)
                self.assertEqual(p.returncode, 0, p)
                r = run("sign", self.model, "-k", key, env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.verify(pub=pub)

    def test_readable_by_others_is_refused(self):
        for mode in (0o640, 0o604, 0o644):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.key, mode)
                r = run("sign", self.model, "-k", self.key)
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r, "accessible by group or others")
                self.assertIn("hint: chmod 600", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_passphrase_file(self):
        prefix = os.path.join(self.tmp, "pf")
        pf = os.path.join(self.tmp, "pass.txt")
        write(pf, PASS + "\n")
        os.chmod(pf, 0o600)
        r = run("keygen", "-o", prefix, "--passphrase-file", pf)
        self.assertEqual(r.rc, 0, r)
        r = run("sign", self.model, "-k", prefix + ".key", "--passphrase-file", pf)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn(PASS, r.out + r.err)
        os.chmod(pf, 0o644)
        r = run("sign", self.model, "-k", prefix + ".key", "--passphrase-file", pf)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "passphrase file is accessible by group or others")

    def test_keygen_refuses_to_overwrite_and_needs_a_passphrase(self):
        r = run("keygen", "-o", os.path.join(self.tmp, "signer"), "--insecure-no-passphrase")
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "refusing to overwrite")
        r = run("keygen", "-o", os.path.join(self.tmp, "new"))  # no terminal, no passphrase
        self.assertEqual(r.rc, 2, r)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "new.key")))
        r = run("keygen", "-o", os.path.join(self.tmp, "new"), "-t", "rsa")
        self.assertEqual(r.rc, 2, r)

    def test_several_keys_in_one_envelope(self):
        k2, p2 = self.keygen("second", "p256")
        r = run("sign", self.model, "-k", self.key, "-k", k2)
        self.assertEqual(r.rc, 0, r)
        self.verify()
        self.verify(pub=p2)
        r = run("inspect", os.path.join(self.model, "model.sig"))
        self.assertEqual(r.out.count("signature:"), 2, r)
        r = run("sign", self.model, "-k", self.key, "-k", self.key)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "the same key was given twice")


if __name__ == "__main__":
    unittest.main()

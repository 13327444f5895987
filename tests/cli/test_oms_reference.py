"""Bundles made by OpenSSF model_signing (v1.0.1 and v1.1.0, ECDSA P-384) verify, and are
refused after one byte of a file changes."""
import os
import shutil
import unittest

from harness import SHARED, CliTest, run

OMS = os.path.join(SHARED, "vectors", "oms")
PUB = os.path.join(OMS, "signing-key-pub.pem")
ROOT = "sha256:92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4"


class Reference(CliTest):
    def copy(self, version):
        dst = os.path.join(self.tmp, version)
        shutil.copytree(os.path.join(OMS, version), dst)
        for dirpath, _, filenames in os.walk(dst):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)
        return dst

    def test_reference_bundles_verify(self):
        for version in ("v1.0.1-elliptic-key", "v1.1.0-elliptic-key"):
            with self.subTest(version=version):
                model = os.path.join(OMS, version)
                r = run("verify", model, "-p", PUB, "--ignore", "ignore-me", "-v")
                self.assertEqual(r.rc, 0, r)
                self.assertIn("signme-1: OK", r.out)
                self.assertIn("signme-2: OK", r.out)
                self.assertIn(ROOT[7:], r.out)

    def test_recorded_ignores_are_honoured(self):
        # v1.1.0 records ignore-me in ignore_paths; v1.0.1 records nothing, so ignore-me is unlisted.
        r = run("verify", os.path.join(OMS, "v1.1.0-elliptic-key"), "-p", PUB)
        self.assertEqual(r.rc, 0, r)
        r = run("verify", os.path.join(OMS, "v1.0.1-elliptic-key"), "-p", PUB)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("ignore-me: unlisted file", r.err)

    def test_one_byte_changed(self):
        for version in ("v1.0.1-elliptic-key", "v1.1.0-elliptic-key"):
            with self.subTest(version=version):
                model = self.copy(version)
                with open(os.path.join(model, "signme-1"), "r+b") as f:
                    b = f.read(1)
                    f.seek(0)
                    f.write(bytes([b[0] ^ 1]))
                r = run("verify", model, "-p", PUB, "--ignore", "ignore-me")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("signme-1: modified", r.err)

    def test_other_key_refused(self):
        r = run("verify", os.path.join(OMS, "v1.1.0-elliptic-key"), "-p", self.pub)
        self.assertEqual(r.rc, 1, r)

    def test_digest_matches_model_signing(self):
        r = run("digest", os.path.join(OMS, "v1.1.0-elliptic-key"), "--ignore", "ignore-me")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out.strip(), ROOT)


if __name__ == "__main__":
    unittest.main()

"""The shim with MODELSEAL_IDENTITY: an encrypted model (NAME.age only) opens as NAME, the
plaintext decrypted into a sealed memory file and checked against the signature before the
caller gets it; cat, Python's open, mmap and torch.load work unchanged. A tampered, foreign or
swapped ciphertext, an identity that does not match, and plaintext past the memory cap are
refused with EACCES and one line; nothing is ever written beside the model."""
import os
import subprocess
import unittest

from lt import PYTHON, TempDirTest, clean_env, must, run, tool

READ = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
MMAP = ("import mmap, sys; f = open(sys.argv[1], 'rb'); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); "
        "f.close(); sys.stdout.buffer.write(m[:])")
SEALS = """
import fcntl, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.readlink('/proc/self/fd/%d' % fd).startswith('/memfd:modelseal-age:'))
for attempt in ('write', 'map'):
    try:
        if attempt == 'write':
            os.write(fd, b'x')
        else:
            mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        print(attempt, 'allowed')
    except OSError as e:
        print(attempt, 'refused')
"""


class Encrypted(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.idfile = self.p("id.agekey")
        self.recipient = must([tool("keygen"), "-t", "x25519", "-o", self.idfile, "-q"]).stdout.decode().strip()
        self.model = self.p("m")
        self.data = os.urandom(300_000)
        self.write(os.path.join(self.model, "w.bin"), self.data)
        self.write(os.path.join(self.model, "sub", "config.json"), '{"a": 1}\n')
        self.sign(self.model, self.key)
        must([tool("encrypt"), self.model, "-p", self.pub, "-r", self.recipient, "--remove-plaintext", "-q"])
        self.w = os.path.join(self.model, "w.bin")
        self.assertFalse(os.path.exists(self.w))
        self.env = clean_env(**dict(self.shim_env(self.model, self.pub, MODELSEAL_IDENTITY=self.idfile)))
        self.env.pop("MODELSEAL_POLICY")
        self.env["MODELSEAL_PUBLIC_KEY"] = self.pub

    def listing(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.model) for d, _, fs in os.walk(self.model) for f in fs)

    def test_programs_read_the_plaintext(self):
        before = self.listing()
        r = run(["cat", self.w], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.data)
        for code in (READ, MMAP):
            r = run([PYTHON, "-c", code, self.w], env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, self.data)
        r = run(["cat", os.path.join(self.model, "sub", "config.json")], env=self.env)
        self.assertEqual(r.stdout, b'{"a": 1}\n', r.stderr)
        self.assertEqual(self.listing(), before)   # no plaintext landed anywhere
        r = run(["cat", self.w], env=dict(self.env, MODELSEAL_VERBOSE="1"))
        self.assertIn(b"modelseal: verified (decrypted and hashed): ", r.stderr)

    def test_the_memory_file_is_sealed_and_read_only(self):
        r = run([PYTHON, "-c", SEALS, self.w], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.decode().split("\n")[:3], ["True", "write refused", "map refused"])

    def test_torch_load(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("python3-torch is not installed")
        model = self.p("t")
        os.makedirs(model)
        must([PYTHON, "-c", "import torch, sys; torch.save({'w': torch.arange(1000)}, sys.argv[1])",
              os.path.join(model, "model.pt")])
        self.sign(model, self.key)
        must([tool("encrypt"), model, "-p", self.pub, "-r", self.recipient, "--remove-plaintext", "-q"])
        env = dict(self.env, MODELSEAL_ROOTS=model)
        r = run([PYTHON, "-c", "import torch, sys; print(int(torch.load(sys.argv[1])['w'].sum()))",
                 os.path.join(model, "model.pt")], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), b"499500")

    def assertRefusedOnce(self, r, reason):
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        lines = [l for l in err.splitlines() if l.startswith("modelseal:")]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("open refused", lines[0])
        self.assertIn(reason, lines[0])
        self.assertTrue(lines[0].endswith(": " + self.w), lines[0])
        self.assertIn("Permission denied", err)
        self.assertEqual(r.stdout, b"")

    def test_tampered_ciphertext(self):
        self.flip_byte(self.w + ".age", 70_000)
        self.assertRefusedOnce(run(["cat", self.w], env=self.env), "")

    def test_header_stanza_mac_and_truncation(self):
        age = self.w + ".age"
        with open(age, "rb") as f:
            good = f.read()
        mac = good.index(b"\n--- ") + 6
        stanza = good.index(b"-> X25519 ") + 12
        for what, data in (("stanza", good[:stanza] + bytes([good[stanza] ^ 1]) + good[stanza + 1:]),
                           ("mac", good[:mac] + bytes([good[mac] ^ 1]) + good[mac + 1:]),
                           ("truncated", good[:-1]),
                           ("last chunk cut off", good[:len(good) - (len(good) - mac) % 65552 - 1])):
            with self.subTest(what=what):
                with open(age, "wb") as f:
                    f.write(data)
                self.assertRefusedOnce(run(["cat", self.w], env=self.env), "")
        with open(age, "wb") as f:
            f.write(good)
        self.assertEqual(run(["cat", self.w], env=self.env).stdout, self.data)

    def test_encrypted_by_someone_else(self):
        # age is not a signature: anyone can encrypt to the recipient.
        fake = self.p("fake")
        self.write(fake, os.urandom(300_000))
        subprocess.run(["age", "-e", "-r", self.recipient, "-o", self.w + ".age", fake], check=True)
        self.assertRefusedOnce(run(["cat", self.w], env=self.env), "modified: sha256 is")

    def test_swapped_files(self):
        cfg = os.path.join(self.model, "sub", "config.json.age")
        os.rename(self.w + ".age", self.p("x"))
        os.rename(cfg, self.w + ".age")
        os.rename(self.p("x"), cfg)
        self.assertRefusedOnce(run(["cat", self.w], env=self.env), "")

    def test_identity_that_does_not_match(self):
        other = self.p("other.agekey")
        must([tool("keygen"), "-t", "x25519", "-o", other, "-q"])
        self.assertRefusedOnce(run(["cat", self.w], env=dict(self.env, MODELSEAL_IDENTITY=other)),
                               "no identity matches")

    def test_identity_readable_by_others_is_refused_at_load(self):
        os.chmod(self.idfile, 0o644)
        r = run(["cat", self.w], env=self.env)
        err = r.stderr.decode()
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no usable MODELSEAL_IDENTITY", err.splitlines()[0])
        self.assertIn("accessible by group or others", err.splitlines()[0])
        self.assertIn("open refused", err)

    def test_memory_cap(self):
        r = run(["cat", self.w], env=dict(self.env, MODELSEAL_DECRYPT_MAX="100K"))
        self.assertRefusedOnce(r, "over the cap of 100.0 KiB (MODELSEAL_DECRYPT_MAX)")
        r = run(["cat", self.w], env=dict(self.env, MODELSEAL_DECRYPT_MAX="1M"))
        self.assertEqual(r.stdout, self.data, r.stderr)
        # Files held at once count together: the second open is past 512K.
        code = "import sys; a = open(sys.argv[1], 'rb'); b = open(sys.argv[1], 'rb')"
        r = run([PYTHON, "-c", code, self.w], env=dict(self.env, MODELSEAL_DECRYPT_MAX="512K"))
        self.assertIn("over the cap", r.stderr.decode())
        self.assertNotEqual(r.returncode, 0)

    def test_without_an_identity_the_name_does_not_exist(self):
        env = dict(self.env)
        env.pop("MODELSEAL_IDENTITY")
        r = run(["cat", self.w], env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No such file", r.stderr.decode())

    def test_unlisted_age_file(self):
        extra = os.path.join(self.model, "extra.py")
        subprocess.run(["age", "-e", "-r", self.recipient, "-o", extra + ".age", self.idfile], check=True)
        r = run(["cat", extra], env=self.env)
        self.assertIn("not listed in the signature", r.stderr.decode())
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()

"""Interop with Debian's age both ways: files modelseal encrypts open with `age -d`, and files
`age -e -r`, `age -a` and `age -p` make are decrypted (and verified) by `modelseal decrypt`.
Sizes 0, 1, 65536, 65537 and 10 MiB. `age -p` reads passphrases only from a terminal, so those
runs get a pty."""
import os
import pty
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from harness import CliTest, run, write  # noqa: E402

SIZES = {"zero.bin": 0, "one.bin": 1, "chunk.bin": 65536, "chunk1.bin": 65537, "big.bin": 10 << 20}
PASS = "interop passphrase 42"


def age_with_tty(args, passphrase, prompts):
    """Runs age on a pty, typing `passphrase` at each of `prompts` passphrase prompts."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("age", ["age", *args])
    seen, typed = b"", 0
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if typed < prompts and seen.lower().count(b"passphrase") > typed:
            os.write(fd, passphrase.encode() + b"\n")
            typed += 1
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


class AgeInterop(CliTest):
    FILES = {name: os.urandom(size) for name, size in SIZES.items()}

    def setUp(self):
        super().setUp()
        self.sign()
        self.debkey = os.path.join(self.tmp, "debian-age.txt")
        subprocess.run(["age-keygen", "-o", self.debkey], check=True, capture_output=True)
        self.debrecipient = subprocess.run(["age-keygen", "-y", self.debkey], check=True,
                                           capture_output=True).stdout.decode().strip()
        self.ourkey = os.path.join(self.tmp, "ours.agekey")
        r = run("keygen", "-t", "x25519", "-o", self.ourkey, "-q")
        self.assertEqual(r.rc, 0, r)
        self.ourrecipient = r.out.strip()

    def decrypt_in_place_and_compare(self, *extra, env=None):
        for name in SIZES:
            os.unlink(os.path.join(self.model, name))
        r = run("decrypt", self.model, "-p", self.pub, *extra, env=env)
        self.assertEqual(r.rc, 0, r)
        for name, data in self.FILES.items():
            with open(os.path.join(self.model, name), "rb") as f:
                self.assertEqual(f.read(), data, name)
        self.verify(self.model, *sum([["--ignore", n + ".age"] for n in SIZES], []))

    def test_keys_both_ways(self):
        self.assertEqual(os.stat(self.ourkey).st_mode & 0o777, 0o600)
        self.assertTrue(self.ourrecipient.startswith("age1"))
        derived = subprocess.run(["age-keygen", "-y", self.ourkey], check=True, capture_output=True).stdout.decode().strip()
        self.assertEqual(derived, self.ourrecipient)

    def test_modelseal_encrypts_age_decrypts(self):
        out = os.path.join(self.tmp, "enc")
        r = run("encrypt", self.model, "-p", self.pub, "-r", self.debrecipient, "-r", self.ourrecipient, "-o", out)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(os.path.exists(os.path.join(out, "model.sig")))
        for name, data in self.FILES.items():
            p = subprocess.run(["age", "-d", "-i", self.debkey, os.path.join(out, name + ".age")], capture_output=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, data, name)

    def test_modelseal_armor_age_decrypts(self):
        r = run("encrypt", self.model, "-p", self.pub, "-r", self.debrecipient, "--armor")
        self.assertEqual(r.rc, 0, r)
        for name, data in self.FILES.items():
            enc = os.path.join(self.model, name + ".age")
            with open(enc, "rb") as f:
                self.assertTrue(f.read(40).startswith(b"-----BEGIN AGE ENCRYPTED FILE-----"))
            p = subprocess.run(["age", "-d", "-i", self.debkey, enc], capture_output=True)
            self.assertEqual(p.stdout, data, name)

    def test_age_encrypts_modelseal_decrypts(self):
        for name in SIZES:
            src = os.path.join(self.model, name)
            subprocess.run(["age", "-e", "-r", self.ourrecipient, "-o", src + ".age", src], check=True)
        self.decrypt_in_place_and_compare("-i", self.debkey, "-i", self.ourkey)

    def test_age_armor_modelseal_decrypts(self):
        for name in SIZES:
            src = os.path.join(self.model, name)
            subprocess.run(["age", "-e", "-a", "-r", self.ourrecipient, "-o", src + ".age", src], check=True)
        self.decrypt_in_place_and_compare("-i", self.ourkey)

    def test_age_identity_file_read(self):
        os.chmod(self.debkey, 0o600)
        for name in SIZES:
            src = os.path.join(self.model, name)
            subprocess.run(["age", "-e", "-r", self.debrecipient, "-o", src + ".age", src], check=True)
        self.decrypt_in_place_and_compare("-i", self.debkey)

    def test_age_passphrase_modelseal_decrypts(self):
        for name in ["one.bin", "chunk1.bin"]:
            src = os.path.join(self.model, name)
            rc, out = age_with_tty(["-p", "-o", src + ".age", src], PASS, 2)
            self.assertEqual(rc, 0, out)
        for name in ["one.bin", "chunk1.bin"]:
            os.unlink(os.path.join(self.model, name))
        r = run("decrypt", self.model, "-p", self.pub, "--passphrase", env={"MODELSEAL_PASSPHRASE": PASS})
        self.assertEqual(r.rc, 0, r)
        for name in ["one.bin", "chunk1.bin"]:
            with open(os.path.join(self.model, name), "rb") as f:
                self.assertEqual(f.read(), self.FILES[name])

    def test_modelseal_passphrase_age_decrypts(self):
        small = os.path.join(self.tmp, "small")
        write(os.path.join(small, "w.bin"), self.FILES["chunk1.bin"])
        self.sign(small)
        r = run("encrypt", small, "-p", self.pub, "--passphrase", env={"MODELSEAL_PASSPHRASE": PASS})
        self.assertEqual(r.rc, 0, r)
        dec = os.path.join(self.tmp, "w.out")
        rc, out = age_with_tty(["-d", "-o", dec, os.path.join(small, "w.bin.age")], PASS, 1)
        self.assertEqual(rc, 0, out)
        with open(dec, "rb") as f:
            self.assertEqual(f.read(), self.FILES["chunk1.bin"])


if __name__ == "__main__":
    unittest.main()

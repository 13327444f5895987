"""Real programs under the shim: cat, cp, python open().read(), python mmap and torch.load each
read a signed model, and each gets a permission error when the file has one changed byte, when
the file is an extra one dropped into the root, and when the signature is from an untrusted key."""
import os
import shutil
import sys
import unittest

from lt import PYTHON, TempDirTest, must, run

READ = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"
MMAP = ("import mmap, sys; f = open(sys.argv[1], 'rb'); "
        "sys.stdout.buffer.write(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)[:])")
TORCH = "import sys, torch; t = torch.load(sys.argv[1]); print(repr(t['w'].sum().item()), t['name'])"


def have_torch():
    return run([PYTHON, "-c", "import torch"]).returncode == 0


class Programs(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.other_key, _ = self.keygen("untrusted")
        self.model = self.p("models", "bert")
        self.write(os.path.join(self.model, "config.json"), '{"hidden": 768}\n')
        self.write(os.path.join(self.model, "weights", "w.bin"), os.urandom(3 * 1024 * 1024 + 5))
        self.torch = have_torch()
        if self.torch:
            must([PYTHON, "-c", "import torch; torch.save({'w': torch.arange(1000.0), 'name': 'bert'}, "
                  "'%s')" % os.path.join(self.model, "model.pt")])
        self.sign(self.model, self.key)
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})
        self.env = self.shim_env(self.model, self.policy)

    def programs(self):
        out = self.p("out.bin")
        progs = [
            ("cat", "weights/w.bin", lambda f: ["cat", f], None),
            ("cp", "weights/w.bin", lambda f: ["cp", f, out], out),
            ("python-read", "config.json", lambda f: [PYTHON, "-c", READ, f], None),
            ("python-mmap", "weights/w.bin", lambda f: [PYTHON, "-c", MMAP, f], None),
        ]
        if self.torch:
            progs.append(("torch.load", "model.pt", lambda f: [PYTHON, "-c", TORCH, f], None))
        return progs

    def check_reads(self, name, rel, argv, out):
        path = os.path.join(self.model, rel)
        r = run(argv(path), env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        self.assertNotIn(b"modelseal:", r.stderr)
        if name == "torch.load":
            self.assertEqual(r.stdout.decode().split(), ["499500.0", "bert"])
        elif out:
            with open(out, "rb") as a, open(path, "rb") as b:
                self.assertEqual(a.read(), b.read())
        else:
            with open(path, "rb") as f:
                self.assertEqual(r.stdout, f.read())

    def test_signed_model_reads(self):
        if not self.torch:
            print("python3-torch is not installed: torch.load is skipped", file=sys.stderr)
        for name, rel, argv, out in self.programs():
            with self.subTest(program=name):
                self.check_reads(name, rel, argv, out)

    def test_one_changed_byte(self):
        for name, rel, argv, out in self.programs():
            with self.subTest(program=name):
                path = os.path.join(self.model, rel)
                size = os.path.getsize(path)
                self.flip_byte(path, size // 2)
                self.assertRefused(run(argv(path), env=self.env), "modified: sha256 is", path)
                self.flip_byte(path, size // 2)
                self.check_reads(name, rel, argv, out)

    def test_extra_file_dropped_in(self):
        for name, rel, argv, out in self.programs():
            with self.subTest(program=name):
                extra = os.path.join(self.model, "weights", "extra-" + os.path.basename(rel))
                shutil.copyfile(os.path.join(self.model, rel), extra)
                self.assertRefused(run(argv(extra), env=self.env), "not listed in the signature", extra)
                os.unlink(extra)

    def test_signature_from_untrusted_key(self):
        sig = os.path.join(self.model, "model.sig")
        shutil.copyfile(sig, self.p("good.sig"))
        self.sign(self.model, self.other_key)
        for name, rel, argv, out in self.programs():
            with self.subTest(program=name):
                path = os.path.join(self.model, rel)
                self.assertRefused(run(argv(path), env=self.env), "signature not trusted: no signature is from a trusted key", path)
        shutil.copyfile(self.p("good.sig"), sig)
        for name, rel, argv, out in self.programs():
            with self.subTest(program=name, signature="restored"):
                self.check_reads(name, rel, argv, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

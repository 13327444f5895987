"""sign verifies its own output and writes model.sig atomically: killed at any moment it leaves
the old signature or the new one, never a part, and never a stray file; two signers at once
leave one valid signature."""
import os
import random
import signal
import subprocess
import time
import unittest

from harness import CliTest, run, tool, tree_state, write


class Atomic(CliTest):
    FILES = dict(CliTest.FILES, **{"big.bin": os.urandom(48 << 20)})

    def test_sigkill_at_random_moments(self):
        self.sign()
        with open(os.path.join(self.model, "model.sig"), "rb") as f:
            old = f.read()
        k2, p2 = self.keygen("second")
        files_before = sorted(os.listdir(self.model))
        model_before = {k: v for k, v in tree_state(self.model).items() if k != "model.sig"}
        start = time.monotonic()
        self.sign(key=k2)
        duration = time.monotonic() - start
        write(os.path.join(self.model, "model.sig"), old)
        rng = random.Random(1234)
        outcomes = {"old": 0, "new": 0}
        for i in range(25):
            p = subprocess.Popen([tool("sign"), self.model, "-k", k2, "-q"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, duration * 1.2))
            p.send_signal(signal.SIGKILL)
            p.wait()
            # A kill between linkat() and rename() can leave the new signature under its temporary
            # name: it must be whole (it verifies), never partial.
            for f in set(os.listdir(self.model)) - set(files_before):
                self.assertTrue(f.startswith(".model.sig.tmp-"), f"stray file after kill {i}: {f}")
                os.replace(os.path.join(self.model, f), os.path.join(self.tmp, "leftover.sig"))
                self.verify(None, "-s", os.path.join(self.tmp, "leftover.sig"), pub=p2)
            self.assertEqual(sorted(os.listdir(self.model)), files_before)
            self.assertEqual({k: v for k, v in tree_state(self.model).items() if k != "model.sig"}, model_before)
            with open(os.path.join(self.model, "model.sig"), "rb") as f:
                now = f.read()
            if now == old:
                outcomes["old"] += 1
                self.verify()
            else:
                outcomes["new"] += 1
                self.verify(pub=p2)
                write(os.path.join(self.model, "model.sig"), old)
        print(f"25 kills: {outcomes['old']} left the old signature, {outcomes['new']} the new one", flush=True)

    def test_two_signers_at_once(self):
        k2, p2 = self.keygen("second")
        procs = [subprocess.Popen([tool("sign"), self.model, "-k", k, "-q"]) for k in (self.key, k2)]
        self.assertEqual([p.wait() for p in procs], [0, 0])
        ok = [run("verify", self.model, "-p", pub).rc for pub in (self.pub, p2)]
        self.assertEqual(sorted(ok), [0, 1])  # exactly one whole signature won

    def test_full_disk_keeps_the_old_signature(self):
        self.sign()
        with open(os.path.join(self.model, "model.sig"), "rb") as f:
            old = f.read()
        # RLIMIT_FSIZE: writing past 1 KiB fails with EFBIG (SIGXFSZ ignored).
        def limit():
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
        p = subprocess.run([tool("sign"), self.model, "-k", self.key], capture_output=True, preexec_fn=limit)
        self.assertEqual(p.returncode, 3, p)
        self.assertIn(b"cannot write", p.stderr)
        with open(os.path.join(self.model, "model.sig"), "rb") as f:
            self.assertEqual(f.read(), old)
        self.verify()


if __name__ == "__main__":
    unittest.main()

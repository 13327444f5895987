"""Faults and concurrency: key generation and attestation killed at random moments leave no
partial file and never touch the model; a file that changes while it is hashed is reported, not
signed; many verifiers and shim-guarded readers of one model at once all succeed."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from harness import SHIM, CliTest, run, shim_preload, tool, tree_state, write  # noqa: E402

PASS = "fault-injection passphrase"


def kill_at_random(cmd, duration, rng, env=None):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(rng.uniform(0, duration * 1.3))
    p.send_signal(signal.SIGKILL)
    p.wait()


class Faults(CliTest):
    FILES = dict(CliTest.FILES, **{"big.bin": b"\0" + os.urandom(24 << 20)})
    counts = {"kills": 0}

    def test_keygen_killed(self):
        rng = random.Random(7)
        env = dict(os.environ, MODELSEAL_PASSPHRASE=PASS)
        prefix = os.path.join(self.tmp, "k")
        start = time.monotonic()
        self.assertEqual(subprocess.run([tool("keygen"), "-o", prefix, "-q"], env=env).returncode, 0)
        duration = time.monotonic() - start
        for i in range(20):
            for ext in (".key", ".pub"):
                if os.path.exists(prefix + ext):
                    os.remove(prefix + ext)
            kill_at_random([tool("keygen"), "-o", prefix, "-q"], duration, rng, env)
            self.counts["kills"] += 1
            # A kill between linkat() and rename() (two syscalls) can leave the new file under its
            # temporary name: whole, never partial. Anything else is a failure.
            for f in [f for f in os.listdir(self.tmp) if f.startswith(".k")]:
                with open(os.path.join(self.tmp, f)) as fh:
                    self.assertTrue(fh.read().endswith("-----\n"), f"partial temporary file {f}")
                os.remove(os.path.join(self.tmp, f))
            if os.path.exists(prefix + ".key"):
                with open(prefix + ".key") as f:
                    text = f.read()
                self.assertTrue(text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----") and text.endswith("-----\n"))
                self.assertEqual(os.stat(prefix + ".key").st_mode & 0o777, 0o600)
                if os.path.exists(prefix + ".pub"):
                    r = run("sign", self.model, "-k", prefix + ".key", "-q", env={"MODELSEAL_PASSPHRASE": PASS})
                    self.assertEqual(r.rc, 0, r)

    def test_attest_killed(self):
        rng = random.Random(11)
        bundle = os.path.join(self.tmp, "att.jsonl")
        cmd = [tool("attest"), self.model, "-k", self.key, "--approve", "1.0", "--approver", "qa",
               "-o", bundle, "-q"]
        model_before = tree_state(self.model)
        start = time.monotonic()
        self.assertEqual(subprocess.run(cmd).returncode, 0)
        duration = time.monotonic() - start
        for i in range(20):
            kill_at_random(cmd, duration, rng)
            self.counts["kills"] += 1
            with open(bundle, "rb") as f:
                data = f.read()
            self.assertTrue(data.endswith(b"\n"))
            for line in data.splitlines():
                json.loads(line)  # every line whole
            self.assertEqual(tree_state(self.model), model_before)
        print(f"faults: {self.counts['kills']} SIGKILLs injected so far", flush=True)

    def test_file_changing_while_hashed_is_reported(self):
        big = os.path.join(self.model, "big.bin")
        stop, writing = threading.Event(), threading.Event()

        def scribble():
            with open(big, "r+b") as f:
                while not stop.is_set():
                    f.seek(random.randrange(1 << 20))
                    f.write(b"x")
                    f.flush()
                    os.fsync(f.fileno())
                    writing.set()
                    time.sleep(0.001)
        t = threading.Thread(target=scribble)
        t.start()
        # sign starts only once the file is being written to, however loaded the machine is
        self.assertTrue(writing.wait(30))
        try:
            r = run("sign", self.model, "-k", self.key, "--insecure-allow-unsafe-content", "--threads", "1")
        finally:
            stop.set()
            t.join()
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "changed while")
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_many_readers_at_once(self):
        self.sign()
        procs = [subprocess.Popen([tool("verify"), self.model, "-p", self.pub, "-q"]) for _ in range(32)]
        self.assertEqual([p.wait() for p in procs], [0] * 32)
        if not os.path.exists(SHIM):
            return
        policy = os.path.join(self.tmp, "policy.json")
        write(policy, json.dumps({"keys": [{"type": "ed25519", "path": self.pub}]}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_")}
        env.update(shim_preload(), MODELSEAL_POLICY=policy, MODELSEAL_ROOTS=self.model)
        target = os.path.join(self.model, "big.bin")
        procs = [subprocess.Popen(["cat", target], stdout=subprocess.PIPE, env=env) for _ in range(32)]
        outs = [p.communicate()[0] for p in procs]
        self.assertEqual([p.returncode for p in procs], [0] * 32)
        self.assertTrue(all(o == self.FILES["big.bin"] for o in outs))
        print("concurrency: 32 verifiers and 32 shim-guarded readers succeeded", flush=True)


if __name__ == "__main__":
    unittest.main()

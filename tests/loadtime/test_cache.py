"""The machine's verification cache (issue 18): a version hashed by one process is taken by the
next from MODELSEAL_CACHE_DIR, and every way of changing what a record stands for ends in a fresh
hash or a refusal, never in changed bytes handed over: a file changed with its size and times
restored, a file replaced by another of the same size, a new signature, a new policy, a record or
folder another account could write, a truncated or garbage record, a record made while a writer
had the file mapped, and processes racing to record. Also MODELSEAL_PREVERIFY=model and
`verify --record`."""
import glob
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from lt import PYTHON, TempDirTest, must, run, tool

READ = "import sys\nfor p in sys.argv[1:]: sys.stdout.buffer.write(open(p, 'rb').read())\n"


def kinds(r):
    """How each open was verified, from MODELSEAL_VERBOSE's lines."""
    return [l.split("(", 1)[1].split(")")[0] for l in r.stderr.decode().splitlines()
            if l.startswith("modelseal: verified (")]


class Cache(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.model = self.p("m")
        self.a, self.b = os.path.join(self.model, "a.bin"), os.path.join(self.model, "b.bin")
        self.data_a, self.data_b = os.urandom(300000), os.urandom(5000)
        self.write(self.a, self.data_a)
        self.write(self.b, self.data_b)
        self.sign(self.model, self.key)
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})
        self.cache = self.p("cache")
        self.env = self.shim_env(self.model, self.policy, MODELSEAL_CACHE_DIR=self.cache, MODELSEAL_VERBOSE="1")
        self.settle()

    def settle(self):
        """A version changed within the last clock tick is never recorded: let it age."""
        time.sleep(0.05)

    def read(self, *paths, env=None):
        return run([PYTHON, "-c", READ] + list(paths), env=env or self.env)

    def records(self):
        return sorted(glob.glob(os.path.join(self.cache, "[0-9a-f]" * 64)))

    def record(self, env=None):
        r = run([tool("verify"), self.model, "--policy", self.policy, "--record"],
                env=env or dict(self.env, LD_PRELOAD=""))
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def assertServed(self, r, data, how):
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)
        self.assertEqual(kinds(r), how, r.stderr)

    def test_second_process_takes_the_record(self):
        self.assertServed(self.read(self.a, self.b), self.data_a + self.data_b, ["hashed", "hashed"])
        self.assertServed(self.read(self.a, self.b, self.a), self.data_a + self.data_b + self.data_a,
                          ["machine cache", "machine cache", "cached"])
        self.assertEqual(stat.S_IMODE(os.stat(self.cache).st_mode), 0o700)
        self.assertEqual(len(self.records()), 2)
        for rec in self.records():
            self.assertEqual(stat.S_IMODE(os.stat(rec).st_mode), 0o600)
        # Off: every process hashes.
        off = dict(self.env, MODELSEAL_CACHE_DIR="off")
        self.assertServed(self.read(self.a, env=off), self.data_a, ["hashed"])

    def test_verify_record_warms_the_cache(self):
        r = self.record()
        self.assertIn("recorded 2 files in the verification cache " + self.cache, r.stderr.decode())
        self.assertServed(self.read(self.a, self.b), self.data_a + self.data_b, ["machine cache", "machine cache"])
        # --record with no cache to record in is a usage error, before anything is hashed.
        for env in [dict(self.env, MODELSEAL_CACHE_DIR="off"), dict(self.env, MODELSEAL_CACHE_DIR="relative/dir")]:
            r = run([tool("verify"), self.model, "--policy", self.policy, "--record"], env=dict(env, LD_PRELOAD=""))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--record", r.stderr.decode())

    def test_changed_with_size_and_times_restored(self):
        self.record()
        st = os.stat(self.a)
        self.flip_byte(self.a, 1000)
        os.utime(self.a, ns=(st.st_atime_ns, st.st_mtime_ns))
        self.assertEqual((os.stat(self.a).st_size, os.stat(self.a).st_mtime_ns), (st.st_size, st.st_mtime_ns))
        self.assertRefused(self.read(self.a), "modified", self.a)

    def test_replaced_by_a_file_of_the_same_size(self):
        self.record()
        st = os.stat(self.a)
        other = self.p("other.bin")
        self.write(other, os.urandom(len(self.data_a)))
        os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.rename(other, self.a)
        self.assertRefused(self.read(self.a), "modified", self.a)
        # The same bytes under a new inode are hashed again, not taken from the record.
        self.write(other, self.data_a)
        os.rename(other, self.a)
        self.assertServed(self.read(self.a), self.data_a, ["hashed"])

    def test_new_signature_or_policy_is_a_miss(self):
        self.record()
        key2, pub2 = self.keygen("second")
        both = self.write_policy("both.json", {"keys": [{"type": "ed25519", "path": self.pub},
                                                        {"type": "ed25519", "path": pub2}]})
        # The same key in another policy: the record was made under the first.
        env = dict(self.env, MODELSEAL_POLICY=both)
        self.assertServed(self.read(self.a, env=env), self.data_a, ["hashed"])
        self.assertServed(self.read(self.a, env=env), self.data_a, ["machine cache"])
        # A new signature over the same files.
        self.sign(self.model, key2)
        self.assertServed(self.read(self.a, env=env), self.data_a, ["hashed"])

    def test_records_or_folder_others_could_write(self):
        self.record()
        rec = self.records()[0]
        os.chmod(rec, 0o666)
        r = self.read(self.a, self.b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("verification cache: ignored a record writable by group or others", r.stderr.decode())
        self.assertEqual(sorted(kinds(r)), ["hashed", "machine cache"], r.stderr)
        os.chmod(self.cache, 0o777)
        r = self.read(self.a)
        self.assertServed(r, self.data_a, ["hashed"])
        self.assertIn("is writable by group or others: the verification cache is off", r.stderr.decode())
        r = run([tool("verify"), self.model, "--policy", self.policy, "--record"], env=dict(self.env, LD_PRELOAD=""))
        self.assertEqual(r.returncode, 2, r.stderr)
        os.chmod(self.cache, 0o700)
        if os.geteuid() != 0:
            return
        nobody = pwd.getpwnam("nobody")
        self.record()
        for rec in self.records():
            os.chown(rec, nobody.pw_uid, nobody.pw_gid)
        r = self.read(self.a)
        self.assertServed(r, self.data_a, ["hashed"])
        self.assertIn("ignored a record owned by another account", r.stderr.decode())
        os.chown(self.cache, nobody.pw_uid, nobody.pw_gid)
        r = self.read(self.a)
        self.assertServed(r, self.data_a, ["hashed"])
        self.assertIn("owned by another account", r.stderr.decode())

    def test_truncated_or_garbage_records(self):
        self.record()
        for damage in ["truncate", "garbage", "flip", "empty"]:
            with self.subTest(damage=damage):
                self.record()
                for rec in self.records():
                    with open(rec, "rb") as f:
                        data = f.read()
                    if damage == "truncate":
                        data = data[:-1]
                    elif damage == "garbage":
                        data = os.urandom(len(data))
                    elif damage == "flip":
                        data = data[:60] + bytes([data[60] ^ 1]) + data[61:]
                    else:
                        data = b""
                    with open(rec, "wb") as f:
                        f.write(data)
                r = self.read(self.a, self.b)
                self.assertServed(r, self.data_a + self.data_b, ["hashed", "hashed"])
                self.assertIn("ignored a truncated or damaged record", r.stderr.decode())

    def test_record_made_while_a_writer_has_it_mapped(self):
        """A writer holding a dirty shared mapping can change bytes without changing the times: no
        record is made while it is mapped, so a later change it makes is hashed and refused."""
        writer = ("import mmap, sys, time\n"
                  "f = open(sys.argv[1], 'r+b'); m = mmap.mmap(f.fileno(), 0); f.close()\n"
                  "m[0] = m[0]\n"
                  "time.sleep(0.05); print('mapped', flush=True); sys.stdin.readline()\n"
                  "m[1] = m[1] ^ 0xff\n"
                  "m.close(); print('changed', flush=True)\n")
        w = subprocess.Popen([PYTHON, "-c", writer, self.a], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(w.stdin.close)
        self.addCleanup(w.stdout.close)
        self.addCleanup(w.kill)
        self.assertEqual(w.stdout.readline(), b"mapped\n")
        st = os.stat(self.a)
        r = self.record()
        self.assertIn("recorded 1 file", r.stderr.decode())
        self.assertIn("1 file not recorded", r.stderr.decode())
        # Nor does the shim record it: the lease is refused while the mapping is held.
        self.assertServed(self.read(self.a), self.data_a, ["hashed"])
        w.stdin.write(b"go\n")
        w.stdin.flush()
        self.assertEqual(w.stdout.readline(), b"changed\n")
        w.wait()
        self.assertEqual(os.stat(self.a).st_ctime_ns, st.st_ctime_ns)   # the change left no trace in the times
        self.assertRefused(self.read(self.a), "modified", self.a)

    def test_processes_racing_to_record(self):
        """Eight processes opening a cold model at once: each file is hashed by one of them, the
        others wait for its record."""
        procs = [subprocess.Popen([PYTHON, "-c", READ, self.a, self.b], env=self.env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(8)]
        hashed = 0
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(out, self.data_a + self.data_b)
            self.assertNotIn(b"damaged", err)
            hashed += err.count(b"(hashed)")
        self.assertEqual(hashed, 2)
        self.assertEqual(len(self.records()), 2)
        self.assertEqual([n for n in os.listdir(self.cache) if n.startswith(".")], [])
        self.assertServed(self.read(self.a, self.b), self.data_a + self.data_b, ["machine cache", "machine cache"])

    def test_file_systems_whose_times_cannot_be_trusted(self):
        """tmpfs sets no time on a store through a shared mapping: nothing on it is recorded."""
        if not os.path.isdir("/dev/shm"):
            self.skipTest("no /dev/shm")
        top = tempfile.mkdtemp(prefix="ms-cache-", dir="/dev/shm")
        self.addCleanup(shutil.rmtree, top, True)
        model = os.path.join(top, "m")
        target = os.path.join(model, "a.bin")
        self.write(target, self.data_a)
        self.sign(model, self.key)
        self.settle()
        env = self.shim_env(model, self.policy, MODELSEAL_CACHE_DIR=self.cache, MODELSEAL_VERBOSE="1")
        self.assertServed(self.read(target, target, env=env), self.data_a * 2, ["hashed", "hashed"])
        self.assertEqual(self.records(), [])

    def test_cache_below_a_root_is_off(self):
        env = dict(self.env, MODELSEAL_CACHE_DIR=os.path.join(self.model, ".cache"))
        r = self.read(self.a, env=env)
        self.assertServed(r, self.data_a, ["hashed"])
        self.assertIn("is below the protected root " + self.model + ": the verification cache is off",
                      r.stderr.decode())

    def test_preverify_model(self):
        """The first open starts hashing every file of the model in the background; an open of a
        big file waits for its own result, a small one is hashed at once."""
        big = os.path.join(self.model, "big.bin")
        data = os.urandom(17 << 20)
        self.write(big, data)
        self.sign(self.model, self.key)
        self.settle()
        either = {"hashed", "preverified"}
        env = dict(self.env, MODELSEAL_PREVERIFY="model", MODELSEAL_CACHE_DIR="off")
        r = self.read(big, self.a, self.b, big, env=env)
        self.assertEqual(r.stdout, data + self.data_a + self.data_b + data)
        k = kinds(r)
        self.assertEqual((k[0], k[3]), ("preverified", "cached"), r.stderr)
        self.assertTrue(set(k[1:3]) <= either, r.stderr)
        # A tampered file is still refused at its own open; the others are served.
        self.flip_byte(big, 10)
        self.settle()
        r = self.read(self.a, big, env=env)
        self.assertTrue(set(kinds(r)) <= either, r.stderr)
        self.assertRefused(r, "modified", big)
        # With the machine's cache, what another process preverified is not hashed again.
        self.write(big, data)
        self.settle()
        env = dict(self.env, MODELSEAL_PREVERIFY="model")
        self.assertServed(self.read(big, env=env), data, ["preverified"])
        self.assertServed(self.read(big, self.a, self.b, env=env), data + self.data_a + self.data_b,
                          ["machine cache"] * 3)
        r = self.read(self.a, env=dict(env, MODELSEAL_PREVERIFY="all"))
        self.assertIn('unknown MODELSEAL_PREVERIFY "all"', r.stderr.decode())

    def test_preverify_ends_with_the_process(self):
        """A process that exits while the background hashing runs exits at once and cleanly."""
        big = os.path.join(self.model, "big.bin")
        self.write(big, os.urandom(64 << 20))
        self.sign(self.model, self.key)
        self.settle()
        env = dict(self.env, MODELSEAL_PREVERIFY="model", MODELSEAL_CACHE_DIR="off")
        for _ in range(5):
            r = run([PYTHON, "-c", "import sys; open(sys.argv[1], 'rb').read(10)", self.b], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        # A child forked while it runs hashes for itself instead of waiting for a thread it lacks.
        code = ("import os, sys\n"
                "open(sys.argv[1], 'rb').read(1)\n"
                "pid = os.fork()\n"
                "if pid == 0:\n"
                "    n = len(open(sys.argv[2], 'rb').read()); os._exit(0 if n == 64 << 20 else 1)\n"
                "_, st = os.waitpid(pid, 0); sys.exit(os.waitstatus_to_exitcode(st))\n")
        r = run([PYTHON, "-c", code, self.b, big], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_children_forked_while_the_background_hashes(self):
        """Workers forked while the background hashing of many files takes and leaves the shim's
        locks (a data loader starting its workers) each open a file at once: none may inherit a
        lock held by a thread it does not have (they hung on it)."""
        many = self.p("many")
        for i in range(1000):
            self.write(os.path.join(many, "f%03d.bin" % i), os.urandom(1000))
        self.sign(many, self.key)
        self.settle()
        env = self.shim_env(many, self.policy, MODELSEAL_PREVERIFY="model", MODELSEAL_CACHE_DIR="off")
        code = ("import os, sys, time\n"
                "d = sys.argv[1]\n"
                "open(os.path.join(d, 'f000.bin'), 'rb').read()\n"
                "pids = []\n"
                "for i in range(60):\n"
                "    pid = os.fork()\n"
                "    if pid == 0:\n"
                "        n = len(open(os.path.join(d, 'f%03d.bin' % (999 - i)), 'rb').read()); os._exit(0 if n == 1000 else 1)\n"
                "    pids.append(pid)\n"
                "deadline = time.time() + 60\n"
                "for i, pid in enumerate(pids):\n"
                "    while True:\n"
                "        done, st = os.waitpid(pid, os.WNOHANG)\n"
                "        if done: break\n"
                "        if time.time() > deadline: [os.kill(p, 9) for p in pids]; sys.exit('child %d hung' % i)\n"
                "        time.sleep(0.01)\n"
                "    if os.waitstatus_to_exitcode(st): sys.exit('child %d failed' % i)\n")
        r = run([PYTHON, "-c", code, many], env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)

if __name__ == "__main__":
    unittest.main(verbosity=2)

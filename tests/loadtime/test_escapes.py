"""Ways around the shim that the red team found (issue 12, findings 2-6), each performed with a
real program and refused with EACCES: freopen and the mkstemp family, files past PATH_MAX
reached by openat and chdir chains, a root given as a symlink flipped to a tampered version,
a relative policy after a chdir, and a second process changing cached bytes through a
writable shared mapping."""
import os
import shutil
import subprocess
import unittest

from lt import PYTHON, TempDirTest, clean_env, run, shim_preload

PROBE = os.environ.get("MODELSEAL_OPEN_PROBE", "")


class Escapes(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.model = self.p("m")
        self.data = os.urandom(100000)
        self.w = os.path.join(self.model, "w.bin")
        self.write(self.w, self.data)
        self.write(os.path.join(self.model, "config.json"), '{"a": 1}\n')
        self.sign(self.model, self.key)
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})
        self.env = self.shim_env(self.model, self.policy)
        self.extra = os.path.join(self.model, "extra.bin")
        self.write(self.extra, b"unlisted")

    def py(self, code, *args, env=None, cwd=None):
        return run([PYTHON, "-c", code] + list(args), env=env or self.env, cwd=cwd)

    def test_freopen_and_temporary_files(self):
        for how in ["freopen", "freopen64"]:
            with self.subTest(how=how):
                r = run([PROBE, how, self.w], env=self.env)
                self.assertEqual(r.stdout, self.data, r.stderr)
                self.assertRefused(run([PROBE, how, self.extra], env=self.env), "not listed", self.extra)
        self.assertRefused(run([PROBE, "freopen-w", self.w], env=self.env), "opened for writing", self.w)
        self.assertRefused(run([PROBE, "freopen-w", self.p("m", "new.txt")], env=self.env), "opened for writing")
        self.assertRefused(run([PROBE, "truncate", self.w], env=self.env), "opened for writing", self.w)
        self.assertEqual(os.path.getsize(self.w), len(self.data))
        for how, tmpl in [("mkstemp", "tXXXXXX"), ("mkostemp", "tXXXXXX"), ("mkstemps", "tXXXXXX.bin"),
                          ("mkostemps", "tXXXXXX.bin"), ("mkdtemp", "dXXXXXX")]:
            with self.subTest(how=how):
                self.assertRefused(run([PROBE, how, os.path.join(self.model, tmpl)], env=self.env),
                                   "opened for writing")
                r = run([PROBE, how, self.p(tmpl)], env=self.env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(os.path.exists(r.stdout.decode().strip()))
        self.assertEqual(sorted(os.listdir(self.model)), ["config.json", "extra.bin", "model.sig", "w.bin"])
        # tmpfile() writes in /tmp: refused when /tmp is a root, allowed otherwise.
        self.assertEqual(run([PROBE, "tmpfile", "-"], env=self.env).returncode, 0)
        env = self.shim_env("/tmp", self.policy)
        self.assertRefused(run([PROBE, "tmpfile", "-"], env=env), "opened for writing")

    def test_every_libc_entry_that_opens_a_path(self):
        """The old public names of open and fopen, libio's file openers, catopen, and posix_spawn's
        open actions (run by libc in the child, where no hook sees them) are judged like open."""
        cat = os.path.join(self.model, "messages.cat")
        src = self.p("messages.txt")
        self.write(src, "$set 1\n1 signed message\n")
        subprocess.run(["gencat", cat, src], check=True)
        os.unlink(os.path.join(self.model, "model.sig"))
        os.unlink(self.extra)
        self.sign(self.model, self.key)
        self.write(self.extra, b"unlisted")
        for how in ["__open", "__open64", "_IO_fopen", "_IO_file_fopen", "_IO_file_open", "spawn", "spawn-chdir"]:
            with self.subTest(how=how):
                r = run([PROBE, how, self.w], env=self.env)
                self.assertEqual((r.returncode, r.stdout), (0, self.data), r.stderr)
                self.assertRefused(run([PROBE, how, self.extra], env=self.env), "not listed", self.extra)
        r = run([PROBE, "catopen", cat], env=self.env)
        self.assertEqual((r.returncode, r.stdout), (0, b"signed message\n"), r.stderr)
        evil = os.path.join(self.model, "evil.cat")
        shutil.copy(cat, evil)
        self.assertRefused(run([PROBE, "catopen", evil], env=self.env), "not listed", evil)
        # A tampered file is refused through a file action too, and the child never runs on it.
        with open(self.w, "r+b") as f:
            f.write(b"X")
        self.assertRefused(run([PROBE, "spawn", self.w], env=self.env), "modified", self.w)
        # Creating or truncating below a root through a file action is refused; elsewhere it works.
        self.assertRefused(run([PROBE, "spawn-w", self.p("m", "new.txt")], env=self.env), "opened for writing")
        self.assertRefused(run([PROBE, "spawn-w", self.extra], env=self.env), "opened for writing", self.extra)
        self.assertEqual(os.path.getsize(self.extra), len(b"unlisted"))
        r = run([PROBE, "spawn-w", self.p("outside.txt")], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(self.p("outside.txt")))
        # Outside the roots the child opens what the caller named.
        r = run([PROBE, "spawn", src], env=self.env)
        self.assertEqual((r.returncode, r.stdout), (0, open(src, "rb").read()), r.stderr)
        # After a chdir by descriptor the shim cannot tell where a relative name lands: refused.
        r = run([PROBE, "spawn-fchdir", self.p("messages.txt")], env=self.env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("chdir by descriptor", r.stderr.decode())
        # Python's os.posix_spawn uses the same file actions.
        code = ("import os, sys\n"
                "r, w = os.pipe()\n"
                "try:\n"
                "    pid = os.posix_spawn('/bin/cat', ['cat'], os.environ, file_actions=[\n"
                "        (os.POSIX_SPAWN_OPEN, 0, sys.argv[1], os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, w, 1)])\n"
                "except PermissionError as e:\n"
                "    sys.exit('PermissionError: %s' % e)\n"
                "os.close(w)\n"
                "sys.stdout.buffer.write(os.read(r, 1 << 20))\n"
                "os.waitpid(pid, 0)\n")
        self.assertRefused(self.py(code, self.extra), "not listed", self.extra)
        r = self.py(code, cat)
        self.assertEqual((r.returncode, r.stdout), (0, open(cat, "rb").read()), r.stderr)

    def deep_tree(self, top):
        """top/d.../d.../x.bin with a path far past PATH_MAX, made with openat and mkdirat."""
        name = "d" * 200
        os.makedirs(top, exist_ok=True)
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(25):
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        xfd = os.open("x.bin", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(xfd, b"secret")
        os.close(xfd)
        os.close(fd)
        self.addCleanup(subprocess.run, ["rm", "-rf", top])

    def test_past_path_max_fails_closed(self):
        self.deep_tree(os.path.join(self.model, "deep"))
        walk = ("import os, sys\n"
                "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
                "for _ in range(25): fd = os.open('d' * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)\n"
                "try:\n"
                "    print(os.read(os.open('x.bin', os.O_RDONLY, dir_fd=fd), 100))\n"
                "except PermissionError: print('read refused')\n"
                "try:\n"
                "    os.open('new.bin', os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd); print('created')\n"
                "except PermissionError: print('create refused')\n")
        r = self.py(walk, os.path.join(self.model, "deep"))
        self.assertEqual(r.stdout, b"read refused\ncreate refused\n", r.stderr)
        self.assertIn(b"cannot tell whether it is below a protected root", r.stderr)
        chdir = ("import os, sys\n"
                 "os.chdir(sys.argv[1])\n"
                 "for _ in range(25): os.chdir('d' * 200)\n"
                 "try: print(open('x.bin', 'rb').read())\n"
                 "except PermissionError: print('read refused')\n"
                 "try: open('new.bin', 'w'); print('created')\n"
                 "except PermissionError: print('create refused')\n")
        r = self.py(chdir, os.path.join(self.model, "deep"))
        self.assertEqual(r.stdout, b"read refused\ncreate refused\n", r.stderr)
        # On a file system no root is on, a deep path is no concern of the shim's.
        if os.stat("/dev/shm").st_dev != os.stat(self.tmp).st_dev:
            top = "/dev/shm/ms-deep-%d" % os.getpid()
            os.mkdir(top)
            self.deep_tree(top)
            r = self.py(walk, top)
            self.assertEqual(r.stdout, b"b'secret'\ncreated\n", r.stderr)

    def test_root_given_as_a_symlink_follows_each_flip(self):
        v1, v2 = self.p("v1"), self.p("v2")
        shutil.copytree(self.model, v1)
        os.unlink(os.path.join(v1, "extra.bin"))
        shutil.copytree(v1, v2)
        self.flip_byte(os.path.join(v2, "w.bin"), 10)     # v2 is tampered, its model.sig is v1's
        current = self.p("current")
        os.symlink("v1", current)
        code = ("import os, sys\n"
                "cur, top = sys.argv[1], sys.argv[2]\n"
                "def read(p):\n"
                "    try: open(p, 'rb').read(); return 'ok'\n"
                "    except PermissionError: return 'refused'\n"
                "print('v1', read(cur + '/w.bin'))\n"
                "os.symlink('v2', top + '/next'); os.replace(top + '/next', cur)\n"
                "print('v2', read(cur + '/w.bin'), read(top + '/v2/w.bin'), read(cur + '/config.json'))\n"
                "print('old', read(top + '/v1/w.bin'), read(top + '/v1/dropped.bin'))\n"
                "os.symlink('v1', top + '/next'); os.replace(top + '/next', cur)\n"
                "print('back', read(cur + '/w.bin'))\n")
        self.write(os.path.join(v1, "dropped.bin"), b"x")   # unlisted, in the version flipped away from
        r = self.py(code, current, self.tmp, env=self.shim_env(current, self.policy))
        self.assertEqual(r.stdout.decode().splitlines(),
                         ["v1 ok", "v2 refused refused ok", "old ok refused", "back ok"], r.stderr)
        self.assertIn("modelseal: open refused (modified: sha256 is", r.stderr.decode())
        # A new process protects what the root names when it starts (v1 again, after the flip back).
        os.unlink(current)
        os.symlink("v2", current)
        r = run(["cat", os.path.join(v1, "dropped.bin")], env=self.shim_env(current, self.policy))
        self.assertEqual(r.returncode, 0, "v1 is not what the root names in a new process")

    def test_configuration_is_resolved_at_load(self):
        evil_key, evil_pub = self.keygen("evil")
        evil = self.p("evil")
        os.makedirs(evil)
        self.write_policy(os.path.join("evil", "policy.json"), {"keys": [{"type": "ed25519", "path": evil_pub}]})
        self.sign(self.model, evil_key)                  # the attacker re-signed the model
        env = clean_env(**shim_preload(), MODELSEAL_POLICY="policy.json", MODELSEAL_ROOTS="m")
        code = ("import os, sys\n"
                "os.chdir(sys.argv[1])\n"
                "try: open(sys.argv[2], 'rb').read(); print('read')\n"
                "except PermissionError: print('refused')\n")
        r = self.py(code, evil, self.w, env=env, cwd=self.tmp)
        self.assertEqual(r.stdout, b"refused\n", r.stderr)
        self.assertIn("signature not trusted", r.stderr.decode())
        # The relative root still means the folder it meant at load.
        self.write(os.path.join(evil, "m", "x"), b"")
        r = self.py(code, evil, "m/x", env=env, cwd=self.tmp)
        self.assertEqual(r.stdout, b"read\n", r.stderr)

    def test_shared_mapping_cannot_change_cached_bytes(self):
        writer = ("import mmap, sys\n"
                  "f = open(sys.argv[1], 'r+b'); m = mmap.mmap(f.fileno(), 0); f.close()\n"
                  "m[0] = m[0]\n"                     # the page is dirty: later stores change no time
                  "print('mapped', flush=True); sys.stdin.readline()\n"
                  "m[1] = m[1] ^ 0xff\n"
                  "print('changed', flush=True); sys.stdin.readline()\n")
        code = ("import os, subprocess, sys\n"
                "env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}\n"
                "w = subprocess.Popen([sys.executable, '-c', sys.argv[2], sys.argv[1]], env=env,\n"
                "                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)\n"
                "w.stdout.readline()\n"
                "first = open(sys.argv[1], 'rb').read()\n"
                "st1 = os.stat(sys.argv[1])\n"
                "w.stdin.write(b'go\\n'); w.stdin.flush(); w.stdout.readline()\n"
                "st2 = os.stat(sys.argv[1])\n"
                "same = (st1.st_ino, st1.st_size, st1.st_mtime_ns, st1.st_ctime_ns) == "
                "(st2.st_ino, st2.st_size, st2.st_mtime_ns, st2.st_ctime_ns)\n"
                "print('identity unchanged' if same else 'identity changed')\n"
                "try: second = open(sys.argv[1], 'rb').read(); print('served', second == first)\n"
                "except PermissionError: print('refused')\n"
                "w.stdin.write(b'end\\n'); w.stdin.close(); w.wait()\n")
        r = self.py(code, self.w, writer, env=dict(self.env, MODELSEAL_VERBOSE="1"))
        # (Should the kernel write the page back meanwhile, the next store changes the times too.)
        self.assertIn(r.stdout, [b"identity unchanged\nrefused\n", b"identity changed\nrefused\n"], r.stderr)
        self.assertIn("modelseal: open refused (modified: sha256 is", r.stderr.decode())
        # With no writer, re-opens are served from the cache.
        shutil.copyfile(self.w, self.p("w.tampered"))
        self.write(self.w, self.data)
        r = self.py("import sys\nfor _ in range(3): open(sys.argv[1], 'rb').read()\n", self.w,
                    env=dict(self.env, MODELSEAL_VERBOSE="1"))
        self.assertEqual(r.stderr.decode().count("(cached)"), 2, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

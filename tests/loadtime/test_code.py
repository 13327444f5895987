"""Code below a protected root (issue 12, finding 1): an unsigned shared object loaded with
python3 ctypes.CDLL or dlopen/dlmopen, and an unsigned program run through every exec entry and
posix_spawn, are refused with EACCES before any of their code runs (the marker file stays
absent); the same files once signed load and run, from exactly the verified bytes."""
import os
import shutil
import stat
import sysconfig
import unittest

from lt import PYTHON, TempDirTest, run

EXEC_PROBE = os.environ.get("MODELSEAL_EXEC_PROBE", "")
MARKER_LIB = os.environ.get("MODELSEAL_MARKER_LIB", "")
MARKER_EXE = os.environ.get("MODELSEAL_MARKER_EXE", "")
RUNTIME = os.environ.get("MODELSEAL_PRELOAD_RUNTIME", "")   # sanitizer runtimes, in a sanitizer build
CDLL = "import ctypes, sys; print('answer', ctypes.CDLL(sys.argv[1]).marker_answer())"
EXECS = ["execve", "execv", "execvp", "execl", "execlp", "execle", "execveat", "fexecve",
         "posix_spawn", "posix_spawnp"]


class Code(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.model = self.p("m")
        self.write(os.path.join(self.model, "config.json"), "{}\n")
        self.lib = os.path.join(self.model, "ops", "libcustom.so")
        self.exe = os.path.join(self.model, "bin", "tool")
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})
        self.marker = self.p("marker")
        self.env = self.shim_env(self.model, self.policy, MODELSEAL_TEST_MARKER=self.marker)

    def put_code(self):
        self.write(self.lib, open(MARKER_LIB, "rb").read())
        self.write(self.exe, open(MARKER_EXE, "rb").read())
        os.chmod(self.exe, 0o755)

    def marked(self):
        if not os.path.exists(self.marker):
            return ""
        with open(self.marker) as f:
            text = f.read()
        os.unlink(self.marker)
        return text

    def refused(self, r, verb, path):
        err = r.stderr.decode(errors="replace")
        self.assertNotEqual(r.returncode, 0, err)
        self.assertIn("modelseal: %s refused (" % verb, err)
        self.assertIn("): " + path + "\n", err)
        if verb == "exec":
            self.assertTrue("Permission denied" in err or "PermissionError" in err, err)
        self.assertEqual(self.marked(), "", "its code ran")

    def test_unsigned_library_is_not_loaded(self):
        self.sign(self.model, self.key)            # signed without the library
        self.put_code()
        self.refused(run([PYTHON, "-c", CDLL, self.lib], env=self.env), "load", self.lib)
        for how in ["dlopen", "dlmopen"]:
            with self.subTest(how=how):
                self.refused(run([EXEC_PROBE, how, self.lib], env=self.env), "load", self.lib)
        # Through a symlink outside the root, and by a relative path.
        os.symlink(self.lib, self.p("innocent.so"))
        self.refused(run([PYTHON, "-c", CDLL, self.p("innocent.so")], env=self.env), "load", self.lib)
        self.refused(run([PYTHON, "-c", CDLL, "./ops/libcustom.so"], env=self.env, cwd=self.model), "load", self.lib)
        # Without the shim the marker proves the attack would have worked.
        env = {k: v for k, v in self.env.items() if k != "LD_PRELOAD"}
        if RUNTIME:
            env["LD_PRELOAD"] = RUNTIME
        self.assertEqual(run([PYTHON, "-c", CDLL, self.lib], env=env).returncode, 0)
        self.assertEqual(self.marked(), "loaded\n")

    def test_signed_library_loads_the_verified_bytes(self):
        self.put_code()
        self.sign(self.model, self.key)
        r = run([PYTHON, "-c", CDLL, self.lib], env=self.env)
        self.assertEqual(r.stdout, b"answer 42\n", r.stderr)
        self.assertEqual(self.marked(), "loaded\n")
        # (An instrumented library in a new namespace would need a second sanitizer runtime.)
        for how in ["dlopen"] + ([] if RUNTIME else ["dlmopen"]):
            with self.subTest(how=how):
                r = run([EXEC_PROBE, how, self.lib], env=self.env)
                self.assertEqual(r.stdout, b"answer 42\n", r.stderr)
                self.assertEqual(self.marked(), "loaded\n")
        # The loader maps a sealed copy: a rewrite of the file after the check changes nothing
        # the process runs, and a tampered library is refused.
        code = ("import ctypes, os, subprocess, sys\n"
                "lib = ctypes.CDLL(sys.argv[1])\n"
                "maps = open('/proc/self/maps').read()\n"
                "print('sealed copy' if 'memfd:modelseal:libcustom.so' in maps else 'file mapped')\n"
                "print('answer', ctypes.CDLL(sys.argv[1]).marker_answer())\n")
        r = run([PYTHON, "-c", code, self.lib], env=self.env)
        self.assertEqual(r.stdout, b"sealed copy\nanswer 42\n", r.stderr)
        self.assertEqual(self.marked(), "loaded\n", "a second dlopen of the same file loads it once")
        data = bytearray(open(self.lib, "rb").read())
        data[len(data) // 2] ^= 1
        self.write(self.lib, bytes(data))
        self.refused(run([PYTHON, "-c", CDLL, self.lib], env=self.env), "load", self.lib)

    def test_unsigned_program_does_not_run(self):
        self.sign(self.model, self.key)            # signed without the program
        self.put_code()
        env = dict(self.env, PATH=os.path.dirname(self.exe) + ":/usr/bin:/bin")
        for how in EXECS:
            with self.subTest(how=how):
                target = "tool" if how in ("execvp", "execlp", "posix_spawnp") else self.exe
                self.refused(run([EXEC_PROBE, how, target], env=env), "exec", self.exe)
        r = run([PYTHON, "-c", "import subprocess, sys; subprocess.run([sys.argv[1]])", self.exe], env=self.env)
        self.refused(r, "exec", self.exe)
        self.refused(run(["/bin/sh", "-c", self.exe], env=self.env), "exec", self.exe)
        # A script outside the root whose #! interpreter is the unsigned program.
        script = self.p("outside.sh")
        self.write(script, "#!%s\n" % self.exe)
        os.chmod(script, 0o755)
        for how in ["execve", "posix_spawn"]:
            with self.subTest(how=how, script=True):
                self.refused(run([EXEC_PROBE, how, script], env=env), "exec", self.exe)

    def test_signed_program_runs(self):
        self.put_code()
        script = os.path.join(self.model, "bin", "run.sh")
        self.write(script, "#!/bin/sh\necho script ran\n")
        os.chmod(script, 0o755)
        self.sign(self.model, self.key)
        env = dict(self.env, PATH=os.path.dirname(self.exe) + ":/usr/bin:/bin")
        for how in EXECS:
            with self.subTest(how=how):
                target = "tool" if how in ("execvp", "execlp", "posix_spawnp") else self.exe
                r = run([EXEC_PROBE, how, target], env=env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(self.marked(), "ran\n")
        r = run([PYTHON, "-c", "import subprocess, sys; subprocess.run([sys.argv[1]], check=True)", self.exe],
                env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.marked(), "ran\n")
        # A signed script runs: its interpreter reads it through the verified descriptor.
        r = run([script], env=self.env)
        self.assertEqual(r.stdout, b"script ran\n", r.stderr)
        # One changed byte, and the program no longer runs.
        data = bytearray(open(self.exe, "rb").read())
        data[len(data) // 2] ^= 1
        self.write(self.exe, bytes(data))
        self.refused(run([EXEC_PROBE, "execve", self.exe], env=self.env), "exec", self.exe)

    def test_extension_module_import(self):
        self.sign(self.model, self.key)
        ext = os.path.join(self.model, "ops", "evilmod" + sysconfig.get_config_var("EXT_SUFFIX"))
        self.write(ext, open(MARKER_LIB, "rb").read())
        code = "import sys; sys.path.insert(0, sys.argv[1]); import evilmod"
        r = run([PYTHON, "-c", code, os.path.dirname(ext)], env=self.env)
        self.refused(r, "load", ext)
        self.assertIn(b"ImportError", r.stderr)

    def test_loader_search_is_the_callers(self):
        # A name without a slash is searched by the loader with the caller's RUNPATH (the
        # probe's names the folder of the marker library), as without the shim.
        r = run([EXEC_PROBE, "dlopen", os.path.basename(MARKER_LIB)], env=self.env)
        self.assertEqual(r.stdout, b"answer 42\n", r.stderr)

    def test_outside_the_roots_untouched(self):
        self.sign(self.model, self.key)
        other = self.p("other")
        os.makedirs(other)
        shutil.copy(MARKER_LIB, other)
        lib = os.path.join(other, os.path.basename(MARKER_LIB))
        r = run([PYTHON, "-c", CDLL, lib], env=self.env)
        self.assertEqual((r.stdout, r.stderr), (b"answer 42\n", b""))
        self.assertEqual(self.marked(), "loaded\n")
        r = run([EXEC_PROBE, "execvp", "true"], env=self.env)
        self.assertEqual((r.returncode, r.stderr), (0, b""))


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The shim's rules beyond the program matrix: every hooked entry point, path resolution
(relative, .., symlinks, openat with a directory fd), writes, the signature file, missing
signature, bad policy, warn mode, the re-open cache, the private copy, the audit log, the
scanner, single-file roots, and the C API test program."""
import json
import os
import pickle
import unittest

from lt import PYTHON, TempDirTest, clean_env, must, run

PROBE = os.environ.get("MODELSEAL_OPEN_PROBE", "")
CAPI = os.environ.get("MODELSEAL_TEST_CAPI", "")
SOURCE = os.environ.get("MODELSEAL_SOURCE", "")


class Shim(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.model = self.p("m")
        self.data = os.urandom(200000)
        self.write(os.path.join(self.model, "w.bin"), self.data)
        self.write(os.path.join(self.model, "config.json"), '{"a": 1}\n')
        self.write(os.path.join(self.model, "sub", "tok.txt"), "tokens\n")
        self.sign(self.model, self.key)
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})
        self.env = self.shim_env(self.model, self.policy)
        self.w = os.path.join(self.model, "w.bin")

    def py(self, code, *args, env=None, cwd=None):
        return run([PYTHON, "-c", code] + list(args), env=env or self.env, cwd=cwd)

    def test_every_hook(self):
        extra = os.path.join(self.model, "extra.bin")
        self.write(extra, b"x")
        for how in ["open", "open64", "openat", "openat64", "__open_2", "__open64_2", "__openat_2",
                    "__openat64_2", "fopen", "fopen64"]:
            with self.subTest(how=how):
                r = run([PROBE, how, self.w], env=self.env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, self.data)
                self.assertRefused(run([PROBE, how, extra], env=self.env), "not listed in the signature", extra)
        for how in ["creat", "fopen-w", "open-rw"]:
            with self.subTest(how=how):
                self.assertRefused(run([PROBE, how, self.w], env=self.env), "opened for writing", self.w)
                self.assertRefused(run([PROBE, how, os.path.join(self.model, "new.bin")], env=self.env),
                                   "opened for writing")
                self.assertFalse(os.path.exists(os.path.join(self.model, "new.bin")))
                outside = self.p("outside-" + how)
                if how == "open-rw":
                    self.write(outside, b"")
                r = run([PROBE, how, outside], env=self.env)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(os.path.exists(outside))
        with open(self.w, "rb") as f:
            self.assertEqual(f.read(), self.data)

    def test_outside_the_roots_untouched(self):
        self.write(self.p("other", "a.txt"), "plain\n")
        r = run(["cat", "other/a.txt", "/etc/hostname"], env=self.env, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, b"")
        r = self.py("open('o.txt', 'w').write('x'); print(open('o.txt').read())", cwd=self.tmp)
        self.assertEqual(r.stdout, b"x\n", r.stderr)

    def test_paths_are_resolved(self):
        extra = os.path.join(self.model, "extra.bin")
        self.write(extra, b"x")
        sub = os.path.join(self.model, "sub")
        # Relative path, '..', from inside the root.
        self.assertRefused(run(["cat", "../extra.bin"], env=self.env, cwd=sub), "not listed", extra)
        self.assertEqual(run(["cat", "./../sub/../config.json"], env=self.env, cwd=sub).stdout, b'{"a": 1}\n')
        # A symlink outside the root pointing into it, and one to the root's folder.
        os.symlink(extra, self.p("link-to-extra"))
        os.symlink(self.model, self.p("link-to-root"))
        self.assertRefused(run(["cat", self.p("link-to-extra")], env=self.env), "not listed", extra)
        self.assertRefused(run(["cat", self.p("link-to-root", "sub", "..", "extra.bin")], env=self.env),
                           "not listed", extra)
        self.assertEqual(run(["cat", self.p("link-to-root", "config.json")], env=self.env).returncode, 0)
        # The roots themselves given through a symlink and a relative path.
        env = self.shim_env("link-to-root", self.policy)
        self.assertRefused(run(["cat", extra], env=env, cwd=self.tmp), "not listed", extra)
        # openat with a directory descriptor.
        code = ("import os, sys; d = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); "
                "fd = os.open(sys.argv[2], os.O_RDONLY, dir_fd=d); print(len(os.read(fd, 1 << 20)))")
        r = self.py(code, sub, "../w.bin")
        self.assertEqual(r.stdout, b"200000\n", r.stderr)
        self.assertRefused(self.py(code, sub, "../extra.bin"), "not listed", extra)
        # A symlink inside the root, not allowed by the signature.
        os.symlink("w.bin", os.path.join(self.model, "alias.bin"))
        alias = os.path.join(self.model, "alias.bin")
        self.assertRefused(run(["cat", alias], env=self.env), "reached through a symlink", alias)

    def test_signature_readable_missing_or_bad_policy(self):
        sig = os.path.join(self.model, "model.sig")
        r = run(["cat", sig], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, open(sig, "rb").read())
        os.rename(sig, self.p("saved.sig"))
        self.assertRefused(run(["cat", self.w], env=self.env), "no signature: " + sig, self.w)
        os.rename(self.p("saved.sig"), sig)
        for bad in ["{", '{"keys": []}', '{"keys": [{"type": "rsa", "pem": "x"}]}']:
            with self.subTest(policy=bad):
                self.write(self.p("bad.json"), bad)
                env = self.shim_env(self.model, self.p("bad.json"))
                self.assertRefused(run(["cat", self.w], env=env), "no usable policy", self.w)
                self.assertEqual(run(["cat", self.pub], env=env).returncode, 0)
        env = clean_env(LD_PRELOAD=self.shim_env("", "")["LD_PRELOAD"], MODELSEAL_ROOTS=self.model)
        self.assertRefused(run(["cat", self.w], env=env), "MODELSEAL_POLICY is not set", self.w)

    def test_warn_mode_logs_and_allows(self):
        self.flip_byte(self.w)
        env = dict(self.env, MODELSEAL_MODE="warn")
        r = run(["cat", self.w], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), len(self.data))
        self.assertRegex(r.stderr.decode(), r"^modelseal: warning: unverified open allowed \(modified: .*\): " +
                         self.w + "\n$")

    def test_reopen_uses_the_cache(self):
        code = ("import os, sys\n"
                "for i in range(3): open(sys.argv[1], 'rb').read()\n"
                "os.utime(sys.argv[1], ns=(1, 1))\n"
                "open(sys.argv[1], 'rb').read()\n")
        r = self.py(code, self.w, env=dict(self.env, MODELSEAL_VERBOSE="1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        kinds = [l.split("(")[1].split(")")[0] for l in r.stderr.decode().splitlines()
                 if l.startswith("modelseal: verified")]
        self.assertEqual(kinds, ["hashed", "cached", "cached", "hashed"])

    def test_private_copy_hides_a_later_rewrite(self):
        code = ("import os, subprocess, sys\n"
                "f = open(sys.argv[1], 'rb')\n"
                "env = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}\n"
                "subprocess.run([sys.executable, '-c', 'open(%r, \"r+b\").write(b\"EVIL\")' % sys.argv[1]], "
                "env=env, check=True)\n"
                "sys.stdout.buffer.write(f.read(4))\n")
        r = self.py(code, self.w, env=dict(self.env, MODELSEAL_PRIVATE_COPY_MAX="1M"))
        self.assertEqual(r.stdout, self.data[:4], r.stderr)
        # Without it, the descriptor shows the rewrite: the limit the man page states.
        self.write(self.w, self.data)
        r = self.py(code, self.w)
        self.assertEqual(r.stdout, b"EVIL", r.stderr)

    def test_audit_log(self):
        log = self.p("audit.jsonl")
        env = dict(self.env, MODELSEAL_AUDIT_LOG=log)
        self.assertEqual(run(["cat", self.w], env=env).returncode, 0)
        self.flip_byte(os.path.join(self.model, "config.json"))
        self.assertRefused(run(["cat", os.path.join(self.model, "config.json")], env=env), "modified")
        lines = [json.loads(l) for l in open(log)]
        self.assertEqual([(l["tool"], l["decision"]) for l in lines], [("preload", "allow"), ("preload", "deny")])
        self.assertEqual(lines[1]["path"], os.path.join(self.model, "config.json"))
        self.assertIn("modified", lines[1]["reason"])
        self.assertRegex(lines[1]["model_digest"], "^sha256:[0-9a-f]{64}$")
        self.assertEqual(len(lines[1]["keyids"]), 1)
        schema = os.path.join(SOURCE, "schemas", "audit-line.schema.json")
        if os.path.exists(schema):
            import jsonschema
            for l in lines:
                jsonschema.validate(l, json.load(open(schema)))

    def test_scanner(self):
        class Evil:
            def __reduce__(self):
                return (os.system, ("echo pwned",))
        self.write(os.path.join(self.model, "evil.pkl"), pickle.dumps(Evil()))
        self.sign(self.model, self.key, extra=["--insecure-allow-unsafe-content"])
        evil = os.path.join(self.model, "evil.pkl")
        self.assertEqual(run(["cat", evil], env=self.env).returncode, 0)
        env = dict(self.env, MODELSEAL_SCAN="1")
        self.assertRefused(run(["cat", evil], env=env), "the scanner flags it", evil)
        self.assertEqual(run(["cat", self.w], env=env).returncode, 0)

    def test_single_file_root(self):
        single = self.p("single.bin")
        self.write(single, b"one file")
        self.sign(single, self.key)
        env = self.shim_env(single, self.policy)
        self.assertEqual(run(["cat", single], env=env).stdout, b"one file")
        self.flip_byte(single)
        self.assertRefused(run(["cat", single], env=env), "modified", single)

    def test_c_api(self):
        self.write(os.path.join(self.model, "extra.bin"), b"x")
        r = run([CAPI, self.model, self.policy, self.pub])
        self.assertEqual(r.returncode, 0, r.stderr.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)

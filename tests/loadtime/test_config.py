"""A misconfigured shim fails closed and says so once, at load (issue 16, item 3): LD_PRELOAD
with no MODELSEAL_ROOTS, a root that does not exist, a policy that cannot be read; and
MODELSEAL_PUBLIC_KEY=FILE as a one-key policy."""
import os
import unittest

from lt import TempDirTest, clean_env, run, shim_preload


class Config(TempDirTest):
    def setUp(self):
        super().setUp()
        self.key, self.pub = self.keygen("trusted")
        self.model = self.p("m")
        self.w = os.path.join(self.model, "w.bin")
        self.write(self.w, b"weights")
        self.sign(self.model, self.key)
        self.policy = self.write_policy("policy.json", {"keys": [{"type": "ed25519", "path": self.pub}]})

    def load_lines(self, r):
        return [l for l in r.stderr.decode().splitlines() if l.startswith("modelseal:")]

    def test_no_roots_says_nothing_is_protected(self):
        for roots in [None, ""]:
            with self.subTest(roots=roots):
                extra = {} if roots is None else {"MODELSEAL_ROOTS": roots}
                r = run(["cat", self.w], env=clean_env(**shim_preload(), MODELSEAL_POLICY=self.policy, **extra))
                self.assertEqual(r.stdout, b"weights")
                self.assertEqual(self.load_lines(r),
                                 ["modelseal: MODELSEAL_ROOTS is not set: the shim is loaded but protects nothing"])

    def test_missing_root_is_named_and_stays_protected(self):
        gone = self.p("not-yet")
        r = run(["sh", "-c", "cat \"$0\"; mkdir -p \"$1\" && echo x > \"$1/new\"", self.w, gone],
                env=self.shim_env(gone + ":" + self.model, self.policy))
        lines = self.load_lines(r)
        self.assertEqual(lines[0], "modelseal: the protected root does not exist (No such file or directory): " + gone)
        self.assertEqual(r.stdout, b"weights")
        self.assertIn("modelseal: open refused (opened for writing below a protected model root): " +
                      os.path.join(gone, "new"), lines)
        self.assertFalse(os.path.exists(os.path.join(gone, "new")))

    def test_unreadable_policy_refuses_at_load_and_open(self):
        for policy, why in [(self.p("absent.json"), "cannot"), (self.p("bad.json"), "")]:
            with self.subTest(policy=policy):
                if policy.endswith("bad.json"):
                    self.write(policy, "{")
                r = run(["cat", self.w], env=self.shim_env(self.model, policy))
                lines = self.load_lines(r)
                self.assertTrue(lines[0].startswith("modelseal: no usable policy: "), lines)
                self.assertTrue(lines[0].endswith(": every open below a protected root is refused"), lines)
                self.assertRefused(r, "no usable policy", self.w)
        r = run(["cat", self.w], env=clean_env(**shim_preload(), MODELSEAL_ROOTS=self.model))
        self.assertEqual(self.load_lines(r)[0],
                         "modelseal: no usable policy: MODELSEAL_POLICY is not set: every open below a protected "
                         "root is refused")
        self.assertRefused(r, "MODELSEAL_POLICY is not set", self.w)

    def test_public_key_shortcut(self):
        env = clean_env(**shim_preload(), MODELSEAL_ROOTS=self.model, MODELSEAL_PUBLIC_KEY=self.pub)
        r = run(["cat", self.w], env=env)
        self.assertEqual((r.stdout, r.stderr), (b"weights", b""))
        self.flip_byte(self.w)
        self.assertRefused(run(["cat", self.w], env=env), "modified", self.w)
        self.flip_byte(self.w)
        _, other = self.keygen("other")
        env = clean_env(**shim_preload(), MODELSEAL_ROOTS=self.model, MODELSEAL_PUBLIC_KEY=other)
        self.assertRefused(run(["cat", self.w], env=env), "signature not trusted", self.w)
        # Relative, resolved at load; and not together with a policy.
        env = clean_env(**shim_preload(), MODELSEAL_ROOTS="m", MODELSEAL_PUBLIC_KEY="trusted.pub")
        r = run(["sh", "-c", "cd /; cat \"$0\"", self.w], env=env, cwd=self.tmp)
        self.assertEqual(r.stdout, b"weights", r.stderr)
        env = dict(env, MODELSEAL_POLICY=self.policy)
        self.assertRefused(run(["cat", self.w], env=env, cwd=self.tmp), "are both set", self.w)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""What people read: per-file lines, the summary, --help with an example, man pages, the dispatcher."""
import os
import subprocess
import unittest

from harness import BUILD, SOURCE, CliTest, run, write

PROGRAMS = ["keygen", "sign", "verify", "digest", "inspect", "scan", "attest", "chain", "fetch", "audit", "encrypt",
            "decrypt"]


class Output(CliTest):
    def test_verify_verbose_lines(self):
        self.sign()
        r = self.verify(None, "-v")
        lines = r.out.splitlines()
        for name in self.FILES:
            self.assertIn(name + ": OK", lines)
        self.assertTrue(lines[-1].startswith(self.model + ": OK ("), r)
        write(os.path.join(self.model, "config.json"), b"{}")
        r = self.verify(None, "-v", expect=1)
        self.assertIn("config.json: FAILED (modified: sha256 is ", r.out)
        self.assertIn("tokenizer/vocab.txt: OK", r.out)

    def test_quiet_and_summary(self):
        self.sign()
        r = self.verify(None, "-q")
        self.assertEqual(r.out, "")
        r = self.verify()
        self.assertEqual(len(r.out.splitlines()), 1)
        self.assertIn("OK (6 files, sha256:", r.out)

    def test_plurals(self):
        one = os.path.join(self.tmp, "one")
        write(os.path.join(one, "config.json"), b"{}")
        r = run("sign", one, "-k", self.key)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("(1 resource, sha256:", r.err)
        r = run("verify", one, "-p", self.pub)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(": OK (1 file, sha256:", r.out)
        r = run("sign", self.model, "-k", self.key)
        self.assertIn("(6 resources, sha256:", r.err)

    def test_help_and_man_pages(self):
        for p in PROGRAMS:
            with self.subTest(program=p):
                r = run(p, "--help")
                self.assertEqual(r.rc, 0, r)
                self.assertIn("Example", r.out)
                self.assertTrue(os.path.exists(os.path.join(SOURCE, "man", f"modelseal-{p}.1")))
                man = subprocess.run(["man", "--warnings", "-l", "-P", "cat", os.path.join(SOURCE, "man", f"modelseal-{p}.1")],
                                     capture_output=True, env={**os.environ, "MANWIDTH": "80"})
                if man.returncode == 0:
                    self.assertIn("EXIT STATUS", man.stdout.decode())
                    self.assertEqual(man.stderr.decode().strip(), "")
        self.assertTrue(os.path.exists(os.path.join(SOURCE, "man", "modelseal.1")))
        # modelseal(1) points to every other page, and every page carries one date style.
        import glob
        import re
        with open(os.path.join(SOURCE, "man", "modelseal.1")) as f:
            top = f.read()
        see_also = top[top.index(".SH SEE ALSO"):]
        dates = set()
        for page in glob.glob(os.path.join(SOURCE, "man", "*.[158]")):
            name, sec = os.path.basename(page).rsplit(".", 1)
            with open(page) as f:
                th = f.readline()
            if th.startswith(".so "):   # an alias: `man libmodelseal-preload` is the shim's page
                self.assertTrue(os.path.exists(os.path.join(SOURCE, "man", os.path.basename(th.split()[1]))), page)
                continue
            dates.add(re.match(r'\.TH \S+ \d "([^"]*)"', th).group(1))
            if name != "modelseal":
                self.assertIn(".BR " + name.replace("-", "\\-") + " (" + sec + ")", see_also, name)
        self.assertEqual(len(dates), 1, dates)
        self.assertRegex(dates.pop(), r"^\d{4}-\d{2}-\d{2}$")

    def test_inspect_escapes_control_characters(self):
        import base64, json
        self.sign()
        sig = os.path.join(self.model, "model.sig")
        with open(sig) as f:
            b = json.load(f)
        st = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
        st["subject"][0]["name"] = "evil\n\x1b[2Jforged: OK"
        b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
        write(sig, json.dumps(b))
        r = run("inspect", sig)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("evil\\x0a\\x1b[2Jforged: OK", r.out)
        self.assertNotIn("\x1b", r.out)

    def test_dispatcher(self):
        exe = os.path.join(BUILD, "tools", "modelseal")
        self.sign()
        p = subprocess.run([exe, "verify", self.model, "-p", self.pub], capture_output=True)
        self.assertEqual(p.returncode, 0, p)
        p = subprocess.run([exe, "nope"], capture_output=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"unknown command", p.stderr)
        p = subprocess.run([exe, "--help"], capture_output=True)
        self.assertEqual(p.returncode, 0)
        for c in PROGRAMS:
            self.assertIn(c.encode(), p.stdout)
        # `modelseal help CMD` is CMD's own help; a near miss gets a "did you mean".
        for c in PROGRAMS:
            own = subprocess.run([exe, c, "--help"], capture_output=True)
            via = subprocess.run([exe, "help", c], capture_output=True)
            self.assertEqual((via.returncode, via.stdout), (0, own.stdout), c)
            self.assertIn(b"Usage: modelseal " + c.encode(), via.stdout)
        for typo, meant in (("verfy", "verify"), ("sgn", "sign"), ("inpsect", "inspect")):
            for argv in ([exe, typo], [exe, "help", typo]):
                p = subprocess.run(argv, capture_output=True)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stderr.decode().splitlines(),
                                 ["modelseal: unknown command: " + typo, f"hint: did you mean 'modelseal {meant}'?"])
        p = subprocess.run([exe, "help", "verify", "sign"], capture_output=True)
        self.assertEqual(p.returncode, 2)

    def test_options_follow_conventions(self):
        """Unknown flags get a "did you mean" and are reported before a missing argument; -key is
        --key, not -k ey; model_signing's spellings are aliases; error text keeps its capitals."""
        for argv, first, hint in [
                (["verify", "--pubic-key", "x"], "modelseal: unknown option --pubic-key", "hint: did you mean --public-key?"),
                (["sign", "--shard-sise", "1M"], "modelseal: unknown option --shard-sise", "hint: did you mean --shard-size?"),
                (["verify", "--zzzzzz"], "modelseal: unknown option --zzzzzz", "hint: see 'modelseal verify --help'"),
                (["verify"], "modelseal: MODEL is required", "hint: see 'modelseal verify --help'")]:
            with self.subTest(argv=argv):
                r = run(*argv)
                self.assertEqual(r.rc, 2, r)
                self.assertEqual(r.err.splitlines(), [first, hint])
        r = run("sign", self.model, "-key", self.key, "-q")
        self.assertEqual(r.rc, 0, r)
        sig = os.path.join(self.model, "model.sig")
        os.remove(sig)
        elsewhere = os.path.join(self.tmp, "elsewhere.sig")
        r = run("sign", self.model, "--private-key", self.key, "--signature", elsewhere, "--ignore-paths",
                "config.json", "-q")
        self.assertEqual(r.rc, 0, r)
        self.assertFalse(os.path.exists(sig))
        for spelling in ["--public_key", "--public-key", "-public-key"]:
            r = run("verify", self.model, spelling, self.pub, "--signature", elsewhere, "--ignore-paths", "config.json")
            self.assertEqual(r.rc, 0, r)

    def test_no_progress_without_a_terminal(self):
        r = self.sign()
        self.assertNotIn("\r", r.err)

    def test_inspect_labels_unverified(self):
        self.sign()
        r = run("inspect", os.path.join(self.model, "model.sig"))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(r.out.startswith("UNVERIFIED"), r)
        self.assertIn("root digest:   sha256:", r.out)


if __name__ == "__main__":
    unittest.main()

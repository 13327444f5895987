"""README.md is true on any machine: every command block runs, for real, from a fresh copy of the
clone (tests/docs/mdblocks.py) with the build's programs first on PATH, and does what it says.

The blocks run in the README's order, each in its own `sh` from the clone's root (what one block
leaves on disk, the next may use: ./bert, release.key, policy.json). A command must exit 0; where
a ```console block shows output, the output must be that (key ids and times aside); where an ```sh
command's comment shows a verification result (`# ./bert: OK (…)`), the output must have its
fixed parts. ```json blocks must parse (and are written where the README says they are saved),
```python blocks run with /usr/bin/python3, ```text blocks are never run; a block of any other
kind fails the test. Commands that cannot run in a test are in SKIPS, each with its reason, and
each entry must still match a README command, so the list cannot rot.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mdblocks  # noqa: E402

BUILD = os.path.abspath(os.environ.get("MODELSEAL_BUILD", "build"))
SOURCE = os.path.abspath(os.environ.get("MODELSEAL_SOURCE", "."))
README = os.path.join(SOURCE, "README.md")
PROGRAMS = ["keygen", "sign", "verify", "digest", "inspect", "scan", "attest", "chain", "fetch", "audit",
            "encrypt", "decrypt"]

# (distinctive substring of a command or python block, why it is not run here)
SKIPS = [
    ("bash .ci/setup && bash .ci/demo", "installs Debian packages as root and builds in build/; CI runs it"),
    ("bash .ci/test", "installs packages and runs the whole test suite, this test included"),
    ("model_signing verify key", "model_signing (the Python reference) comes from PyPI and is not installable "
                                 "here; tests/cli/test_oms_reference.py stands in"),
    ("modelseal fetch https://models.internal", "needs the network and a TLS server; tests/fetch runs fetch "
                                                "against a local nginx"),
    ("import modelseal", "needs `meson install` (the package for /usr/bin/python3), /models/bert and "
                         "/etc/modelseal; tests/python and tests/install run this API"),
]
# In a sanitizer build the shim cannot be preloaded alone into python3 (the sanitizer runtimes must
# come first, tests/loadtime does that): the load-time block is skipped there.
SANITIZER_SKIPS = [("export LD_PRELOAD=$PWD/build/lib/preload", "sanitizer build: the shim needs the runtimes first")]
# A json block the README says is saved as a file: (distinctive substring, file name).
SAVED_AS = [('"revoked_digests"', "policy.json")]
PASSPHRASE = "correct horse battery staple"   # what the reader types: MODELSEAL_PASSPHRASE, as the README says


def readme_blocks():
    with open(README, encoding="utf-8") as f:
        return mdblocks.blocks(f.read())


def skips():
    out = list(SKIPS)
    if os.environ.get("MODELSEAL_PRELOAD_RUNTIME"):
        out += SANITIZER_SKIPS
    return out


def skip_reason(text):
    for needle, why in skips():
        if needle in text:
            return why
    return None


def result_fragments(command):
    """The fixed parts of a `# X: OK (…)` comment after an sh command, or None."""
    m = re.search(r"#\s*(\S+: OK \(.*)$", command.text)
    if not m:
        return None
    return [f for f in re.split(r"…|\.\.\.", m.group(1)) if f]


class Readme(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-readme-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        home = os.path.join(self.tmp, "home")
        os.mkdir(home, 0o700)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_")}
        self.env.update(PATH=os.path.join(BUILD, "tools") + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                        HOME=home, XDG_RUNTIME_DIR=home, MODELSEAL_PASSPHRASE=PASSPHRASE)
        self.env.pop("LD_PRELOAD", None)

    def test_every_block_is_of_a_known_kind(self):
        for b in readme_blocks():
            self.assertIn(b.lang, mdblocks.LANGUAGES, f"README.md: {b}: say which kind of block it is")

    def test_the_skip_list_still_matches_the_readme(self):
        texts = []
        for b in readme_blocks():
            if b.lang in ("sh", "console"):
                texts += [c.text for c in mdblocks.commands(b)]
            elif b.lang == "python":
                texts.append(b.body)
        for needle, why in SKIPS + SANITIZER_SKIPS:
            self.assertEqual(sum(needle in t for t in texts), 1,
                             f"skip entry {needle!r} ({why}) must match exactly one README command")
        json_bodies = [b.body for b in readme_blocks() if b.lang == "json"]
        for needle, name in SAVED_AS:
            self.assertEqual(sum(needle in t for t in json_bodies), 1, f"{name}: {needle!r}")
            with open(README, encoding="utf-8") as f:
                self.assertIn(f"`{name}`", f.read(), f"the README names {name}")

    def test_the_programs_named_are_the_programs_built(self):
        with open(README, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"one of the twelve programs ([^;]*);", text.replace("\n", " "))
        self.assertIsNotNone(m, "the README lists the programs")
        named = re.findall(r"[a-z]+", m.group(1).replace(" and ", ", "))
        self.assertEqual(named, PROGRAMS)
        built = sorted(n[len("modelseal-"):] for n in os.listdir(os.path.join(BUILD, "tools"))
                       if n.startswith("modelseal-") and not n.endswith((".p", ".a"))
                       and os.access(os.path.join(BUILD, "tools", n), os.X_OK)
                       and os.path.isfile(os.path.join(BUILD, "tools", n)))
        self.assertEqual(built, sorted(PROGRAMS))
        layout = re.search(r"the modelseal dispatcher and its twelve programs: ([^\n]*\n[^\n]*)", text)
        self.assertIsNotNone(layout, "the Layout section lists the programs")
        self.assertEqual(re.findall(r"[a-z]+", layout.group(1)), PROGRAMS)
        for p in PROGRAMS:
            self.assertTrue(os.path.isfile(os.path.join(SOURCE, "man", f"modelseal-{p}.1")), f"man page of {p}")
            r = subprocess.run([os.path.join(BUILD, "tools", "modelseal"), p, "--help"], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60)
            self.assertEqual(r.returncode, 0, f"modelseal {p} --help: {r.stderr!r}")
            self.assertIn(b"Usage:", r.stdout)

    def test_every_block_runs(self):
        clone = mdblocks.make_clone(SOURCE, BUILD, self.tmp)
        ran_commands = checked_outputs = 0
        skipped = []
        for b in readme_blocks():
            where = f"README.md line {b.line}"
            if b.lang == "json":
                doc = json.loads(b.body)
                self.assertIsInstance(doc, dict, where)
                for needle, name in SAVED_AS:
                    if needle in b.body:
                        with open(os.path.join(clone, name), "w") as f:
                            f.write(b.body)
                continue
            if b.lang == "python":
                why = skip_reason(b.body)
                if why:
                    skipped.append((where, why))
                    continue
                r = subprocess.run(["/usr/bin/python3", "-c", b.body], cwd=clone, env=self.env, capture_output=True,
                                   stdin=subprocess.DEVNULL, timeout=300)
                self.assertEqual(r.returncode, 0, f"{where}: {r.stderr.decode()}")
                continue
            if b.lang not in ("sh", "console"):
                continue
            cmds = []
            for c in mdblocks.commands(b):
                why = skip_reason(c.text)
                if why:
                    skipped.append((f"{where}: {c.one_line()[:50]}", why))
                else:
                    cmds.append(c)
            if not cmds:
                continue
            ran, transcript = mdblocks.run_commands(cmds, clone, self.env)
            self.assertEqual(len(ran), len(cmds), f"{where}: the shell stopped\n{transcript}")
            for r in ran:
                self.assertEqual(r.rc, 0, f"{where}: $ {r.command.text}\n{r.output}")
                ran_commands += 1
                if r.command.output:
                    self.assertEqual([mdblocks.normalize(l) for l in r.command.output],
                                     [mdblocks.normalize(l) for l in r.lines()],
                                     f"{where}: $ {r.command.text}: the README shows other output")
                    checked_outputs += 1
                fragments = result_fragments(r.command)
                if fragments:
                    line = next((l for l in r.lines() if ": OK (" in l), "")
                    pos = 0
                    for frag in fragments:
                        found = line.find(frag, pos)
                        self.assertGreaterEqual(found, 0, f"{where}: $ {r.command.one_line()}: {frag!r} not in {line!r}")
                        pos = found + len(frag)
                    checked_outputs += 1
        print(f"\nREADME.md: {ran_commands} commands ran, {checked_outputs} outputs checked, "
              f"{len(skipped)} skipped", file=sys.stderr)
        for where, why in skipped:
            print(f"  skipped {where}: {why}", file=sys.stderr)
        self.assertEqual(len(skipped), len(skips()), skipped)
        self.assertGreaterEqual(ran_commands, 30)
        self.assertGreaterEqual(checked_outputs, 3)


if __name__ == "__main__":
    unittest.main(verbosity=2)

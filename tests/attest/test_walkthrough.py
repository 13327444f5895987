"""The release-manager walkthrough runs as written: every command block of WALKTHROUGH.md, run in
order in one shell from a copy of the clone (its set-up step first), exits 0 and prints what the
document shows (key ids and times aside); its layout is the shipped one."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from chainlib import BUILD, HERE, SOURCE, TOOLS  # noqa: E402
import mdblocks  # noqa: E402

DOC = os.path.join(HERE, "WALKTHROUGH.md")


def doc_blocks():
    with open(DOC, encoding="utf-8") as f:
        return mdblocks.blocks(f.read())


class Walkthrough(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="modelseal-walkthrough-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.env = dict(os.environ, PATH=os.path.abspath(TOOLS) + os.pathsep + os.environ.get("PATH", ""),
                        HOME=self.tmp)
        self.env.pop("MODELSEAL_PASSPHRASE", None)

    def test_the_document_runs_as_written(self):
        blocks = doc_blocks()
        for b in blocks:
            self.assertIn(b.lang, mdblocks.LANGUAGES, f"{b}: say which kind of block it is")
        cmds = [c for b in blocks if b.lang in ("sh", "console") for c in mdblocks.commands(b)]
        self.assertIn("walkthrough.sh", cmds[0].text, "the first command is the set-up step")
        self.assertGreaterEqual(len(cmds), 12)
        clone = mdblocks.make_clone(SOURCE, BUILD, self.tmp)
        ran, transcript = mdblocks.run_commands(cmds, clone, self.env)
        self.assertEqual(len(ran), len(cmds), transcript)
        checked = 0
        for r in ran:
            self.assertEqual(r.rc, 0, f"$ {r.command.text}\n{r.output}")
            if r.command.output:
                self.assertEqual([mdblocks.normalize(l) for l in r.command.output],
                                 [mdblocks.normalize(l) for l in r.lines()],
                                 f"$ {r.command.text}: the document shows other output")
                checked += 1
        self.assertGreaterEqual(checked, 10)
        self.assertIn("chain: OK", ran[-3].lines())                  # the chain verifies
        self.assertEqual(ran[-1].lines()[-1], "exit status 1", ran[-1].output)   # and fails once tampered

    def test_the_layout_shown_is_the_one_shipped(self):
        shown = [json.loads(b.body) for b in doc_blocks() if b.lang == "json"]
        self.assertEqual(len(shown), 1)
        with open(os.path.join(SOURCE, "tests", "data", "attest", "release.layout.json")) as f:
            shipped = json.loads(f.read().replace("@EXPIRES@", shown[0]["expires"]))
        self.assertEqual(shown[0], shipped)

    def test_the_script_runs_the_document(self):
        """walkthrough.sh (which the chain tests build their example chain with) runs the
        document's commands, not a copy of them."""
        proc = subprocess.run(["sh", os.path.join(HERE, "walkthrough.sh"), os.path.join(self.tmp, "release")],
                              env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=300)
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("\nchain: OK\n", out)
        self.assertTrue(out.rstrip().endswith("exit status 1"), out)
        script_commands = [l[2:] for l in out.splitlines() if l.startswith("$ ")]
        doc_commands = [c.one_line() for b in doc_blocks() if b.lang in ("sh", "console")
                        for c in mdblocks.commands(b)]
        self.assertEqual(doc_commands[1:], script_commands)   # all but the set-up step, the script itself


if __name__ == "__main__":
    unittest.main(verbosity=2)

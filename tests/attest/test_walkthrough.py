"""The release-manager walkthrough runs as written: walkthrough.sh builds the example chain with the
real tools and verifies it, and WALKTHROUGH.md shows exactly the commands the script runs."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import HERE, SOURCE, TOOLS  # noqa: E402


class Walkthrough(unittest.TestCase):
    def test_runs_and_matches_the_document(self):
        tmp = tempfile.mkdtemp(prefix="modelseal-walkthrough-")
        try:
            env = dict(os.environ, PATH=TOOLS + os.pathsep + os.environ.get("PATH", ""), MODELSEAL_SOURCE=SOURCE)
            env.pop("MODELSEAL_PASSPHRASE", None)
            proc = subprocess.run(["sh", os.path.join(HERE, "walkthrough.sh"), os.path.join(tmp, "release")],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        out = proc.stdout.decode()
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("\nchain: OK\n", out)
        self.assertIn("step training [bert sha256:", out)
        self.assertTrue(out.rstrip().endswith("exit status 1"), out)
        self.assertIn("FAILED (no attestation about bert", out)
        script_commands = [l for l in out.splitlines() if l.startswith("$ ")]
        with open(os.path.join(HERE, "WALKTHROUGH.md")) as f:
            doc_commands = [l for l in f.read().splitlines() if l.startswith("$ ")]
        self.assertEqual(doc_commands, script_commands)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Work before authentication is bounded (red-team finding 10): a junk model.sig of many small
JSON values is refused by the check pass with one line, without building it; the peak memory of
such runs is measured by tests/bench/bench_junk_sig.sh."""
import os
import unittest

from harness import CliTest, run


class PreAuth(CliTest):
    def test_junk_signature_of_many_values(self):
        self.sign()
        sig = os.path.join(self.model, "model.sig")
        for junk in ('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","junk":[' +
                     ",".join(["0"] * 4_000_000) + "]}",
                     '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","junk":{' +
                     ",".join(f'"k{i}":0' for i in range(500_000)) + "}}"):
            with open(sig, "w") as f:
                f.write(junk)
            r = run("verify", self.model, "-p", self.pub)
            self.assertEqual(r.rc, 1, r)
            self.assertOneLineError(r, "too many JSON values")
        # A real signature of many files stays well inside the bound (the payload is one string).
        for i in range(3000):
            with open(os.path.join(self.model, f"f{i:04d}"), "w") as f:
                f.write(str(i))
        self.sign()
        self.verify()


if __name__ == "__main__":
    unittest.main()

"""modelseal.sign (checked by the CLI's verify) and modelseal.scan (against the CLI's scan)."""
import json
import os
import pickle

from pyharness import ModelTest, main, modelseal, run, write


class Sign(ModelTest):
    SIGN = False

    def test_sign_with_unencrypted_key(self):
        s = modelseal.sign(self.model, key=self.key)
        self.assertEqual(s.signature, self.path("model.sig"))
        self.assertEqual(s.resources, len(self.FILES))
        cli = self.cli_verify(self.model, "--json")
        self.assertEqual(cli.rc, 0, cli)
        self.assertEqual(json.loads(cli.out)["root_digest"], s.root_digest)
        self.assertEqual(modelseal.verify(self.model, public_key=self.pub).root_digest, s.root_digest)

    def test_sign_with_encrypted_key_and_passphrase_file(self):
        pw = os.path.join(self.tmp, "pass.txt")
        write(pw, "correct horse battery\n")
        os.chmod(pw, 0o600)
        key, pub = self.keygen("enc", "p256", passphrase_file=pw)
        sig = os.path.join(self.tmp, "out.sig")
        s = modelseal.sign(self.model, key=key, passphrase_file=pw, signature=sig, model_name="org/model")
        self.assertEqual(s.signature, sig)
        m = modelseal.verify(self.model, public_key=pub, signature=sig, model_name="org/model")
        self.assertEqual(m.model_name, "org/model")
        # No passphrase: a usage error, never a prompt.
        with self.assertRaises(modelseal.UsageError) as cm:
            modelseal.sign(self.model, key=key)
        self.assertIn(key, str(cm.exception))
        wrong = os.path.join(self.tmp, "wrong.txt")
        write(wrong, "wrong\n")
        os.chmod(wrong, 0o600)
        cli = run("sign", self.model, "-k", key, "--passphrase-file", wrong, "-q")
        self.assertSameRefusal(cli, lambda: modelseal.sign(self.model, key=key, passphrase_file=wrong))

    def test_two_keys_shards_and_ignore(self):
        key2, pub2 = self.keygen("second", "p384")
        write(self.path("notes.txt"), b"unsigned")
        s = modelseal.sign(self.model, key=[self.key, key2], shard_size=4096, ignore=["notes.txt"], threads=1)
        self.assertGreater(s.resources, len(self.FILES))
        for pub in (self.pub, pub2):
            modelseal.verify(self.model, public_key=pub, ignore=["notes.txt"])
        cli = self.cli_verify(self.model, "--ignore", "notes.txt")
        self.assertEqual(cli.rc, 0, cli)

    def test_unsafe_content_is_refused_like_the_cli(self):
        class Evil:
            def __reduce__(self):
                return (os.system, ("true",))

        with open(self.path("evil.pkl"), "wb") as f:
            pickle.dump(Evil(), f)
        cli = run("sign", self.model, "-k", self.key, "-q")
        self.assertSameRefusal(cli, lambda: modelseal.sign(self.model, key=self.key), modelseal.NotTrusted)
        self.assertFalse(os.path.exists(self.path("model.sig")))
        modelseal.sign(self.model, key=self.key, insecure_allow_unsafe_content=True)
        self.assertTrue(os.path.exists(self.path("model.sig")))

    def test_usage_errors(self):
        with self.assertRaises(modelseal.UsageError):
            modelseal.sign(self.model, key=[])
        with self.assertRaises(modelseal.UsageError):
            modelseal.sign(self.model, key=self.key, shard_size=-1)
        missing = os.path.join(self.tmp, "missing.key")
        cli = run("sign", self.model, "-k", missing, "-q")
        self.assertSameRefusal(cli, lambda: modelseal.sign(self.model, key=missing))


class Scan(ModelTest):
    SIGN = False

    def test_scan_agrees_with_the_cli(self):
        class Evil:
            def __reduce__(self):
                return (os.system, ("true",))

        with open(self.path("evil.pkl"), "wb") as f:
            pickle.dump(Evil(), f)
        with open(self.path("ok.pkl"), "wb") as f:
            pickle.dump({"a": [1, 2, 3]}, f)
        report = modelseal.scan(self.model)
        cli = run("scan", "--json", self.model)
        self.assertEqual(cli.rc, 1, cli)
        self.assertEqual(report.raw, json.loads(cli.out))
        verdicts = {os.path.relpath(f.path, self.model): f.verdict for f in report.files}
        self.assertEqual(verdicts["evil.pkl"], "unsafe")
        self.assertEqual(verdicts["ok.pkl"], "safe")
        self.assertEqual(verdicts["model.safetensors"], "safe")
        with self.assertRaises(modelseal.UnsafeContent) as cm:
            report.check()
        self.assertIn("evil.pkl", str(cm.exception))
        modelseal.scan(self.path("ok.pkl"), self.path("model.safetensors")).check()
        # The members of an archive it read, as the CLI lists them.
        import zipfile
        with zipfile.ZipFile(self.path("weights.zip"), "w") as z:
            z.writestr("archive/data.pkl", pickle.dumps([1]))
            z.writestr("archive/version", b"3\n")
        z = modelseal.scan(self.path("weights.zip")).files[0]
        self.assertEqual(z.members, ("archive/data.pkl", "archive/version"))

    def test_unreadable_file_is_in_the_report(self):
        missing = os.path.join(self.tmp, "missing.bin")
        report = modelseal.scan(missing)
        self.assertEqual(len(report.files), 1)
        self.assertIsNotNone(report.files[0].error)
        with self.assertRaises(modelseal.UnsafeContent):
            report.check()


if __name__ == "__main__":
    main()

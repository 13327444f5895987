"""modelseal.verify and the VerifiedModel: what was verified, verified reads, refusals."""
import errno
import json
import mmap
import os
import pickle
import pydoc
import struct
import subprocess
import sys

from pyharness import ModelTest, main, modelseal, run, write


class Verify(ModelTest):
    def test_verify_and_read(self):
        m = modelseal.verify(self.model, public_key=self.pub)
        cli = json.loads(self.cli_verify(self.model, "--json").out)
        self.assertEqual(m.root_digest, cli["root_digest"])
        self.assertTrue(m.root_digest.startswith("sha256:") and len(m.root_digest) == 71)
        self.assertEqual([(s.id, s.keyid) for s in m.signers], [(s["id"], s["keyid"]) for s in cli["signers"]])
        self.assertEqual(m.files, tuple(sorted(self.FILES)))
        self.assertEqual(len(m.resources), len(self.FILES))
        self.assertTrue(m.files_checked)
        self.assertFalse(m.single_file)
        self.assertEqual(m.path, self.model)
        self.assertEqual(m.signature, self.path("model.sig"))
        self.assertEqual(m.model_name, "model")
        for name, data in self.FILES.items():
            self.assertEqual(m.read(name), data)
            with m.open(name) as f:
                self.assertEqual(f.read(), data)
                self.assertEqual(f.name, name)
        self.assertIn("sha256:", repr(m))

    def test_policy_file(self):
        with open(self.pub) as f:
            pem = f.read()
        policy = os.path.join(self.tmp, "policy.json")
        write(policy, json.dumps({"version": 1, "keys": [{"id": "release", "type": "ed25519", "pem": pem}],
                                  "threshold": 1}))
        cli = run("verify", self.model, "--policy", policy)
        self.assertEqual(cli.rc, 0, cli)
        m = modelseal.verify(self.model, policy=policy)
        self.assertEqual([s.id for s in m.signers], ["release"])
        self.assertEqual(m.read("config.json"), self.FILES["config.json"])

    def test_path_like_and_bytes(self):
        import pathlib
        m = modelseal.verify(pathlib.Path(self.model), public_key=os.fsencode(self.pub))
        self.assertEqual(m.read(pathlib.PurePosixPath("tokenizer/vocab.txt")), b"a\nb\nc\n")

    def test_mmap_through_fileno(self):
        m = modelseal.verify(self.model, public_key=self.pub)
        with m.open("model.safetensors") as f:
            with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
                (n,) = struct.unpack("<Q", mm[:8])
                header = json.loads(mm[8:8 + n])
                start, end = header["w"]["data_offsets"]
                data = mm[8 + n + start:8 + n + end]
                self.assertEqual(struct.unpack("<f", data[4:8])[0], 0.5)
                self.assertEqual(mm[:], self.FILES["model.safetensors"])
        raw = m.open("config.json", buffering=0)
        self.assertIsInstance(raw, __import__("io").FileIO)
        raw.close()

    def test_descriptor_is_close_on_exec_and_read_only(self):
        import fcntl
        m = modelseal.verify(self.model, public_key=self.pub)
        with m.open("config.json") as f:
            self.assertTrue(fcntl.fcntl(f.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
            self.assertEqual(fcntl.fcntl(f.fileno(), fcntl.F_GETFL) & os.O_ACCMODE, os.O_RDONLY)
            with self.assertRaises(OSError):
                os.write(f.fileno(), b"x")

    def test_unlisted_name_and_escapes_are_refused(self):
        write(os.path.join(self.tmp, "outside.txt"), b"secret")
        m = modelseal.verify(self.model, public_key=self.pub)
        write(self.path("unlisted.bin"), b"x")
        for name in ["nope.bin", "unlisted.bin", "tokenizer", "model.sig"]:
            with self.subTest(name=name):
                for call in (m.read, m.open, m.open_fd):
                    with self.assertRaises(modelseal.NotTrusted) as cm:
                        call(name)
                    self.assertIn(name, str(cm.exception))
        for name in ["../outside.txt", "tokenizer/../config.json", "./config.json", "/etc/passwd",
                     self.path("config.json"), "", "tokenizer//vocab.txt"]:
            with self.subTest(name=name):
                for call in (m.read, m.open, m.open_fd):
                    with self.assertRaises(modelseal.UsageError):
                        call(name)
        with self.assertRaises(modelseal.UsageError):
            m.read("config.json\0.txt")

    def test_a_file_changed_after_verify_is_refused_on_read(self):
        m = modelseal.verify(self.model, public_key=self.pub)
        write(self.path("config.json"), b'{"hidden_size": 9}\n')
        with self.assertRaises(modelseal.NotTrusted) as cm:
            m.read("config.json")
        self.assertIn("config.json", str(cm.exception))
        with self.assertRaises(modelseal.NotTrusted):
            m.open("config.json")

    def test_signature_only(self):
        write(self.path("extra.bin"), b"x")
        with self.assertRaises(modelseal.NotTrusted):
            modelseal.verify(self.model, public_key=self.pub)
        m = modelseal.verify(self.model, public_key=self.pub, signature_only=True)
        self.assertFalse(m.files_checked)
        self.assertEqual(m.read("config.json"), self.FILES["config.json"])
        with self.assertRaises(modelseal.NotTrusted):
            m.read("extra.bin")
        m = modelseal.verify(self.model, public_key=self.pub, ignore=["extra.bin"])
        self.assertTrue(m.files_checked)
        m = modelseal.verify(self.model, public_key=self.pub, insecure_ignore_unlisted_files=True, threads=1)
        self.assertTrue(m.files_checked)

    def test_other_signature_path_and_single_file(self):
        sig = os.path.join(self.tmp, "elsewhere.sig")
        self.cli_sign(self.model, "-s", sig)
        m = modelseal.verify(self.model, public_key=self.pub, signature=sig)
        self.assertEqual(m.signature, sig)
        single = os.path.join(self.tmp, "weights.safetensors")
        write(single, self.FILES["model.safetensors"])
        self.cli_sign(single)
        m = modelseal.verify(single, public_key=self.pub)
        self.assertTrue(m.single_file)
        self.assertEqual(m.files, ("weights.safetensors",))
        self.assertEqual(m.read("weights.safetensors"), self.FILES["model.safetensors"])
        with self.assertRaises(modelseal.UsageError):
            m.read("other.bin")

    def test_model_name(self):
        cli = self.cli_verify(self.model, "--model-name", "org/bert")
        self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, public_key=self.pub, model_name="org/bert"))

    def test_usage_errors(self):
        with self.assertRaises(modelseal.UsageError) as cm:
            modelseal.verify(self.model, policy=self.pub, public_key=self.pub)
        self.assertEqual(str(cm.exception), "use either policy or public_key, not both")
        with self.assertRaises(modelseal.UsageError):
            modelseal.verify(self.model)
        with self.assertRaises(modelseal.UsageError):
            modelseal.verify(self.model, public_key=self.pub, threads=-1)
        with self.assertRaises(modelseal.UsageError):
            modelseal.verify(self.model, public_key=42)
        self.assertTrue(issubclass(modelseal.UsageError, ValueError))

    def test_missing_policy_and_key_files_as_the_cli(self):
        missing = os.path.join(self.tmp, "missing-policy.json")
        cli = run("verify", self.model, "--policy", missing)
        e = self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, policy=missing))
        if isinstance(e, OSError):
            self.assertEqual(e.errno, errno.ENOENT)
        cli = self.cli_verify(self.model, pub=missing)
        self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, public_key=missing))
        bad = os.path.join(self.tmp, "bad-policy.json")
        write(bad, "{not json")
        cli = run("verify", self.model, "--policy", bad)
        self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, policy=bad), modelseal.UsageError)

    def test_missing_model_is_an_os_error_with_errno(self):
        missing = os.path.join(self.tmp, "nothing-here")
        cli = self.cli_verify(missing)
        e = self.assertSameRefusal(cli, lambda: modelseal.verify(missing, public_key=self.pub),
                                   modelseal.ModelsealOSError)
        self.assertEqual(e.errno, errno.ENOENT)
        self.assertIsInstance(e, OSError)

    def test_verified_model_is_made_only_by_verify(self):
        with self.assertRaises(TypeError):
            modelseal.VerifiedModel()
        m = modelseal.verify(self.model, public_key=self.pub)
        with self.assertRaises(AttributeError):
            m.root_digest = "sha256:00"
        with self.assertRaises(AttributeError):
            m._handle = None
        with self.assertRaises(TypeError):
            pickle.dumps(m)
        import copy
        self.assertIs(copy.deepcopy(m), m)

    def test_exceptions_pickle_and_subclass(self):
        self.assertTrue(issubclass(modelseal.NotTrusted, PermissionError))
        self.assertTrue(issubclass(modelseal.ModelsealOSError, OSError))
        for e in [modelseal.NotTrusted("x: modified", "h"), modelseal.UsageError("u"),
                  modelseal.ModelsealOSError("cannot open: x: No such file or directory", "", errno.ENOENT)]:
            back = pickle.loads(pickle.dumps(e))
            self.assertIs(type(back), type(e))
            self.assertEqual((str(back), back.hint, back.exit_status), (str(e), e.hint, e.exit_status))
            if isinstance(e, OSError):
                self.assertEqual(back.errno, e.errno)
        self.assertEqual(modelseal.NotTrusted("m").errno, errno.EACCES)


class Package(ModelTest):
    SIGN = False

    def python(self, code, env=None):
        full = dict(os.environ)
        full["PYTHONPATH"] = os.path.dirname(os.path.dirname(modelseal.__file__))
        full.update(env or {})
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)

    def test_import_does_not_import_torch(self):
        self.cli_sign()
        r = self.python("import sys, modelseal\n"
                        f"m = modelseal.verify({self.model!r}, public_key={self.pub!r})\n"
                        "m.read('config.json'); modelseal.scan(m.path)\n"
                        "assert 'torch' not in sys.modules, 'torch was imported'\n"
                        "assert 'modelseal.torch' not in sys.modules\n"
                        "print('ok')")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_library_not_found_names_both_places(self):
        r = self.python("import modelseal\n"
                        "try:\n"
                        "    modelseal.verify('x', public_key='y')\n"
                        "except modelseal.ModelsealOSError as e:\n"
                        "    print(e); print(e.hint); print(e.errno)\n",
                        env={"MODELSEAL_LIBRARY": "/nonexistent/libmodelseal.so"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/nonexistent/libmodelseal.so", r.stdout)
        self.assertIn("MODELSEAL_LIBRARY", r.stdout)
        self.assertIn("installed", r.stdout)
        self.assertIn(str(errno.ENOENT), r.stdout.splitlines()[-1])
        r = self.python("import modelseal; print(modelseal.library_path())")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), os.environ["MODELSEAL_LIBRARY"])

    def test_documentation(self):
        for obj, words in [(modelseal, "verify signed machine-learning models"),
                           (modelseal.verify, "Verifies the model directory"),
                           (modelseal.VerifiedModel.open, "verified descriptor"),
                           (modelseal.sign, "Signs the model"),
                           (modelseal.scan, "Scans files or folders"),
                           (modelseal.torch, "weights_only=True")]:
            with self.subTest(obj=obj):
                self.assertIn(words, pydoc.render_doc(obj, renderer=pydoc.plaintext))
        self.assertTrue(os.path.exists(os.path.join(os.path.dirname(modelseal.__file__), "py.typed")))
        self.assertIn("torch", dir(modelseal))


if __name__ == "__main__":
    main()

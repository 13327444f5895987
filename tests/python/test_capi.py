"""The C API additions the package stands on, called through ctypes directly: options structs
(NULL, shorter, unset size), per-thread last message / hint / errno, and lines kept to one line."""
import ctypes
import errno
import os

from pyharness import ModelTest, main, modelseal, run, write
from modelseal import _native


class CApi(ModelTest):
    def setUp(self):
        super().setUp()
        self.lib = _native.lib()
        self.policy = ctypes.c_void_p()
        self.assertEqual(self.lib.modelseal_policy_from_key(os.fsencode(self.pub), ctypes.byref(self.policy)), 0)

    def tearDown(self):
        self.lib.modelseal_policy_free(self.policy)
        super().tearDown()

    def verify_with(self, opts):
        out = ctypes.c_void_p()
        status = self.lib.modelseal_verify_with(self.policy, os.fsencode(self.model), opts, ctypes.byref(out))
        self.lib.modelseal_model_free(out)
        return status, out

    def test_options(self):
        self.assertEqual(self.verify_with(None)[0], 0)
        opts = _native.VerifyOptions()
        status, out = self.verify_with(ctypes.byref(opts))  # size not set
        self.assertEqual(status, 2)
        self.assertIsNone(out.value)
        self.assertIn("size", self.lib.modelseal_last_message().decode())
        opts.size = ctypes.sizeof(opts)
        opts.flags = 1 << 20
        self.assertEqual(self.verify_with(ctypes.byref(opts))[0], 2)
        # A caller built against a shorter struct: the fields it does not have are zero.
        write(self.path("extra.bin"), b"x")
        opts.flags = _native.VERIFY_INSECURE_IGNORE_UNLISTED_FILES
        opts.signature = b"/nonexistent.sig"
        opts.size = _native.VerifyOptions.signature.offset
        self.assertEqual(self.verify_with(ctypes.byref(opts))[0], 0)
        opts.size = ctypes.sizeof(opts)
        self.assertEqual(self.verify_with(ctypes.byref(opts))[0], 3)
        self.assertEqual(self.lib.modelseal_last_errno(), errno.ENOENT)

    def test_an_encrypted_model(self):
        # age_identity: NAME.age is verified, read and opened as NAME, decrypted in memory.
        ident = os.path.join(self.tmp, "id.agekey")
        r = run("keygen", "-t", "x25519", "-o", ident, "-q")
        self.assertEqual(r.rc, 0, r)
        r = run("encrypt", self.model, "-p", self.pub, "-r", r.out.strip(), "--remove-plaintext", "-q")
        self.assertEqual(r.rc, 0, r)
        self.assertFalse(os.path.exists(self.path("model.safetensors")))
        with self.assertRaises(modelseal.NotTrusted) as e:
            modelseal.verify(self.model, public_key=self.pub)
        self.assertIn("encrypted (age)", str(e.exception))
        m = modelseal.verify(self.model, public_key=self.pub, age_identity=ident)
        self.assertEqual(m.read("model.safetensors"), self.FILES["model.safetensors"])
        with m.open("tokenizer/vocab.txt") as f:
            self.assertEqual(f.read(), self.FILES["tokenizer/vocab.txt"])
        self.assertEqual(sorted(os.listdir(self.model)),
                         sorted(["config.json.age", "model.safetensors.age", "tokenizer", "empty.bin.age", "model.sig"]))
        with self.assertRaises(modelseal.ModelsealOSError):   # a missing identity file, as verify -i says
            modelseal.verify(self.model, public_key=self.pub, age_identity=os.path.join(self.tmp, "none"))

    def test_last_error_is_cleared_by_a_success(self):
        status, _ = self.verify_with(None)
        os.remove(self.path("config.json"))
        self.assertEqual(self.verify_with(None)[0], 1)
        self.assertEqual(self.lib.modelseal_last_errno(), 0)
        self.assertIn(b"config.json: missing", self.lib.modelseal_last_message())
        self.assertIn(b"config.json: missing", self.lib.modelseal_last_error())
        write(self.path("config.json"), self.FILES["config.json"])
        self.assertEqual(self.verify_with(None)[0], 0)
        for fn in (self.lib.modelseal_last_message, self.lib.modelseal_last_hint, self.lib.modelseal_last_error):
            self.assertEqual(fn(), b"")
        self.assertEqual(self.lib.modelseal_last_errno(), 0)

    def test_hint_apart_from_the_message(self):
        # A missing policy key: the CLI's hint line is modelseal_last_hint, not part of the message.
        cli = self.cli_verify(self.model, "--model-name", "other")
        self.assertEqual(cli.rc, 1, cli)
        opts = _native.VerifyOptions()
        opts.size = ctypes.sizeof(opts)
        opts.model_name = b"other"
        self.assertEqual(self.verify_with(ctypes.byref(opts))[0], 1)
        self.assertEqual(self.lib.modelseal_last_message().decode(), cli.message)
        self.assertEqual(self.lib.modelseal_last_hint().decode(), cli.hint)
        self.assertTrue(cli.hint)
        self.assertIn(b"(hint: ", self.lib.modelseal_last_error())

    def test_a_name_with_a_newline_stays_one_line(self):
        write(self.path("bad\nname.bin"), b"x")
        cli = self.cli_verify()
        self.assertEqual(cli.rc, 1, cli)
        with self.assertRaises(modelseal.NotTrusted) as cm:
            modelseal.verify(self.model, public_key=self.pub)
        self.assertNotIn("\n", str(cm.exception))
        self.assertEqual(str(cm.exception), cli.message)

    def test_null_arguments_are_usage_errors(self):
        out = ctypes.c_void_p()
        self.assertEqual(self.lib.modelseal_verify_with(None, os.fsencode(self.model), None, ctypes.byref(out)), 2)
        self.assertEqual(self.lib.modelseal_model_info(None, ctypes.byref(out)), 2)
        self.assertEqual(self.lib.modelseal_scan(None, ctypes.byref(out)), 2)
        empty = _native.CStringList([])
        self.assertEqual(self.lib.modelseal_scan(empty.pointer(), ctypes.byref(out)), 2)
        self.assertEqual(self.lib.modelseal_sign(os.fsencode(self.model), empty.pointer(), None, None), 2)
        self.assertEqual(self.lib.modelseal_scan_fd(-1, b"x", ctypes.byref(out)), 3)
        self.assertIsNone(out.value)


if __name__ == "__main__":
    main()

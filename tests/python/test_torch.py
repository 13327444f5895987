"""modelseal.torch.load: a verified checkpoint loads through the verified descriptor; a tampered
one, or one whose pickle would run code, never reaches torch.load."""
import os
import pickle
import unittest

from pyharness import ModelTest, main, modelseal, write

try:
    import torch
except ImportError:  # python3-torch comes with .ci/setup --tests
    torch = None


class Evil:
    """Pickles into a call of os.system that would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@unittest.skipIf(torch is None, "python3-torch is not installed")
class TorchLoad(ModelTest):
    SIGN = False

    def setUp(self):
        super().setUp()
        self.state = {"w": torch.arange(12, dtype=torch.float32).reshape(3, 4), "b": torch.ones(4)}
        torch.save(self.state, self.path("pytorch_model.bin"))
        torch.save(self.state, self.path("legacy.bin"), _use_new_zipfile_serialization=False)
        self.marker = os.path.join(self.tmp, "code-ran")
        with open(self.path("evil.pkl"), "wb") as f:
            pickle.dump({"w": Evil(self.marker)}, f)
        self.cli_sign(self.model, "--insecure-allow-unsafe-content")
        self.m = modelseal.verify(self.model, public_key=self.pub)

    def assertStateEqual(self, got):
        self.assertEqual(set(got), set(self.state))
        for k, v in self.state.items():
            self.assertTrue(torch.equal(got[k], v), k)

    def test_load_verified_checkpoint(self):
        self.assertStateEqual(modelseal.torch.load(self.m, "pytorch_model.bin", map_location="cpu"))
        self.assertStateEqual(modelseal.torch.load(self.m, "legacy.bin", map_location="cpu", weights_only=True))
        self.assertStateEqual(modelseal.torch.load(self.m, "pytorch_model.bin", weights_only=False))

    def test_weights_only_is_the_default(self):
        # A checkpoint holding a (harmless, allowlisted by the scanner) object that weights_only refuses.
        calls = []
        real = torch.load

        def spy(f, **kw):
            calls.append((f, kw))
            return real(f, **kw)

        torch.load = spy
        try:
            modelseal.torch.load(self.m, "pytorch_model.bin")
        finally:
            torch.load = real
        f, kw = calls[0]
        self.assertTrue(kw["weights_only"])
        self.assertFalse(isinstance(f, (str, bytes, os.PathLike)), "torch.load got a path, not the file object")

    def test_unsafe_pickle_is_refused_before_torch_load(self):
        for weights_only in (True, False):
            with self.subTest(weights_only=weights_only):
                with self.assertRaises(modelseal.UnsafeContent) as cm:
                    modelseal.torch.load(self.m, "evil.pkl", weights_only=weights_only)
                e = cm.exception
                self.assertIsInstance(e, modelseal.NotTrusted)
                self.assertIn("evil.pkl", str(e))
                self.assertIn("system", str(e))
                self.assertTrue(e.report.blocking)
                self.assertFalse(os.path.exists(self.marker), "the pickle's code ran")

    def test_tampered_checkpoint_is_refused(self):
        m = modelseal.verify(self.model, public_key=self.pub, signature_only=True)
        with open(self.path("pytorch_model.bin"), "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        write(self.path("pytorch_model.bin"), bytes(data))
        with self.assertRaises(modelseal.NotTrusted) as cm:
            modelseal.torch.load(m, "pytorch_model.bin")
        self.assertIn("pytorch_model.bin", str(cm.exception))

    def test_unlisted_and_escapes(self):
        torch.save(self.state, os.path.join(self.tmp, "outside.bin"))
        with self.assertRaises(modelseal.UsageError):
            modelseal.torch.load(self.m, "../outside.bin")
        with self.assertRaises(modelseal.NotTrusted):
            modelseal.torch.load(self.m, "not-listed.bin")
        with self.assertRaises(modelseal.UsageError):
            modelseal.torch.load(self.m, "pytorch_model.bin", mmap=True)
        with self.assertRaises(TypeError):
            modelseal.torch.load(self.model, "pytorch_model.bin")

    def test_scan_report(self):
        report = modelseal.scan(self.model)
        by_name = {os.path.basename(f.path): f for f in report.files}
        self.assertEqual(by_name["pytorch_model.bin"].verdict, "safe")
        self.assertEqual(by_name["evil.pkl"].verdict, "unsafe")
        self.assertEqual([os.path.basename(f.path) for f in report.blocking], ["evil.pkl"])
        self.assertTrue(any("system" in x.what for x in by_name["evil.pkl"].findings))
        with self.assertRaises(modelseal.UnsafeContent):
            report.check()
        modelseal.scan(self.path("pytorch_model.bin"), self.path("config.json")).check()


if __name__ == "__main__":
    main()

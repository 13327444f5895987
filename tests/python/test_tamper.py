"""Every tampering the CLI tamper tests make raises NotTrusted from modelseal.verify, with the line
and hint `modelseal verify` prints for the same model; I/O failures raise ModelsealOSError."""
import base64
import errno
import json
import os

from pyharness import ModelTest, main, modelseal, write


class Tamper(ModelTest):
    FILES = dict(ModelTest.FILES, **{"model-00002.safetensors": os.urandom(123_457)})

    def same_as_cli(self, cls=modelseal.NotTrusted, contains=None, **kw):
        cli = self.cli_verify()
        e = self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, public_key=self.pub, **kw), cls)
        if contains:
            self.assertIn(contains, str(e))
        return e

    def test_changed_byte_in_every_file(self):
        for name, data in self.FILES.items():
            if not data:
                continue
            with self.subTest(name=name):
                flipped = bytearray(data)
                flipped[len(data) // 2] ^= 0x01
                write(self.path(name), bytes(flipped))
                self.same_as_cli(contains=name + ": modified")
                write(self.path(name), data)
        modelseal.verify(self.model, public_key=self.pub)

    def test_truncated_and_appended(self):
        data = self.FILES["model.safetensors"]
        write(self.path("model.safetensors"), data[:-1])
        self.same_as_cli(contains="modified")
        write(self.path("model.safetensors"), data + b"\0")
        self.same_as_cli(contains="modified")

    def test_removed_file(self):
        os.remove(self.path("tokenizer/vocab.txt"))
        self.same_as_cli(contains="tokenizer/vocab.txt: missing")

    def test_unlisted_file_at_every_level(self):
        for where in ["extra.bin", "tokenizer/extra.bin", "tokenizer/deep/extra.bin", "newdir/extra.bin"]:
            with self.subTest(where=where):
                write(self.path(where), b"x")
                self.same_as_cli(contains=where + ": unlisted file")
                os.remove(self.path(where))

    def test_renamed_and_swapped(self):
        a, b = "model.safetensors", "model-00002.safetensors"
        write(self.path(a), self.FILES[b])
        write(self.path(b), self.FILES[a])
        self.same_as_cli(contains="modified")
        write(self.path(a), self.FILES[a])
        write(self.path(b), self.FILES[b])
        os.rename(self.path("config.json"), self.path("config2.json"))
        self.same_as_cli()

    def test_replaced_by_symlink_or_fifo(self):
        target = os.path.join(self.tmp, "outside.json")
        write(target, self.FILES["config.json"])
        os.remove(self.path("config.json"))
        os.symlink(target, self.path("config.json"))
        self.same_as_cli(contains="config.json: is a symlink")
        os.remove(self.path("config.json"))
        os.mkfifo(self.path("config.json"))
        self.same_as_cli(contains="config.json: is a fifo")

    def test_wrong_key(self):
        _, other_pub = self.keygen("other")
        cli = self.cli_verify(pub=other_pub)
        e = self.assertSameRefusal(cli, lambda: modelseal.verify(self.model, public_key=other_pub),
                                   modelseal.NotTrusted)
        self.assertIn("no signature is from a trusted key", str(e))
        other_key, _ = self.keygen("third")
        self.cli_sign(key=other_key)
        self.same_as_cli(contains="no signature is from a trusted key")

    def bundle(self):
        with open(self.path("model.sig")) as f:
            return json.load(f)

    def put_bundle(self, b):
        with open(self.path("model.sig"), "w") as f:
            json.dump(b, f)

    def test_signature_changed(self):
        b = self.bundle()
        sig = bytearray(base64.b64decode(b["dsseEnvelope"]["signatures"][0]["sig"]))
        sig[5] ^= 0x01
        b["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
        self.put_bundle(b)
        self.same_as_cli(contains="no signature is from a trusted key")

    def test_edited_payload_with_old_signature(self):
        b = self.bundle()
        st = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
        st["predicate"]["resources"][0]["digest"] = "00" * 32
        b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
        self.put_bundle(b)
        self.same_as_cli(contains="no signature is from a trusted key")

    def test_wrong_payload_type_and_removed_signatures(self):
        good = self.bundle()
        b = json.loads(json.dumps(good))
        b["dsseEnvelope"]["payloadType"] = "application/json"
        self.put_bundle(b)
        self.same_as_cli()
        b = json.loads(json.dumps(good))
        b["dsseEnvelope"]["signatures"] = []
        self.put_bundle(b)
        self.same_as_cli(contains="no signatures")

    def test_another_models_signature(self):
        other = os.path.join(self.tmp, "other")
        write(os.path.join(other, "config.json"), b"{}")
        self.cli_sign(other)
        os.replace(os.path.join(other, "model.sig"), self.path("model.sig"))
        self.same_as_cli()

    def test_signature_only_refuses_the_tampered_file_when_read(self):
        write(self.path("config.json"), b"{}")
        m = modelseal.verify(self.model, public_key=self.pub, signature_only=True)
        with self.assertRaises(modelseal.NotTrusted) as cm:
            m.read("config.json")
        self.assertIn("config.json", str(cm.exception))
        self.assertEqual(m.read("tokenizer/vocab.txt"), self.FILES["tokenizer/vocab.txt"])

    def test_missing_signature_is_an_os_error(self):
        os.remove(self.path("model.sig"))
        e = self.same_as_cli(modelseal.ModelsealOSError, contains="cannot open signature")
        self.assertEqual(e.errno, errno.ENOENT)


if __name__ == "__main__":
    main()

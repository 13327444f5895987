"""Every tampering with a signed model or its signature is refused (exit 1), model untouched."""
import base64
import json
import os
import shutil
import unittest

from harness import CliTest, run, tree_state, write


class Tamper(CliTest):
    def setUp(self):
        super().setUp()
        self.sign()
        self.verify()

    def refused(self, reason=None, model=None, pub=None, extra=()):
        model = model or self.model
        before = tree_state(model)
        r = run("verify", model, "-p", pub or self.pub, *extra)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, reason)
        self.assertEqual(tree_state(model), before, "verify changed the model")
        return r

    def path(self, name):
        return os.path.join(self.model, name)

    def test_flipped_bit_in_every_file(self):
        for name, data in self.FILES.items():
            if not data:
                continue
            for pos in {0, len(data) // 2, len(data) - 1}:
                with self.subTest(name=name, pos=pos):
                    flipped = bytearray(data)
                    flipped[pos] ^= 0x01
                    write(self.path(name), bytes(flipped))
                    self.refused(name + ": modified")
                    write(self.path(name), data)
        self.verify()

    def test_truncated_and_appended(self):
        name = "model-00001-of-00002.safetensors"
        data = self.FILES[name]
        write(self.path(name), data[:-1])
        self.refused(name + ": modified")
        write(self.path(name), data + b"\0")
        self.refused(name + ": modified")

    def test_deleted_file(self):
        os.remove(self.path("tokenizer/vocab.txt"))
        self.refused("tokenizer/vocab.txt: missing")

    def test_extra_file_at_every_level(self):
        for where in ["extra.bin", "tokenizer/extra.bin", "tokenizer/deep/extra.bin", "newdir/extra.bin"]:
            with self.subTest(where=where):
                write(self.path(where), b"x")
                self.refused(where + ": unlisted file")
                os.remove(self.path(where))

    def test_renamed_file(self):
        os.rename(self.path("config.json"), self.path("config2.json"))
        r = self.refused()
        self.assertIn("config", r.err)

    def test_swapped_contents(self):
        a, b = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
        write(self.path(a), self.FILES[b])
        write(self.path(b), self.FILES[a])
        self.refused("modified")

    def test_replaced_by_symlink(self):
        target = os.path.join(self.tmp, "outside.json")
        write(target, self.FILES["config.json"])  # same bytes, but outside the model
        os.remove(self.path("config.json"))
        os.symlink(target, self.path("config.json"))
        self.refused("config.json: is a symlink")
        os.remove(self.path("config.json"))
        os.symlink("tokenizer/vocab.txt", self.path("config.json"))
        self.refused("config.json: is a symlink")

    def test_replaced_by_fifo(self):
        os.remove(self.path("config.json"))
        os.mkfifo(self.path("config.json"))
        self.refused("config.json: is a fifo")  # and it did not hang on the fifo

    def test_signature_by_another_key(self):
        other_key, other_pub = self.keygen("other")
        self.sign(key=other_key)
        self.refused("no signature is from a trusted key")
        self.verify(pub=other_pub)

    def test_another_models_signature(self):
        other = os.path.join(self.tmp, "other-model")
        write(os.path.join(other, "w.bin"), b"other weights")
        self.sign(other)
        shutil.copy(os.path.join(other, "model.sig"), self.path("model.sig"))
        self.refused("does not match its signature")

    def edit_bundle(self, edit):
        with open(self.path("model.sig")) as f:
            bundle = json.load(f)
        edit(bundle)
        with open(self.path("model.sig"), "w") as f:
            json.dump(bundle, f)

    def test_edited_payload_with_old_signature(self):
        def edit(b):
            st = json.loads(base64.b64decode(b["dsseEnvelope"]["payload"]))
            st["predicate"]["resources"] = st["predicate"]["resources"][1:]
            b["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st).encode()).decode()
        self.edit_bundle(edit)
        self.refused("no signature is from a trusted key")

    def test_wrong_payload_type(self):
        self.edit_bundle(lambda b: b["dsseEnvelope"].update(payloadType="application/json"))
        # The one authenticator checks the type before any signature: a payload of another type
        # is never parsed, whoever signed it.
        self.refused('payload type is "application/json", not an in-toto statement')

    def test_removed_signature(self):
        self.edit_bundle(lambda b: b["dsseEnvelope"].update(signatures=[]))
        self.refused("no signatures")

    def test_missing_signature_file(self):
        os.remove(self.path("model.sig"))
        r = run("verify", self.model, "-p", self.pub)
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "cannot open signature")

    def test_keyid_hint_is_not_trusted(self):
        other_key, _ = self.keygen("other")
        # A bundle signed by another key but carrying our key id is still refused.
        self.sign(key=other_key)
        with open(self.path("model.sig")) as f:
            b = json.load(f)
        good = run("inspect", "--json", self.path("model.sig"))
        b["dsseEnvelope"]["signatures"][0]["keyid"] = "0" * 64
        with open(self.path("model.sig"), "w") as f:
            json.dump(b, f)
        self.assertEqual(good.rc, 0)
        self.refused("no signature is from a trusted key")


class Shards(CliTest):
    def test_sharded_signature_detects_a_change_in_any_shard(self):
        self.sign(None, "--shard-size", "65536")
        self.verify()
        name = "model-00001-of-00002.safetensors"
        data = bytearray(self.FILES[name])
        data[200_000] ^= 0x80
        write(os.path.join(self.model, name), bytes(data))
        r = self.verify(expect=1)
        self.assertIn(name + ":196608:262144", r.err)

    def test_sharded_size_change_is_reported_without_hashing(self):
        self.sign(None, "--shard-size", "65536")
        write(os.path.join(self.model, "config.json"), b"{}")
        r = self.verify(expect=1)
        self.assertIn("config.json: size is 2 bytes, signed as 19", r.err)


class SingleFile(CliTest):
    def test_single_file_model(self):
        f = os.path.join(self.model, "config.json")
        self.sign(f)
        self.assertTrue(os.path.exists(f + ".sig"))
        r = self.verify(f)
        self.assertIn("OK", r.out)
        write(f, b"{}")
        self.verify(f, expect=1)


if __name__ == "__main__":
    unittest.main()

"""Bad input: a one-line error and the right exit code; never a crash, a hang or a changed model."""
import base64
import hashlib
import json
import os
import socket
import stat
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from harness import CliTest, run, tree_state, write


def pae(payload_type, body):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


class BadBundles(CliTest):
    def setUp(self):
        super().setUp()
        self.sign()
        self.sig = os.path.join(self.model, "model.sig")

    def refused(self, contents, reason=None, rc=1):
        write(self.sig, contents)
        before = tree_state(self.model)
        r = run("verify", self.model, "-p", self.pub, timeout=60)
        self.assertEqual(r.rc, rc, r)
        self.assertOneLineError(r, reason)
        self.assertEqual(tree_state(self.model), before)

    def test_truncated_garbage_empty(self):
        with open(self.sig, "rb") as f:
            good = f.read()
        for cut in (1, 10, len(good) // 2, len(good) - 3):
            self.refused(good[:cut])
        self.refused(b"", "empty")
        self.refused(os.urandom(4096), "invalid json")
        self.refused(b"\x00" * 100, "invalid json")
        self.refused(b"[1,2,3]", "not a sigstore bundle")

    def test_huge_bundle(self):
        with open(self.sig, "wb") as f:
            f.truncate(100 * 1024 * 1024)
        r = run("verify", self.model, "-p", self.pub, timeout=60)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "too large")

    def test_deep_nesting(self):
        self.refused(b"[" * 100_000 + b"]" * 100_000, "nested deeper")
        self.refused(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested deeper")

    def signed_bundle(self, resources, name="model"):
        """A bundle that verifies with a key we trust, around a hostile statement."""
        sk = ed25519.Ed25519PrivateKey.generate()
        pub = os.path.join(self.tmp, "hostile.pub")
        write(pub, sk.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo))
        root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
        st = {"_type": "https://in-toto.io/Statement/v1",
              "subject": [{"name": name, "digest": {"sha256": root}}],
              "predicateType": "https://model_signing/signature/v1.0",
              "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
                            "resources": resources}}
        body = json.dumps(st).encode()
        ptype = "application/vnd.in-toto+json"
        sig = sk.sign(pae(ptype, body))
        bundle = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                  "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                  "dsseEnvelope": {"payload": base64.b64encode(body).decode(), "payloadType": ptype,
                                   "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}]}}
        return json.dumps(bundle).encode(), pub

    def test_signed_bundles_with_hostile_paths(self):
        digest = hashlib.sha256(b"x").hexdigest()
        ok = {"name": "config.json", "algorithm": "sha256", "digest": digest}
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "a/../../b", "a\u0000b", "a\nb", ""]:
            with self.subTest(name=bad):
                bundle, pub = self.signed_bundle([ok, {"name": bad, "algorithm": "sha256", "digest": digest}])
                write(self.sig, bundle)
                r = run("verify", self.model, "-p", pub)
                self.assertEqual(r.rc, 1, r)
                self.assertOneLineError(r, "invalid resource name")
        bundle, pub = self.signed_bundle([ok, ok])
        write(self.sig, bundle)
        r = run("verify", self.model, "-p", pub)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "duplicate resource")


class BadModels(CliTest):
    def test_fifo_socket_unreadable_when_signing(self):
        fifo = os.path.join(self.model, "pipe")
        os.mkfifo(fifo)
        r = run("sign", self.model, "-k", self.key, timeout=30)
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "fifo")
        os.remove(fifo)

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(os.path.join(self.model, "sock"))
        r = run("sign", self.model, "-k", self.key, timeout=30)
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "socket")
        sock.close()
        os.remove(os.path.join(self.model, "sock"))

        if os.geteuid() != 0:  # root reads anything; the unreadable case is covered below with chmod
            pass
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_fifo_and_socket_when_verifying(self):
        self.sign()
        os.mkfifo(os.path.join(self.model, "pipe"))
        r = run("verify", self.model, "-p", self.pub, timeout=30)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "pipe: unlisted fifo")
        os.remove(os.path.join(self.model, "pipe"))
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(os.path.join(self.model, "sock"))
        r = run("verify", self.model, "-p", self.pub, timeout=30)
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "sock: unlisted socket")
        sock.close()

    def test_unreadable_file(self):
        self.sign()
        path = os.path.join(self.model, "config.json")
        os.chmod(path, 0)
        # Root reads any file, so drop to nobody for this check when we are root.
        env_cmd = []
        if os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.tmp, 0o755)
            for dirpath, dirnames, filenames in os.walk(self.tmp):
                for d in dirnames:
                    os.chmod(os.path.join(dirpath, d), 0o755)
                for f in filenames:
                    p = os.path.join(dirpath, f)
                    if p != path:
                        os.chmod(p, 0o644)

            def demote():
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
        else:
            demote = None
        import subprocess
        from harness import tool, tool_for_other_users
        for cmd in (["verify", self.model, "-p", self.pub], ["sign", self.model, "-k", self.key]):
            if cmd[0] == "sign" and demote:
                continue  # the key is root's and 0600: nobody cannot read it; verify is the case that matters
            program = tool_for_other_users(cmd[0]) if demote else tool(cmd[0])
            p = subprocess.run([program, *cmd[1:]], capture_output=True, preexec_fn=demote, timeout=30)
            self.assertEqual(p.returncode, 3, p)
            self.assertIn(b"config.json", p.stderr)
            self.assertIn(b"Permission denied", p.stderr)

    def test_empty_directory(self):
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        r = run("sign", empty, "-k", self.key)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "no files to sign")
        self.assertEqual(os.listdir(empty), [])

    def test_missing_model_and_key(self):
        r = run("sign", os.path.join(self.tmp, "nope"), "-k", self.key)
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "cannot open model")
        r = run("sign", self.model, "-k", os.path.join(self.tmp, "nope.key"))
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "cannot open private key")
        r = run("verify", self.model, "-p", os.path.join(self.tmp, "nope.pub"))
        self.assertEqual(r.rc, 3, r)
        self.assertOneLineError(r, "cannot open public key")

    def test_wrong_passphrase(self):
        prefix = os.path.join(self.tmp, "enc")
        r = run("keygen", "-o", prefix, env={"MODELSEAL_PASSPHRASE": "right one"})
        self.assertEqual(r.rc, 0, r)
        r = run("sign", self.model, "-k", prefix + ".key", env={"MODELSEAL_PASSPHRASE": "wrong one"})
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "wrong passphrase")
        self.assertNotIn("wrong one", r.err + r.out)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        r = run("sign", self.model, "-k", prefix + ".key")  # no passphrase, no terminal
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "no passphrase given and no terminal")

    def test_usage_errors(self):
        for args in ([], ["--no-such-flag"], [self.model], [self.model, "-k", self.key, "--threads", "0"],
                     [self.model, "-k", self.key, "--shard-size", "-5"],
                     [self.model, "-k", self.key, "--shard-size", "12X"],
                     [self.model, "-k", self.key, "--shard-size", "0"],
                     [self.model, "-k", self.key, "--shard-size", "2048T"]):
            with self.subTest(args=args):
                r = run("sign", *args)
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r)
                self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))
        # Sizes take suffixes: 1K is 1024 bytes, the same shards as the number itself.
        digests = set()
        for size in ["1K", "1024", "1k", "1KiB"]:
            r = run("digest", self.model, "--shard-size", size)
            self.assertEqual(r.rc, 0, r)
            digests.add(r.out)
        self.assertEqual(len(digests), 1, digests)
        self.assertNotEqual(run("digest", self.model, "--shard-size", "1M").out, digests.pop())
        self.assertEqual(run("sign", self.model, "-k", self.key, "--shard-size", "256M", "-q").rc, 0)
        os.remove(os.path.join(self.model, "model.sig"))
        r = run("verify", self.model)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "no trusted key given")

    def test_symlink_needs_allow_symlinks(self):
        os.symlink("config.json", os.path.join(self.model, "link.json"))
        r = run("sign", self.model, "-k", self.key)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "symlink")
        self.assertIn("--allow-symlinks", r.err)
        self.sign(None, "--allow-symlinks")
        self.verify()


if __name__ == "__main__":
    unittest.main()

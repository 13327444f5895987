"""The tamper matrix: for a signed model of several files and folders, every mutation below must
make `verify` exit 1 (3 for an unreadable file) with the right reason, and make the loader shim
refuse to open the file. Prints how many cases ran."""
import base64
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
import harness  # noqa: E402
import time  # noqa: E402
from harness import SHIM, CliTest, run, shim_preload, tool, tool_for_other_users, write  # noqa: E402



class Matrix(CliTest):
    FILES = {
        "config.json": b'{"a": 1}\n',
        "weights/part-1.bin": bytes(range(256)) * 40,
        "weights/part-2.bin": b"\x80\x04" + b"w" * 5000,
        "weights/deep/er/tensor.bin": b"t" * 3000,
        "tokenizer.json": b'{"vocab": {}}\n',
    }

    def setUp(self):
        super().setUp()
        self.sign()
        self.pristine = os.path.join(self.tmp, "pristine")
        shutil.copytree(self.model, self.pristine, symlinks=True)
        self.policy = os.path.join(self.tmp, "policy.json")
        write(self.policy, json.dumps({"keys": [{"type": "ed25519", "path": self.pub}]}))
        self.cases = {"verify": 0, "shim": 0}
        self.record()

    def record(self):
        """With the verification cache on, every mutation starts from a model the cache holds."""
        if not harness.CACHE_DIR:
            return
        time.sleep(0.02)   # a version younger than a clock tick is not recorded
        env = dict(os.environ, MODELSEAL_CACHE_DIR=harness.CACHE_DIR)
        p = subprocess.run([tool("verify"), self.model, "--policy", self.policy, "--record"], capture_output=True, env=env,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn(b"recorded %d files" % len(self.FILES), p.stderr)

    def reset(self):
        for dirpath, dirnames, filenames in os.walk(self.model):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                if not os.path.islink(p):
                    os.chmod(p, 0o755 if os.path.isdir(p) else 0o644)
        shutil.rmtree(self.model)
        shutil.copytree(self.pristine, self.model, symlinks=True)
        self.record()

    def shim_open(self, name, expect_refused=True):
        if not os.path.exists(SHIM):
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_")}
        env.update(shim_preload(), MODELSEAL_POLICY=self.policy, MODELSEAL_ROOTS=self.model, MODELSEAL_VERBOSE="1")
        p = subprocess.run(["cat", os.path.join(self.model, name)], capture_output=True, env=env, timeout=30)
        if harness.CACHE_DIR and not expect_refused:
            self.assertIn(b"(machine cache)", p.stderr, p)
        if expect_refused:
            self.assertNotEqual(p.returncode, 0, f"shim let {name} through")
            self.assertIn(b"Permission denied", p.stderr, p)
        else:
            self.assertEqual(p.returncode, 0, p)
        self.cases["shim"] += 1

    def expect(self, reason, name=None, rc=1, shim_file=None, demote=False):
        """verify -v must exit rc; with `name`, its line must say 'name: FAILED (reason...', else the
        error line must contain reason."""
        cmd = [tool_for_other_users("verify") if demote else tool("verify"), self.model, "-p", self.pub, "-v"]
        nobody = pwd.getpwnam("nobody")
        drop = (lambda: (os.setgid(nobody.pw_gid), os.setuid(nobody.pw_uid))) if demote else None
        p = subprocess.run(cmd, capture_output=True, timeout=60, preexec_fn=drop)
        out, err = p.stdout.decode(), p.stderr.decode()
        self.assertEqual(p.returncode, rc, f"{name}: {reason}: {out}{err}")
        if name:
            self.assertIn(f"{name}: FAILED ({reason}", out)
        else:
            self.assertIn(reason, err)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.cases["verify"] += 1
        if shim_file:
            self.shim_open(shim_file)
        self.reset()

    def path(self, name):
        return os.path.join(self.model, name)

    def test_matrix(self):
        names = list(self.FILES)
        # The untouched model verifies and opens through the shim.
        self.assertEqual(run("verify", self.model, "-p", self.pub).rc, 0)
        for n in names:
            self.shim_open(n, expect_refused=False)
        for n in names:
            data = self.FILES[n]
            for where in (0, len(data) // 2, len(data) - 1):
                b = bytearray(data)
                b[where] ^= 0x01
                write(self.path(n), bytes(b))
                self.expect("modified", n, shim_file=n)
            write(self.path(n), data[:-1])
            self.expect("modified", n, shim_file=n)
            write(self.path(n), data + b"\n")
            self.expect("modified", n, shim_file=n)
            os.remove(self.path(n))
            self.expect("missing", n)
            os.rename(self.path(n), self.path(n + ".renamed"))
            self.expect("unlisted file", n + ".renamed", shim_file=n + ".renamed")
            os.remove(self.path(n))
            os.symlink(os.path.join(self.pristine, n), self.path(n))  # outside the root, same bytes
            self.expect("is a symlink", n, shim_file=n)
            other = names[(names.index(n) + 1) % len(names)]
            os.remove(self.path(n))
            os.symlink(os.path.relpath(self.path(other), os.path.dirname(self.path(n))), self.path(n))  # inside
            self.expect("is a symlink", n, shim_file=n)
            os.remove(self.path(n))
            os.mkfifo(self.path(n))
            self.expect("is a fifo", n, shim_file=n)
            os.chmod(self.path(n), 0)
            os.chmod(self.tmp, 0o755)
            self.expect("cannot open", n, rc=3, demote=os.geteuid() == 0)
        for a, b in zip(names, names[1:]):
            write(self.path(a), self.FILES[b])
            write(self.path(b), self.FILES[a])
            self.expect("modified", a, shim_file=a)
        for d in ["", "weights/", "weights/deep/", "weights/deep/er/", "newdir/"]:
            write(self.path(d + "added.bin"), b"x")
            self.expect("unlisted file", d + "added.bin", shim_file=d + "added.bin")
        self.signature_fields()
        self.shim_escapes()
        print(f"tamper matrix: {self.cases['verify']} verify cases, {self.cases['shim']} shim opens", flush=True)

    def shim_escapes(self):
        """Unsigned code and the opening entries beyond open/fopen (issue 12): each is refused."""
        if not os.path.exists(SHIM):
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_")}
        env.update(shim_preload(), MODELSEAL_POLICY=self.policy, MODELSEAL_ROOTS=self.model)
        libc = "import ctypes, os, sys; c = ctypes.CDLL(None, use_errno=True); "
        shutil.copy("/bin/true", self.path("added-tool"))
        libz = [p for p in ("/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1")
                if os.path.exists(p)]
        if libz:
            shutil.copy(libz[0], self.path("weights/added.so"))
        cases = [
            ("exec of an unlisted program", [sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.argv[1]])",
                                             self.path("added-tool")]),
            ("freopen of an unlisted file", [sys.executable, "-c", libc + "sys.exit(0 if c.freopen(sys.argv[1].encode(), "
                                             "b'r', ctypes.c_void_p.in_dll(c, 'stdin')) else 1)", self.path("added-tool")]),
            ("mkstemp in the root", [sys.executable, "-c", libc + "sys.exit(0 if c.mkstemp(ctypes.create_string_buffer("
                                     "sys.argv[1].encode())) >= 0 else 1)", self.path("tXXXXXX")]),
            ("mkdtemp in the root", [sys.executable, "-c", libc + "c.mkdtemp.restype = ctypes.c_void_p; sys.exit(0 if "
                                     "c.mkdtemp(ctypes.create_string_buffer(sys.argv[1].encode())) else 1)",
                                     self.path("dXXXXXX")]),
            ("truncate of a listed file", [sys.executable, "-c", libc + "sys.exit(c.truncate(sys.argv[1].encode(), 0))",
                                           self.path("config.json")]),
            ("__open64 of an unlisted file", [sys.executable, "-c", libc + "sys.exit(0 if c.__open64(sys.argv[1].encode(), "
                                              "0) >= 0 else 1)", self.path("added-tool")]),
            ("_IO_fopen of an unlisted file", [sys.executable, "-c", libc + "sys.exit(0 if c._IO_fopen(sys.argv[1].encode(), "
                                               "b'r') else 1)", self.path("added-tool")]),
            ("catopen of an unlisted file", [sys.executable, "-c", libc + "c.catopen.restype = ctypes.c_void_p; "
                                             "sys.exit(0 if c.catopen(sys.argv[1].encode(), 0) not in (None, 2**64 - 1) "
                                             "else 1)", self.path("added-tool")]),
            ("posix_spawn reading an unlisted file", [sys.executable, "-c", "import os, sys; os.waitpid(os.posix_spawn("
                                                      "'/bin/true', ['true'], os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, "
                                                      "0, sys.argv[1], os.O_RDONLY, 0)]), 0)", self.path("added-tool")]),
            ("posix_spawn creating a file in the root", [sys.executable, "-c", "import os, sys; os.waitpid(os.posix_spawn("
                                                         "'/bin/true', ['true'], os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, "
                                                         "1, sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)]), 0)",
                                                         self.path("tXXXXXX")]),
        ]
        if libz:
            cases.append(("dlopen of an unlisted library", [sys.executable, "-c", "import ctypes, sys; ctypes.CDLL(sys.argv[1])",
                                                            self.path("weights/added.so")]))
        for what, argv in cases:
            p = subprocess.run(argv, capture_output=True, env=env, timeout=30)
            self.assertNotEqual(p.returncode, 0, f"shim let {what} through: {p.stderr!r}")
            self.assertIn(b"refused (", p.stderr, what)
            self.cases["shim"] += 1
        self.assertEqual(os.path.getsize(self.path("config.json")), len(self.FILES["config.json"]))
        self.assertFalse([n for n in os.listdir(self.model) if n[0] in "td" and len(n) == 7])
        self.reset()

    def signature_fields(self):
        sig_path = self.path("model.sig")
        with open(sig_path) as f:
            bundle = json.load(f)

        def mutated(edit, reason):
            b = json.loads(json.dumps(bundle))
            edit(b)
            write(sig_path, json.dumps(b))
            self.expect(reason, shim_file="config.json")

        env = "dsseEnvelope"
        flip = lambda s: base64.b64encode(bytes([base64.b64decode(s)[0] ^ 1]) + base64.b64decode(s)[1:]).decode()
        mutated(lambda b: b.update(mediaType="application/json"), "not a sigstore bundle")
        mutated(lambda b: b.pop("mediaType"), 'missing "mediaType"')
        mutated(lambda b: b.pop(env), "no dsseEnvelope")
        mutated(lambda b: b[env].update(payload=flip(b[env]["payload"])), "no signature is from a trusted key")
        mutated(lambda b: b[env].update(payload="%%%"), "payload is not valid base64")
        mutated(lambda b: b[env].pop("payload"), 'missing "payload"')
        mutated(lambda b: b[env].update(payloadType="application/vnd.in-toto+jsonx"),
                'payload type is "application/vnd.in-toto+jsonx", not an in-toto statement')
        mutated(lambda b: b[env].pop("payloadType"), 'missing "payloadType"')
        mutated(lambda b: b[env]["signatures"][0].update(sig=flip(b[env]["signatures"][0]["sig"])),
                "no signature is from a trusted key")
        mutated(lambda b: b[env]["signatures"][0].pop("sig"), 'missing "sig"')
        mutated(lambda b: b[env].update(signatures=[]), "no signatures")
        mutated(lambda b: b[env].pop("signatures"), 'missing "signatures"')
        # Hints are never trusted, so changing them changes nothing: the model still verifies.
        for edit in (lambda b: b[env]["signatures"][0].update(keyid="0" * 64),
                     lambda b: b["verificationMaterial"]["publicKey"].update(hint="0" * 64)):
            b = json.loads(json.dumps(bundle))
            edit(b)
            write(sig_path, json.dumps(b))
            self.assertEqual(run("verify", self.model, "-p", self.pub).rc, 0)
            self.reset()
        os.remove(sig_path)
        self.expect("cannot open signature", rc=3, shim_file="config.json")


if __name__ == "__main__":
    unittest.main()

"""Key files: created 0600, readable by `openssl pkey`, keys from `openssl genpkey` load, and
group/world-readable keys are refused. The passphrase never appears in any output."""
import base64
import os
import stat
import subprocess
import unittest

from harness import CliTest, run, tool, write

PASS = "tr0ub4dor&3 correct horse"


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, timeout=60)


def der(tag, *parts):
    body = b"".join(parts)
    n = len(body)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def oid(dotted):
    a, b, *rest = map(int, dotted.split("."))
    out = bytes([40 * a + b])
    for v in rest:
        enc = [v & 0x7F]
        while v > 0x7F:
            v >>= 7
            enc.append(0x80 | (v & 0x7F))
        out += bytes(reversed(enc))
    return der(0x06, out)


def integer(v):
    return der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def encrypted_key_pem(algorithm):
    """An EncryptedPrivateKeyInfo encrypted with `algorithm` (an AlgorithmIdentifier), holding 48
    bytes that nothing ever decrypts."""
    info = der(0x30, algorithm, der(0x04, bytes(48)))
    b64 = base64.encodebytes(info).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED PRIVATE KEY-----\n"


def pbes2(kdf):
    """PBES2 with the key derivation `kdf` and AES-256-CBC."""
    aes = der(0x30, oid("2.16.840.1.101.3.4.1.42"), der(0x04, bytes(16)))
    return der(0x30, oid("1.2.840.113549.1.5.13"), der(0x30, kdf, aes))


def scrypt(n, r, p):
    return der(0x30, oid("1.3.6.1.4.1.11591.4.11"), der(0x30, der(0x04, bytes(16)), integer(n), integer(r), integer(p)))


def pbkdf2(iterations):
    hmac_sha256 = der(0x30, oid("1.2.840.113549.2.9"), der(0x05))
    return der(0x30, oid("1.2.840.113549.1.5.12"), der(0x30, der(0x04, bytes(16)), integer(iterations), hmac_sha256))


class Keys(CliTest):
    def test_a_passphrase_kdf_that_asks_for_hours_is_refused_before_it_runs(self):
        """A key file is read before anything is signed: parameters that would keep the KDF busy for
        hours (scrypt N=p=2^15, r=2, within its memory bound; a billion PBKDF2 iterations) are refused at once, exit 2."""
        pkcs12 = der(0x30, oid("1.2.840.113549.1.12.1.3"), der(0x30, der(0x04, bytes(8)), integer(2 ** 31 - 1)))
        cases = {"scrypt-p": pbes2(scrypt(2 ** 15, 2, 2 ** 15)), "scrypt-n": pbes2(scrypt(2 ** 62, 8, 1)),
                 "scrypt-huge": pbes2(scrypt(2 ** 64 + 1, 2 ** 40, 2 ** 40)), "pbkdf2": pbes2(pbkdf2(10 ** 9)),
                 "pbkdf2-huge": pbes2(pbkdf2(2 ** 71)), "pkcs12": pkcs12}
        for name, algorithm in cases.items():
            with self.subTest(kdf=name):
                key = os.path.join(self.tmp, name + ".key")
                write(key, encrypted_key_pem(algorithm))
                os.chmod(key, 0o600)
                r = run("sign", self.model, "-k", key, env={"MODELSEAL_PASSPHRASE": PASS}, timeout=60)
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r, "passphrase KDF asks for too much work")
        # Ordinary parameters are tried (and here fail as a wrong passphrase: the data is zeros).
        for name, kdf in {"scrypt": scrypt(2 ** 14, 8, 1), "pbkdf2": pbkdf2(600000)}.items():
            with self.subTest(kdf=name):
                key = os.path.join(self.tmp, name + "-ok.key")
                write(key, encrypted_key_pem(pbes2(kdf)))
                os.chmod(key, 0o600)
                r = run("sign", self.model, "-k", key, env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r, "wrong passphrase, or the key is corrupt")
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_keygen_writes_private_key_0600_that_openssl_opens(self):
        for t in ("ed25519", "p256", "p384"):
            with self.subTest(type=t):
                prefix = os.path.join(self.tmp, "k-" + t)
                r = run("keygen", "-t", t, "-o", prefix, env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.assertNotIn(PASS, r.out + r.err)
                self.assertEqual(stat.S_IMODE(os.stat(prefix + ".key").st_mode), 0o600)
                with open(prefix + ".key") as f:
                    self.assertTrue(f.read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
                p = openssl("pkey", "-in", prefix + ".key", "-passin", "pass:" + PASS, "-pubout")
                self.assertEqual(p.returncode, 0, p)
                with open(prefix + ".pub", "rb") as f:
                    self.assertEqual(p.stdout, f.read())
                self.assertNotEqual(openssl("pkey", "-in", prefix + ".key", "-passin", "pass:wrong").returncode, 0)
                # and it signs something our verifier accepts
                r = run("sign", self.model, "-k", prefix + ".key", env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.verify(pub=prefix + ".pub")

    def test_openssl_genpkey_keys_load(self):
        plain = os.path.join(self.tmp, "plain.key")
        enc = os.path.join(self.tmp, "enc.key")
        self.assertEqual(openssl("genpkey", "-algorithm", "ed25519", "-out", plain).returncode, 0)
        self.assertEqual(openssl("genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:" + PASS,
                                 "-out", enc).returncode, 0)
        for key in (plain, enc):
            with self.subTest(key=os.path.basename(key)):
                os.chmod(key, 0o600)
                pub = key + ".pub"
                p = openssl("pkey", "-in", key, "-passin", "pass:" + PASS, "-pubout", "-out", pub)
                self.assertEqual(p.returncode, 0, p)
                r = run("sign", self.model, "-k", key, env={"MODELSEAL_PASSPHRASE": PASS})
                self.assertEqual(r.rc, 0, r)
                self.verify(pub=pub)

    def test_readable_by_others_is_refused(self):
        for mode in (0o640, 0o604, 0o644):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.key, mode)
                r = run("sign", self.model, "-k", self.key)
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r, "accessible by group or others")
                self.assertIn("hint: chmod 600", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.model, "model.sig")))

    def test_passphrase_file(self):
        prefix = os.path.join(self.tmp, "pf")
        pf = os.path.join(self.tmp, "pass.txt")
        write(pf, PASS + "\n")
        os.chmod(pf, 0o600)
        r = run("keygen", "-o", prefix, "--passphrase-file", pf)
        self.assertEqual(r.rc, 0, r)
        r = run("sign", self.model, "-k", prefix + ".key", "--passphrase-file", pf)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn(PASS, r.out + r.err)
        os.chmod(pf, 0o644)
        r = run("sign", self.model, "-k", prefix + ".key", "--passphrase-file", pf)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "passphrase file is accessible by group or others")

    def test_keygen_refuses_to_overwrite_and_needs_a_passphrase(self):
        r = run("keygen", "-o", os.path.join(self.tmp, "signer"), "--insecure-no-passphrase")
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "refusing to overwrite")
        r = run("keygen", "-o", os.path.join(self.tmp, "new"))  # no terminal, no passphrase
        self.assertEqual(r.rc, 2, r)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "new.key")))
        r = run("keygen", "-o", os.path.join(self.tmp, "new"), "-t", "rsa")
        self.assertEqual(r.rc, 2, r)

    def on_a_terminal(self, *argv):
        """Runs a tool with a terminal as its controlling tty and stdin; returns (status, all output)."""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            env = {k: v for k, v in os.environ.items() if k != "MODELSEAL_PASSPHRASE"}
            os.execve(argv[0], list(argv), env)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

    def test_keys_given_in_the_wrong_place(self):
        """A private key to -p and a public key to -k are named as such, even on a terminal, where
        OpenSSL would otherwise prompt for a PEM pass phrase (issue 16, item 4)."""
        self.sign()
        enc_prefix = os.path.join(self.tmp, "enc")
        r = run("keygen", "-o", enc_prefix, "-q", env={"MODELSEAL_PASSPHRASE": PASS})
        self.assertEqual(r.rc, 0, r)
        for private in (self.key, enc_prefix + ".key"):
            r = run("verify", self.model, "-p", private)
            self.assertEqual(r.rc, 2, r)
            self.assertIn("this is a private key, not a public key", r.err.splitlines()[0])
            self.assertIn("hint: give its public key", r.err)
            rc, out = self.on_a_terminal(tool("verify"), self.model, "-p", private)
            self.assertEqual(rc, 2, out)
            self.assertNotIn("pass phrase", out.lower())
            self.assertIn("this is a private key", out)
        sig = os.path.join(self.model, "model.sig")
        before = open(sig, "rb").read()
        r = run("sign", self.model, "-k", self.pub)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("this is a public key, not a private key", r.err.splitlines()[0])
        os.chmod(self.pub, 0o600)   # also when its mode would pass as a private key's
        r = run("sign", self.model, "-k", self.pub)
        self.assertEqual(r.rc, 2, r)
        self.assertIn("this is a public key, not a private key", r.err.splitlines()[0])
        self.assertEqual(open(sig, "rb").read(), before)   # nothing written

    def test_several_keys_in_one_envelope(self):
        k2, p2 = self.keygen("second", "p256")
        r = run("sign", self.model, "-k", self.key, "-k", k2)
        self.assertEqual(r.rc, 0, r)
        self.verify()
        self.verify(pub=p2)
        r = run("inspect", os.path.join(self.model, "model.sig"))
        self.assertEqual(r.out.count("signature:"), 2, r)
        r = run("sign", self.model, "-k", self.key, "-k", self.key)
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "the same key was given twice")


if __name__ == "__main__":
    unittest.main()

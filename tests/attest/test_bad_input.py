"""Bad layouts and attestation bundles, fed to the real `chain verify`: truncated, garbage, deep
nesting, wrong types, huge. Each gets one error line and exit 1, never a crash or a hang; a bad
payload inside a correctly signed envelope is reported against the step (and listed as ignored)."""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import BUNDLES, ChainTest, read_lines, sign_envelope  # noqa: E402

try:
    import cryptography  # noqa: F401
    HAVE_CRYPTO = True
except ImportError:
    HAVE_CRYPTO = False

LAYOUT_TYPE = "application/vnd.modelseal.layout+json"
INTOTO = "application/vnd.in-toto+json"


def variants(good):
    """Bad versions of a good DSSE envelope file (bytes)."""
    env = json.loads(good)
    yield "empty", b""
    yield "truncated", good[: len(good) // 2]
    yield "truncated-by-one", good.rstrip()[:-1]
    yield "garbage", os.urandom(4096)
    yield "nul-bytes", b"\0" * 100
    yield "deep-nesting", b"[" * 100000 + b"]" * 100000
    yield "deep-object", b'{"a":' * 5000 + b"1" + b"}" * 5000
    yield "array", b"[]"
    yield "number", b"12"
    for field, value in [("payload", 5), ("payload", "not base64!"), ("payloadType", None), ("signatures", {}),
                         ("signatures", []), ("signatures", [{"sig": 7}]), ("signatures", [{"sig": ""}]),
                         ("signatures", [{"sig": "AAAA"}] * 65)]:
        bad = dict(env, **{field: value})
        yield f"wrong-{field}-{json.dumps(value)[:12]}", json.dumps(bad).encode()
    yield "repeated-key", good.replace(b'"payloadType"', b'"payloadType": "x", "payloadType"', 1)
    yield "missing-signatures", json.dumps({k: v for k, v in env.items() if k != "signatures"}).encode()


class BadLayout(ChainTest):
    def good(self):
        with open(self.p("release.layout.dsse.json"), "rb") as f:
            return f.read()

    def check(self, name, data, needle="release.bad.json"):
        with open(self.p("release.bad.json"), "wb") as f:
            f.write(data)
        with self.subTest(name):
            r = self.verify(layout="release.bad.json")
            self.assertFails(r, needle)
            self.assertEqual(r.out, "")   # nothing is reported about steps when the layout is bad

    def test_envelope_variants(self):
        for name, data in variants(self.good()):
            self.check(name, data)

    def test_huge(self):
        with open(self.p("release.bad.json"), "wb") as f:
            f.truncate(1 << 30)   # sparse: refused by its size, never read
        r = self.verify(layout="release.bad.json")
        self.assertFails(r, "too large")

    def test_wrong_payload_type(self):
        env = json.loads(self.good())
        env["payloadType"] = INTOTO
        self.check("in-toto payload type", json.dumps(env).encode(), "not a layout")

    @unittest.skipUnless(HAVE_CRYPTO, "python3-cryptography is missing")
    def test_signed_bad_payloads(self):
        """Authenticated by the owner, but not a valid layout: still exit 1, one line."""
        good_payload = json.loads(base64.b64decode(json.loads(self.good())["payload"]))
        payloads = {
            "garbage": os.urandom(256),
            "truncated": json.dumps(good_payload).encode()[:300],
            "deep": b"[" * 10000 + b"]" * 10000,
            "steps-wrong-type": json.dumps(dict(good_payload, steps="all")).encode(),
            "threshold-string": json.dumps(dict(good_payload, owners={"keys": ["owner"], "threshold": "1"})).encode(),
            "unknown-field": json.dumps(dict(good_payload, extra=1)).encode(),
            "huge-number": json.dumps(dict(good_payload, owners={"keys": ["owner"]})).encode().replace(
                b'"owners": {', b'"owners": {"threshold": 1' + b"0" * 400 + b", ", 1),
        }
        for name, payload in payloads.items():
            env = sign_envelope(payload, LAYOUT_TYPE, [self.p("keys", "owner.key")])
            self.check(name, json.dumps(env).encode())


class BadAttestations(ChainTest):
    def check(self, name, data, needle):
        with open(self.p("bad.intoto.jsonl"), "wb") as f:
            f.write(data)
        with self.subTest(name):
            r = self.verify(bundles=BUNDLES + ["bad.intoto.jsonl"])
            self.assertFails(r, needle)

    def test_line_variants(self):
        good = read_lines(self.p("bert.intoto.jsonl"))[0]
        for name, data in variants(good):
            if data.strip():
                self.check(name, good + b"\n" + data.replace(b"\n", b" ") + b"\n", "bad.intoto.jsonl:2")

    def test_empty_bundle_and_blank_lines_are_fine(self):
        with open(self.p("bad.intoto.jsonl"), "wb") as f:
            f.write(b"\n  \n")
        r = self.verify(bundles=BUNDLES + ["bad.intoto.jsonl"])
        self.assertEqual(r.rc, 0, r)

    def test_huge(self):
        with open(self.p("bad.intoto.jsonl"), "wb") as f:
            f.truncate(1 << 30)
        self.assertFails(self.verify(bundles=BUNDLES + ["bad.intoto.jsonl"]), "too large")
        with open(self.p("bad.intoto.jsonl"), "wb") as f:
            f.write(b'{"payload":"' + b"A" * (5 << 20) + b'"}\n')
        self.assertFails(self.verify(bundles=BUNDLES + ["bad.intoto.jsonl"]), "bad.intoto.jsonl:1", "too long")

    def test_not_a_file(self):
        os.mkfifo(self.p("fifo.intoto.jsonl"))
        self.assertFails(self.verify(bundles=BUNDLES + ["fifo.intoto.jsonl"]), "not a regular file", rc=3)

    @unittest.skipUnless(HAVE_CRYPTO, "python3-cryptography is missing")
    def test_signed_bad_statements(self):
        """Signed by a layout key but not a usable statement: the step fails and the line is listed."""
        subject = [{"name": "bert", "digest": {"sha256": "0" * 64}}]
        payloads = {
            "garbage": os.urandom(200),
            "deep": b"[" * 10000 + b"]" * 10000,
            "wrong-type": json.dumps({"_type": "https://example.com/other", "subject": subject,
                                      "predicateType": "x", "predicate": {}}).encode(),
            "subject-not-list": json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": "bert",
                                            "predicateType": "x", "predicate": {}}).encode(),
            "predicate-string": json.dumps({"_type": "https://in-toto.io/Statement/v1", "subject": subject,
                                            "predicateType": "x", "predicate": "safe"}).encode(),
            "bad-digest": json.dumps({"_type": "https://in-toto.io/Statement/v1",
                                      "subject": [{"name": "b", "digest": {"sha256": "zz"}}],
                                      "predicateType": "x", "predicate": {}}).encode(),
        }
        lines = read_lines(self.p("bert.intoto.jsonl"))
        kept = [l for l in lines if b"modelseal.dev/scan" not in base64.b64decode(json.loads(l)["payload"])]
        for name, payload in payloads.items():
            with self.subTest(name):
                env = sign_envelope(payload, INTOTO, [self.p("keys", "scanner.key")])
                with open(self.p("bert.intoto.jsonl"), "wb") as f:
                    f.write(b"".join(l + b"\n" for l in kept) + json.dumps(env).encode() + b"\n")
                r = self.verify()
                self.assertFails(r, "step scan")
                self.assertIn(f"ignored bert.intoto.jsonl:{len(kept) + 1}: bert.intoto.jsonl:{len(kept) + 1}", r.out)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""The audit log: every sign/verify/attest/chain decision appends a hash-chained line; `audit
verify` names an edited, inserted, deleted or reordered line; concurrent writers keep the chain."""
import json
import os
import subprocess
import sys
import unittest

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cli"))
from harness import SCHEMAS, CliTest, run, tool, write  # noqa: E402


def schema(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return jsonschema.Draft202012Validator(json.load(f))


class Audit(CliTest):
    def setUp(self):
        super().setUp()
        self.log = os.path.join(self.tmp, "audit.jsonl")

    def lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def test_decisions_are_logged_and_valid(self):
        self.sign(None, "--audit-log", self.log)
        self.verify(None, "--audit-log", self.log)
        write(os.path.join(self.model, "config.json"), b"{}")
        self.verify(None, "--audit-log", self.log, expect=1)
        r = run("attest", self.model, "-k", self.key, "--approve", "1.0", "--approver", "qa",
                env={"MODELSEAL_AUDIT_LOG": self.log})
        self.assertEqual(r.rc, 0, r)
        lines = [json.loads(l) for l in self.lines()]
        self.assertEqual([l["tool"] for l in lines], ["sign", "verify", "verify", "attest"])
        self.assertEqual([l["decision"] for l in lines], ["ok", "ok", "fail", "ok"])
        self.assertEqual([l["seq"] for l in lines], [1, 2, 3, 4])
        self.assertIn("config.json: modified", lines[2]["reason"])
        self.assertEqual(lines[0]["model_digest"], lines[1]["model_digest"])
        self.assertEqual(len(lines[1]["keyids"]), 1)
        v = schema("audit-line.schema.json")
        for l in lines:
            v.validate(l)
        r = run("audit", "verify", self.log, "--json")
        self.assertEqual(r.rc, 0, r)
        schema("audit-report.schema.json").validate(json.loads(r.out))

    def tampered(self, lines, expect_line):
        write(self.log, "\n".join(lines) + "\n")
        r = run("audit", "verify", self.log)
        self.assertEqual(r.rc, 1, r)
        self.assertIn(f"line {expect_line}:", r.out)
        r = run("audit", "verify", self.log, "--json")
        schema("audit-report.schema.json").validate(json.loads(r.out))

    def test_tampering_is_detected_and_named(self):
        self.sign()
        for _ in range(5):
            self.verify(None, "--audit-log", self.log)
        good = self.lines()
        r = run("audit", "verify", self.log)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("OK (5 lines)", r.out)
        edited = list(good)
        edited[2] = edited[2].replace('"decision":"ok"', '"decision":"fail"')
        self.tampered(edited, 4)  # line 3 edited: line 4's prev no longer matches
        self.tampered(good[:2] + [good[1]] + good[2:], 3)                   # inserted
        self.tampered(good[:2] + good[3:], 3)                               # deleted
        self.tampered(good[:1] + [good[2], good[1]] + good[3:], 2)          # reordered
        self.tampered(good[:4] + ["not json"], 5)                           # garbage

    def test_concurrent_writers_keep_one_chain(self):
        self.sign()
        procs = [subprocess.Popen([tool("verify"), self.model, "-p", self.pub, "-q", "--audit-log", self.log])
                 for _ in range(32)]
        self.assertEqual([p.wait() for p in procs], [0] * 32)
        r = run("audit", "verify", self.log)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("OK (32 lines)", r.out)

    def test_unwritable_log_fails_the_run(self):
        self.sign()
        os.mkdir(self.log)  # a directory cannot be appended to
        r = run("verify", self.model, "-p", self.pub, "--audit-log", self.log)
        self.assertEqual(r.rc, 3, r)
        self.assertIn("cannot open audit log", r.err)


if __name__ == "__main__":
    unittest.main()

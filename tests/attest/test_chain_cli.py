"""modelseal attest / chain through the real programs: the example chain verifies, and each way a
release can go wrong fails with exit 1 and a message naming the step."""
import base64
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import (APPROVAL, BUNDLES, EVAL, PROVENANCE, SCAN, ChainTest, drop, read_lines, run,  # noqa: E402
                      schema_validator, sign_envelope, statement_of, write_lines)

PREDICATE_SCHEMAS = {
    PROVENANCE: "predicate-slsa-provenance-v1.schema.json",
    EVAL: "predicate-test-result-v0.1.schema.json",
    APPROVAL: "predicate-release-approval-v1.schema.json",
    SCAN: "predicate-scan-v1.schema.json",
}


class Complete(ChainTest):
    def test_example_chain_verifies(self):
        r = self.verify()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.err, "")
        steps = [l for l in r.out.splitlines() if l.startswith("step ")]
        self.assertEqual(len(steps), 6, r)   # training, 2 datasets, scan, evaluation, approval
        self.assertTrue(all(": OK (" in l for l in steps), r)
        self.assertIn("step approval", r.out)
        self.assertIn("2 of 2: signed by alice", r.out)
        self.assertTrue(r.out.endswith("chain: OK\n"), r)

    def test_json_report_matches_schema(self):
        validator = schema_validator("chain-report.schema.json")
        ok = self.verify("--json")
        self.assertEqual(ok.rc, 0, ok)
        report = json.loads(ok.out)
        validator.validate(report)
        self.assertEqual(report["status"], "ok")
        self.assertEqual([s["step"] for s in report["steps"]],
                         ["training", "datasets", "datasets", "scan", "evaluation", "approval"])
        with open(self.p("bert", "model.safetensors"), "ab") as f:
            f.write(b"x")
        bad = self.verify("--json")
        self.assertEqual(bad.rc, 1, bad)
        report = json.loads(bad.out)
        validator.validate(report)
        self.assertEqual(report["exitCode"], 1)
        self.assertFalse(report["steps"][0]["ok"])

    def test_written_documents_match_schemas(self):
        envelope = schema_validator("attestation-envelope.schema.json")
        statement = schema_validator("attestation-statement.schema.json")
        seen = set()
        for bundle in BUNDLES:
            for line in read_lines(self.p(bundle)):
                envelope.validate(json.loads(line))
                st = statement_of(line)
                statement.validate(st)
                if st["predicateType"] in PREDICATE_SCHEMAS:
                    schema_validator(PREDICATE_SCHEMAS[st["predicateType"]]).validate(st["predicate"])
                    seen.add(st["predicateType"])
        self.assertEqual(seen, set(PREDICATE_SCHEMAS))
        layout = schema_validator("layout.schema.json")
        with open(self.p("release.layout.json")) as f:
            layout.validate(json.load(f))               # as written by hand, keys by path
        with open(self.p("release.layout.dsse.json")) as f:
            signed = json.load(f)
        layout.validate(json.loads(base64.b64decode(signed["payload"])))   # as signed, keys by PEM

    def test_attest_json_prints_the_signed_statement(self):
        statement = schema_validator("attestation-statement.schema.json")
        r = self.attest("bert", "-k", "keys/carol.key", "--approve", "2.1.0", "--approver", "carol", "--json")
        st = json.loads(r.out)
        statement.validate(st)
        schema_validator(PREDICATE_SCHEMAS[APPROVAL]).validate(st["predicate"])
        self.assertEqual(statement_of(read_lines(self.p("bert.intoto.jsonl"))[-1]), st)
        digest = run("digest", "bert", cwd=self.d)
        self.assertEqual("sha256:" + st["subject"][0]["digest"]["sha256"] + "\n", digest.out)

    def test_provenance_links_datasets_and_base_model_by_digest(self):
        prov = [statement_of(l) for l in read_lines(self.p("bert.intoto.jsonl"))
                if statement_of(l)["predicateType"] == PROVENANCE][0]["predicate"]
        deps = prov["buildDefinition"]["resolvedDependencies"]
        for dep, path in zip(deps, ["datasets/wiki-2024", "datasets/code-2024", "base-model"]):
            self.assertEqual("sha256:" + dep["digest"]["sha256"] + "\n", run("digest", path, cwd=self.d).out)
        self.assertEqual([d["annotations"]["modelseal.role"] for d in deps], ["dataset", "dataset", "base-model"])
        self.assertEqual(prov["buildDefinition"]["externalParameters"]["epochs"], 3)
        self.assertEqual(prov["runDetails"]["metadata"]["startedOn"], "2026-03-01T08:00:00Z")

    def test_unmentioned_attestations_are_ignored_and_listed(self):
        with open(self.p("notes.json"), "w") as f:
            json.dump({"note": "hello"}, f)
        self.attest("bert", "-k", "keys/carol.key", "--predicate-type", "https://example.org/notes/v1",
                    "--predicate", "notes.json")
        self.attest("--file", "notes.json", "-k", "keys/scanner.key", "-o", "bert.intoto.jsonl",
                    "--predicate-type", SCAN, "--predicate", "scan.json")
        r = self.verify()
        self.assertEqual(r.rc, 0, r)
        self.assertIn("ignored bert.intoto.jsonl:6: predicate type https://example.org/notes/v1 is not in the layout",
                      r.out)
        self.assertIn("ignored bert.intoto.jsonl:7: about notes.json", r.out)

    def test_default_bundle_is_beside_the_model(self):
        r = run("chain", "verify", "bert", "--layout", "release.layout.dsse.json", "--layout-key", "keys/owner.pub",
                cwd=self.d)
        self.assertFails(r, "step datasets")   # bert.intoto.jsonl only: the dataset attestations are elsewhere


class Failures(ChainTest):
    def test_mix_and_match_eval_of_another_model(self):
        os.makedirs(self.p("bert-v2"))
        for name in ("config.json", "model.safetensors"):
            with open(self.p("bert", name), "rb") as src, open(self.p("bert-v2", name), "wb") as dst:
                dst.write(src.read() + (b"v2" if name == "model.safetensors" else b""))
        self.attest("bert-v2", "-k", "keys/evaluator.key", "--eval", "--metric", "accuracy=0.97")
        drop(self.p("bert.intoto.jsonl"), EVAL)
        other = read_lines(self.p("bert-v2.intoto.jsonl"))
        write_lines(self.p("bert.intoto.jsonl"), read_lines(self.p("bert.intoto.jsonl")) + other)
        self.assertFails(self.verify(), "step evaluation", "about other artifacts")

    def test_dataset_without_its_own_attestation(self):
        err = self.assertFails(self.verify(bundles=BUNDLES[:2]), "step datasets")
        self.assertIn("code-2024", self.verify(bundles=BUNDLES[:2]).out)
        self.assertNotIn("wiki-2024", err)

    def test_step_signed_by_a_key_not_allowed_for_it(self):
        drop(self.p("bert.intoto.jsonl"), SCAN)
        self.attest("bert", "-k", "keys/trainer.key", "--predicate-type", SCAN, "--predicate", "scan.json")
        self.assertFails(self.verify(), "step scan", "signed by trainer, not allowed for this step")

    def test_key_outside_the_layout(self):
        run("keygen", "-q", "--insecure-no-passphrase", "-o", "keys/mallory", cwd=self.d)
        drop(self.p("bert.intoto.jsonl"), SCAN)
        self.attest("bert", "-k", "keys/mallory.key", "--predicate-type", SCAN, "--predicate", "scan.json")
        r = self.verify()
        self.assertFails(r, "step scan")
        self.assertIn("not signed by any key in the layout", r.out)

    def test_threshold_two_with_one_key_signing_twice(self):
        drop(self.p("bert.intoto.jsonl"), APPROVAL, keep=lambda st: st["predicate"]["approver"] != "bob@example.com")
        self.attest("bert", "-k", "keys/alice.key", "--approve", "2.1.0", "--approver", "bob@example.com")
        self.assertFails(self.verify(), "step approval", "threshold is 2")

    def test_threshold_two_with_one_signature_repeated(self):
        drop(self.p("bert.intoto.jsonl"), APPROVAL, keep=lambda st: st["predicate"]["approver"] != "bob@example.com")
        lines = read_lines(self.p("bert.intoto.jsonl"))
        i = [statement_of(l)["predicateType"] for l in lines].index(APPROVAL)
        env = json.loads(lines[i])
        env["signatures"] = env["signatures"] * 2          # alice's signature twice in one envelope
        lines[i] = json.dumps(env).encode()
        write_lines(self.p("bert.intoto.jsonl"), lines)
        self.assertFails(self.verify(), "step approval", "threshold is 2")

    def test_same_key_twice_on_the_command_line_is_refused(self):
        r = run("attest", "bert", "-k", "keys/alice.key", "-k", "keys/alice.key", "--approve", "2.1.0",
                "--approver", "alice", cwd=self.d)
        self.assertFails(r, "same key", rc=2)

    def test_expired_layout(self):
        with open(self.p("release.layout.json")) as f:
            layout = json.load(f)
        layout["expires"] = "2024-01-01T00:00:00Z"
        with open(self.p("release.layout.json"), "w") as f:
            json.dump(layout, f)
        r = run("chain", "sign-layout", "release.layout.json", "-k", "keys/owner.key", "-o", "old.dsse.json",
                cwd=self.d)
        self.assertEqual(r.rc, 0, r)
        self.assertFails(self.verify(layout="old.dsse.json"), "layout", "expired at 2024-01-01T00:00:00Z")

    def test_layout_signed_by_a_non_owner(self):
        r = run("chain", "sign-layout", "release.layout.json", "-k", "keys/trainer.key", "-o", "t.dsse.json",
                cwd=self.d)
        self.assertFails(r, "owners", rc=2)            # sign-layout checks its own output
        self.assertFalse(os.path.exists(self.p("t.dsse.json")))
        with open(self.p("release.layout.dsse.json")) as f:
            payload = base64.b64decode(json.load(f)["payload"])
        env = sign_envelope(payload, "application/vnd.modelseal.layout+json", [self.p("keys", "trainer.key")])
        with open(self.p("t.dsse.json"), "w") as f:
            json.dump(env, f)
        self.assertFails(self.verify(layout="t.dsse.json"), "layout", "not signed by a trusted layout key")
        # Trusting the trainer's key for layouts is not enough: the layout names its owners.
        self.assertFails(self.verify(layout="t.dsse.json", layout_key="keys/trainer.pub"), "layout", "owners")

    def test_attestation_payload_edited_after_signing(self):
        lines = read_lines(self.p("bert.intoto.jsonl"))
        i = [statement_of(l)["predicateType"] for l in lines].index(EVAL)
        env = json.loads(lines[i])
        payload = base64.b64decode(env["payload"]).replace(b"0.93", b"0.99")
        env["payload"] = base64.b64encode(payload).decode()
        lines[i] = json.dumps(env).encode()
        write_lines(self.p("bert.intoto.jsonl"), lines)
        r = self.verify()
        self.assertFails(r, "step evaluation")
        self.assertIn(f"ignored bert.intoto.jsonl:{i + 1}: not signed by any key in the layout", r.out)

    def test_eval_below_the_bar(self):
        drop(self.p("bert.intoto.jsonl"), EVAL)
        self.attest("bert", "-k", "keys/evaluator.key", "--eval", "--metric", "accuracy=0.85",
                    "--threshold", "accuracy>=0.8")
        self.assertFails(self.verify(), "step evaluation", "predicate.metrics.accuracy.value is 0.85",
                         "requires predicate.metrics.accuracy.value >= 0.9")

    def test_eval_that_failed_its_own_threshold(self):
        drop(self.p("bert.intoto.jsonl"), EVAL)
        self.attest("bert", "-k", "keys/evaluator.key", "--eval", "--metric", "accuracy=0.95",
                    "--metric", "loss=0.5", "--threshold", "loss<=0.3")
        self.assertFails(self.verify(), "step evaluation", 'predicate.result is "FAILED"')

    def test_missing_step(self):
        drop(self.p("bert.intoto.jsonl"), SCAN)
        line = self.assertFails(self.verify(), "step scan", "no attestation of type https://modelseal.dev/scan/v1")
        # It says what was read and what to pass.
        self.assertIn("in the 3 bundles read (bert.intoto.jsonl, datasets/code-2024.intoto.jsonl, "
                      "datasets/wiki-2024.intoto.jsonl)", line)
        self.assertIn("pass the bundle of step scan with --attestations", line)

    def test_model_changed_on_disk(self):
        with open(self.p("bert", "model.safetensors"), "ab") as f:
            f.write(b"\0")
        r = self.verify()
        self.assertFails(r, "step training", "about other artifacts")
        self.assertIn("step approval", r.out)
        self.assertNotIn(": OK", "".join(l for l in r.out.splitlines() if l.startswith("step ")))

    def test_new_file_in_model(self):
        with open(self.p("bert", "extra.py"), "w") as f:
            f.write("import os\n")
        self.assertFails(self.verify(), "step training")

    def test_file_renamed_or_moved_into_a_folder(self):
        # Same contents in the same order: the OMS root digest stays, but the model loads otherwise.
        def root():
            r = run("digest", "bert", cwd=self.d)
            self.assertEqual(r.rc, 0, r)
            return r.out
        before = root()
        os.rename(self.p("bert", "model.safetensors"), self.p("bert", "model.bin"))
        self.assertEqual(root(), before)
        self.assertFails(self.verify(), "step training", "renamed or moved since it was attested")
        os.mkdir(self.p("bert", "weights"))   # sorts after config.json, as model.safetensors does
        os.rename(self.p("bert", "model.bin"), self.p("bert", "weights", "model.safetensors"))
        self.assertEqual(root(), before)
        self.assertFails(self.verify(), "step training", "renamed or moved since it was attested")

    def test_wrong_predicate_field(self):
        drop(self.p("bert.intoto.jsonl"), APPROVAL)
        for who in ("alice", "bob"):
            self.attest("bert", "-k", f"keys/{who}.key", "--approve", "2.0.0", "--approver", who)
        self.assertFails(self.verify(), "step approval", 'predicate.version is "2.0.0"')


class Usage(ChainTest):
    def test_attest_usage_errors(self):
        cases = [
            (["bert", "-k", "keys/alice.key"], "no predicate"),
            (["bert", "-k", "keys/alice.key", "--eval", "--approve", "1"], "only one kind"),
            (["bert", "-k", "keys/alice.key", "--approve", "1", "--metric", "a=1"], "--eval"),
            (["bert", "-k", "keys/alice.key", "--eval", "--metric", "acc"], "NAME=VALUE"),
            (["bert", "-k", "keys/alice.key", "--eval", "--metric", "acc=1", "--threshold", "f1>=2"], "unknown metric"),
            (["bert", "-k", "keys/alice.key", "--eval", "--metric", "acc=0.1", "--threshold", "acc>=0.5",
              "--result", "PASSED"], "contradicts"),
            (["bert", "-k", "keys/alice.key", "--provenance", "--build-type", "x", "--builder-id", "y"], "start time"),
            (["bert", "-k", "keys/alice.key", "--provenance", "--build-type", "x", "--builder-id", "y",
              "--started", "yesterday"], "RFC 3339"),
            (["bert", "-k", "keys/alice.key", "--predicate-type", "x"], "--predicate FILE"),
            (["bert", "-k", "keys/alice.key", "--predicate-type", "x", "--predicate", "release.layout.json",
              "--approver", "a"], "--approve"),
            (["-k", "keys/alice.key", "--approve", "1", "--approver", "a"], "no subject"),
            (["bert"], "--key"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                self.assertFails(run("attest", *args, cwd=self.d), needle, rc=2)
        with open(self.p("list.json"), "w") as f:
            f.write("[1, 2]")
        self.assertFails(run("attest", "bert", "-k", "keys/alice.key", "--predicate-type", "x", "--predicate",
                             "list.json", cwd=self.d), "not a JSON object", rc=2)
        self.assertEqual(len(read_lines(self.p("bert.intoto.jsonl"))), 5)   # nothing was appended

    def test_io_errors(self):
        self.assertFails(run("attest", "no-such-model", "-k", "keys/alice.key", "--approve", "1", "--approver",
                             "a", cwd=self.d), rc=3)
        self.assertFails(self.verify(bundles=["missing.intoto.jsonl"]), "missing.intoto.jsonl", rc=3)
        self.assertFails(self.verify(layout="missing.dsse.json"), "missing.dsse.json", rc=3)

    def test_chain_usage_errors(self):
        self.assertFails(run("chain", cwd=self.d), rc=2)
        self.assertFails(run("chain", "verify", "bert", "--layout", "release.layout.dsse.json", cwd=self.d),
                         "--layout-key", rc=2)
        self.assertFails(run("chain", "sign-layout", "release.layout.json", "-k", "keys/owner.key", "-o",
                             "release.layout.dsse.json", cwd=self.d), "refusing to overwrite", rc=2)
        with open(self.p("bad.layout.json"), "w") as f:
            f.write('{"_type": "https://modelseal.dev/layout/v1", "expires": "2030-01-01T00:00:00Z"}')
        self.assertFails(run("chain", "sign-layout", "bad.layout.json", "-k", "keys/owner.key", cwd=self.d),
                         "keys", rc=2)

    def test_help(self):
        for name in ("attest", "chain"):
            r = run(name, "--help")
            self.assertEqual(r.rc, 0, r)
            self.assertIn("Example:", r.out)

    def test_damaged_bundle_is_not_appended_to(self):
        path = self.p("bert.intoto.jsonl")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:-40])
        r = run("attest", "bert", "-k", "keys/carol.key", "--approve", "2.1.0", "--approver", "carol", cwd=self.d)
        self.assertFails(r, "does not end with a newline")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data[:-40])


if __name__ == "__main__":
    unittest.main(verbosity=2)

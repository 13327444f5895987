#!/usr/bin/python3
"""Runs modelseal-scan over the generated corpus and checks verdicts, exit codes and --json.

    test_scan_corpus.py MODELSEAL_SCAN SCHEMA_JSON
"""
import json
import os
import stat
import subprocess
import sys
import tempfile

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)
import gen_corpus  # noqa: E402

failures = []
SANITIZED = os.environ.get("MODELSEAL_SANITIZED") == "1"


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(scan, *args):
    p = subprocess.run([scan, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def describe(report):
    lines = ["%s: %s [%s]" % (f["severity"], f["what"], f.get("member", "")) for f in report["findings"]]
    if "error" in report:
        lines.append("error: " + report["error"])
    return "\n".join(lines)


def main():
    scan, schema_path = sys.argv[1], sys.argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus")
        os.makedirs(corpus)
        expected = []
        for name, data, verdict, fmt, expect in gen_corpus.build():
            path = os.path.join(corpus, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            expected.append((name, verdict, fmt, expect))

        # The whole corpus at once: recursive, sorted, fails closed, one report per file.
        rc, out, err = run(scan, "--json", corpus)
        doc = json.loads(out)
        if list(validator.iter_errors(doc)):
            fail("directory report does not match the schema")
        paths = [f["path"] for f in doc["files"]]
        if paths != sorted(paths):
            fail("directory report is not sorted")
        if len(paths) != len(expected):
            fail("directory scan found %d files, expected %d" % (len(paths), len(expected)))
        if rc != 1 or doc["summary"]["passed"]:
            fail("directory with malicious files: exit %d" % rc)
        in_directory = {f["path"]: f for f in doc["files"]}

        # Every file: verdict, format and findings. Then every file alone: exit status, schema, and
        # the same report as in the directory. Under sanitizers (a process start costs 10x) only
        # the first file of each verdict and format runs alone; every file's parsing is still
        # checked there through the directory scan.
        alone_classes, alone_runs = set(), 0
        for name, verdict, fmt, expect in expected:
            path = os.path.join(corpus, name)
            report = in_directory.get(path)
            if report is None:
                fail("%s: not in the directory report" % name)
                continue
            text = describe(report)
            if verdict == "not-unsafe":
                if report["verdict"] == "unsafe":
                    fail("%s: flagged\n%s" % (name, text))
            elif report["verdict"] != verdict:
                fail("%s: verdict %s, expected %s\n%s" % (name, report["verdict"], verdict, text))
            if fmt and report["format"] != fmt:
                fail("%s: format %s, expected %s" % (name, report["format"], fmt))
            if expect and expect not in text:
                fail("%s: no finding mentions %r:\n%s" % (name, expect, text))

            if SANITIZED and (verdict, fmt) in alone_classes:
                continue
            alone_classes.add((verdict, fmt))
            alone_runs += 1
            rc, out, err = run(scan, "--json", path)
            try:
                alone = json.loads(out)
            except ValueError:
                fail("%s: output is not JSON (exit %d): %s %s" % (name, rc, out[:200], err[:200]))
                continue
            errors = list(validator.iter_errors(alone))
            if errors:
                fail("%s: report does not match the schema: %s" % (name, errors[0].message))
            if alone["files"] != [report]:
                fail("%s: alone, the report differs from the directory's:\n%s" % (name, describe(alone["files"][0])))
            want_rc = 1 if report["verdict"] == "unsafe" else 0
            if rc != want_rc:
                fail("%s: exit %d, expected %d" % (name, rc, want_rc))

        rc, out, err = run(scan, os.path.join(corpus, "benign"), os.path.join(corpus, "other"))
        if rc != 0:
            fail("benign directories: exit %d\n%s" % (rc, out))
        if "benign/plain_p0.pkl: safe (pickle)" not in out:
            fail("human output lacks a per-file line: " + out[:300])
        rc, out, err = run(scan, os.path.join(corpus, "malicious", "os_system_p4.pkl"))
        if rc != 1 or "unsafe" not in out or "critical" not in out:
            fail("human output for a malicious file: exit %d: %s" % (rc, out))

        # Exit statuses of DESIGN §7 and the shape of error lines.
        rc, out, err = run(scan)
        if rc != 2 or not err.startswith("modelseal: "):
            fail("no arguments: exit %d, stderr %r" % (rc, err))
        rc, out, err = run(scan, "--no-such-flag", corpus)
        if rc != 2:
            fail("unknown flag: exit %d" % rc)
        missing = os.path.join(tmp, "missing.pt")
        rc, out, err = run(scan, missing)
        if rc != 3 or not err.startswith("modelseal: ") or missing not in err:
            fail("missing file: exit %d, stderr %r" % (rc, err))
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        rc, out, err = run(scan, "--json", fifo)  # must not hang (run() has a timeout)
        if rc != 1 or "not a regular file" not in out:
            fail("fifo: exit %d: %s" % (rc, out))
        os.unlink(fifo)
        rc, out, err = run(scan, "-q", os.path.join(corpus, "benign"))
        if rc != 0 or out.strip():
            fail("--quiet on safe files prints %r" % out)
        rc, out, err = run(scan, "--help")
        if rc != 0 or "--json" not in out:
            fail("--help: exit %d" % rc)

    print("%d corpus files checked, %d of them alone, %d failures" % (len(expected), alone_runs, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

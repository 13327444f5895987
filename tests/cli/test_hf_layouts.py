"""Hugging Face layouts (issue 16): a cache snapshot (snapshots/REV/FILE -> ../../blobs/SHA) of a
model signed as regular files verifies with --hf-cache, in `verify` and under the loader shim
(MODELSEAL_HF_CACHE=1); a link that leaves the cache's own blobs/ is refused; the metadata that
`hf download --local-dir` writes is left out when signing; and a failure caused by a layout
rather than an attack names the flag that fixes it."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import SHARED, SHIM, CliTest, run, shim_preload, write  # noqa: E402


class HfLayouts(CliTest):
    def make_cache(self):
        """REPO/blobs/SHA and REPO/snapshots/REV/NAME -> relative links into blobs/, with the
        signature made over a regular copy (as the publisher signed it)."""
        self.sign()
        self.repo = os.path.join(self.tmp, "hub", "models--org--tiny")
        self.snap = os.path.join(self.repo, "snapshots", "0123abcd")
        blobs = os.path.join(self.repo, "blobs")
        os.makedirs(blobs)
        write(os.path.join(self.repo, "refs", "main"), "0123abcd")
        for name, data in self.FILES.items():
            sha = hashlib.sha256(data).hexdigest()
            write(os.path.join(blobs, sha), data)
            link = os.path.join(self.snap, name)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(os.path.relpath(os.path.join(blobs, sha), os.path.dirname(link)), link)
        shutil.copy(os.path.join(self.model, "model.sig"), os.path.join(self.snap, "model.sig"))
        self.blob_of = lambda name: os.path.join(blobs, hashlib.sha256(self.FILES[name]).hexdigest())

    def test_cache_snapshot_verifies_with_the_flag(self):
        self.make_cache()
        r = run("verify", self.snap, "-p", self.pub, "--model-name", "model")
        self.assertEqual(r.rc, 1, r)
        self.assertOneLineError(r, "symlink")
        self.assertIn("hint: this is a Hugging Face cache snapshot: --hf-cache", r.err)
        r = run("verify", self.snap, "-p", self.pub, "--model-name", "model", "--hf-cache", "-v")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("config.json: OK", r.out)

    def test_links_that_leave_the_blobs_are_refused(self):
        self.make_cache()
        cfg = os.path.join(self.snap, "config.json")
        outside = os.path.join(self.tmp, "outside.json")
        write(outside, self.FILES["config.json"])   # the right bytes, but outside the cache
        evil_blob = os.path.join(self.repo, "blobs", "evil")
        os.symlink(outside, evil_blob)               # a "blob" that is itself a link out
        for target in [outside, evil_blob, os.path.join(self.repo, "refs", "main"), "../../blobs/../../../outside.json",
                       "/dev/null", "../../blobs"]:
            with self.subTest(target=target):
                os.remove(cfg)
                os.symlink(target, cfg)
                r = run("verify", self.snap, "-p", self.pub, "--model-name", "model", "--hf-cache", "-v")
                self.assertEqual(r.rc, 1, r)
                self.assertIn("config.json: FAILED (", r.out)
        # A link to another file's blob is a modified file.
        os.remove(cfg)
        os.symlink(self.blob_of("tokenizer/vocab.txt"), cfg)
        r = run("verify", self.snap, "-p", self.pub, "--model-name", "model", "--hf-cache", "-v")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("config.json: FAILED (modified", r.out)
        # --hf-cache on a folder that is not a snapshot is a usage error.
        r = run("verify", self.model, "-p", self.pub, "--hf-cache")
        self.assertEqual(r.rc, 2, r)
        self.assertOneLineError(r, "not a snapshot folder of a Hugging Face cache")

    def test_shim_follows_links_into_blobs_only_when_asked(self):
        if not os.path.exists(SHIM):
            self.skipTest("no shim")
        self.make_cache()
        policy = os.path.join(self.tmp, "policy.json")
        write(policy, json.dumps({"keys": [{"type": "ed25519", "path": self.pub}]}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSEAL_")}
        env.update(shim_preload(), MODELSEAL_POLICY=policy, MODELSEAL_ROOTS=self.snap)
        cfg = os.path.join(self.snap, "config.json")
        p = subprocess.run(["cat", cfg], capture_output=True, env=env, timeout=30)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"reached through a symlink", p.stderr)
        env["MODELSEAL_HF_CACHE"] = "1"
        for name, data in self.FILES.items():
            p = subprocess.run(["cat", os.path.join(self.snap, name)], capture_output=True, env=env, timeout=30)
            self.assertEqual((p.returncode, p.stdout), (0, data), p)
        outside = os.path.join(self.tmp, "outside.json")
        write(outside, self.FILES["config.json"])
        os.remove(cfg)
        os.symlink(outside, cfg)
        p = subprocess.run(["cat", cfg], capture_output=True, env=env, timeout=30)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"does not resolve to a file in the cache's blobs/", p.stderr)

    def test_hf_download_metadata_is_left_out_when_signing(self):
        meta = os.path.join(self.model, ".cache", "huggingface", "download", "config.json.metadata")
        write(meta, "abc\n1700000000\n")
        self.sign()
        self.verify()
        r = run("inspect", os.path.join(self.model, "model.sig"), "--json")
        self.assertEqual(r.rc, 0, r)
        self.assertIn(".cache/huggingface", json.dumps(json.loads(r.out)))
        # A signature made by model_signing does not leave it out: the hint says how.
        vec = os.path.join(SHARED, "vectors", "oms", "v1.1.0-elliptic-key")
        model = os.path.join(self.tmp, "vector")
        shutil.copytree(vec, model)
        write(os.path.join(model, ".cache", "huggingface", "download", "x.metadata"), "x\n")
        pub = os.path.join(SHARED, "vectors", "oms", "signing-key-pub.pem")
        r = run("verify", model, "-p", pub, "--model-name", "v1.1.0-elliptic-key")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("hint: .cache/huggingface/ is what 'hf download --local-dir' leaves behind: leave it out "
                      "with --ignore .cache/huggingface", r.err)
        r = run("verify", model, "-p", pub, "--model-name", "v1.1.0-elliptic-key", "--ignore", ".cache/huggingface")
        self.assertEqual(r.rc, 0, r)

    def test_metadata_and_backup_files_get_a_hint(self):
        self.sign()
        for name, flag in [(".DS_Store", ".DS_Store"), ("tokenizer/.DS_Store", "tokenizer/.DS_Store"),
                           ("__pycache__/x.pyc", "__pycache__"), ("config.json~", "config.json~"),
                           ("tokenizer/.vocab.txt.swp", "tokenizer/.vocab.txt.swp")]:
            with self.subTest(name=name):
                path = os.path.join(self.model, name)
                write(path, b"x")
                r = run("verify", self.model, "-p", self.pub)
                self.assertEqual(r.rc, 1, r)
                self.assertOneLineError(r, "unlisted")
                self.assertIn("--ignore " + flag + "\n", r.err)
                self.assertEqual(run("verify", self.model, "-p", self.pub, "--ignore", flag).rc, 0)
                os.remove(path)
                if not os.listdir(os.path.dirname(path)):
                    os.rmdir(os.path.dirname(path))

    def test_sign_says_it_signed_metadata(self):
        write(os.path.join(self.model, ".DS_Store"), b"x")
        write(os.path.join(self.model, "tokenizer", "vocab.txt~"), b"x")
        r = run("sign", self.model, "-k", self.key)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("modelseal: warning: signed .DS_Store, which looks like what an editor, notebook or OS leaves "
                      "behind (leave it out with --ignore .DS_Store)", r.err)
        self.assertIn("warning: signed tokenizer/vocab.txt~", r.err)
        self.assertNotIn("warning", run("sign", self.model, "-k", self.key, "-q").err)

    def test_ignore_paths_are_checked(self):
        self.sign()
        # An --ignore that names a signed file says so, not "missing".
        r = run("verify", self.model, "-p", self.pub, "--ignore", "config.json", "-v")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("config.json: FAILED (left out by --ignore, but the signature lists it)", r.out)
        # One that matches nothing warns; a glob is refused (paths only) by sign, verify and digest.
        r = run("verify", self.model, "-p", self.pub, "--ignore", "no-such-file")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("modelseal: warning: --ignore no-such-file matches nothing in " + self.model, r.err)
        for cmd in [["verify", self.model, "-p", self.pub], ["sign", self.model, "-k", self.key], ["digest", self.model]]:
            with self.subTest(cmd=cmd[0]):
                r = run(*cmd, "--ignore", "*.bin")
                self.assertEqual(r.rc, 2, r)
                self.assertOneLineError(r, "--ignore takes paths, not globs: *.bin")


if __name__ == "__main__":
    unittest.main(verbosity=2)

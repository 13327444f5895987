#!/usr/bin/python3
"""End-to-end tests of `modelseal fetch` against a real nginx (and a misbehaving stdlib server)
on 127.0.0.1. Usage: test_fetch.py CASE (see CASES at the bottom)."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SOURCE, Failure, Nginx, Pki, RogueServer, check, keygen, leftovers, main,  # noqa: E402
                     make_model, must, run, sign, tool, tree, write_file)

MODEL = {
    "config.json": b'{"layers": 2}\n',
    "weights/model-00001.bin": os.urandom(300_000),
    "weights/model-00002.bin": os.urandom(200_000),
    "tokenizer/vocab.txt": b"hello\nworld\n",
    "empty.txt": b"",
}


class Setup:
    """A CA, a signing key, and a signed copy of MODEL in <work>/srv/bert."""

    def __init__(self, work, files=None, shard_size=None):
        self.work = work
        os.makedirs(f"{work}/pki")
        self.pki = Pki(f"{work}/pki")
        self.key, self.pub = keygen(f"{work}/release")
        self.srv = f"{work}/srv"
        self.model = make_model(f"{self.srv}/bert", files or MODEL)
        sign(self.model, self.key, *(["--shard-size", str(shard_size)] if shard_size else []))
        self.signed = tree(self.model)
        self.out = f"{work}/dest/bert"
        os.makedirs(f"{work}/dest")

    def fetch(self, url, *extra, pub=None, cacert=True, timeout=120):
        args = [tool("fetch"), url, "-o", self.out, "-p", pub or self.pub, "-q"]
        if cacert:
            args += ["--cacert", self.pki.path("ca.pem")]
        return run(args + list(extra), timeout=timeout)

    def nginx(self, **kw):
        return Nginx(self.work, self.srv, self.pki, **kw)

    def check_nothing_left(self, r, code):
        check(r.returncode == code, f"exit {r.returncode}, expected {code}: {r.stderr.strip()}")
        check(not os.path.exists(self.out), "something was left at the destination")
        check(not leftovers(os.path.dirname(self.out), "bert"), "the temporary directory was left behind")
        lines = r.stderr.strip().splitlines()
        check(lines and lines[0].startswith("modelseal: ") and len(lines) <= 2, "not one error line: " + r.stderr)
        check(r.stdout == "", "output on failure: " + r.stdout)

    def check_fetched(self, r, expect=None):
        check(r.returncode == 0, f"fetch failed ({r.returncode}): {r.stderr.strip()}")
        got = tree(self.out)
        check(got == (expect or self.signed), f"fetched files differ: {sorted(got)} vs {sorted(expect or self.signed)}")
        v = run([tool("verify"), self.out, "-p", self.pub])
        check(v.returncode == 0, "modelseal verify fails on the fetched model: " + v.stderr)
        check(not leftovers(os.path.dirname(self.out), "bert"), "the temporary directory was left behind")


def listed(s):
    return sorted(n for n in s.signed if n != "model.sig")


def case_good(work):
    s = Setup(work)
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert/"))
        s.check_fetched(r)
        reqs = ng.requests()
    uris = [u for u, _, _ in reqs]
    check(uris[0] == "/bert/model.sig", "model.sig was not fetched first: " + str(uris))
    check(sorted(uris[1:]) == sorted("/bert/" + n for n in listed(s)), "requests: " + str(uris))
    check(all(st == 200 for _, st, _ in reqs), "non-200 requests: " + str(reqs))
    mode = os.stat(s.out).st_mode & 0o777
    check(mode == 0o755, f"destination mode {oct(mode)}")


def case_good_shards(work):
    s = Setup(work, {"model.safetensors": os.urandom(3 * 1048576 + 12345), "small.bin": b"x" * 10, "empty": b""},
              shard_size=1048576)
    with s.nginx() as ng:
        s.check_fetched(s.fetch(ng.url("bert"), "--parallel", "2"))


def case_json(work):
    import jsonschema
    schema = json.load(open(os.path.join(SOURCE, "schemas", "fetch-report.schema.json")))
    jsonschema.Draft202012Validator.check_schema(schema)
    s = Setup(work)
    write_file(f"{s.model}/config.json", b"tampered")
    with s.nginx() as ng:
        bad = s.fetch(ng.url("bert"), "--json")
        check(bad.returncode == 1, f"tampered fetch exit {bad.returncode}")
        write_file(f"{s.model}/config.json", MODEL["config.json"])
        good = s.fetch(ng.url("bert"), "--json")
        check(good.returncode == 0, "fetch failed: " + good.stderr)
        os.rename(f"{s.model}/model.sig", f"{s.model}/gone")
        shutil.rmtree(s.out)
        missing = s.fetch(ng.url("bert"), "--json")
        check(missing.returncode == 3, f"missing model.sig exit {missing.returncode}")
    for r, verified in ((good, True), (bad, False), (missing, False)):
        report = json.loads(r.stdout)
        jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
        check(report["verified"] is verified and report["exit_code"] == r.returncode, "report: " + r.stdout)
    g = json.loads(good.stdout)
    check(sorted(f["name"] for f in g["files"]) == listed(s), "report files: " + good.stdout)
    check(g["bytes"] == sum(len(MODEL[n]) for n in MODEL), "report bytes")
    check(g["root_digest"].startswith("sha256:"), "root digest")
    b = json.loads(bad.stdout)
    check(any(f["name"] == "config.json" and not f["ok"] for f in b["files"]), "tampered file not reported")


def case_tampered(work):
    s = Setup(work)
    write_file(f"{s.model}/weights/model-00002.bin", os.urandom(200_000))
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"))
    s.check_nothing_left(r, 1)
    # The content checker's one mismatch message, naming the file's URL.
    check("modified: sha256 is" in r.stderr and "/weights/model-00002.bin" in r.stderr, r.stderr)


def case_tampered_shard(work):
    """A shard that mismatches stops that transfer at once: most of the file is never sent."""
    size = 64 << 20
    s = Setup(work, {"big.bin": os.urandom(size)}, shard_size=1 << 20)
    with open(f"{s.model}/big.bin", "r+b") as f:
        f.write(b"evil")
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"))
        sent = [b for u, _, b in ng.requests() if u.endswith("/big.bin")]
    s.check_nothing_left(r, 1)
    check("big.bin:0:1048576" in r.stderr, r.stderr)
    check(sent and sent[0] < size // 2, f"nginx sent {sent} of {size} bytes after the first shard mismatched")


def case_missing(work):
    s = Setup(work)
    os.remove(f"{s.model}/tokenizer/vocab.txt")
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"))
    s.check_nothing_left(r, 3)
    check("HTTP 404" in r.stderr and "tokenizer/vocab.txt" in r.stderr, r.stderr)


def case_extra(work):
    s = Setup(work)
    write_file(f"{s.model}/extra.pkl", b"not signed")
    write_file(f"{s.model}/weights/evil.bin", b"not signed")
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"))
        s.check_fetched(r)
        uris = [u for u, _, _ in ng.requests()]
    check(not any("extra" in u or "evil" in u for u in uris), "unlisted file requested: " + str(uris))


def case_untrusted(work):
    s = Setup(work)
    _, other_pub = keygen(f"{work}/other")
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"), pub=other_pub)
        uris = [u for u, _, _ in ng.requests()]
    s.check_nothing_left(r, 1)
    check(uris == ["/bert/model.sig"], "requests after an untrusted model.sig: " + str(uris))


def case_policy(work):
    """--policy: a threshold of two keys needs both signatures; a revoked model digest is refused."""
    s = Setup(work)
    key2, pub2 = keygen(f"{work}/second")
    policy = f"{work}/policy.json"

    def write_policy(**extra):
        with open(policy, "w") as f:
            json.dump({"version": 1, "keys": [{"id": "release", "type": "ed25519", "path": s.pub},
                                              {"id": "second", "type": "ed25519", "path": pub2}], **extra}, f)

    write_policy(threshold=2)
    with s.nginx() as ng:
        r = run([tool("fetch"), ng.url("bert"), "-o", s.out, "--policy", policy, "--cacert", s.pki.path("ca.pem")])
        s.check_nothing_left(r, 1)
        check([u for u, _, _ in ng.requests()] == ["/bert/model.sig"], "fetched past a failed threshold")
        sign(s.model, s.key, "-k", key2)
        r = run([tool("fetch"), ng.url("bert"), "-o", s.out, "--policy", policy, "--cacert", s.pki.path("ca.pem"),
                 "--json"])
        s.signed = tree(s.model)
        s.check_fetched(r)
        check(sorted(x["id"] for x in json.loads(r.stdout)["signers"]) == ["release", "second"], r.stdout)
        root = json.loads(r.stdout)["root_digest"]
        shutil.rmtree(s.out)
        write_policy(revoked_digests=[root])
        r = run([tool("fetch"), ng.url("bert"), "-o", s.out, "--policy", policy, "--cacert", s.pki.path("ca.pem")])
        s.check_nothing_left(r, 1)


def case_wrong_cert(work):
    s = Setup(work)
    for cert in ("rogue", "wrongname"):
        with s.nginx(cert=cert) as ng:
            r = s.fetch(ng.url("bert"))
            uris = ng.requests()
        s.check_nothing_left(r, 3)
        check("cannot download model.sig" in r.stderr and "--cacert" in r.stderr, r.stderr)
        check(uris == [], f"{cert}: a request went through: {uris}")
    with s.nginx() as ng:   # a certificate from a private CA is not in the system store
        s.check_nothing_left(s.fetch(ng.url("bert"), cacert=False), 3)


def case_old_tls(work):
    """A server that speaks only TLS 1.1 (curl(1) can fetch from it when told to) is refused."""
    s = Setup(work)
    with s.nginx(protocols="TLSv1.1") as ng:
        if shutil.which("curl"):
            r = run(["curl", "-sS", "--cacert", s.pki.path("ca.pem"), "--tlsv1.1", "--tls-max", "1.1", "--ciphers",
                     "DEFAULT:@SECLEVEL=0", "-o", os.devnull, ng.url("bert/model.sig")])
            check(r.returncode == 0, "the TLS 1.1 server does not work: " + r.stderr)
        r = s.fetch(ng.url("bert"))
        s.check_nothing_left(r, 3)
        check("protocol version" in r.stderr, r.stderr)
        check(len(ng.requests()) == int(bool(shutil.which("curl"))), "fetch got through over TLS 1.1")


def case_mtls(work):
    s = Setup(work)
    with s.nginx(client_ca="ca") as ng:
        s.check_nothing_left(s.fetch(ng.url("bert")), 3)
        s.check_nothing_left(s.fetch(ng.url("bert"), "--cert", s.pki.path("rogue-client.pem"),
                                     "--key", s.pki.path("rogue-client.key")), 3)
        check(all(st == 400 for _, st, _ in ng.requests()), "served without a valid client certificate")
        r = s.fetch(ng.url("bert"), "--cert", s.pki.path("client.pem"), "--key", s.pki.path("client.key"))
        s.check_fetched(r)


def case_plain_http(work):
    s = Setup(work)
    with s.nginx(cert=None) as ng:
        r = s.fetch(ng.url("bert"))
        s.check_nothing_left(r, 2)
        check("--insecure-http" in r.stderr, r.stderr)
        check(ng.requests() == [], "plain http was requested without --insecure-http")
        s.check_fetched(s.fetch(ng.url("bert"), "--insecure-http"))
    shutil.rmtree(s.out)
    s.check_nothing_left(s.fetch(f"ftp://127.0.0.1:{ng.port}/bert"), 2)
    # an https:// server that redirects to http:// is refused too
    with s.nginx(extra="location /moved/ { return 302 http://127.0.0.1:$server_port/bert/; }") as ng:
        r = s.fetch(ng.url("moved"))
        s.check_nothing_left(r, 3)
        check("redirects may lead only to https://" in r.stderr, r.stderr)
        check([u for u, _, _ in ng.requests()] == ["/moved/model.sig"], "followed a redirect to http")


def case_pinned(work):
    s = Setup(work)
    spki = f"{work}/server-pub.pem"
    must(["openssl", "pkey", "-in", s.pki.path("server.key"), "-pubout", "-out", spki])
    other = f"{work}/other-pub.pem"
    must(["openssl", "pkey", "-in", s.pki.path("client.key"), "-pubout", "-out", other])
    with s.nginx() as ng:
        s.check_nothing_left(s.fetch(ng.url("bert"), "--pinned-pubkey", other), 3)
        s.check_fetched(s.fetch(ng.url("bert"), "--pinned-pubkey", spki))


def case_oversize(work):
    """A server that streams without end: bounded by the signed size (shards) or --max-file-size."""
    s = Setup(work, {"a.bin": os.urandom(3 << 20)}, shard_size=1 << 20)
    with RogueServer(s.srv, s.pki, {"bert/a.bin": "endless"}) as rs:
        r = s.fetch(rs.url("bert"), timeout=60)
        s.check_nothing_left(r, 1)
        check("a.bin is longer on the server than signed" in r.stderr, r.stderr)
    shutil.rmtree(s.model)
    s2_files = {"a.bin": os.urandom(1 << 20)}
    make_model(s.model, s2_files)
    sign(s.model, s.key)
    with RogueServer(s.srv, s.pki, {"bert/a.bin": "endless"}) as rs:
        r = s.fetch(rs.url("bert"), "--max-file-size", "2M", timeout=60)
        s.check_nothing_left(r, 1)
        check("a.bin is longer than allowed (2097152 bytes)" in r.stderr, r.stderr)
    # model.sig itself is bounded
    with RogueServer(s.srv, s.pki, {"bert/model.sig": "endless"}) as rs:
        r = s.fetch(rs.url("bert"), timeout=60)
        s.check_nothing_left(r, 1)
        check("model.sig is longer than allowed" in r.stderr, r.stderr)
        check([p for p, _ in rs.log] == ["bert/model.sig"], "requests: " + str(rs.log))


def case_dropped(work):
    s = Setup(work)
    with RogueServer(s.srv, s.pki, {"bert/weights/model-00001.bin": "drop"}) as rs:
        r = s.fetch(rs.url("bert"), "--retries", "1", timeout=60)
        tries = [p for p, _ in rs.log if p == "bert/weights/model-00001.bin"]
    s.check_nothing_left(r, 3)
    check("weights/model-00001.bin" in r.stderr, r.stderr)
    check(len(tries) == 2, f"expected one retry, saw {len(tries)} requests")
    with RogueServer(s.srv, s.pki, {}) as rs:   # the same server, now behaving
        s.check_fetched(s.fetch(rs.url("bert")))


def case_stalled(work):
    """A server that stops sending is dropped after --timeout, retried, then reported."""
    import time
    s = Setup(work)
    with RogueServer(s.srv, s.pki, {"bert/config.json": "stall"}) as rs:
        t0 = time.time()
        r = s.fetch(rs.url("bert"), "--timeout", "1", "--retries", "1", timeout=60)
        took = time.time() - t0
        tries = [p for p in rs.requested if p == "bert/config.json"]
    s.check_nothing_left(r, 3)
    check("config.json" in r.stderr and "--timeout" in r.stderr, r.stderr)
    check(took < 20, f"took {took:.1f} s")
    check(len(tries) == 2, f"expected one retry, saw {len(tries)} requests")


def case_interrupted(work):
    """SIGTERM in the middle of a download: exit 3, the temporary directory removed."""
    import signal
    import time
    s = Setup(work, {"a.bin": os.urandom(1 << 20)})
    with RogueServer(s.srv, s.pki, {"bert/a.bin": "endless"}) as rs:
        p = subprocess.Popen([tool("fetch"), rs.url("bert"), "-o", s.out, "-p", s.pub, "-q", "--cacert",
                              s.pki.path("ca.pem"), "--max-file-size", "1T"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20   # until a.bin is streaming
        while time.time() < deadline and p.poll() is None:
            sent = [n for path, n in rs.log if path == "bert/model.sig"]
            if sent and leftovers(os.path.dirname(s.out), "bert"):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        check(p.poll() is None, "fetch ended before the signal")
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    s.check_nothing_left(subprocess.CompletedProcess(p.args, p.returncode, out, err), 3)
    check("interrupted" in err, err)


def case_existing(work):
    s = Setup(work)
    with s.nginx() as ng:
        os.makedirs(s.out)
        write_file(f"{s.out}/keep.txt", b"mine")
        r = s.fetch(ng.url("bert"))
        check(r.returncode == 2 and "exists" in r.stderr, f"exit {r.returncode}: {r.stderr}")
        check(tree(s.out) == {"keep.txt": b"mine"}, "an existing directory was touched")
        r = s.fetch(ng.url("bert"), "--force")
        check(r.returncode == 2 and tree(s.out) == {"keep.txt": b"mine"}, "--force replaced a non-model directory")
        # a stray (empty) model.sig does not make a folder of documents a model
        write_file(f"{s.out}/model.sig", b"")
        r = s.fetch(ng.url("bert"), "--force")
        check(r.returncode == 2 and "does not hold a model signed under this policy" in r.stderr, r.stderr)
        check(tree(s.out) == {"keep.txt": b"mine", "model.sig": b""}, "--force replaced a folder with a stray model.sig")
        shutil.rmtree(s.out)
        # nor does a model signed by a key the policy does not trust
        other_key, _ = keygen(f"{work}/other")
        old = make_model(s.out, {"notes.txt": b"mine"})
        sign(old, other_key)
        other_tree = tree(s.out)
        r = s.fetch(ng.url("bert"), "--force")
        check(r.returncode == 2 and "does not hold a model signed under this policy" in r.stderr, r.stderr)
        check(tree(s.out) == other_tree, "--force replaced a model the policy does not trust")
        shutil.rmtree(s.out)
        # an older model is replaced atomically with --force, and kept when the new one fails
        old = make_model(s.out, {"old.bin": b"old"})
        sign(old, s.key)
        old_tree = tree(s.out)
        write_file(f"{s.model}/config.json", b"tampered")
        r = s.fetch(ng.url("bert"), "--force")
        check(r.returncode == 1 and tree(s.out) == old_tree, "a failed --force fetch touched the old model")
        write_file(f"{s.model}/config.json", MODEL["config.json"])
        s.check_fetched(s.fetch(ng.url("bert"), "--force"))


def case_usage(work):
    s = Setup(work)
    url = "https://127.0.0.1:9/bert"
    for args in ([url, "-p", s.pub], [url, "-o", s.out], [url, "-o", s.out, "-p", s.pub, "--max-file-size", "lots"],
                 [url, "-o", s.out, "-p", s.pub, "--parallel", "0"], [url + "?x=1", "-o", s.out, "-p", s.pub],
                 ["file:///etc", "-o", s.out, "-p", s.pub], [url, "-o", s.out, "-p", s.pub, "--key", "k.pem"],
                 [url, "-o", "/", "-p", s.pub]):
        r = run([tool("fetch"), *args])
        check(r.returncode == 2, f"{args}: exit {r.returncode}: {r.stderr}")
        check(r.stderr.startswith("modelseal: ") and r.stdout == "", f"{args}: {r.stderr}")
    r = run([tool("fetch"), "--help"])
    check(r.returncode == 0 and "Example:" in r.stdout and "--pinned-pubkey" in r.stdout, r.stdout)
    man = open(os.path.join(SOURCE, "man", "modelseal-fetch.1")).read()
    for sec in ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        check(".SH " + sec in man or '.SH "' + sec + '"' in man, "man page lacks " + sec)
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", "--warnings", os.path.join(SOURCE, "man", "modelseal-fetch.1")],
                           capture_output=True, text=True, env={**os.environ, "MANPAGER": "cat", "PAGER": "cat"})
        check(r.returncode == 0 and "warning" not in r.stderr, "man: " + r.stderr)
    # nothing listening: a network error, after the retries
    r = run([tool("fetch"), url, "-o", s.out, "-p", s.pub, "--retries", "0"])
    s.check_nothing_left(r, 3)



def case_stale_staging(work):
    """A fetch killed with SIGKILL leaves its staging folder; the next fetch to the same place
    removes it, but never one that a running fetch holds, nor one that is not ours."""
    import fcntl
    import signal
    import time
    s = Setup(work, {"a.bin": os.urandom(1 << 20)})
    parent = os.path.dirname(s.out)
    with RogueServer(s.srv, s.pki, {"bert/a.bin": "endless"}) as rs:
        p = subprocess.Popen([tool("fetch"), rs.url("bert"), "-o", s.out, "-p", s.pub, "-q", "--cacert",
                              s.pki.path("ca.pem"), "--max-file-size", "1T"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while time.time() < deadline and p.poll() is None:
            if [n for path, n in rs.log if path == "bert/model.sig"] and leftovers(parent, "bert"):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=30)
    killed = leftovers(parent, "bert")
    check(len(killed) == 1, f"SIGKILL should leave the staging folder: {killed}")
    # One that a running fetch holds (locked) stays.
    held = os.path.join(parent, ".bert.fetch-held0001")
    os.makedirs(held)
    write_file(f"{held}/partial.bin", b"in flight")
    held_fd = os.open(held, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held_fd, fcntl.LOCK_EX)
    try:
        with s.nginx() as ng:
            s.fetch_ok = s.fetch(ng.url("bert"))
        check(s.fetch_ok.returncode == 0, s.fetch_ok.stderr)
        left = leftovers(parent, "bert")
        check(left == [os.path.basename(held)], f"stale staging folder not cleaned up, or a held one removed: {left}")
        check(os.path.exists(f"{held}/partial.bin"), "a running fetch's staging folder was touched")
    finally:
        os.close(held_fd)


def encrypted_setup(work, shard_size=None):
    """The signed model encrypted at rest on the server (NAME.age and model.sig only)."""
    s = Setup(work, shard_size=shard_size)
    s.idfile = f"{work}/id.agekey"
    s.recipient = must([tool("keygen"), "-t", "x25519", "-o", s.idfile, "-q"]).stdout.strip()
    must([tool("encrypt"), s.model, "-p", s.pub, "-r", s.recipient, "--remove-plaintext", "-q"])
    s.signed = tree(s.model)
    check(all(n.endswith(".age") or n == "model.sig" for n in s.signed), "plaintext left on the server")
    return s


def case_encrypted(work):
    # Decrypted as it streams, to check each plaintext; only the ciphertext lands.
    for shard_size in (None, 65536):
        s = encrypted_setup(f"{work}/{shard_size}", shard_size)
        with s.nginx() as ng:
            r = s.fetch(ng.url("bert"), "-i", s.idfile, "--json")
            check(r.returncode == 0, f"encrypted fetch failed ({r.returncode}): {r.stderr.strip()}")
            uris = sorted(u for u, _, _ in ng.requests())
        check(tree(s.out) == s.signed, f"landed files differ: {sorted(tree(s.out))}")
        check(all(u == "/bert/model.sig" or u.endswith(".age") for u in uris), "plaintext was asked for: " + str(uris))
        report = json.loads(r.stdout)
        check(sorted(f["name"] for f in report["files"]) == sorted(n for n in s.signed if n != "model.sig"),
              "report names: " + r.stdout)
        v = run([tool("verify"), s.out, "-p", s.pub, "-i", s.idfile])
        check(v.returncode == 0, "verify -i fails on the fetched model: " + v.stderr)
        # Without an identity, nothing is asked for past the signature: NAME is not on the server.
        shutil.rmtree(s.out)
        with s.nginx() as ng:
            s.check_nothing_left(s.fetch(ng.url("bert")), 3)


def case_encrypted_tampered(work):
    s = encrypted_setup(work)
    big = f"{s.model}/weights/model-00001.bin.age"
    good = open(big, "rb").read()
    # A flipped bit, a ciphertext of other bytes made for the right recipient (age is no
    # signature), and an identity it was not encrypted to: nothing lands.
    with open(big, "r+b") as f:
        f.seek(100_000)
        b = f.read(1)
        f.seek(100_000)
        f.write(bytes([b[0] ^ 1]))
    with s.nginx() as ng:
        s.check_nothing_left(s.fetch(ng.url("bert"), "-i", s.idfile), 1)
    fake = f"{work}/fake"
    write_file(fake, os.urandom(300_000))
    subprocess.run(["age", "-e", "-r", s.recipient, "-o", big, fake], check=True)
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"), "-i", s.idfile)
    s.check_nothing_left(r, 1)
    check("modified" in r.stderr, "not the content checker's message: " + r.stderr)
    write_file(big, good)
    other = f"{work}/other.agekey"
    must([tool("keygen"), "-t", "x25519", "-o", other, "-q"])
    with s.nginx() as ng:
        r = s.fetch(ng.url("bert"), "-i", other)
    s.check_nothing_left(r, 1)
    check("no identity matches" in r.stderr, r.stderr)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    try:
        sys.exit(main(CASES))
    except Failure as e:
        print("FAIL: " + str(e), file=sys.stderr)
        sys.exit(1)

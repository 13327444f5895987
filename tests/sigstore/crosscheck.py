#!/usr/bin/python3
"""A second implementation of Sigstore keyless verification, on Debian's python3-cryptography,
checked against modelseal's on the two sigstore vectors and every tampered copy issue 13 lists.

It recomputes independently: the Fulcio chain at the integrated time (cryptography's verifier,
EKU codeSigning), the SCT over the precertificate TBS, the SET over the canonical JSON, the
RFC 6962 inclusion proof, the signed checkpoint, the dsse entry body and the DSSE signature, and
identity/issuer. Debian 12's python3-cryptography (38) has no cryptography.x509.verification, so
the chain is checked by hand: each signature with its issuer's key, names, CA bits, validity at
the integrated time. (RFC 3161 tokens are not re-verified here: it has no CMS verifier either.)
Both implementations must agree on every case: accept the valid ones, refuse every tampered one.

usage: crosscheck.py SIGSTORE_CHECK SHARED_DIR TRUSTED_ROOT
"""
import base64
import copy
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

IDENTITY = "stefanb@us.ibm.com"
ISSUER = "https://sigstore.verify.ibm.com/oauth2"
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")


class Refused(Exception):
    pass


def b64d(s):
    return base64.b64decode(s, validate=True)


def rfc3339(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def valid_at(valid_for, t):
    start = rfc3339(valid_for["start"]) if "start" in valid_for else None
    end = rfc3339(valid_for["end"]) if "end" in valid_for else None
    return (start is None or start <= t) and (end is None or t <= end)


def verify_sig(key, sig, data):
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        else:
            key.verify(sig, data, ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False


def merkle_ok(leaf, index, size, proof, root):
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = hashlib.sha256(b"\x00" + leaf).digest()
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def chain_ok(chain, t):
    """chain[i] is issued by chain[i+1]; the last is self-signed; all valid at t; issuers are CAs."""
    naive = t.replace(tzinfo=None)
    for i, cert in enumerate(chain):
        issuer = chain[min(i + 1, len(chain) - 1)]
        if not cert.not_valid_before <= naive <= cert.not_valid_after or cert.issuer != issuer.subject:
            return False
        try:
            issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        except InvalidSignature:
            return False
        if i > 0 and not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    return True


def py_verify(bundle, root, identity, issuer):
    vm = bundle["verificationMaterial"]
    env = bundle["dsseEnvelope"]
    leaf_der = b64d(vm["certificate"]["rawBytes"])
    leaf = x509.load_der_x509_certificate(leaf_der)
    entries = vm.get("tlogEntries", [])
    if len(entries) != 1:
        raise Refused("not exactly one tlog entry")
    e = entries[0]
    payload = b64d(env["payload"])
    sig = b64d(env["signatures"][0]["sig"])

    # The entry body is this envelope's.
    body_raw = b64d(e["canonicalizedBody"])
    body = json.loads(body_raw)
    spec = body["spec"]
    if body["kind"] != "dsse" or spec["payloadHash"] != {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}:
        raise Refused("body payload hash")
    if [s["signature"] for s in spec["signatures"]] != [base64.b64encode(sig).decode()]:
        raise Refused("body signature")
    verifier = x509.load_pem_x509_certificate(b64d(spec["signatures"][0]["verifier"]))
    if verifier.public_bytes(serialization.Encoding.DER) != leaf_der:
        raise Refused("body verifier")

    # The log, its inclusion proof, checkpoint and SET.
    log_id = b64d(e["logId"]["keyId"])
    logs = [l for l in root.get("tlogs", []) if b64d(l["logId"]["keyId"]) == log_id]
    if not logs:
        raise Refused("log not in trusted root")
    log_key = serialization.load_der_public_key(b64d(logs[0]["publicKey"]["rawBytes"]))
    integrated = int(e["integratedTime"])
    t = datetime.datetime.fromtimestamp(integrated, datetime.timezone.utc)
    if not valid_at(logs[0]["publicKey"].get("validFor", {}), t):
        raise Refused("log not valid at integrated time")
    proof = e["inclusionProof"]
    if not merkle_ok(body_raw, int(proof["logIndex"]), int(proof["treeSize"]), [b64d(h) for h in proof["hashes"]],
                     b64d(proof["rootHash"])):
        raise Refused("inclusion proof")
    note = proof["checkpoint"]["envelope"]
    text, sigs = note.split("\n\n", 1)
    lines = text.split("\n")
    if int(lines[1]) != int(proof["treeSize"]) or b64d(lines[2]) != b64d(proof["rootHash"]):
        raise Refused("checkpoint root/size")
    if not any(verify_sig(log_key, b64d(line.split(" ")[-1])[4:], (text + "\n").encode())
               for line in sigs.strip("\n").split("\n")):
        raise Refused("checkpoint signature")
    set_payload = json.dumps({"body": e["canonicalizedBody"], "integratedTime": integrated,
                              "logID": log_id.hex(), "logIndex": int(e["logIndex"])},
                             sort_keys=True, separators=(",", ":")).encode()
    if not verify_sig(log_key, b64d(e["inclusionPromise"]["signedEntryTimestamp"]), set_payload):
        raise Refused("SET")

    # The certificate at the integrated time: a Fulcio chain, codeSigning, one valid SCT.
    chain = None
    for ca in root.get("certificateAuthorities", []):
        if not valid_at(ca.get("validFor", {}), t):
            continue
        certs = [x509.load_der_x509_certificate(b64d(c["rawBytes"])) for c in ca["certChain"]["certificates"]]
        if chain_ok([leaf] + certs, t):
            chain = [leaf] + certs
            break
    if chain is None:
        raise Refused("chain")
    if ExtendedKeyUsageOID.CODE_SIGNING not in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value:
        raise Refused("extended key usage")
    if not leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
        raise Refused("key usage")
    scts = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    if len(scts) != 1:
        raise Refused("sct count")
    sct = list(scts)[0]
    ct = [l for l in root.get("ctlogs", []) if b64d(l["logId"]["keyId"]) == sct.log_id]
    if not ct:
        raise Refused("ct log not in trusted root")
    ct_key = serialization.load_der_public_key(b64d(ct[0]["publicKey"]["rawBytes"]))
    issuer_key_hash = hashlib.sha256(chain[1].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
    tbs = leaf.tbs_precertificate_bytes
    ts_ms = int(sct.timestamp.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    signed = (b"\x00\x00" + struct.pack(">QH", ts_ms, 1) + issuer_key_hash + len(tbs).to_bytes(3, "big") + tbs +
              struct.pack(">H", len(sct.extension_bytes)) + sct.extension_bytes)
    if not verify_sig(ct_key, sct.signature, signed):
        raise Refused("sct signature")

    # Identity and issuer.
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.RFC822Name) + san.get_values_for_type(x509.UniformResourceIdentifier)
    if identity not in names:
        raise Refused("identity")
    try:
        raw = leaf.extensions.get_extension_for_oid(OID_ISSUER_V2).value.value
        oidc = raw[2:].decode()  # DER UTF8String, short form (the vectors' issuers are < 128 bytes)
    except x509.ExtensionNotFound:
        oidc = leaf.extensions.get_extension_for_oid(OID_ISSUER_V1).value.value.decode()
    if oidc != issuer:
        raise Refused("issuer")

    # The DSSE signature over the PAE.
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    if not verify_sig(leaf.public_key(), sig, pae):
        raise Refused("dsse signature")
    return "ok"


def cases(shared, root):
    for name in ("v1.1.0-sigstore", "v1.0.1-sigstore"):
        other = "v1.0.1-sigstore" if name == "v1.1.0-sigstore" else "v1.1.0-sigstore"
        good = json.load(open(os.path.join(shared, "vectors/oms", name, "model.sig")))
        other_b = json.load(open(os.path.join(shared, "vectors/oms", other, "model.sig")))
        ent = lambda b: b["verificationMaterial"]["tlogEntries"][0]

        def case(label, edit_bundle=None, edit_root=None, identity=IDENTITY, issuer=ISSUER, valid=False):
            b, r = copy.deepcopy(good), copy.deepcopy(root)
            if edit_bundle:
                edit_bundle(b)
            if edit_root:
                edit_root(r)
            return f"{name}: {label}", b, r, identity, issuer, valid

        yield case("valid", valid=True)
        yield case("wrong identity", identity="someone@example.com")
        yield case("wrong issuer", issuer="https://accounts.google.com")
        yield case("trusted root without the Fulcio CA", edit_root=lambda r: r["certificateAuthorities"].pop(1))
        yield case("trusted root without the Rekor key", edit_root=lambda r: r["tlogs"].pop(0))
        yield case("trusted root without the CT log key", edit_root=lambda r: r["ctlogs"].pop(1))

        def plus_one(b):
            ent(b)["integratedTime"] = str(int(ent(b)["integratedTime"]) + 1)
        yield case("integratedTime + 1 s", plus_one)

        def swap(b):
            h = ent(b)["inclusionProof"]["hashes"]
            h[0], h[1] = h[1], h[0]
        yield case("two inclusion-proof hashes swapped", swap)

        def cp_sig(b):
            cp = ent(b)["inclusionProof"]["checkpoint"]["envelope"]
            head, last = cp.rstrip("\n").rsplit(" ", 1)
            raw = bytearray(b64d(last))
            raw[10] ^= 1
            ent(b)["inclusionProof"]["checkpoint"]["envelope"] = head + " " + base64.b64encode(raw).decode() + "\n"
        yield case("checkpoint signature changed", cp_sig)

        def cp_root(b):
            proof = ent(b)["inclusionProof"]
            raw = bytearray(b64d(proof["rootHash"]))
            raw[0] ^= 1
            proof["checkpoint"]["envelope"] = proof["checkpoint"]["envelope"].replace(
                proof["rootHash"], base64.b64encode(raw).decode())
        yield case("checkpoint root hash changed", cp_root)

        def payload_byte(b):
            p = bytearray(b64d(b["dsseEnvelope"]["payload"]))
            p[len(p) // 2] ^= 1
            b["dsseEnvelope"]["payload"] = base64.b64encode(p).decode()
        yield case("payload byte changed", payload_byte)

        def other_leaf(b):
            b["verificationMaterial"]["certificate"] = other_b["verificationMaterial"]["certificate"]
        yield case("leaf replaced by the other vector's leaf", other_leaf)


def main():
    check, shared, root_path = sys.argv[1:4]
    root = json.load(open(root_path))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, bundle, r, identity, issuer, valid in cases(shared, root):
            bpath, rpath = os.path.join(tmp, "b.json"), os.path.join(tmp, "r.json")
            json.dump(bundle, open(bpath, "w"))
            json.dump(r, open(rpath, "w"))
            try:
                py = py_verify(bundle, r, identity, issuer)
            except Refused as e:
                py = f"refused ({e})"
            except (KeyError, ValueError, IndexError, x509.ExtensionNotFound) as e:
                py = f"refused ({type(e).__name__})"
            run = subprocess.run([check, "sigstore", bpath, rpath, identity, issuer], capture_output=True, text=True)
            ours = run.stdout.strip()
            agree = (py == "ok") == (run.returncode == 0) and (run.returncode == 0) == valid and run.returncode in (0, 1)
            failures += not agree
            print(f"{'PASS' if agree else 'FAIL'}  {label}\n        python:    {py}\n        modelseal: {ours}")
    print(f"{failures} disagreement(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

// The sigstore primitives (issue 13) on model_signing's four certificate-based vectors, and every
// tampered copy the issue lists, built here from the vectors: each must be refused with a reason
// naming what failed.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/sigstore.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string oms(const std::string& rel) { return env_or("MODELSEAL_SHARED", "../shared") + "/vectors/oms/" + rel; }
std::string root_path() { return env_or("MODELSEAL_SOURCE", ".") + "/lib/sigstore/trusted_root.json"; }
json bundle(const std::string& vector) { return json::parse(slurp(oms(vector + "/model.sig"))); }
json root_json() { return json::parse(slurp(root_path())); }
TrustedRoot root_of(const json& j) { return TrustedRoot::parse(j.dump(), "test root"); }

const SigstoreIdentity kStefan{"stefanb@us.ibm.com", "", "https://sigstore.verify.ibm.com/oauth2"};

CertifiedSigner sigstore_of(const json& b, const TrustedRoot& root, const SigstoreIdentity& id = kStefan) {
  return verify_sigstore(VerificationMaterial::parse(b["verificationMaterial"], "bundle"),
                         Envelope::from_json(b["dsseEnvelope"], "bundle"), root, id);
}

// The one-line reason a refusal gives (Error(not_trusted) required).
std::string refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.status() == Status::not_trusted);
    std::string what = e.what();
    CHECK(what.find('\n') == std::string::npos);
    return what;
  }
  FAIL("accepted");
  return {};
}
bool has(const std::string& s, const std::string& part) {
  INFO(s);
  return s.find(part) != std::string::npos;
}

json& entry(json& b) { return b["verificationMaterial"]["tlogEntries"][0]; }

std::string pem_file(const std::string& name) { return slurp(oms("keys/certificate/" + name)); }

}  // namespace

TEST_CASE("the shipped trusted root is Sigstore's public-good root") {
  TrustedRoot root = TrustedRoot::load(root_path());
  CHECK(root.tlogs().size() == 2);
  CHECK(root.ctlogs().size() == 2);
  CHECK(root.certificate_authorities().size() == 2);
  CHECK(root.timestamp_authorities().size() == 1);
  CHECK(root.certificate_authorities()[0].valid_for.end.has_value());
  CHECK(!root.certificate_authorities()[1].valid_for.end.has_value());
}

TEST_CASE("sigstore vectors verify with their identity, offline") {
  const TrustedRoot root = TrustedRoot::load(root_path());
  for (const char* v : {"v1.1.0-sigstore", "v1.0.1-sigstore"}) {
    CAPTURE(v);
    json b = bundle(v);
    Envelope env = Envelope::from_json(b["dsseEnvelope"], "bundle");
    CertifiedSigner s = sigstore_of(b, root);
    CHECK(s.identity == "stefanb@us.ibm.com");
    CHECK(s.issuer == "https://sigstore.verify.ibm.com/oauth2");
    CHECK(s.log_index == std::stoll(entry(b)["logIndex"].get<std::string>()));
    CHECK(s.integrated_time == std::stoll(entry(b)["integratedTime"].get<std::string>()));
    CHECK(s.key.type() == KeyType::ecdsa_p256);
    // The returned key verifies the envelope over the standard PAE, and the payload is the statement.
    CHECK_NOTHROW(s.key.verify(pae(env.payload_type, env.payload), env.signatures[0].sig));
    CHECK_NOTHROW(Manifest::parse_unauthenticated(env.payload));
    CHECK(sigstore_of(b, root, {"", R"(.*@us\.ibm\.com)", kStefan.issuer}).identity == "stefanb@us.ibm.com");
  }
  // v1.1.0 also carries an RFC 3161 timestamp from the Sigstore TSA: two verified times.
  CertifiedSigner s = sigstore_of(bundle("v1.1.0-sigstore"), root);
  REQUIRE(s.verified_times.size() == 2);
  CHECK(s.verified_times[0] == 1760062340);
  CHECK(s.verified_times[1] - s.verified_times[0] <= 1);
  CHECK(sigstore_of(bundle("v1.0.1-sigstore"), root).verified_times.size() == 1);
}

TEST_CASE("tampered sigstore bundles are refused, each naming what failed") {
  const TrustedRoot root = TrustedRoot::load(root_path());
  for (const char* v : {"v1.1.0-sigstore", "v1.0.1-sigstore"}) {
    CAPTURE(v);
    const json good = bundle(v);
    auto refused = [&](const json& b, const TrustedRoot& r = TrustedRoot::load(root_path()),
                       const SigstoreIdentity& id = kStefan) { return refusal([&] { sigstore_of(b, r, id); }); };

    CHECK(has(refused(good, root, {"someone@example.com", "", kStefan.issuer}), "identity stefanb@us.ibm.com is not someone@example.com"));
    CHECK(has(refused(good, root, {"", R"(.*@example\.com)", kStefan.issuer}), "identity"));
    CHECK(has(refused(good, root, {"", "stefanb", kStefan.issuer}), "identity"));  // the whole SAN must match
    CHECK(has(refused(good, root, {kStefan.identity, "", "https://accounts.google.com"}), "issuer https://sigstore.verify.ibm.com/oauth2 is not"));

    json r = root_json();
    r["certificateAuthorities"].erase(1);
    CHECK(has(refused(good, root_of(r)), "does not chain to a Fulcio CA"));
    r = root_json();
    r["tlogs"].erase(0);
    CHECK(has(refused(good, root_of(r)), "is not in the trusted root"));
    r = root_json();
    r["ctlogs"].erase(1);
    CHECK(has(refused(good, root_of(r)), "SCT is from a CT log the trusted root does not list"));
    r = root_json();  // the CT key swapped for the other log's
    r["ctlogs"][1]["publicKey"]["rawBytes"] = r["ctlogs"][0]["publicKey"]["rawBytes"];
    CHECK(has(refused(good, root_of(r)), "SCT signature does not verify"));
    r = root_json();  // Rekor's key replaced by another P-256 key (the CT log's)
    r["tlogs"][0]["publicKey"]["rawBytes"] = r["ctlogs"][1]["publicKey"]["rawBytes"];
    CHECK(has(refused(good, root_of(r)), "checkpoint is not signed by the log's key"));
    r = root_json();  // Rekor's key not yet valid at the integrated time
    r["tlogs"][0]["publicKey"]["validFor"]["start"] = "2026-01-01T00:00:00Z";
    CHECK(has(refused(good, root_of(r)), "its log was not valid at"));

    json b = good;
    entry(b)["integratedTime"] = std::to_string(std::stoll(entry(b)["integratedTime"].get<std::string>()) + 1);
    CHECK(has(refused(b), "signed entry timestamp does not verify"));
    b = good;
    entry(b)["logIndex"] = entry(b)["inclusionProof"]["logIndex"];  // the shard index is not what the SET signs
    CHECK(has(refused(b), "signed entry timestamp does not verify"));
    b = good;
    std::swap(entry(b)["inclusionProof"]["hashes"][0], entry(b)["inclusionProof"]["hashes"][1]);
    CHECK(has(refused(b), "inclusion proof does not lead to its root hash"));
    b = good;
    entry(b)["inclusionProof"]["hashes"].erase(0);
    CHECK(has(refused(b), "inclusion proof"));

    // The checkpoint's signature changed (last base64 block before the padding), then its root.
    b = good;
    std::string cp = entry(b)["inclusionProof"]["checkpoint"]["envelope"];
    std::string sigline = cp.substr(cp.find("\xe2\x80\x94"));
    std::string sig_b64 = sigline.substr(sigline.rfind(' ') + 1);
    sig_b64.pop_back();  // newline
    std::string raw = *base64_decode(sig_b64);
    raw[10] ^= 1;
    std::string tampered = cp.substr(0, cp.find("\xe2\x80\x94")) + sigline.substr(0, sigline.rfind(' ') + 1) + base64_encode(raw) + "\n";
    entry(b)["inclusionProof"]["checkpoint"]["envelope"] = tampered;
    CHECK(has(refused(b), "checkpoint is not signed by the log's key"));
    b = good;
    std::string root_b64 = entry(b)["inclusionProof"]["rootHash"];
    std::string other_root = *base64_decode(root_b64);
    other_root[0] ^= 1;
    cp.replace(cp.find(root_b64), root_b64.size(), base64_encode(other_root));
    entry(b)["inclusionProof"]["checkpoint"]["envelope"] = cp;
    CHECK(has(refused(b), "checkpoint's tree size or root hash differs"));

    b = good;  // a payload byte
    std::string payload = *base64_decode(b["dsseEnvelope"]["payload"].get<std::string>());
    payload[payload.size() / 2] ^= 1;
    b["dsseEnvelope"]["payload"] = base64_encode(payload);
    CHECK(has(refused(b), "payload hash differs"));
    b = good;  // another signature
    b["dsseEnvelope"]["signatures"][0]["sig"] = bundle(std::string(v) == "v1.1.0-sigstore" ? "v1.0.1-sigstore" : "v1.1.0-sigstore")["dsseEnvelope"]["signatures"][0]["sig"];
    CHECK(has(refused(b), "signature differs"));
    b = good;  // the leaf replaced by the other vector's leaf
    b["verificationMaterial"]["certificate"] =
        bundle(std::string(v) == "v1.1.0-sigstore" ? "v1.0.1-sigstore" : "v1.1.0-sigstore")["verificationMaterial"]["certificate"];
    CHECK(has(refused(b), "verifier differs from the bundle's certificate"));
    b = good;  // no signed entry timestamp: v1.0.1 then has no verified time at all
    entry(b).erase("inclusionPromise");
    if (std::string(v) == "v1.0.1-sigstore")
      CHECK(has(refused(b), "no verified time"));
    else
      CHECK(sigstore_of(b, root).verified_times.size() == 1);  // the TSA's time
    b = good;
    entry(b)["kindVersion"]["kind"] = "hashedrekord";
    CHECK(has(refused(b), "is not supported"));
    b = good;
    b["verificationMaterial"]["tlogEntries"] = json::array();
    CHECK(has(refused(b), "exactly one transparency log entry"));
  }

  // The RFC 3161 timestamp: TSA missing from the root, or the token moved to another signature.
  json b = bundle("v1.1.0-sigstore");
  json r = root_json();
  r["timestampAuthorities"] = json::array();
  CHECK(has(refusal([&] { sigstore_of(b, root_of(r)); }), "rfc3161 timestamp 1: no timestamp authority"));
  json other = bundle("v1.0.1-sigstore");
  other["verificationMaterial"]["timestampVerificationData"] = b["verificationMaterial"]["timestampVerificationData"];
  CHECK(has(refusal([&] { sigstore_of(other, root); }), "rfc3161 timestamp 1: does not verify"));
  std::string tsr = *base64_decode(b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"].get<std::string>());
  tsr[tsr.size() - 10] ^= 1;  // inside the CMS signature
  b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] = base64_encode(tsr);
  CHECK(has(refusal([&] { sigstore_of(b, root); }), "rfc3161 timestamp 1"));

  // Material of the other methods.
  CHECK(has(refusal([&] { sigstore_of(bundle("v1.1.0-elliptic-key"), root); }), "no certificate"));
  CHECK(has(refusal([&] { sigstore_of(bundle("v1.1.0-certificate"), root); }), "exactly one transparency log entry"));
  CHECK_THROWS_AS(sigstore_of(bundle("v1.1.0-sigstore"), root, {"", "", kStefan.issuer}), Error);
  CHECK_THROWS_AS(sigstore_of(bundle("v1.1.0-sigstore"), root, {"", "(", kStefan.issuer}), Error);
}

TEST_CASE("certificate vectors chain to their root at the leaf's notBefore") {
  const std::vector<std::string> roots = {pem_file("ca-cert.pem")};
  for (const char* v : {"v1.1.0-certificate", "v0.2.0-certificate"}) {
    CAPTURE(v);
    json b = bundle(v);
    VerificationMaterial vm = VerificationMaterial::parse(b["verificationMaterial"], "bundle");
    Envelope env = Envelope::from_json(b["dsseEnvelope"], "bundle");
    CertifiedSigner s = verify_certificate_chain(vm, roots, std::nullopt);
    CHECK(s.key.type() == KeyType::ecdsa_p384);
    CHECK(s.subject == "CN=intermediate-ca");
    CHECK(s.identity == "intermediate-ca");
    CHECK(s.verified_times.size() == 1);
    CHECK(s.key.pem() == PublicKey::from_pem(pem_file("signing-key-pub.pem"), "pub").pem());
    CHECK_NOTHROW(verify_dsse_with_certified_key(s.key, env, env.signatures[0], true));
    CHECK_NOTHROW(verify_certificate_chain(vm, roots, std::string("intermediate-ca")));
    CHECK(has(refusal([&] { verify_certificate_chain(vm, roots, std::string("someone")); }), "is not someone"));
    CHECK_NOTHROW(Manifest::parse_unauthenticated(env.payload));

    // Another root; the intermediate removed; the leaf replaced by a Fulcio leaf.
    const json tr = root_json();
    std::string fulcio_root = "-----BEGIN CERTIFICATE-----\n" +
                              tr["certificateAuthorities"][1]["certChain"]["certificates"][1]["rawBytes"].get<std::string>() +
                              "\n-----END CERTIFICATE-----\n";
    CHECK(has(refusal([&] { verify_certificate_chain(vm, {fulcio_root}, std::nullopt); }), "does not chain to the given roots"));
    VerificationMaterial no_int = vm;
    no_int.chain_der.resize(1);
    CHECK(has(refusal([&] { verify_certificate_chain(no_int, roots, std::nullopt); }), "does not chain to the given roots"));
    VerificationMaterial other_leaf = vm;
    other_leaf.chain_der[0] = *base64_decode(bundle("v1.1.0-sigstore")["verificationMaterial"]["certificate"]["rawBytes"].get<std::string>());
    CHECK(has(refusal([&] { verify_certificate_chain(other_leaf, roots, std::nullopt); }), "does not chain"));

    // A payload byte changed: the signature no longer verifies, in either PAE.
    Envelope bad = env;
    bad.payload[bad.payload.size() / 2] ^= 1;
    CHECK(has(refusal([&] { verify_dsse_with_certified_key(s.key, bad, bad.signatures[0], true); }), "does not verify"));
  }
  // v0.2.0 verifies only through the compatibility PAE, v1.1.0 only through the standard one.
  json b = bundle("v0.2.0-certificate");
  Envelope env = Envelope::from_json(b["dsseEnvelope"], "bundle");
  CertifiedSigner s = verify_certificate_chain(VerificationMaterial::parse(b["verificationMaterial"], "b"), {pem_file("ca-cert.pem")}, std::nullopt);
  CHECK_THROWS(s.key.verify(pae(env.payload_type, env.payload), env.signatures[0].sig));
  CHECK(has(refusal([&] { verify_dsse_with_certified_key(s.key, env, env.signatures[0], false); }), "does not verify"));
  CHECK(compat_pae_v02(env.payload_type, env.payload).starts_with("DSSEV1 28 application/vnd.in-toto+json " + std::to_string(env.payload.size()) +
                                                                  " b'{\\n  \"_type\""));
  // A key bundle has no chain.
  CHECK(has(refusal([&] {
          verify_certificate_chain(VerificationMaterial::parse(bundle("v1.1.0-elliptic-key")["verificationMaterial"], "b"),
                                   {pem_file("ca-cert.pem")}, std::nullopt);
        }), "no certificate chain"));
}

TEST_CASE("compat PAE writes the payload as a Python bytes literal") {
  CHECK(compat_pae_v02("t", "ab") == "DSSEV1 1 t 2 b'ab'");
  CHECK(compat_pae_v02("t", "a'b") == "DSSEV1 1 t 3 b\"a'b\"");
  CHECK(compat_pae_v02("t", "a'\"") == "DSSEV1 1 t 3 b'a\\'\"'");
  CHECK(compat_pae_v02("t", std::string("\\\t\r\n\x00\x7f\xff", 7)) == "DSSEV1 1 t 7 b'\\\\\\t\\r\\n\\x00\\x7f\\xff'");
}

TEST_CASE("verification material: structure only, and strict") {
  json vm = bundle("v1.1.0-sigstore")["verificationMaterial"];
  VerificationMaterial m = VerificationMaterial::parse(vm, "b");
  REQUIRE(m.tlog_entries.size() == 1);
  CHECK(m.tlog_entries[0].log_index == 598151086);
  CHECK(m.tlog_entries[0].inclusion_proof->log_index == 476246824);
  CHECK(m.tlog_entries[0].inclusion_proof->hashes.size() == 14);
  CHECK(m.rfc3161_timestamps.size() == 1);
  CHECK(VerificationMaterial::parse(bundle("v1.1.0-elliptic-key")["verificationMaterial"], "b").public_key_hint.size() == 64);
  CHECK(VerificationMaterial::parse(bundle("v1.1.0-certificate")["verificationMaterial"], "b").chain_der.size() == 2);

  auto bad = [&](const std::function<void(json&)>& edit, const std::string& part) {
    json j = vm;
    edit(j);
    CHECK(has(refusal([&] { VerificationMaterial::parse(j, "b"); }), part));
  };
  bad([](json& j) { j["tlogEntries"][0]["logIndex"] = "-1"; }, "logIndex");
  bad([](json& j) { j["tlogEntries"][0]["logIndex"] = "01"; }, "logIndex");
  bad([](json& j) { j["tlogEntries"][0]["integratedTime"] = "9223372036854775808"; }, "integratedTime");
  bad([](json& j) { j["tlogEntries"][0]["integratedTime"] = -5; }, "integratedTime");
  bad([](json& j) { j["tlogEntries"][0]["inclusionProof"]["hashes"][0] = "AAAA"; }, "32 bytes");
  bad([](json& j) { j["tlogEntries"][0]["canonicalizedBody"] = "!!"; }, "base64");
  bad([](json& j) { j["publicKey"] = {{"hint", "x"}}; }, "more than one");
  bad([](json& j) { j["certificate"] = "x"; }, "expected an object");
  bad([](json& j) { j["tlogEntries"] = json::object(); }, "tlogEntries");
  bad([](json& j) { j = json::array(); }, "expected an object");
  json j = vm;
  j["tlogEntries"][0]["logIndex"] = 598151086;  // protobuf JSON also allows a number
  CHECK(VerificationMaterial::parse(j, "b").tlog_entries[0].log_index == 598151086);
}

TEST_CASE("trusted root: malformed ones are usage errors") {
  auto usage = [](const std::string& text) {
    try {
      TrustedRoot::parse(text, "root");
    } catch (const Error& e) {
      return e.status() == Status::usage;
    }
    return false;
  };
  CHECK(usage("{"));
  CHECK(usage("[]"));
  CHECK(usage(R"({"mediaType":"application/json"})"));
  json r = root_json();
  r["tlogs"][0]["publicKey"]["validFor"]["start"] = "yesterday";
  CHECK(usage(r.dump()));
  r = root_json();
  r["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] = "AAAA";
  CHECK(usage(r.dump()));
  r = root_json();
  r["tlogs"][0]["hashAlgorithm"] = "SHA1";
  CHECK(usage(r.dump()));
  CHECK_NOTHROW(TrustedRoot::parse(R"({"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"})", "r"));
}

TEST_CASE("checkpoints: C2SP signed notes") {
  json e = bundle("v1.0.1-sigstore")["verificationMaterial"]["tlogEntries"][0];
  Checkpoint cp = Checkpoint::parse(e["inclusionProof"]["checkpoint"]["envelope"].get<std::string>(), "t");
  CHECK(cp.origin == "rekor.sigstore.dev - 1193050959916656506");
  CHECK(cp.tree_size == 467035599);
  CHECK(base64_encode(cp.root_hash) == e["inclusionProof"]["rootHash"]);
  REQUIRE(cp.signatures.size() == 1);
  CHECK(cp.signatures[0].name == "rekor.sigstore.dev");
  CHECK(to_hex(cp.signatures[0].key_hint) == "c0d23d6a");
  const std::string root = std::string(43, 'A') + "=";
  const std::vector<std::string> bads = {std::string(), std::string("o\n1\n") + root + "\n", "o\n1\n" + root + "\n\n",
                                 "o\n01\n" + root + "\n\n\xe2\x80\x94 n AAAAAAAA\n",
                                 "o\n1\nAAAA\n\n\xe2\x80\x94 n AAAAAAAA\n",
                                 "o\n1\n" + root + "\n\n- n AAAAAAAA\n",
                                 "o\n1\n" + root + "\n\n\xe2\x80\x94 n AAAA\n",
                                 "o\n1\n" + root + "\n\n\xe2\x80\x94 n AAAAAAAA"};
  for (const std::string& bad : bads) CHECK_THROWS_AS(Checkpoint::parse(bad, "t"), Error);
  CHECK(Checkpoint::parse("o\n1\n" + root + "\nextra\n\n\xe2\x80\x94 n AAAAAAAA\n", "t").note_text == "o\n1\n" + root + "\nextra\n");
}

TEST_CASE("the OMS specification's vectors, as far as these primitives go") {
  const std::string dir = env_or("MODELSEAL_SOURCE", ".") + "/tests/data/oms-spec/test-vectors/v1.0/";
  const TrustedRoot root = TrustedRoot::load(root_path());
  json b = json::parse(slurp(dir + "valid/sigstore.bundle.json"));
  CHECK(sigstore_of(b, root).identity == "stefanb@us.ibm.com");
  b = json::parse(slurp(dir + "valid/certificate.bundle.json"));
  VerificationMaterial vm = VerificationMaterial::parse(b["verificationMaterial"], "spec");
  Envelope env = Envelope::from_json(b["dsseEnvelope"], "spec");
  CertifiedSigner s = verify_certificate_chain(vm, {pem_file("ca-cert.pem")}, std::nullopt);
  CHECK_NOTHROW(verify_dsse_with_certified_key(s.key, env, env.signatures[0], true));
  b = json::parse(slurp(dir + "invalid/missing-tlog-entries.bundle.json"));
  CHECK(has(refusal([&] { sigstore_of(b, root); }), "exactly one transparency log entry"));
  b = json::parse(slurp(dir + "invalid/missing-verification-material.bundle.json"));
  CHECK(!b.contains("verificationMaterial"));
  CHECK(has(refusal([&] { VerificationMaterial::parse(json(), "spec"); }), "expected an object"));
}

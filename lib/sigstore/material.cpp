// bundle.verificationMaterial (protobuf-specs VerificationMaterial in its JSON form): structural
// parse only. int64 fields are JSON strings there (protobuf's JSON mapping); numbers are accepted too.
#include <charconv>
#include <limits>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/sigstore.hpp"
#include "modelseal/json.hpp"
#include "internal.hpp"

namespace modelseal {

namespace {

constexpr size_t kMaxCertificates = 10;
constexpr size_t kMaxTlogEntries = 16;
constexpr size_t kMaxTimestamps = 16;
constexpr size_t kMaxProofHashes = 64;   // a tree of 2^64 leaves needs 64
constexpr size_t kMaxCheckpointBytes = 64u << 10;

const json& field(const json& obj, const char* key, json::value_t type, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->type() != type) throw untrusted(what + ": missing or invalid " + key);
  return *it;
}

std::string b64_field(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) throw untrusted(what + ": missing or invalid " + key);
  auto raw = base64_decode(it->get<std::string>());
  if (!raw || raw->empty()) throw untrusted(what + ": " + key + " is not valid base64");
  return std::move(*raw);
}

int64_t int64_field(const json& obj, const char* key, const std::string& what) {
  auto it = obj.find(key);
  if (it != obj.end() && it->is_number_unsigned() && it->get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()))
    return it->get<int64_t>();
  if (it != obj.end() && it->is_number_integer() && !it->is_number_unsigned() && it->get<int64_t>() >= 0)
    return it->get<int64_t>();
  if (it != obj.end() && it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && s[0] != '-' && s[0] != '+' && ec == std::errc() && end == s.data() + s.size() &&
        (s.size() == 1 || s[0] != '0'))
      return v;
  }
  throw untrusted(what + ": missing or invalid " + key + " (expected a non-negative int64)");
}

std::string raw_bytes(const json& holder, const std::string& what) {
  if (!holder.is_object()) throw untrusted(what + ": expected an object");
  return b64_field(holder, "rawBytes", what);
}

InclusionProof parse_proof(const json& p, const std::string& what) {
  InclusionProof proof;
  proof.log_index = int64_field(p, "logIndex", what);
  proof.tree_size = int64_field(p, "treeSize", what);
  proof.root_hash = b64_field(p, "rootHash", what);
  if (proof.root_hash.size() != 32) throw untrusted(what + ": rootHash is not 32 bytes");
  const json& hashes = field(p, "hashes", json::value_t::array, what);
  if (hashes.size() > kMaxProofHashes) throw untrusted(what + ": too many hashes");
  for (const json& h : hashes) {
    auto raw = h.is_string() ? base64_decode(h.get<std::string>()) : std::nullopt;
    if (!raw || raw->size() != 32) throw untrusted(what + ": an inclusion proof hash is not 32 bytes of base64");
    proof.hashes.push_back(std::move(*raw));
  }
  const json& cp = field(p, "checkpoint", json::value_t::object, what);
  proof.checkpoint = field(cp, "envelope", json::value_t::string, what + " checkpoint").get<std::string>();
  if (proof.checkpoint.size() > kMaxCheckpointBytes) throw untrusted(what + ": checkpoint too large");
  return proof;
}

TlogEntry parse_entry(const json& e, const std::string& what) {
  if (!e.is_object()) throw untrusted(what + ": expected an object");
  TlogEntry entry;
  entry.log_index = int64_field(e, "logIndex", what);
  entry.log_id = b64_field(field(e, "logId", json::value_t::object, what), "keyId", what + " logId");
  const json& kv = field(e, "kindVersion", json::value_t::object, what);
  entry.kind = field(kv, "kind", json::value_t::string, what).get<std::string>();
  entry.kind_version = field(kv, "version", json::value_t::string, what).get<std::string>();
  entry.integrated_time = int64_field(e, "integratedTime", what);
  if (auto ip = e.find("inclusionPromise"); ip != e.end() && !ip->is_null()) {
    if (!ip->is_object()) throw untrusted(what + ": invalid inclusionPromise");
    entry.signed_entry_timestamp = b64_field(*ip, "signedEntryTimestamp", what + " inclusionPromise");
  }
  if (auto pr = e.find("inclusionProof"); pr != e.end() && !pr->is_null()) {
    if (!pr->is_object()) throw untrusted(what + ": invalid inclusionProof");
    entry.inclusion_proof = parse_proof(*pr, what + " inclusionProof");
  }
  entry.canonicalized_body = b64_field(e, "canonicalizedBody", what);
  return entry;
}

}  // namespace

VerificationMaterial VerificationMaterial::parse(const json& vm, const std::string& what) {
  const std::string w = what + ": verificationMaterial";
  if (!vm.is_object()) throw untrusted(w + ": expected an object");
  VerificationMaterial m;
  int methods = 0;
  if (auto pk = vm.find("publicKey"); pk != vm.end()) {
    ++methods;
    if (!pk->is_object()) throw untrusted(w + ": invalid publicKey");
    if (auto h = pk->find("hint"); h != pk->end()) {
      if (!h->is_string()) throw untrusted(w + ": invalid publicKey hint");
      m.public_key_hint = h->get<std::string>();
    }
  }
  if (auto chain = vm.find("x509CertificateChain"); chain != vm.end()) {
    ++methods;
    if (!chain->is_object()) throw untrusted(w + ": invalid x509CertificateChain");
    const json& certs = field(*chain, "certificates", json::value_t::array, w + " x509CertificateChain");
    if (certs.empty()) throw untrusted(w + ": x509CertificateChain has no certificate");
    if (certs.size() > kMaxCertificates) throw untrusted(w + ": too many certificates");
    for (const json& c : certs) m.chain_der.push_back(raw_bytes(c, w + " certificate"));
  }
  if (auto cert = vm.find("certificate"); cert != vm.end()) {
    ++methods;
    m.chain_der.push_back(raw_bytes(*cert, w + " certificate"));
  }
  if (methods > 1) throw untrusted(w + ": more than one of publicKey, x509CertificateChain, certificate");
  if (auto tl = vm.find("tlogEntries"); tl != vm.end() && !tl->is_null()) {
    if (!tl->is_array()) throw untrusted(w + ": invalid tlogEntries");
    if (tl->size() > kMaxTlogEntries) throw untrusted(w + ": too many tlogEntries");
    for (const json& e : *tl) m.tlog_entries.push_back(parse_entry(e, w + " tlog entry"));
  }
  if (auto tv = vm.find("timestampVerificationData"); tv != vm.end() && !tv->is_null()) {
    if (!tv->is_object()) throw untrusted(w + ": invalid timestampVerificationData");
    if (auto ts = tv->find("rfc3161Timestamps"); ts != tv->end() && !ts->is_null()) {
      if (!ts->is_array()) throw untrusted(w + ": invalid rfc3161Timestamps");
      if (ts->size() > kMaxTimestamps) throw untrusted(w + ": too many rfc3161Timestamps");
      for (const json& t : *ts) {
        if (!t.is_object()) throw untrusted(w + ": invalid rfc3161 timestamp");
        m.rfc3161_timestamps.push_back(b64_field(t, "signedTimestamp", w + " rfc3161 timestamp"));
      }
    }
  }
  return m;
}

json describe_material(const VerificationMaterial& vm) {
  json j = {{"method", !vm.has_certificate() ? "key" : vm.tlog_entries.empty() ? "certificate" : "sigstore"}};
  if (!vm.public_key_hint.empty()) j["public_key_hint"] = printable(vm.public_key_hint);
  if (vm.has_certificate()) {
    j["chain_length"] = vm.chain_der.size();
    try {
      sigstore::X509Ptr leaf = sigstore::parse_der_certificate(vm.chain_der[0], "certificate");
      json ids = json::array();
      for (const auto& san : sigstore::signer_sans(leaf.get())) ids.push_back(printable(san));
      json c = {{"identities", ids},
                {"subject", printable(sigstore::subject_rfc2253(leaf.get()))},
                {"issuer", printable(sigstore::issuer_rfc2253(leaf.get()))},
                {"not_before", sigstore::format_time(sigstore::asn1_time_to_time(X509_get0_notBefore(leaf.get())))},
                {"not_after", sigstore::format_time(sigstore::asn1_time_to_time(X509_get0_notAfter(leaf.get())))}};
      if (auto oidc = sigstore::fulcio_issuer(leaf.get())) c["oidc_issuer"] = printable(*oidc);
      j["certificate"] = c;
    } catch (const Error& e) {
      j["certificate_error"] = e.what();
    }
  }
  json entries = json::array();
  for (const auto& e : vm.tlog_entries)
    entries.push_back({{"log_index", e.log_index},
                       {"integrated_time", sigstore::format_time(static_cast<std::time_t>(e.integrated_time))},
                       {"kind", printable(e.kind + (e.kind_version.empty() ? "" : " " + e.kind_version))}});
  j["tlog_entries"] = entries;
  j["rfc3161_timestamps"] = vm.rfc3161_timestamps.size();
  return j;
}

}  // namespace modelseal

// Sigstore keyless verification, offline, in sigstore-python's order: establish verified times
// (Rekor SET, RFC 3161), check the Rekor entry and that it is this envelope's, then the Fulcio
// certificate at each verified time (chain, usage, SCT) and the identity it certifies, and last
// the envelope's signature with the certificate's key.
#include <algorithm>
#include <regex>

#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

using namespace sigstore;

namespace {

// The tlog entry's body (kind dsse, 0.0.1) must record this payload, signature and certificate.
void check_dsse_body(const TlogEntry& entry, const Envelope& env, X509* leaf) {
  if (entry.kind != "dsse" || entry.kind_version != "0.0.1")
    throw untrusted("rekor entry: kind " + printable(entry.kind) + " " + printable(entry.kind_version) +
                    " is not supported (expected dsse 0.0.1)");
  json body = parse_json_strict(entry.canonicalized_body, "rekor entry body");
  const std::string w = "rekor entry body";
  if (!body.is_object() || body.value("kind", "") != "dsse" || body.value("apiVersion", "") != "0.0.1")
    throw untrusted(w + ": not a dsse 0.0.1 entry");
  const json& spec = require(body, "spec", json::value_t::object, w);
  const json& ph = require(spec, "payloadHash", json::value_t::object, w);
  if (require_string(ph, "algorithm", w) != "sha256" ||
      require_string(ph, "value", w) != digest_hex(sha256(env.payload)))
    throw untrusted(w + ": payload hash differs from the envelope's payload");
  const json& sigs = require(spec, "signatures", json::value_t::array, w);
  if (sigs.size() != 1 || !sigs[0].is_object()) throw untrusted(w + ": expected exactly one signature");
  if (require_string(sigs[0], "signature", w) != base64_encode(env.signatures[0].sig))
    throw untrusted(w + ": signature differs from the envelope's");
  auto pem = base64_decode(require_string(sigs[0], "verifier", w));
  std::vector<X509Ptr> verifier;
  try {
    verifier = parse_pem_certificates(pem ? *pem : std::string(), w);
  } catch (const Error&) {
    throw untrusted(w + ": verifier is not a PEM certificate");
  }
  if (verifier.size() != 1 || certificate_der(verifier[0].get()) != certificate_der(leaf))
    throw untrusted(w + ": verifier differs from the bundle's certificate");
}

bool identity_matches(const std::vector<std::string>& sans, const SigstoreIdentity& expected, std::string& matched) {
  std::optional<std::regex> re;
  if (!expected.identity_regexp.empty()) re.emplace(expected.identity_regexp, std::regex::ECMAScript);
  for (const auto& san : sans) {
    if (re ? std::regex_match(san, *re) : san == expected.identity) {
      matched = san;
      return true;
    }
  }
  return false;
}

}  // namespace

void SigstoreIdentity::check(const std::string& what) const {
  if (identity.empty() == identity_regexp.empty())
    throw usage_error(what + ": give exactly one of an identity and an identity regexp");
  if (issuer.empty()) throw usage_error(what + ": no OIDC issuer given");
  if (identity_regexp.empty()) return;
  const std::string bad = what + ": invalid identity regexp: " + printable(identity_regexp.substr(0, 200));
  if (identity_regexp.size() > 1024) throw usage_error(bad, "at most 1024 characters");
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < identity_regexp.size(); ++i) {
    const char c = identity_regexp[i];
    if (c == '\\') ++i;
    else if (c == '(') deepest = std::max(deepest, ++depth);
    else if (c == ')') --depth;
  }
  if (deepest > 16) throw usage_error(bad, "groups may nest at most 16 deep");
  try {
    std::regex re(identity_regexp, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    throw usage_error(bad);
  }
}

CertifiedSigner verify_sigstore(const VerificationMaterial& vm, const Envelope& env, const TrustedRoot& root,
                                const SigstoreIdentity& expected) {
  expected.check("sigstore");
  if (!vm.has_certificate()) throw untrusted("sigstore: the bundle has no certificate (not a keyless signature)");
  if (env.signatures.size() != 1) throw untrusted("sigstore: expected exactly one DSSE signature");
  if (vm.tlog_entries.size() != 1)
    throw untrusted("sigstore: expected exactly one transparency log entry, found " + std::to_string(vm.tlog_entries.size()));
  X509Ptr leaf = parse_der_certificate(vm.chain_der[0], "sigstore certificate");
  const TlogEntry& entry = vm.tlog_entries[0];
  const std::string& signature = env.signatures[0].sig;

  // The Rekor entry: this envelope's, in a log the trusted root lists, included and signed.
  check_dsse_body(entry, env, leaf.get());
  const TransparencyLog* log = nullptr;
  for (const auto& l : root.tlogs())
    if (l.log_id == entry.log_id) log = &l;
  if (!log) throw untrusted("rekor entry: its log (" + to_hex(entry.log_id) + ") is not in the trusted root");
  if (!log->valid_for.contains(std::time_t(entry.integrated_time)))
    throw untrusted("rekor entry: its log was not valid at " + format_time(std::time_t(entry.integrated_time)));

  CertifiedSigner out{certificate_key(leaf.get(), "sigstore certificate"), {}, {}, subject_rfc2253(leaf.get()), {}, {}, {}};
  if (verify_rekor_entry(entry, *log)) {
    out.integrated_time = std::time_t(entry.integrated_time);
    out.verified_times.push_back(*out.integrated_time);
  }
  out.log_index = entry.log_index;
  for (size_t i = 0; i < vm.rfc3161_timestamps.size(); ++i)
    out.verified_times.push_back(verify_rfc3161(vm.rfc3161_timestamps[i], signature, root.timestamp_authorities(),
                                                "rfc3161 timestamp " + std::to_string(i + 1)));
  if (out.verified_times.empty())
    throw untrusted("sigstore: no verified time (no signed entry timestamp and no RFC 3161 timestamp)");

  // The certificate, at each verified time: a Fulcio CA's chain, code signing, one valid SCT.
  X509Ptr issuer;
  for (std::time_t t : out.verified_times) {
    std::string reason = "no Fulcio CA of the trusted root was valid then";
    std::optional<std::vector<X509Ptr>> chain;
    for (const auto& ca : root.certificate_authorities()) {
      if (!ca.valid_for.contains(t)) continue;
      std::vector<X509Ptr> certs;
      for (const auto& der : ca.chain_der) certs.push_back(parse_der_certificate(der, "fulcio CA"));
      std::vector<X509*> untrusted_certs;
      for (size_t i = 0; i + 1 < certs.size(); ++i) untrusted_certs.push_back(certs[i].get());
      chain = verify_chain_at(leaf.get(), {certs.back().get()}, untrusted_certs, t, reason);
      if (chain) break;
    }
    if (!chain || chain->size() < 2)
      throw untrusted("sigstore certificate does not chain to a Fulcio CA of the trusted root at " + format_time(t) +
                      ": " + reason);
    if (!issuer) issuer = std::move((*chain)[1]);
  }
  KeyUsage ku = key_usage(leaf.get());
  if (!ku.digital_signature) throw untrusted("sigstore certificate: key usage lacks digitalSignature");
  if (!ku.code_signing) throw untrusted("sigstore certificate: extended key usage lacks codeSigning");
  verify_embedded_sct(leaf.get(), issuer.get(), root.ctlogs());

  // The identity it certifies.
  const auto sans = signer_sans(leaf.get());
  if (!identity_matches(sans, expected, out.identity))
    throw untrusted("sigstore certificate identity " + printable(sans.empty() ? "(none)" : sans[0]) +
                    " is not " + printable(expected.identity.empty() ? "/" + expected.identity_regexp + "/" : expected.identity));
  auto oidc = fulcio_issuer(leaf.get());
  if (!oidc) throw untrusted("sigstore certificate has no OIDC issuer extension");
  if (*oidc != expected.issuer)
    throw untrusted("sigstore certificate issuer " + printable(*oidc) + " is not " + printable(expected.issuer));
  out.issuer = *oidc;

  verify_dsse_with_certified_key(out.key, env, env.signatures[0], false);
  return out;
}

}  // namespace modelseal

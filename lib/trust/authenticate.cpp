#include "modelseal/authenticate.hpp"

#include <algorithm>

#include "modelseal/error.hpp"

namespace modelseal {

namespace {

bool signs(const PublicKey& key, std::string_view message, const DsseSignature& sig) {
  try {
    key.verify(message, sig.sig);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

AuthenticatedPayload authenticate(const Envelope& env, const VerificationMaterial* material,
                                  std::span<const TrustedSigner> trusted, const Expectation& expect,
                                  const std::string& what) {
  const std::string where = what.empty() ? "" : ": " + what;
  if (env.payload_type != expect.payload_type)
    throw untrusted("payload type is \"" + env.payload_type + "\", not " + std::string(expect.type_noun) + where);
  AuthenticatedPayload out;
  const std::string message = pae(env.payload_type, env.payload);
  std::vector<std::string> keyids;   // of the signers counted: the same key counts once
  std::string why;                   // the first reason a certified signer did not match
  for (size_t i = 0; i < trusted.size(); ++i) {
    const TrustedSigner& t = trusted[i];
    std::optional<CertifiedSigner> cert;
    bool ok = false;
    if (t.certified) {
      if (!material) continue;
      try {
        cert = t.certified->certify(*material, env);
        ok = std::any_of(env.signatures.begin(), env.signatures.end(), [&](const DsseSignature& sig) {
          try {
            verify_dsse_with_certified_key(cert->key, env, sig, t.certified->accepts_compat_pae());
            return true;
          } catch (const Error&) {
            return false;
          }
        });
        if (!ok && why.empty()) why = "the signature does not verify with the certified key";
      } catch (const Error& e) {
        if (why.empty()) why = e.what();
      }
    } else {
      if (material && material->has_certificate()) {   // a certificate bundle given a bare key
        if (why.empty()) why = "the bundle carries a certificate, not a public key: verify it as such";
        continue;
      }
      ok = std::any_of(env.signatures.begin(), env.signatures.end(),
                       [&](const DsseSignature& sig) { return signs(t.key, message, sig); });
    }
    if (!ok) continue;
    const std::string id = cert ? cert->key.keyid() : t.key.keyid();
    if (std::find(keyids.begin(), keyids.end(), id) != keyids.end()) continue;
    keyids.push_back(id);
    out.signers_.push_back(i);
    out.certified_.push_back(std::move(cert));
  }
  if (out.signers_.empty())
    throw untrusted(std::string(expect.unsigned_reason) + (why.empty() ? "" : " (" + why + ")") + where,
                    std::string(expect.hint));
  out.bytes_ = env.payload;
  out.type_ = env.payload_type;
  out.source_ = what;
  return out;
}

}  // namespace modelseal

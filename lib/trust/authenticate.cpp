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

AuthenticatedPayload authenticate(const Envelope& env, std::span<const TrustedSigner> trusted,
                                  const Expectation& expect, const std::string& what) {
  const std::string where = what.empty() ? "" : ": " + what;
  if (env.payload_type != expect.payload_type)
    throw untrusted("payload type is \"" + env.payload_type + "\", not " + std::string(expect.type_noun) + where);
  AuthenticatedPayload out;
  const std::string message = pae(env.payload_type, env.payload);
  for (size_t i = 0; i < trusted.size(); ++i) {
    const PublicKey& key = trusted[i].key;
    // The same key under two names (or in two encodings) is one signer.
    if (std::any_of(out.signers_.begin(), out.signers_.end(),
                    [&](size_t s) { return trusted[s].key.keyid() == key.keyid(); }))
      continue;
    if (std::any_of(env.signatures.begin(), env.signatures.end(),
                    [&](const DsseSignature& sig) { return signs(key, message, sig); }))
      out.signers_.push_back(i);
  }
  if (out.signers_.empty()) throw untrusted(std::string(expect.unsigned_reason) + where, std::string(expect.hint));
  out.bytes_ = env.payload;
  out.type_ = env.payload_type;
  out.source_ = what;
  return out;
}

}  // namespace modelseal

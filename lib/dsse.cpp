#include "modelseal/dsse.hpp"

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

std::string pae(std::string_view payload_type, std::string_view payload) {
  std::string out(kDssePaePrefix);
  out += ' ';
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

json Envelope::to_json() const {
  json sigs = json::array();
  for (const auto& s : signatures) sigs.push_back({{"sig", base64_encode(s.sig)}, {"keyid", s.keyid}});
  return {{"payload", base64_encode(payload)}, {"payloadType", payload_type}, {"signatures", sigs}};
}

Envelope sign_envelope(std::string payload_type, std::string payload, const std::vector<const SigningKey*>& keys) {
  if (keys.empty()) throw usage_error("no signing key given", "use -k KEY");
  Envelope env{std::move(payload), std::move(payload_type), {}};
  const std::string message = pae(env.payload_type, env.payload);
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t k = 0; k < i; ++k)
      if (keys[k]->public_key().keyid() == keys[i]->public_key().keyid())
        throw usage_error("the same key was given twice");
    env.signatures.push_back({keys[i]->sign(message), keys[i]->public_key().keyid()});
  }
  return env;
}

Envelope Envelope::from_json(const json& j, const std::string& what) {
  Envelope env;
  auto payload = base64_decode(require_string(j, "payload", what));
  if (!payload) throw untrusted(what + ": payload is not valid base64");
  env.payload = std::move(*payload);
  env.payload_type = require_string(j, "payloadType", what);
  const json& sigs = require(j, "signatures", json::value_t::array, what);
  if (sigs.empty()) throw untrusted(what + ": no signatures");
  if (sigs.size() > kMaxSignatures) throw untrusted(what + ": too many signatures");
  for (const json& s : sigs) {
    DsseSignature sig;
    auto raw = base64_decode(require_string(s, "sig", what));
    if (!raw || raw->empty()) throw untrusted(what + ": signature is not valid base64");
    sig.sig = std::move(*raw);
    // keyid is optional and may be null (model_signing 1.0 writes null); it is never trusted.
    if (auto it = s.find("keyid"); it != s.end() && it->is_string()) sig.keyid = it->get<std::string>();
    env.signatures.push_back(std::move(sig));
  }
  return env;
}

}  // namespace modelseal

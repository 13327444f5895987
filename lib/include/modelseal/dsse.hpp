// DSSE envelopes (secure-systems-lab/dsse v1) and their pre-authentication encoding.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
std::string pae(std::string_view payload_type, std::string_view payload);

struct DsseSignature {
  std::string sig;     // raw signature bytes
  std::string keyid;   // a hint only, never trusted
};

struct Envelope {
  std::string payload;        // raw payload bytes
  std::string payload_type;
  std::vector<DsseSignature> signatures;

  nlohmann::json to_json() const;
  // Structural parse only (base64, types, bounds); throws Error(not_trusted) naming `what`.
  static Envelope from_json(const nlohmann::json& j, const std::string& what);
};

// An envelope around `payload` with one signature over its PAE per key (key ids are hints only).
// Error(usage) if `keys` is empty or names the same key twice.
Envelope sign_envelope(std::string payload_type, std::string payload, const std::vector<const SigningKey*>& keys);

}  // namespace modelseal

#pragma GCC visibility pop

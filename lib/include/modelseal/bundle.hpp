// The Sigstore bundle that carries an OMS signature (model.sig).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "modelseal/dsse.hpp"
#include "modelseal/sigstore.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

struct Bundle {
  std::string media_type;   // as read; kBundleMediaType when written
  std::string key_hint;     // verificationMaterial.publicKey.hint: informational only
  VerificationMaterial material;   // as parsed (untrusted until the authenticator checks it)
  std::vector<std::string> certificate_chain;   // DER, leaf first: written as x509CertificateChain
  Envelope envelope;

  std::string serialize() const;
  // Parses bundle bytes (bounded in size and depth). Throws Error(not_trusted).
  static Bundle parse(std::string_view bytes, const std::string& what);
  // Reads and parses a bundle file; Error(io) if it cannot be read.
  // `name` (default: the path) is how messages name it, e.g. the URL it was fetched from.
  static Bundle load(const std::filesystem::path& path, const std::string& name = {});
};

}  // namespace modelseal

#pragma GCC visibility pop

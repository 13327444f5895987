#include "modelseal/bundle.hpp"

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

namespace modelseal {

std::string Bundle::serialize() const {
  json vm = {{"publicKey", {{"hint", key_hint}}}, {"tlogEntries", json::array()}};
  if (!certificate_chain.empty()) {   // model_signing's certificate method
    json certs = json::array();
    for (const auto& der : certificate_chain) certs.push_back({{"rawBytes", base64_encode(der)}});
    vm = {{"x509CertificateChain", {{"certificates", certs}}}, {"tlogEntries", json::array()}};
  }
  json j = {{"mediaType", kBundleMediaType}, {"verificationMaterial", vm}, {"dsseEnvelope", envelope.to_json()}};
  return j.dump() + "\n";
}

Bundle Bundle::parse(std::string_view bytes, const std::string& what) {
  if (bytes.size() > kMaxBundleBytes) throw untrusted(what + ": too large");
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos) throw untrusted(what + ": empty");
  json j = parse_json_strict(bytes, what, kMaxEnvelopeValues);
  if (!j.is_object()) throw untrusted(what + ": not a sigstore bundle (expected a JSON object)");
  Bundle b;
  b.media_type = require_string(j, "mediaType", what);
  if (!b.media_type.starts_with(kBundleMediaTypePrefix))
    throw untrusted(what + ": not a sigstore bundle (mediaType \"" + b.media_type + "\")");
  // Every OMS bundle says how it was signed (the specification's invalid vectors): refused without.
  auto vm = j.find("verificationMaterial");
  if (vm == j.end()) throw untrusted(what + ": no verificationMaterial");
  b.material = VerificationMaterial::parse(*vm, what);
  b.key_hint = b.material.public_key_hint;
  if (!j.contains("dsseEnvelope")) throw untrusted(what + ": no dsseEnvelope (only DSSE bundles are supported)");
  b.envelope = Envelope::from_json(require(j, "dsseEnvelope", json::value_t::object, what), what);
  return b;
}

Bundle Bundle::load(const std::filesystem::path& path, const std::string& name) {
  return parse(read_file_limited(path, kMaxBundleBytes, "signature"), "signature " + (name.empty() ? path.string() : name));
}

}  // namespace modelseal

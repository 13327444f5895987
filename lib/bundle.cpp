#include "modelseal/bundle.hpp"

#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

namespace modelseal {

std::string Bundle::serialize() const {
  json vm = {{"publicKey", {{"hint", key_hint}}}, {"tlogEntries", json::array()}};
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
  if (auto vm = j.find("verificationMaterial"); vm != j.end() && vm->is_object()) {
    if (auto pk = vm->find("publicKey"); pk != vm->end() && pk->is_object())
      if (auto h = pk->find("hint"); h != pk->end() && h->is_string()) b.key_hint = h->get<std::string>();
  }
  if (!j.contains("dsseEnvelope")) throw untrusted(what + ": no dsseEnvelope (only DSSE bundles are supported)");
  b.envelope = Envelope::from_json(require(j, "dsseEnvelope", json::value_t::object, what), what);
  return b;
}

Bundle Bundle::load(const std::filesystem::path& path) {
  return parse(read_file_limited(path, kMaxBundleBytes, "signature"), "signature " + path.string());
}

}  // namespace modelseal

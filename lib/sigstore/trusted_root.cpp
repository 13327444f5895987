// The Sigstore trusted root (protobuf-specs dev.sigstore.trustedroot.v1.TrustedRoot, JSON form).
// It is trusted configuration, so a malformed one is the caller's mistake: Error(usage).
#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/files.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

namespace {

constexpr std::string_view kTrustedRootMediaTypePrefix = "application/vnd.dev.sigstore.trustedroot";
constexpr size_t kMaxEntries = 64;

const json& field(const json& obj, const char* key, json::value_t type, const std::string& what) {
  auto it = obj.find(key);
  if (it == obj.end() || it->type() != type) throw usage_error(what + ": missing or invalid " + key);
  return *it;
}

std::string b64(const json& obj, const char* key, const std::string& what) {
  auto raw = base64_decode(field(obj, key, json::value_t::string, what).get<std::string>());
  if (!raw || raw->empty()) throw usage_error(what + ": " + key + " is not valid base64");
  return std::move(*raw);
}

ValidFor valid_for(const json& obj, const std::string& what) {
  ValidFor v;
  auto it = obj.find("validFor");
  if (it == obj.end()) return v;
  if (!it->is_object()) throw usage_error(what + ": invalid validFor");
  auto read = [&](const char* key) -> std::optional<std::time_t> {
    auto f = it->find(key);
    if (f == it->end()) return std::nullopt;
    auto t = f->is_string() ? sigstore::parse_rfc3339(f->get<std::string>()) : std::nullopt;
    if (!t) throw usage_error(what + ": validFor " + key + " is not an RFC 3339 time");
    return t;
  };
  v.start = read("start").value_or(0);
  v.end = read("end");
  return v;
}

const json& list(const json& j, const char* key, const std::string& what) {
  static const json empty = json::array();
  auto it = j.find(key);
  if (it == j.end()) return empty;
  if (!it->is_array() || it->size() > kMaxEntries) throw usage_error(what + ": invalid " + key);
  return *it;
}

std::vector<TransparencyLog> logs(const json& j, const char* key, const std::string& what) {
  std::vector<TransparencyLog> out;
  for (const json& l : list(j, key, what)) {
    const std::string w = what + " " + key;
    if (!l.is_object()) throw usage_error(w + ": expected an object");
    TransparencyLog log;
    if (auto u = l.find("baseUrl"); u != l.end() && u->is_string()) log.base_url = u->get<std::string>();
    if (auto h = l.find("hashAlgorithm"); h != l.end() && (!h->is_string() || h->get<std::string>() != "SHA2_256"))
      throw usage_error(w + ": unsupported hashAlgorithm (expected SHA2_256)");
    const json& pk = field(l, "publicKey", json::value_t::object, w);
    log.spki_der = b64(pk, "rawBytes", w + " publicKey");
    log.valid_for = valid_for(pk, w + " publicKey");
    log.log_id = b64(field(l, "logId", json::value_t::object, w), "keyId", w + " logId");
    out.push_back(std::move(log));
  }
  return out;
}

std::vector<CertificateAuthority> authorities(const json& j, const char* key, const std::string& what) {
  std::vector<CertificateAuthority> out;
  for (const json& a : list(j, key, what)) {
    const std::string w = what + " " + key;
    if (!a.is_object()) throw usage_error(w + ": expected an object");
    CertificateAuthority ca;
    if (auto u = a.find("uri"); u != a.end() && u->is_string()) ca.uri = u->get<std::string>();
    const json& certs = field(field(a, "certChain", json::value_t::object, w), "certificates", json::value_t::array, w);
    if (certs.empty() || certs.size() > 10) throw usage_error(w + ": certChain must hold 1 to 10 certificates");
    for (const json& c : certs) {
      if (!c.is_object()) throw usage_error(w + ": invalid certificate");
      ca.chain_der.push_back(b64(c, "rawBytes", w + " certificate"));
      sigstore::parse_der_certificate(ca.chain_der.back(), w, Status::usage);
    }
    ca.valid_for = valid_for(a, w);
    out.push_back(std::move(ca));
  }
  return out;
}

}  // namespace

TrustedRoot TrustedRoot::parse(std::string_view bytes, const std::string& what) {
  if (bytes.size() > kMaxTrustedRootBytes) throw usage_error(what + ": too large");
  json j = parse_json_strict(bytes, what, SIZE_MAX, Status::usage);
  if (!j.is_object()) throw usage_error(what + ": not a sigstore trusted root (expected a JSON object)");
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string() || !mt->get<std::string>().starts_with(kTrustedRootMediaTypePrefix))
    throw usage_error(what + ": not a sigstore trusted root (mediaType)", "expected " + std::string(kTrustedRootMediaType));
  TrustedRoot root;
  root.tlogs_ = logs(j, "tlogs", what);
  root.ctlogs_ = logs(j, "ctlogs", what);
  root.cas_ = authorities(j, "certificateAuthorities", what);
  root.tsas_ = authorities(j, "timestampAuthorities", what);
  return root;
}

std::filesystem::path TrustedRoot::default_path() {
  const std::filesystem::path installed = MODELSEAL_DATADIR "/sigstore/trusted_root.json";
  std::error_code ec;
  if (std::filesystem::exists(installed, ec)) return installed;
  return MODELSEAL_SOURCE_ROOT "/lib/sigstore/trusted_root.json";
}

TrustedRoot TrustedRoot::load(const std::filesystem::path& path) {
  return parse(read_file_limited(path, kMaxTrustedRootBytes, "trusted root"), "trusted root " + path.string());
}

}  // namespace modelseal

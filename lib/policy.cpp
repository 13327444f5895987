#include "modelseal/policy.hpp"

#include <algorithm>
#include <cstdio>
#include <fnmatch.h>
#include <map>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"
#include "sigstore/internal.hpp"

namespace modelseal {

bool glob_match(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

std::optional<std::time_t> parse_rfc3339(std::string_view s) {
  struct tm tm {};
  int n = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
    return std::nullopt;
  std::string_view rest = s.substr(19);
  if (!rest.empty() && rest[0] == '.') {  // fractional seconds are dropped
    size_t k = 1;
    while (k < rest.size() && rest[k] >= '0' && rest[k] <= '9') ++k;
    if (k == 1) return std::nullopt;
    rest.remove_prefix(k);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int hh = 0, mm = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
      return std::nullopt;
    offset = (rest[0] == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
  } else {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm) - offset;
}

std::string format_rfc3339(std::time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

// The fingerprint of a policy made from `what` (its text, or the arguments it was made from) and
// the keys it holds: a key file a policy names may change while the policy's text does not.
Digest fingerprint_of(std::string_view kind, std::string_view what, const std::vector<TrustedSigner>& signers) {
  Sha256 h;
  auto add = [&](std::string_view part) {
    const std::string n = std::to_string(part.size()) + ":";
    h.update(reinterpret_cast<const uint8_t*>(n.data()), n.size());
    h.update(reinterpret_cast<const uint8_t*>(part.data()), part.size());
  };
  add(kind);
  add(what);
  for (const auto& s : signers) {
    add(s.name);
    add(s.certified ? "certified" : s.key.keyid());
  }
  return h.finish();
}

}  // namespace

Policy Policy::from_keys(std::vector<PublicKey> keys) {
  if (keys.empty()) throw usage_error("no trusted key given", "use -p KEY.pub or --policy FILE");
  Policy p;
  for (auto& k : keys) {
    std::string id = k.keyid().substr(0, 16);
    p.signers_.push_back({id, std::move(k), {}});
    p.rules_.emplace_back();
  }
  p.fingerprint_ = fingerprint_of("keys", "", p.signers_);
  return p;
}

Policy Policy::load(const std::filesystem::path& path) {
  // A policy too large to read is a bad policy, not an untrusted model.
  std::string text = read_file_limited(path, 4u << 20, "policy", Status::usage);
  return parse(text, path.parent_path(), "policy " + path.string());
}

namespace {

class SigstoreTrust : public CertifiedTrust {
 public:
  SigstoreTrust(TrustedRoot root, SigstoreIdentity id) : root_(std::move(root)), id_(std::move(id)) {}
  CertifiedSigner certify(const VerificationMaterial& m, const Envelope& env) const override {
    return verify_sigstore(m, env, root_, id_);
  }

 private:
  TrustedRoot root_;
  SigstoreIdentity id_;
};

class CertificateTrust : public CertifiedTrust {
 public:
  CertificateTrust(std::vector<std::string> roots, std::optional<std::string> id)
      : roots_(std::move(roots)), id_(std::move(id)) {}
  CertifiedSigner certify(const VerificationMaterial& m, const Envelope&) const override {
    return verify_certificate_chain(m, roots_, id_);
  }
  bool accepts_compat_pae() const override { return true; }   // model_signing v0.2 bundles

 private:
  std::vector<std::string> roots_;
  std::optional<std::string> id_;
};

// A certified signer has no key of its own: a placeholder that never verifies anything.
PublicKey no_key() {
  static const PublicKey k = PrivateKey::generate(KeyType::ed25519).public_key();
  return k;
}

std::string sigstore_name(const SigstoreIdentity& id) {
  return (id.identity.empty() ? id.identity_regexp : id.identity) + " (" + id.issuer + ")";
}

std::filesystem::path beside(const std::filesystem::path& base_dir, const std::string& p) {
  std::filesystem::path path = p;
  return path.is_absolute() ? path : base_dir / path;
}

// One entry of "keys": a public key, a Sigstore identity or certificate roots (modelseal-policy(5)).
// `roots` caches trusted roots by path, so signers under one root parse it once.
TrustedSigner signer_of(const json& k, const std::filesystem::path& base_dir, const std::string& what,
                        std::map<std::filesystem::path, TrustedRoot>& roots) {
  if (!k.is_object()) throw usage_error(what + ": each entry of \"keys\" must be an object");
  only_fields(k, {"id", "type", "pem", "path", "sigstore", "trusted_root", "certificate", "not_before", "not_after",
           "revoked", "models", "description"},
       what + ": a key", Status::usage);
  const int kinds = int(k.contains("type") || k.contains("pem") || k.contains("path")) + int(k.contains("sigstore")) +
                    int(k.contains("certificate"));
  if (kinds != 1)
    throw usage_error(what + ": each entry of \"keys\" needs exactly one of a key (\"type\" with \"pem\" or "
                             "\"path\"), \"sigstore\" or \"certificate\"");
  if (k.contains("trusted_root") && !k.contains("sigstore"))
    throw usage_error(what + ": \"trusted_root\" goes with \"sigstore\"");
  std::optional<std::string> id;
  if (k.contains("id")) id = require_string(k, "id", what, Status::usage);

  if (k.contains("sigstore")) {
    const json& s = require(k, "sigstore", json::value_t::object, what, Status::usage);
    const std::string w = what + ": sigstore";
    only_fields(s, {"identity", "identity_regexp", "issuer"}, w, Status::usage);
    SigstoreIdentity sid;
    if (s.contains("identity")) sid.identity = require_string(s, "identity", w, Status::usage);
    if (s.contains("identity_regexp")) sid.identity_regexp = require_string(s, "identity_regexp", w, Status::usage);
    if (s.contains("issuer")) sid.issuer = require_string(s, "issuer", w, Status::usage);
    sid.check(w);
    std::filesystem::path rp = k.contains("trusted_root")
                                   ? beside(base_dir, require_string(k, "trusted_root", what, Status::usage))
                                   : TrustedRoot::default_path();
    auto it = roots.find(rp);
    if (it == roots.end()) it = roots.emplace(rp, TrustedRoot::load(rp)).first;
    std::string name = id ? *id : sigstore_name(sid);
    return {name, no_key(), std::make_shared<SigstoreTrust>(it->second, std::move(sid))};
  }

  if (k.contains("certificate")) {
    const json& c = require(k, "certificate", json::value_t::object, what, Status::usage);
    const std::string w = what + ": certificate";
    only_fields(c, {"roots", "identity"}, w, Status::usage);
    if (!c.contains("roots")) throw usage_error(w + ": needs \"roots\" (a PEM file, or a list of them)");
    std::vector<std::string> files;
    const json& r = c["roots"];
    if (r.is_string()) {
      files.push_back(r.get<std::string>());
    } else if (r.is_array() && !r.empty() && r.size() <= 64) {
      for (const json& f : r) {
        if (!f.is_string()) throw usage_error(w + ": \"roots\" must list file names");
        files.push_back(f.get<std::string>());
      }
    } else {
      throw usage_error(w + ": \"roots\" must be a PEM file or a list of 1 to 64 of them");
    }
    std::vector<std::string> pems;
    for (const auto& f : files) {
      std::filesystem::path fp = beside(base_dir, f);
      pems.push_back(read_file_limited(fp, 1u << 20, "certificate roots", Status::usage));
      sigstore::parse_pem_certificates(pems.back(), "certificate roots " + fp.string());
    }
    std::optional<std::string> cid;
    if (c.contains("identity")) cid = require_string(c, "identity", w, Status::usage);
    std::string name = id ? *id : cid ? *cid : "certificate " + files.front();
    return {name, no_key(), std::make_shared<CertificateTrust>(std::move(pems), std::move(cid))};
  }

  std::string type = require_string(k, "type", what, Status::usage);
  auto kt = key_type_from_name(type);
  if (!kt) throw usage_error(what + ": unknown key type \"" + type + "\" (expected ed25519, p256 or p384)");
  if (k.contains("pem") == k.contains("path")) throw usage_error(what + ": a key needs one of \"pem\" or \"path\"");
  PublicKey pub = k.contains("pem") ? PublicKey::from_pem(require_string(k, "pem", what, Status::usage), what)
                                    : PublicKey::load(beside(base_dir, require_string(k, "path", what, Status::usage)));
  if (pub.type() != *kt)
    throw usage_error(what + ": key declared as " + type + " is " + std::string(key_type_name(pub.type())));
  std::string name = id ? *id : pub.keyid().substr(0, 16);
  return {name, std::move(pub), nullptr};
}

SignerRules rules_of(const json& k, const std::string& name, const std::string& what) {
  SignerRules tk;
  for (const char* field : {"not_before", "not_after"}) {
    if (!k.contains(field)) continue;
    auto t = parse_rfc3339(require_string(k, field, what, Status::usage));
    if (!t) throw usage_error(what + ": " + field + " of key " + name + " is not an RFC 3339 time");
    (std::string_view(field) == "not_before" ? tk.not_before : tk.not_after) = t;
  }
  if (k.contains("revoked")) tk.revoked = require(k, "revoked", json::value_t::boolean, what, Status::usage).get<bool>();
  if (k.contains("models"))
    for (const json& g : require(k, "models", json::value_t::array, what, Status::usage)) {
      if (!g.is_string()) throw usage_error(what + ": models of key " + name + " must be strings");
      tk.models.push_back(g.get<std::string>());
    }
  return tk;
}

}  // namespace

Policy Policy::parse(std::string_view text, const std::filesystem::path& base_dir, const std::string& what) {
  // Every problem with a policy is the operator's to fix: usage error, never "trust everything".
  json j = parse_json_strict(text, what, SIZE_MAX, Status::usage);
  if (!j.is_object()) throw usage_error(what + ": expected a JSON object");
  only_fields(j, {"version", "keys", "threshold", "revoked_digests", "unlisted_files", "description"}, what, Status::usage);
  if (j.contains("version") && j["version"] != 1) throw usage_error(what + ": unsupported version");
  Policy p;
  const json& keys = require(j, "keys", json::value_t::array, what, Status::usage);
  if (keys.empty()) throw usage_error(what + ": no keys", "a policy must name at least one trusted key");
  std::map<std::filesystem::path, TrustedRoot> roots;
  for (const json& k : keys) {
    TrustedSigner signer = signer_of(k, base_dir, what, roots);
    SignerRules tk = rules_of(k, signer.name, what);
    // Key identity is the canonical key: the same key in another encoding is listed twice.
    for (const auto& other : p.signers_) {
      if (!signer.certified && !other.certified && other.key.keyid() == signer.key.keyid())
        throw usage_error(what + ": key " + signer.name + " is listed twice (the same key as " + other.name + ")");
      if (other.name == signer.name)
        throw usage_error(what + ": two signers are named \"" + signer.name + "\"", "give each an \"id\"");
    }
    p.signers_.push_back(std::move(signer));
    p.rules_.push_back(std::move(tk));
  }
  if (j.contains("threshold")) {
    const json& t = require(j, "threshold", json::value_t::number_unsigned, what, Status::usage);
    uint64_t th = t.get<uint64_t>();
    if (th == 0 || th > p.signers_.size())
      throw usage_error(what + ": threshold must be between 1 and the number of keys");
    p.threshold_ = static_cast<unsigned>(th);
  }
  if (j.contains("revoked_digests"))
    for (const json& d : require(j, "revoked_digests", json::value_t::array, what, Status::usage)) {
      std::string s = d.is_string() ? d.get<std::string>() : "";
      if (s.starts_with("sha256:")) s = s.substr(7);
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
      auto raw = from_hex(s);
      if (!raw || raw->size() != 32) throw usage_error(what + ": revoked_digests holds an invalid digest");
      p.revoked_digests_.push_back(s);
    }
  if (j.contains("unlisted_files")) {
    std::string u = require_string(j, "unlisted_files", what, Status::usage);
    if (u == "insecure-ignore") p.ignore_unlisted_ = true;
    else if (u != "reject") throw usage_error(what + ": unlisted_files must be \"reject\" or \"insecure-ignore\"");
  }
  p.fingerprint_ = fingerprint_of("policy", text, p.signers_);
  return p;
}

bool Policy::scopes_models() const {
  return std::any_of(rules_.begin(), rules_.end(), [](const SignerRules& r) { return !r.models.empty(); });
}

AuthenticatedPayload Policy::authenticate(const Envelope& env, const std::string& what) const {
  return modelseal::authenticate(env, signers_, kModelSignature, what);
}

AuthenticatedPayload Policy::authenticate(const Envelope& env, const VerificationMaterial& material,
                                          const std::string& what) const {
  return modelseal::authenticate(env, &material, signers_, kModelSignature, what);
}


Policy Policy::from_sigstore(TrustedRoot root, SigstoreIdentity identity) {
  if (identity.issuer.empty() || (identity.identity.empty() == identity.identity_regexp.empty()))
    throw usage_error("a Sigstore identity needs --issuer and one of --identity or --identity-regexp");
  identity.check("sigstore");   // the regexp, before any bundle is read
  Policy p;
  std::string name = sigstore_name(identity);
  const std::string args = identity.identity + "\n" + identity.identity_regexp + "\n" + identity.issuer;
  p.signers_.push_back({name, no_key(), std::make_shared<SigstoreTrust>(std::move(root), std::move(identity))});
  p.rules_.emplace_back();
  p.fingerprint_ = fingerprint_of("sigstore", args, p.signers_);
  return p;
}

Policy Policy::from_certificate_roots(std::vector<std::string> roots_pem, std::optional<std::string> identity) {
  if (roots_pem.empty()) throw usage_error("no certificate root given", "use --certificate-chain ROOTS.pem");
  Policy p;
  std::string name = identity ? *identity : "certificate";
  std::string args = identity ? "identity " + *identity + "\n" : "any identity\n";
  for (const auto& pem : roots_pem) args += pem;
  p.signers_.push_back({name, no_key(), std::make_shared<CertificateTrust>(std::move(roots_pem), std::move(identity))});
  p.rules_.emplace_back();
  p.fingerprint_ = fingerprint_of("certificates", args, p.signers_);
  return p;
}

std::vector<Signer> Policy::authorize(const AuthenticatedPayload& payload, std::string_view model_name,
                                      const Digest& root, std::time_t now) const {
  std::string root_hex = digest_hex(root);
  if (std::find(revoked_digests_.begin(), revoked_digests_.end(), root_hex) != revoked_digests_.end())
    throw untrusted("model digest sha256:" + root_hex + " is revoked by the policy");
  std::vector<Signer> ok;
  std::vector<std::string> why;
  for (size_t n = 0; n < payload.signers().size(); ++n) {
    const size_t i = payload.signers()[n];
    const TrustedSigner& signer = signers_.at(i);
    const auto& cert = payload.certified().at(n);
    const std::string keyid = cert ? cert->key.keyid() : signer.key.keyid();
    const SignerRules* tk = &rules_.at(i);
    const std::string& id = signer.name;
    if (tk->revoked) {
      why.push_back("key " + id + " is revoked");
    } else if (tk->not_before && now < *tk->not_before) {
      why.push_back("key " + id + " is not valid before " + format_rfc3339(*tk->not_before));
    } else if (tk->not_after && now > *tk->not_after) {
      why.push_back("key " + id + " expired at " + format_rfc3339(*tk->not_after));
    } else if (!tk->models.empty() &&
               std::none_of(tk->models.begin(), tk->models.end(),
                            [&](const std::string& g) { return glob_match(g, model_name); })) {
      why.push_back("key " + id + " may not sign model \"" + std::string(model_name) + "\"");
    } else {
      ok.push_back({id, keyid, cert});
    }
  }
  if (ok.size() < threshold_) {
    std::string msg = "signed by " + std::to_string(ok.size()) + " trusted key" + (ok.size() == 1 ? "" : "s") +
                      ", the policy requires " + std::to_string(threshold_);
    for (const auto& w : why) msg += "; " + w;
    throw untrusted(msg);
  }
  return ok;
}

}  // namespace modelseal

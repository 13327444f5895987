// The in-toto Statement v1 and its subjects.
#include <algorithm>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/json.hpp"

namespace fs = std::filesystem;

namespace modelseal {

json Statement::to_json() const {
  json subj = json::array();
  for (const Subject& s : subjects) {
    json digest = {{"sha256", s.sha256}};
    if (!s.manifest_sha256.empty()) digest[std::string(kManifestDigestKey)] = s.manifest_sha256;
    subj.push_back({{"name", s.name}, {"digest", digest}});
  }
  return {{"_type", kStatementType}, {"subject", subj}, {"predicateType", predicate_type}, {"predicate", predicate}};
}

std::string Statement::serialize() const { return to_json().dump(); }

bool Statement::has_subject(std::string_view sha256_hex) const {
  return !sha256_hex.empty() &&
         std::any_of(subjects.begin(), subjects.end(), [&](const Subject& s) { return s.sha256 == sha256_hex; });
}

static bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

Statement Statement::parse(const AuthenticatedPayload& payload, const std::string& what) {
  return parse_unauthenticated(payload.bytes(), what);
}

Statement Statement::parse_unauthenticated(std::string_view verified_payload, const std::string& what) {
  json j = parse_json_strict(verified_payload, what);
  if (!j.is_object()) throw untrusted(what + ": statement is not a JSON object");
  std::string type = require_string(j, "_type", what);
  if (type != kStatementType && type != kStatementTypeV01)
    throw untrusted(what + ": not an in-toto statement (_type \"" + type + "\")");
  Statement st;
  st.predicate_type = require_string(j, "predicateType", what);
  if (st.predicate_type.empty()) throw untrusted(what + ": empty predicateType");
  if (auto it = j.find("predicate"); it != j.end()) {
    if (!it->is_object()) throw untrusted(what + ": \"predicate\" has the wrong type");
    st.predicate = *it;
  }
  const json& subj = require(j, "subject", json::value_t::array, what);
  if (subj.empty()) throw untrusted(what + ": statement has no subject");
  if (subj.size() > kMaxSubjects) throw untrusted(what + ": too many subjects");
  for (const json& s : subj) {
    Subject out;
    out.name = require_string(s, "name", what);
    const json& digest = require(s, "digest", json::value_t::object, what);
    for (const auto& [alg, value] : digest.items())
      if (!value.is_string()) throw untrusted(what + ": digest \"" + alg + "\" is not a string");
    if (auto it = digest.find("sha256"); it != digest.end()) {
      std::string hex = it->get<std::string>();
      if (!is_sha256_hex(hex)) throw untrusted(what + ": subject " + out.name + " has a malformed sha256 digest");
      std::transform(hex.begin(), hex.end(), hex.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
      out.sha256 = hex;
    }
    if (auto it = digest.find(std::string(kManifestDigestKey)); it != digest.end()) {
      std::string hex = it->get<std::string>();
      if (!is_sha256_hex(hex)) throw untrusted(what + ": subject " + out.name + " has a malformed manifest digest");
      std::transform(hex.begin(), hex.end(), hex.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
      out.manifest_sha256 = hex;
    }
    st.subjects.push_back(std::move(out));
  }
  return st;
}

std::string artifact_name(const fs::path& p) {
  fs::path clean = p.lexically_normal();
  if (!clean.has_filename()) clean = clean.parent_path();   // "bert/" -> "bert"
  std::string name = clean.filename().string();
  if (name.empty() || name == "." || name == "..") name = fs::absolute(p).lexically_normal().filename().string();
  return name;
}

Subject model_subject(const fs::path& artifact, const SignOptions& opts) {
  Manifest m = manifest_for(artifact, opts);
  if (m.resources.empty()) throw usage_error("no files to attest in " + artifact.string());
  return {artifact_name(artifact), digest_hex(m.root()), digest_hex(m.names_digest())};
}

Subject file_subject(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw io_error("not a regular file: " + file.string());
  ModelTree tree = walk_model(file, {});
  Manifest m = hash_model(tree, Serialization{}, HashOptions{});
  if (m.resources.size() != 1) throw io_error("cannot hash " + file.string());
  return {artifact_name(file), digest_hex(m.resources[0].digest), {}};
}

fs::path default_attestations_path(const fs::path& model) {
  fs::path clean = model.lexically_normal();
  if (!clean.has_filename()) clean = clean.parent_path();
  if (clean.empty() || clean.filename() == "." || clean.filename() == "..") clean = fs::absolute(model).lexically_normal();
  if (!clean.has_filename()) clean = clean.parent_path();
  return clean.string() + std::string(kAttestationsSuffix);
}

}  // namespace modelseal

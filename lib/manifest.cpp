#include "modelseal/manifest.hpp"

#include <charconv>
#include <set>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

namespace {


std::string shard_algorithm(uint64_t shard_size) { return "sha256-sharded-" + std::to_string(shard_size); }

Digest parse_digest(const json& v, const std::string& field, const std::string& what) {
  if (!v.is_string()) throw untrusted(what + ": " + field + " is not a string");
  auto raw = from_hex(v.get<std::string>());
  if (!raw || raw->size() != 32) throw untrusted(what + ": " + field + " is not a sha-256 hex digest");
  Digest d{};
  std::copy(raw->begin(), raw->end(), d.begin());
  return d;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Manifest from_legacy(const json& st, const std::string& what) {
  // model_signing v0.x: every file is a subject, the predicate carries nothing we need.
  Manifest m;
  m.legacy = true;
  m.model_name = "compat-undefined-not-present";
  const json& subjects = require(st, "subject", json::value_t::array, what);
  if (subjects.size() > kMaxResources) throw untrusted(what + ": too many subjects");
  std::set<std::string> seen;
  for (const json& s : subjects) {
    Resource r;
    r.name = require_string(s, "name", what);
    r.algorithm = "sha256";
    r.digest = parse_digest(require(s, "digest", json::value_t::object, what).value("sha256", json()),
                            "subject digest", what);
    if (r.name != "." && invalid_path_reason(r.name))
      throw untrusted(what + ": invalid resource name \"" + r.name + "\": " + *invalid_path_reason(r.name));
    if (!seen.insert(r.name).second) throw untrusted(what + ": duplicate resource \"" + r.name + "\"");
    m.resources.push_back(std::move(r));
  }
  return m;
}

}  // namespace

std::optional<ShardName> parse_shard_name(std::string_view name) {
  size_t b = name.rfind(':');
  if (b == std::string_view::npos || b == 0) return std::nullopt;
  size_t a = name.rfind(':', b - 1);
  if (a == std::string_view::npos) return std::nullopt;
  auto start = parse_u64(name.substr(a + 1, b - a - 1));
  auto end = parse_u64(name.substr(b + 1));
  if (!start || !end || *end < *start) return std::nullopt;
  return ShardName{std::string(name.substr(0, a)), *start, *end};
}

std::vector<std::string> Serialization::signer_ignores() const {
  std::vector<std::string> out = ignore_paths;
  if (!ignore_paths_recorded)
    for (auto d : kDefaultIgnores) out.emplace_back(d);
  return out;
}

Digest Manifest::root() const {
  Sha256 h;
  for (const auto& r : resources) h.update(r.digest.data(), r.digest.size());
  return h.finish();
}

Digest Manifest::names_digest() const {
  Sha256 h;
  for (const auto& r : resources) {
    h.update(r.name.data(), r.name.size());
    h.update("\0", 1);
    h.update(r.digest.data(), r.digest.size());
  }
  return h.finish();
}

std::string Manifest::statement() const {
  json ser = {{"method", serialization.method == Method::files ? "files" : "shards"},
              {"hash_type", "sha256"},
              {"allow_symlinks", serialization.allow_symlinks}};
  if (serialization.method == Method::shards) ser["shard_size"] = serialization.shard_size;
  if (!serialization.ignore_paths.empty()) ser["ignore_paths"] = serialization.ignore_paths;
  json res = json::array();
  for (const auto& r : resources)
    res.push_back({{"name", r.name}, {"algorithm", r.algorithm}, {"digest", digest_hex(r.digest)}});
  json st = {{"_type", kStatementType},
             {"subject", json::array({{{"name", model_name}, {"digest", {{"sha256", digest_hex(root())}}}}})},
             {"predicateType", kOmsPredicateType},
             {"predicate", {{"serialization", ser}, {"resources", res}}}};
  return st.dump();
}

Manifest Manifest::from_statement(const AuthenticatedPayload& payload) {
  return parse_statement(payload.bytes(), "signed statement in " + payload.source());
}

Manifest Manifest::parse_unauthenticated(std::string_view payload) {
  return parse_statement(payload, "unauthenticated statement");
}

Manifest Manifest::parse_statement(std::string_view payload, const std::string& what) {
  json st = parse_json_strict(payload, what);
  std::string type = require_string(st, "_type", what);
  std::string ptype = require_string(st, "predicateType", what);
  if (ptype == kOmsLegacyPredicateType) {
    if (type != kStatementType && type != kStatementTypeV01) throw untrusted(what + ": unknown _type \"" + type + "\"");
    return from_legacy(st, what);
  }
  if (type != kStatementType) throw untrusted(what + ": unknown _type \"" + type + "\"");
  if (ptype != kOmsPredicateType) throw untrusted(what + ": unknown predicateType \"" + ptype + "\"");

  const json& subjects = require(st, "subject", json::value_t::array, what);
  if (subjects.empty()) throw untrusted(what + ": no subject");
  Manifest m;
  m.model_name = require_string(subjects[0], "name", what);
  Digest subject_digest =
      parse_digest(require(subjects[0], "digest", json::value_t::object, what).value("sha256", json()),
                   "subject digest", what);

  const json& pred = require(st, "predicate", json::value_t::object, what);
  const json& ser = require(pred, "serialization", json::value_t::object, what);
  std::string method = require_string(ser, "method", what);
  std::string hash_type = require_string(ser, "hash_type", what);
  if (hash_type != "sha256") throw untrusted(what + ": unsupported hash_type \"" + hash_type + "\"");
  m.serialization.allow_symlinks = require(ser, "allow_symlinks", json::value_t::boolean, what).get<bool>();
  if (method == "files") {
    m.serialization.method = Method::files;
  } else if (method == "shards") {
    m.serialization.method = Method::shards;
    const json& size = ser.contains("shard_size") ? ser["shard_size"] : json();
    bool integral = size.is_number_unsigned() ||
                    (size.is_number_float() && size.get<double>() >= 1 && size.get<double>() < 1e18 &&
                     size.get<double>() == static_cast<double>(static_cast<uint64_t>(size.get<double>())));
    if (!integral || size.get<uint64_t>() == 0) throw untrusted(what + ": invalid shard_size");
    m.serialization.shard_size = size.get<uint64_t>();
  } else {
    throw untrusted(what + ": unknown serialization method \"" + method + "\"");
  }
  if (ser.contains("ignore_paths")) {
    m.serialization.ignore_paths_recorded = true;
    const json& ig = require(ser, "ignore_paths", json::value_t::array, what);
    for (const json& p : ig) {
      if (!p.is_string()) throw untrusted(what + ": ignore_paths holds a non-string");
      std::string s = p.get<std::string>();
      if (invalid_path_reason(s)) throw untrusted(what + ": invalid ignore path \"" + s + "\"");
      m.serialization.ignore_paths.push_back(std::move(s));
    }
  }

  const json& res = require(pred, "resources", json::value_t::array, what);
  if (res.size() > kMaxResources) throw untrusted(what + ": too many resources");
  std::set<std::string> seen;
  for (const json& r : res) {
    Resource out;
    out.name = require_string(r, "name", what);
    out.algorithm = require_string(r, "algorithm", what);
    out.digest = parse_digest(r.contains("digest") ? r["digest"] : json(), "resource digest", what);
    std::string path = out.name;
    if (m.serialization.method == Method::shards) {
      auto sn = parse_shard_name(out.name);
      if (!sn) throw untrusted(what + ": invalid shard name \"" + out.name + "\"");
      path = sn->path;
      if (out.algorithm != "sha256" && out.algorithm != shard_algorithm(m.serialization.shard_size))
        throw untrusted(what + ": unsupported algorithm \"" + out.algorithm + "\"");
    } else if (out.algorithm != "sha256") {
      throw untrusted(what + ": unsupported algorithm \"" + out.algorithm + "\"");
    }
    // model_signing up to 1.1 named a single-file model's resource ".".
    if (path != "." || res.size() != 1) {
      if (auto why = invalid_path_reason(path))
        throw untrusted(what + ": invalid resource name \"" + out.name + "\": " + *why);
    }
    if (!seen.insert(out.name).second) throw untrusted(what + ": duplicate resource \"" + out.name + "\"");
    m.resources.push_back(std::move(out));
  }
  if (m.root() != subject_digest)
    throw untrusted(what + ": subject digest " + digest_hex(subject_digest) +
                    " does not match the resources' root digest " + digest_hex(m.root()));
  return m;
}

Manifest hash_model(const ModelTree& tree, const Serialization& ser, const HashOptions& opts) {
  for (const auto& f : tree.files) {
    if (f.kind == EntryKind::symlink)
      throw usage_error("model contains a " + f.kind_detail + ": " + f.path.string(),
                        f.kind_detail == "symlink" ? "use --allow-symlinks to hash the target's content" : "");
    if (f.kind == EntryKind::special) throw io_error("model contains a " + f.kind_detail + ": " + f.path.string());
    if (auto why = invalid_path_reason(f.name))
      throw usage_error("cannot sign a file whose name has a " + *why + ": " + f.path.string(),
                        "rename it, or leave it out with --ignore");
  }
  HashOptions ho = opts;
  ho.shard_size = ser.method == Method::shards ? ser.shard_size : 0;
  auto digests = hash_files(tree.files, ser.allow_symlinks || tree.single_file, ho);
  Manifest m;
  m.model_name = tree.model_name;
  m.serialization = ser;
  for (size_t i = 0; i < tree.files.size(); ++i) {
    if (digests[i].error) throw *digests[i].error;
    const ModelFile& f = tree.files[i];
    if (ser.method == Method::files) {
      m.resources.push_back({f.name, "sha256", digests[i].shards[0]});
      continue;
    }
    auto ranges = shard_ranges(f.size(), ser.shard_size);
    for (size_t s = 0; s < ranges.size(); ++s)
      m.resources.push_back({f.name + ":" + std::to_string(ranges[s].first) + ":" + std::to_string(ranges[s].second),
                             shard_algorithm(ser.shard_size), digests[i].shards[s]});
  }
  return m;
}

}  // namespace modelseal

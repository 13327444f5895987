#include "modelseal/manifest.hpp"

#include <charconv>
#include <set>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

namespace {

constexpr const char* kWhat = "signed statement";

std::string shard_algorithm(uint64_t shard_size) { return "sha256-sharded-" + std::to_string(shard_size); }

Digest parse_digest(const json& v, const std::string& what) {
  if (!v.is_string()) throw untrusted(std::string(kWhat) + ": " + what + " is not a string");
  auto raw = from_hex(v.get<std::string>());
  if (!raw || raw->size() != 32) throw untrusted(std::string(kWhat) + ": " + what + " is not a sha-256 hex digest");
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

Manifest from_legacy(const json& st) {
  // model_signing v0.x: every file is a subject, the predicate carries nothing we need.
  Manifest m;
  m.legacy = true;
  m.model_name = "compat-undefined-not-present";
  const json& subjects = require(st, "subject", json::value_t::array, kWhat);
  if (subjects.size() > kMaxResources) throw untrusted("signed statement: too many subjects");
  std::set<std::string> seen;
  for (const json& s : subjects) {
    Resource r;
    r.name = require_string(s, "name", kWhat);
    r.algorithm = "sha256";
    r.digest = parse_digest(require(s, "digest", json::value_t::object, kWhat).value("sha256", json()),
                            "subject digest");
    if (r.name != "." && invalid_path_reason(r.name))
      throw untrusted("signed statement: invalid resource name \"" + r.name + "\": " + *invalid_path_reason(r.name));
    if (!seen.insert(r.name).second) throw untrusted("signed statement: duplicate resource \"" + r.name + "\"");
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

Digest Manifest::root() const {
  Sha256 h;
  for (const auto& r : resources) h.update(r.digest.data(), r.digest.size());
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

Manifest Manifest::from_statement(std::string_view payload) {
  json st = parse_json_strict(payload, kWhat);
  std::string type = require_string(st, "_type", kWhat);
  std::string ptype = require_string(st, "predicateType", kWhat);
  if (ptype == kOmsLegacyPredicateType) {
    if (type != kStatementType && type != kStatementTypeV01) throw untrusted("signed statement: unknown _type \"" + type + "\"");
    return from_legacy(st);
  }
  if (type != kStatementType) throw untrusted("signed statement: unknown _type \"" + type + "\"");
  if (ptype != kOmsPredicateType) throw untrusted("signed statement: unknown predicateType \"" + ptype + "\"");

  const json& subjects = require(st, "subject", json::value_t::array, kWhat);
  if (subjects.empty()) throw untrusted("signed statement: no subject");
  Manifest m;
  m.model_name = require_string(subjects[0], "name", kWhat);
  Digest subject_digest =
      parse_digest(require(subjects[0], "digest", json::value_t::object, kWhat).value("sha256", json()),
                   "subject digest");

  const json& pred = require(st, "predicate", json::value_t::object, kWhat);
  const json& ser = require(pred, "serialization", json::value_t::object, kWhat);
  std::string method = require_string(ser, "method", kWhat);
  std::string hash_type = require_string(ser, "hash_type", kWhat);
  if (hash_type != "sha256") throw untrusted("signed statement: unsupported hash_type \"" + hash_type + "\"");
  m.serialization.allow_symlinks = require(ser, "allow_symlinks", json::value_t::boolean, kWhat).get<bool>();
  if (method == "files") {
    m.serialization.method = Method::files;
  } else if (method == "shards") {
    m.serialization.method = Method::shards;
    const json& size = ser.contains("shard_size") ? ser["shard_size"] : json();
    bool integral = size.is_number_unsigned() ||
                    (size.is_number_float() && size.get<double>() >= 1 && size.get<double>() < 1e18 &&
                     size.get<double>() == static_cast<double>(static_cast<uint64_t>(size.get<double>())));
    if (!integral || size.get<uint64_t>() == 0) throw untrusted("signed statement: invalid shard_size");
    m.serialization.shard_size = size.get<uint64_t>();
  } else {
    throw untrusted("signed statement: unknown serialization method \"" + method + "\"");
  }
  if (ser.contains("ignore_paths")) {
    const json& ig = require(ser, "ignore_paths", json::value_t::array, kWhat);
    for (const json& p : ig) {
      if (!p.is_string()) throw untrusted("signed statement: ignore_paths holds a non-string");
      std::string s = p.get<std::string>();
      if (invalid_path_reason(s)) throw untrusted("signed statement: invalid ignore path \"" + s + "\"");
      m.serialization.ignore_paths.push_back(std::move(s));
    }
  }

  const json& res = require(pred, "resources", json::value_t::array, kWhat);
  if (res.size() > kMaxResources) throw untrusted("signed statement: too many resources");
  std::set<std::string> seen;
  for (const json& r : res) {
    Resource out;
    out.name = require_string(r, "name", kWhat);
    out.algorithm = require_string(r, "algorithm", kWhat);
    out.digest = parse_digest(r.contains("digest") ? r["digest"] : json(), "resource digest");
    std::string path = out.name;
    if (m.serialization.method == Method::shards) {
      auto sn = parse_shard_name(out.name);
      if (!sn) throw untrusted("signed statement: invalid shard name \"" + out.name + "\"");
      path = sn->path;
      if (out.algorithm != "sha256" && out.algorithm != shard_algorithm(m.serialization.shard_size))
        throw untrusted("signed statement: unsupported algorithm \"" + out.algorithm + "\"");
    } else if (out.algorithm != "sha256") {
      throw untrusted("signed statement: unsupported algorithm \"" + out.algorithm + "\"");
    }
    // model_signing up to 1.1 named a single-file model's resource ".".
    if (path != "." || res.size() != 1) {
      if (auto why = invalid_path_reason(path))
        throw untrusted("signed statement: invalid resource name \"" + out.name + "\": " + *why);
    }
    if (!seen.insert(out.name).second) throw untrusted("signed statement: duplicate resource \"" + out.name + "\"");
    m.resources.push_back(std::move(out));
  }
  if (m.root() != subject_digest)
    throw untrusted("signed statement: subject digest " + digest_hex(subject_digest) +
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
    auto ranges = shard_ranges(f.size, ser.shard_size);
    for (size_t s = 0; s < ranges.size(); ++s)
      m.resources.push_back({f.name + ":" + std::to_string(ranges[s].first) + ":" + std::to_string(ranges[s].second),
                             shard_algorithm(ser.shard_size), digests[i].shards[s]});
  }
  return m;
}

}  // namespace modelseal

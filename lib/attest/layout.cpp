// Layouts: parsing (fail closed on anything unknown or inconsistent), authenticating, signing.
#include <algorithm>
#include <set>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;

namespace modelseal {

static_assert(kLayoutEnvelope.payload_type == kLayoutPayloadType);

namespace {

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '@';
  });
}

std::vector<std::string> name_list(const json& obj, const char* field, const Layout& layout, const std::string& what, Status st) {
  const json& arr = require(obj, field, json::value_t::array, what, st);
  if (arr.empty()) throw Error(st, what + ": \"" + field + "\" is empty");
  if (arr.size() > kMaxLayoutItems) throw Error(st, what + ": too many entries in \"" + field + "\"");
  std::vector<std::string> out;
  for (const json& n : arr) {
    if (!n.is_string()) throw Error(st, what + ": \"" + field + "\" must list key names");
    std::string name = n.get<std::string>();
    if (!layout.find_key(name)) throw Error(st, what + ": unknown key \"" + name + "\"");
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw Error(st, what + ": key \"" + name + "\" listed twice");
    out.push_back(name);
  }
  return out;
}

unsigned threshold_of(const json& obj, size_t keys, const std::string& what, Status st) {
  if (!obj.contains("threshold")) return 1;
  const json& t = require(obj, "threshold", json::value_t::number_unsigned, what, st);
  uint64_t v = t.get<uint64_t>();
  if (v < 1 || v > keys)
    throw Error(st, what + ": threshold " + std::to_string(v) + " is not between 1 and the " + std::to_string(keys) +
                    " keys allowed");
  return static_cast<unsigned>(v);
}

Rule parse_rule(const json& r, const std::string& what, Status st) {
  if (!r.is_object()) throw Error(st, what + ": a rule must be an object");
  only_fields(r, {"path", "op", "value"}, what, st);
  Rule rule;
  rule.path = require_string(r, "path", what, st);
  if (rule.path.empty() || rule.path.size() > 256 || rule.path.front() == '.' || rule.path.back() == '.' ||
      rule.path.find("..") != std::string::npos)
    throw Error(st, what + ": bad rule path \"" + rule.path + "\"");
  static const std::pair<const char*, Rule::Op> ops[] = {{"==", Rule::Op::eq}, {"!=", Rule::Op::ne},
                                                         {"<", Rule::Op::lt},  {"<=", Rule::Op::le},
                                                         {">", Rule::Op::gt},  {">=", Rule::Op::ge},
                                                         {"in", Rule::Op::in}};
  std::string op = require_string(r, "op", what, st);
  auto it = std::find_if(std::begin(ops), std::end(ops), [&](const auto& o) { return op == o.first; });
  if (it == std::end(ops)) throw Error(st, what + ": unknown rule operator \"" + op + "\"");
  rule.op = it->second;
  if (!r.contains("value")) throw Error(st, what + ": rule on " + rule.path + " has no value");
  rule.value = r.at("value");
  bool numeric = rule.op == Rule::Op::lt || rule.op == Rule::Op::le || rule.op == Rule::Op::gt || rule.op == Rule::Op::ge;
  if (numeric && !rule.value.is_number()) throw Error(st, what + ": rule " + op + " on " + rule.path + " needs a number");
  if (rule.op == Rule::Op::in && (!rule.value.is_array() || rule.value.empty()))
    throw Error(st, what + ": rule in on " + rule.path + " needs a non-empty array");
  return rule;
}

// Parses a layout; `st` is whose problem a bad one is: not_trusted for one that arrived signed,
// usage for the operator's source file before signing.
Layout parse_layout(std::string_view text, const std::string& what, Status st) {
  if (text.size() > kMaxLayoutBytes) throw Error(st, what + ": layout is too large");
  json j = parse_json_strict(text, what, SIZE_MAX, st);
  if (!j.is_object()) throw Error(st, what + ": layout is not a JSON object");
  only_fields(j, {"_type", "expires", "keys", "owners", "steps"}, what, st);
  if (require_string(j, "_type", what, st) != kLayoutType)
    throw Error(st, what + ": not a layout (_type is not " + std::string(kLayoutType) + ")");
  Layout l;
  auto expires = parse_rfc3339(require_string(j, "expires", what, st));
  if (!expires) throw Error(st, what + ": expires is not an RFC 3339 time");
  l.expires = *expires;

  const json& keys = require(j, "keys", json::value_t::object, what, st);
  if (keys.empty() || keys.size() > kMaxLayoutItems) throw Error(st, what + ": \"keys\" must name 1 to 1024 keys");
  std::set<std::string> keyids;
  for (const auto& [name, k] : keys.items()) {
    const std::string kw = what + ": key \"" + name + "\"";
    if (!valid_name(name)) throw Error(st, what + ": bad key name \"" + name + "\"");
    if (!k.is_object()) throw Error(st, kw + " must be an object");
    only_fields(k, {"type", "pem"}, kw, st);
    std::string type = require_string(k, "type", kw, st);
    std::optional<PublicKey> pub;
    pub = PublicKey::from_pem(require_string(k, "pem", kw, st), kw, st);
    if (key_type_name(pub->type()) != type)
      throw Error(st, kw + " is a " + std::string(key_type_name(pub->type())) + " key, not " + type);
    if (!keyids.insert(pub->keyid()).second)
      throw Error(st, kw + " is the same key as another name; thresholds count distinct keys");
    l.keys.push_back({name, std::move(*pub), {}});
  }

  const json& owners = require(j, "owners", json::value_t::object, what, st);
  only_fields(owners, {"keys", "threshold"}, what + ": owners", st);
  l.owners = name_list(owners, "keys", l, what + ": owners", st);
  l.owner_threshold = threshold_of(owners, l.owners.size(), what + ": owners", st);

  const json& steps = require(j, "steps", json::value_t::array, what, st);
  if (steps.empty() || steps.size() > kMaxLayoutItems) throw Error(st, what + ": \"steps\" must list 1 to 1024 steps");
  for (const json& s : steps) {
    LayoutStep step;
    step.name = require_string(s, "name", what + ": step", st);
    const std::string sw = what + ": step " + step.name;
    if (!valid_name(step.name)) throw Error(st, what + ": bad step name \"" + step.name + "\"");
    if (std::any_of(l.steps.begin(), l.steps.end(), [&](const LayoutStep& o) { return o.name == step.name; }))
      throw Error(st, sw + " is defined twice");
    only_fields(s, {"name", "predicateType", "keys", "threshold", "subject", "rules"}, sw, st);
    step.predicate_type = require_string(s, "predicateType", sw, st);
    if (step.predicate_type.empty()) throw Error(st, sw + ": empty predicateType");
    step.keys = name_list(s, "keys", l, sw, st);
    step.threshold = threshold_of(s, step.keys.size(), sw, st);
    if (!s.contains("subject")) throw Error(st, sw + ": missing \"subject\"");
    const json& subj = s.at("subject");
    if (subj.is_string() && subj.get<std::string>() == "model") {
      step.subject.kind = SubjectSpec::Kind::model;
    } else if (subj.is_object()) {
      only_fields(subj, {"dependenciesOf", "role"}, sw + ": subject", st);
      step.subject.kind = SubjectSpec::Kind::dependencies;
      step.subject.step = require_string(subj, "dependenciesOf", sw + ": subject", st);
      if (subj.contains("role")) step.subject.role = require_string(subj, "role", sw + ": subject", st);
      auto from = std::find_if(l.steps.begin(), l.steps.end(),
                               [&](const LayoutStep& o) { return o.name == step.subject.step; });
      if (from == l.steps.end())
        throw Error(st, sw + ": dependenciesOf must name an earlier step, not \"" + step.subject.step + "\"");
      if (from->predicate_type != kSlsaProvenanceType)
        throw Error(st, sw + ": dependenciesOf step " + from->name + " is not a SLSA provenance step");
    } else {
      throw Error(st, sw + ": subject must be \"model\" or {\"dependenciesOf\": STEP}");
    }
    if (s.contains("rules")) {
      const json& rules = require(s, "rules", json::value_t::array, sw, st);
      if (rules.size() > kMaxLayoutItems) throw Error(st, sw + ": too many rules");
      for (const json& r : rules) step.rules.push_back(parse_rule(r, sw, st));
    }
    l.steps.push_back(std::move(step));
  }
  return l;
}

}  // namespace

const LayoutKey* Layout::find_key(std::string_view name) const {
  for (const LayoutKey& k : keys)
    if (k.name == name) return &k;
  return nullptr;
}

Layout Layout::parse(const AuthenticatedPayload& payload, const std::string& what) {
  return parse_layout(payload.bytes(), what, Status::not_trusted);
}

Layout Layout::parse_unauthenticated(std::string_view text, const std::string& what) {
  return parse_layout(text, what, Status::not_trusted);
}

VerifiedLayout verify_layout(const Envelope& env, const std::vector<PublicKey>& trusted, std::time_t now,
                             const std::string& what) {
  if (trusted.empty()) throw usage_error("no layout key given", "use --layout-key OWNER.pub");
  std::vector<TrustedSigner> roots;
  for (const PublicKey& k : trusted) roots.push_back({k.keyid(), k, {}});
  AuthenticatedPayload payload = authenticate(env, roots, kLayoutEnvelope, what);
  // Authenticated: only now is the payload parsed.
  VerifiedLayout out{Layout::parse(payload, what), {}};
  const Layout& l = out.layout;
  for (size_t s : payload.signers()) {
    for (const std::string& owner : l.owners)
      if (l.find_key(owner)->key.keyid() == roots[s].key.keyid()) out.signers.push_back(owner);
  }
  if (out.signers.size() < l.owner_threshold)
    throw untrusted(what + ": signed by " + std::to_string(out.signers.size()) + " of its owners, needs " +
                    std::to_string(l.owner_threshold),
                    "a layout key that signs must also be listed in the layout's owners");
  if (now >= l.expires) throw untrusted(what + ": layout expired at " + format_rfc3339(l.expires));
  return out;
}

Envelope load_layout_envelope(const fs::path& path) {
  std::string bytes = read_file_limited(path, kMaxLayoutBytes * 2, "layout");
  json j = parse_json_strict(bytes, path.string(), kMaxEnvelopeValues);
  if (!j.is_object()) throw untrusted(path.string() + ": not a DSSE envelope");
  return Envelope::from_json(j, path.string());
}

std::string resolve_layout(std::string_view text, const fs::path& base_dir, const std::string& what) {
  // The operator's source file: every problem with it is a usage error, raised where it is found.
  json j = parse_json_strict(text, what, SIZE_MAX, Status::usage);
  if (j.is_object() && j.contains("keys") && j["keys"].is_object()) {
    for (auto& [name, k] : j["keys"].items()) {
      if (!k.is_object() || !k.contains("path")) continue;
      if (!k["path"].is_string()) throw usage_error(what + ": path of key \"" + name + "\" is not a string");
      fs::path p = k["path"].get<std::string>();
      if (p.is_relative()) p = base_dir / p;
      PublicKey pub = PublicKey::load(p);
      k = {{"type", key_type_name(pub.type())}, {"pem", pub.pem()}};
    }
  }
  std::string out = j.dump(2) + "\n";
  try {
    parse_layout(out, what, Status::usage);
  } catch (const Error& e) {
    if (!e.hint().empty()) throw;
    throw Error(e.status(), e.what(), "see modelseal-layout(5)");
  }
  return out;
}

Envelope sign_layout(const std::string& resolved, const std::vector<const SigningKey*>& keys) {
  if (keys.empty()) throw usage_error("no signing key given", "use -k OWNER.key");
  return sign_envelope(std::string(kLayoutPayloadType), resolved, keys);
}

}  // namespace modelseal

// Release layouts (modelseal-layout(5)): which steps a release needs, who may attest each, how
// many distinct keys must, which artifacts they must be about and what their predicates must say.
// A layout is a DSSE-signed JSON document; the keys that authenticate it are given by the
// verifier (`--layout-key`), never taken from the layout itself.
#pragma once

#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/authenticate.hpp"
#include "modelseal/dsse.hpp"
#include <nlohmann/json.hpp>
#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

inline constexpr std::string_view kLayoutType = "https://modelseal.dev/layout/v1";
inline constexpr std::string_view kLayoutPayloadType = "application/vnd.modelseal.layout+json";
inline constexpr size_t kMaxLayoutBytes = 4u << 20;
inline constexpr size_t kMaxLayoutItems = 1024;   // keys, steps, rules per step

// An attribute rule on a field of a statement, e.g. predicate.result == "PASSED".
struct Rule {
  enum class Op { eq, ne, lt, le, gt, ge, in };
  std::string path;    // dot-separated; numeric segments index arrays
  Op op = Op::eq;
  nlohmann::json value;

  // nullopt if `statement` satisfies the rule, else why not ("predicate.result is "FAILED", ...").
  std::optional<std::string> violation(const nlohmann::json& statement) const;
  std::string describe() const;   // predicate.result == "PASSED"
};

// Which artifacts a step's attestations must be about.
struct SubjectSpec {
  enum class Kind { model, dependencies };
  Kind kind = Kind::model;
  std::string step;   // dependencies: the (earlier) provenance step whose resolvedDependencies count
  std::string role;   // dependencies: only those annotated with this modelseal.role; empty = all
};

struct LayoutStep {
  std::string name;
  std::string predicate_type;
  std::vector<std::string> keys;   // names in Layout::keys allowed to attest this step
  unsigned threshold = 1;          // distinct allowed keys needed, per subject
  SubjectSpec subject;
  std::vector<Rule> rules;
};

// A key the layout names: a trusted signer for the attestations of its steps.
using LayoutKey = TrustedSigner;

struct Layout {
  std::time_t expires = 0;
  std::vector<LayoutKey> keys;
  std::vector<std::string> owners;   // names in keys
  unsigned owner_threshold = 1;
  std::vector<LayoutStep> steps;

  const LayoutKey* find_key(std::string_view name) const;
  // Parses layout JSON (schemas/layout.schema.json). Throws Error(not_trusted) naming `what` for
  // anything malformed or inconsistent (unknown key names, a key listed twice under two names,
  // a threshold larger than the keys allowed, a reference to a later step, ...).
  static Layout parse(const AuthenticatedPayload& payload, const std::string& what);
  // The same checks on bytes nobody vouched for: before signing a layout, in tests and fuzzing.
  static Layout parse_unauthenticated(std::string_view text, const std::string& what);
};

// A layout whose envelope verified with the trusted layout keys, and whose owners list those keys.
struct VerifiedLayout {
  Layout layout;
  std::vector<std::string> signers;   // owner names (from the layout) whose signatures counted
};

// Authenticates then parses, with one clock reading `now`:
// 1. the envelope's payloadType is kLayoutPayloadType;
// 2. at least one signature verifies with a key in `trusted` (the verifier's trust root);
// 3. only then the payload is parsed;
// 4. the trusted keys that signed must be owners listed in the layout, at least owner_threshold
//    of them (so a layout can require several owners, but cannot vouch for itself);
// 5. `expires` is after `now`.
// Throws Error(not_trusted) naming the failed check.
VerifiedLayout verify_layout(const Envelope& env, const std::vector<PublicKey>& trusted, std::time_t now,
                             const std::string& what);
// Reads and structurally parses a signed layout file.
Envelope load_layout_envelope(const std::filesystem::path& path);

// Turns a layout written by hand into what is signed: every key given as {"path": FILE}
// (relative to `base_dir`) is replaced by {"type", "pem"} read from the file. Throws Error(usage)
// if the result is not a valid layout.
std::string resolve_layout(std::string_view text, const std::filesystem::path& base_dir, const std::string& what);
// Signs resolved layout bytes with every key (DSSE, kLayoutPayloadType).
Envelope sign_layout(const std::string& resolved, const std::vector<const SigningKey*>& keys);

}  // namespace modelseal

#pragma GCC visibility pop

// Chain verification: a model on disk, a signed layout and attestation bundles (DESIGN §5).
#pragma once

#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "modelseal/error.hpp"
#include "modelseal/hasher.hpp"
#include <nlohmann/json.hpp>
#include "modelseal/keys.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

struct ChainInputs {
  std::filesystem::path model;
  std::filesystem::path layout;                    // signed layout (DSSE envelope JSON)
  std::vector<PublicKey> layout_keys;              // trust root for the layout
  std::vector<std::filesystem::path> attestations; // .intoto.jsonl bundles
  std::vector<std::string> ignore_paths;           // as for `modelseal digest --ignore`
  HashOptions hash;
  std::time_t now = 0;                             // 0: read the clock once at the start
};

struct StepSigner {
  std::string name;    // the layout's name for the key
  std::string keyid;
};

// One step for one required subject.
struct StepResult {
  std::string step;
  std::string predicate_type;
  std::string subject_name, subject_digest;
  bool ok = false;
  std::string reason;                      // why it failed; empty when ok
  std::vector<StepSigner> signers;         // distinct allowed keys whose attestations counted
  std::vector<std::string> attestations;   // "FILE:LINE" of those attestations
  unsigned threshold = 1;
};

struct IgnoredAttestation {
  std::string source;   // "FILE:LINE"
  std::string reason;
};

struct ChainReport {
  std::string model, model_digest;
  std::string layout;
  bool layout_ok = false;
  std::vector<std::string> layout_signers;
  std::string layout_expires;
  std::vector<StepResult> steps;
  std::vector<IgnoredAttestation> ignored;
  Status status = Status::ok;
  std::string error;   // one line, when status != ok
  nlohmann::json to_json() const;   // schemas/chain-report.schema.json
};

// Verifies the chain, failing closed: the layout is authenticated with `layout_keys`, not
// expired; the model's root digest is recomputed from disk; every step has, for every subject
// it requires, attestations that verify with keys the step allows, are about that subject, meet
// every rule, and are signed by at least `threshold` distinct keys. Attestations the layout does
// not use are listed in `ignored`. Fills `report` in every case and throws Error (not_trusted on
// a failed check, usage or io otherwise) unless the whole chain holds.
void verify_chain(const ChainInputs& in, ChainReport& report);

}  // namespace modelseal

#pragma GCC visibility pop

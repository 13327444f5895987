// Attestations: in-toto Statement v1 in DSSE envelopes, one per line of a `.intoto.jsonl` bundle
// (DESIGN §5). Subjects are models and datasets named by their OMS root digest.
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
#include "modelseal/sign.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

// Predicate types modelseal writes (each has a schema in schemas/).
inline constexpr std::string_view kSlsaProvenanceType = "https://slsa.dev/provenance/v1";
inline constexpr std::string_view kTestResultType = "https://in-toto.io/attestation/test-result/v0.1";
inline constexpr std::string_view kScanPredicateType = "https://modelseal.dev/scan/v1";
inline constexpr std::string_view kReleaseApprovalType = "https://modelseal.dev/release-approval/v1";
// The annotation on a provenance dependency that says what it is ("dataset", "base-model").
inline constexpr std::string_view kRoleAnnotation = "modelseal.role";
inline constexpr std::string_view kAttestationsSuffix = ".intoto.jsonl";
// Bounds on untrusted attestation bundles.
inline constexpr size_t kMaxAttestationFileBytes = 64u << 20;
inline constexpr size_t kMaxAttestationLineBytes = 4u << 20;
inline constexpr size_t kMaxSubjects = 4096;

struct Subject {
  std::string name;
  std::string sha256;   // lowercase hex; empty if the subject names no sha256 digest
  // A model's Manifest::names_digest(), lowercase hex ("modelseal-manifest-sha256"); empty for a
  // single file, or a subject that does not carry it.
  std::string manifest_sha256;
};

inline constexpr std::string_view kManifestDigestKey = "modelseal-manifest-sha256";

struct Statement {
  std::vector<Subject> subjects;
  std::string predicate_type;
  nlohmann::json predicate = nlohmann::json::object();

  // Compact JSON bytes of the in-toto Statement v1.
  std::string serialize() const;
  nlohmann::json to_json() const;
  // Parses a statement from authenticated bytes: `_type` v1 (or v0.1), subjects with a name and
  // a digest map, predicateType, an object predicate. Throws Error(not_trusted) naming `what`.
  static Statement parse(const AuthenticatedPayload& payload, const std::string& what);
  // The same checks on bytes nobody vouched for: for tests and fuzzing only.
  static Statement parse_unauthenticated(std::string_view payload, const std::string& what);
  bool has_subject(std::string_view sha256_hex) const;
};

// The subject for a model or dataset (directory or single file): its OMS root digest, as
// `modelseal digest` prints it, named by its base name.
Subject model_subject(const std::filesystem::path& artifact, const SignOptions& opts = {});
// The name a subject gets: the base name of the path ("./bert/" -> "bert").
std::string artifact_name(const std::filesystem::path& artifact);
// A plain file as subject: the SHA-256 of its bytes (the in-toto convention for files).
Subject file_subject(const std::filesystem::path& file);

// Where attestations about `model` go by default: beside it, MODEL.intoto.jsonl.
std::filesystem::path default_attestations_path(const std::filesystem::path& model);

// Signs the statement with every key (one DSSE signature each, payloadType in-toto).
// Error(usage) if no key or the same key twice.
Envelope sign_statement(const Statement& st, const std::vector<const SigningKey*>& keys);

// One line of a `.intoto.jsonl` bundle (compact JSON, no newline).
std::string envelope_line(const Envelope& env);

// Signs `st`, checks that the new line verifies with the keys' public halves and parses back to
// the same statement, then appends it to `jsonl` (created if missing) without ever leaving a
// partial or corrupted file. Error(not_trusted) if the existing file does not end with a
// newline (it was damaged: nothing is appended).
void append_attestation(const std::filesystem::path& jsonl, const Statement& st,
                        const std::vector<const SigningKey*>& keys);
// Appends an already-built line (no newline in it) with the same guarantees.
void append_line_atomic(const std::filesystem::path& jsonl, std::string_view line);

// One envelope read from a bundle; not authenticated yet.
struct AttestationEntry {
  std::string source;   // "FILE:LINE"
  Envelope envelope;
};
// Parses a `.intoto.jsonl` bundle: every non-empty line must be a DSSE envelope (bounded in
// size and depth). Throws Error(not_trusted) naming the file and line of the first bad one.
std::vector<AttestationEntry> parse_attestations(std::string_view bytes, const std::string& what);
std::vector<AttestationEntry> load_attestations(const std::filesystem::path& jsonl);

// --- Built-in predicates ---------------------------------------------------------------

// A dependency or subject by digest (in-toto ResourceDescriptor).
struct Dependency {
  Subject subject;
  std::string role;   // kRoleAnnotation: "dataset", "base-model", or empty
};

// SLSA provenance v1 of a training run.
struct Provenance {
  std::string build_type;            // buildDefinition.buildType (URI)
  nlohmann::json external_parameters = nlohmann::json::object();
  std::vector<Dependency> dependencies;
  std::string builder_id;            // runDetails.builder.id (URI)
  std::time_t started = 0, finished = 0;
  std::string invocation_id;         // optional
};
nlohmann::json provenance_predicate(const Provenance& p);

// A named evaluation metric, optionally with the bar it must meet.
struct Metric {
  std::string name;
  double value = 0;
  std::optional<double> threshold;
  bool higher_is_better = true;      // the bar is value >= threshold (else value <= threshold)
  bool passed() const;
};
// Parses "NAME=VALUE" (metric) or "NAME>=X" / "NAME<=X" (threshold); Error(usage) if malformed.
std::pair<std::string, double> parse_metric_arg(std::string_view arg);
struct ThresholdArg { std::string name; double value; bool higher_is_better; };
ThresholdArg parse_threshold_arg(std::string_view arg);

// in-toto test-result v0.1: result ("PASSED", "WARNED", "FAILED"), passedTests / failedTests
// named by metric, and the metrics themselves under "metrics" (an extension field).
nlohmann::json test_result_predicate(const std::string& result, const std::vector<Metric>& metrics, const std::string& url);
// "PASSED" if every metric with a threshold meets it, else "FAILED".
std::string metrics_result(const std::vector<Metric>& metrics);

// Release approval (kReleaseApprovalType): version, approver, time, optional comment.
nlohmann::json approval_predicate(const std::string& version, const std::string& approver, std::time_t when,
                        const std::string& comment);

// Scan result (kScanPredicateType), for `modelseal scan --attest`: verdict "safe", "unsafe" or
// "unknown", the scanner's version, when, and the scan report (schemas/scan-report.schema.json)
// unless `report` is null.
nlohmann::json scan_predicate(const std::string& verdict, const std::string& scanner_version, std::time_t when,
                    const nlohmann::json& report = nullptr);

}  // namespace modelseal

#pragma GCC visibility pop

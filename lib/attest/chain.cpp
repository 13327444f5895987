// Chain verification: layout first, then the model on disk, then every step of the layout.
#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <optional>

#include "modelseal/attest.hpp"
#include "modelseal/chain.hpp"
#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

namespace {

// One envelope from a bundle, authenticated against the layout's keys.
struct Attestation {
  std::string source;
  std::vector<const LayoutKey*> signers;   // layout keys with a valid signature
  std::optional<Statement> statement;      // parsed only once authenticated
  json statement_json;                     // the same verified bytes, for rules
  std::string problem;                     // why it cannot be used at all
  std::string rejected;                    // why a step it was about did not accept it
  bool used = false;
};

Attestation authenticate(const AttestationEntry& e, const Layout& layout) {
  Attestation a;
  a.source = e.source;
  try {
    AuthenticatedPayload payload = modelseal::authenticate(e.envelope, layout.keys, kAttestation, "");
    for (size_t i : payload.signers()) a.signers.push_back(&layout.keys[i]);
    a.statement = Statement::parse(payload, e.source);
    a.statement_json = parse_json_strict(payload.bytes(), e.source);
  } catch (const Error& err) {
    a.statement.reset();
    a.problem = err.what();
  }
  return a;
}

// The resolvedDependencies of a verified provenance; nullopt (with `why`) if any is unusable.
std::optional<std::vector<Dependency>> dependencies_of(const json& predicate, std::string& why) {
  std::vector<Dependency> out;
  auto bd = predicate.find("buildDefinition");
  if (bd == predicate.end() || !bd->is_object()) {
    why = "provenance has no buildDefinition";
    return std::nullopt;
  }
  auto deps = bd->find("resolvedDependencies");
  if (deps == bd->end()) return out;
  if (!deps->is_array()) {
    why = "resolvedDependencies is not an array";
    return std::nullopt;
  }
  for (size_t i = 0; i < deps->size(); ++i) {
    const json& d = (*deps)[i];
    Dependency dep;
    auto name = d.is_object() ? d.find("name") : d.end();
    auto digest = d.is_object() ? d.find("digest") : d.end();
    if (d.is_object() && digest != d.end() && digest->is_object() && digest->contains("sha256") &&
        (*digest)["sha256"].is_string()) {
      dep.subject.sha256 = (*digest)["sha256"].get<std::string>();
      std::transform(dep.subject.sha256.begin(), dep.subject.sha256.end(), dep.subject.sha256.begin(),
                     [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    }
    if (dep.subject.sha256.size() != 64 || dep.subject.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      why = "resolvedDependencies[" + std::to_string(i) + "] has no sha256 digest to link by";
      return std::nullopt;
    }
    dep.subject.name = name != d.end() && name->is_string() ? name->get<std::string>() : dep.subject.sha256.substr(0, 12);
    if (auto ann = d.find("annotations"); ann != d.end() && ann->is_object()) {
      if (auto role = ann->find(kRoleAnnotation); role != ann->end() && role->is_string()) dep.role = role->get<std::string>();
    }
    out.push_back(std::move(dep));
  }
  return out;
}

std::string signer_names(const std::vector<StepSigner>& s) {
  std::string out;
  for (const auto& k : s) out += (out.empty() ? "" : ", ") + k.name;
  return out;
}

// Checks one step for one subject; accepted provenance dependencies go to `deps`.
StepResult check_step(const LayoutStep& step, const Subject& subject, std::vector<Attestation>& atts,
                      std::vector<Dependency>& deps) {
  StepResult r;
  r.step = step.name;
  r.predicate_type = step.predicate_type;
  r.subject_name = subject.name;
  r.subject_digest = subject.sha256;
  r.threshold = step.threshold;
  std::vector<std::string> rejected;
  size_t of_type = 0, elsewhere = 0;
  for (Attestation& a : atts) {
    if (!a.statement || a.statement->predicate_type != step.predicate_type) continue;
    ++of_type;
    if (!a.statement->has_subject(subject.sha256)) {
      ++elsewhere;
      continue;
    }
    if (!subject.manifest_sha256.empty()) {
      std::string names;   // what the attestation says of the model's names
      for (const Subject& s : a.statement->subjects)
        if (s.sha256 == subject.sha256 && !s.manifest_sha256.empty()) names = s.manifest_sha256;
      const std::string why = names.empty() ? "does not bind the model's file names (no " +
                                                  std::string(kManifestDigestKey) + "): attest it again"
                              : names != subject.manifest_sha256
                                  ? "the model's files were renamed or moved since it was attested"
                                  : "";
      if (!why.empty()) {
        rejected.push_back(a.source + ": " + why);
        a.rejected = "step " + step.name + ": " + why;
        continue;
      }
    }
    std::vector<const LayoutKey*> allowed;
    std::string others;
    for (const LayoutKey* k : a.signers) {
      if (std::find(step.keys.begin(), step.keys.end(), k->name) != step.keys.end()) allowed.push_back(k);
      else others += (others.empty() ? "" : ", ") + k->name;
    }
    if (allowed.empty()) {
      rejected.push_back(a.source + " is signed by " + others + ", not allowed for this step");
      a.rejected = "step " + step.name + ": signed by " + others + ", not allowed for this step";
      continue;
    }
    std::optional<std::string> broken;
    for (const Rule& rule : step.rules)
      if ((broken = rule.violation(a.statement_json))) break;
    if (broken) {
      rejected.push_back(a.source + ": " + *broken);
      a.rejected = "step " + step.name + ": " + *broken;
      continue;
    }
    std::vector<Dependency> listed;
    if (step.predicate_type == kSlsaProvenanceType) {
      std::string why;
      auto d = dependencies_of(a.statement->predicate, why);
      if (!d) {
        rejected.push_back(a.source + ": " + why);
        a.rejected = "step " + step.name + ": " + why;
        continue;
      }
      listed = std::move(*d);
    }
    a.used = true;
    r.attestations.push_back(a.source);
    deps.insert(deps.end(), listed.begin(), listed.end());
    for (const LayoutKey* k : allowed)
      if (std::none_of(r.signers.begin(), r.signers.end(), [&](const StepSigner& s) { return s.keyid == k->key.keyid(); }))
        r.signers.push_back({k->name, k->key.keyid()});
  }
  r.ok = r.signers.size() >= step.threshold;
  if (r.ok) return r;
  if (!r.signers.empty()) {
    r.reason = "signed by " + std::to_string(r.signers.size()) + " distinct allowed key" +
               (r.signers.size() == 1 ? "" : "s") + " (" + signer_names(r.signers) + "), threshold is " +
               std::to_string(step.threshold);
  } else if (!rejected.empty()) {
    for (const auto& why : rejected) r.reason += (r.reason.empty() ? "" : "; ") + why;
  } else if (elsewhere > 0) {
    r.reason = "no attestation about " + subject.name + " (sha256:" + subject.sha256.substr(0, 16) + "...); " +
               std::to_string(elsewhere) + " of type " + step.predicate_type + " " + (elsewhere == 1 ? "is" : "are") +
               " about other artifacts";
  } else {
    // Say what was read, so that the bundle that is missing can be named.
    std::set<std::string> files;
    for (const Attestation& a : atts) files.insert(a.source.substr(0, a.source.rfind(':')));
    std::string read;
    for (const auto& f : files) read += (read.empty() ? "" : ", ") + f;
    r.reason = "no attestation of type " + step.predicate_type + " about " + subject.name + " signed by a layout key " +
               (files.empty() ? std::string("(no attestation bundle was given)")
                              : "in the " + std::to_string(files.size()) + " bundle" + (files.size() == 1 ? "" : "s") +
                                    " read (" + read + ")") +
               ": pass the bundle of step " + step.name + " with --attestations";
  }
  (void)of_type;
  return r;
}

}  // namespace

void verify_chain(const ChainInputs& in, ChainReport& r) {
  const std::time_t now = in.now ? in.now : std::time(nullptr);   // one clock reading
  r = ChainReport{};
  r.model = in.model.string();
  r.layout = in.layout.string();
  try {
    VerifiedLayout vl = verify_layout(load_layout_envelope(in.layout), in.layout_keys, now, "layout " + r.layout);
    const Layout& layout = vl.layout;
    r.layout_ok = true;
    r.layout_signers = vl.signers;
    r.layout_expires = format_rfc3339(layout.expires);

    // The model as it is on disk now, not as any attestation describes it.
    SignOptions opts;
    opts.ignore_paths = in.ignore_paths;
    opts.hash = in.hash;
    Manifest m = manifest_for(in.model, opts);
    if (m.resources.empty()) throw usage_error("model has no files: " + r.model);
    // The root digest covers contents only; the manifest digest binds the files' names too.
    const Subject model{artifact_name(in.model), digest_hex(m.root()), digest_hex(m.names_digest())};
    r.model_digest = model.sha256;

    std::vector<Attestation> atts;
    for (const auto& file : in.attestations)
      for (const AttestationEntry& e : load_attestations(file)) atts.push_back(authenticate(e, layout));

    std::map<std::string, std::vector<Dependency>> deps_by_step;
    std::map<std::string, bool> step_ok;
    std::string first_failure;
    for (const LayoutStep& step : layout.steps) {
      std::vector<Subject> subjects;
      std::string blocked;
      if (step.subject.kind == SubjectSpec::Kind::model) {
        subjects.push_back(model);
      } else if (!step_ok[step.subject.step]) {
        blocked = "depends on step " + step.subject.step + ", which failed";
      } else {
        for (const Dependency& d : deps_by_step[step.subject.step])
          if ((step.subject.role.empty() || d.role == step.subject.role) &&
              std::none_of(subjects.begin(), subjects.end(), [&](const Subject& s) { return s.sha256 == d.subject.sha256; }))
            subjects.push_back(d.subject);
        if (subjects.empty())
          blocked = "step " + step.subject.step + " lists no dependencies" +
                    (step.subject.role.empty() ? "" : " with role " + step.subject.role);
      }
      bool ok = blocked.empty();
      if (!ok) {
        StepResult fail;
        fail.step = step.name;
        fail.predicate_type = step.predicate_type;
        fail.threshold = step.threshold;
        fail.reason = blocked;
        r.steps.push_back(fail);
      }
      std::vector<Dependency>& deps = deps_by_step[step.name];
      for (const Subject& s : subjects) {
        r.steps.push_back(check_step(step, s, atts, deps));
        ok = ok && r.steps.back().ok;
      }
      step_ok[step.name] = ok;
      if (!ok && first_failure.empty()) {
        for (const StepResult& sr : r.steps)
          if (!sr.ok) {
            first_failure = "step " + sr.step + ": " + sr.reason;
            break;
          }
      }
    }

    for (const Attestation& a : atts) {
      if (a.used) continue;
      std::string why = !a.problem.empty() ? a.problem : "rejected by " + a.rejected;
      if (a.problem.empty() && a.rejected.empty()) {
        bool known = std::any_of(layout.steps.begin(), layout.steps.end(),
                                 [&](const LayoutStep& s) { return s.predicate_type == a.statement->predicate_type; });
        const Subject& first = a.statement->subjects.front();
        why = known ? "about " + first.name + " (sha256:" + first.sha256.substr(0, 16) +
                          "...), which no step requires"
                    : "predicate type " + a.statement->predicate_type + " is not in the layout";
      }
      r.ignored.push_back({a.source, why});
    }
    if (!first_failure.empty()) throw untrusted("chain verification failed: " + first_failure);
  } catch (const Error& e) {
    r.status = e.status();
    r.error = e.what();
    throw;
  }
}

json ChainReport::to_json() const {
  json steps_j = json::array();
  for (const StepResult& s : steps) {
    json signers_j = json::array();
    for (const auto& k : s.signers) signers_j.push_back({{"name", k.name}, {"keyid", k.keyid}});
    json sj = {{"step", s.step},         {"predicateType", s.predicate_type}, {"ok", s.ok},
               {"threshold", s.threshold}, {"signers", signers_j},              {"attestations", s.attestations}};
    if (!s.subject_digest.empty()) sj["subject"] = {{"name", s.subject_name}, {"digest", "sha256:" + s.subject_digest}};
    if (!s.ok) sj["reason"] = s.reason;
    steps_j.push_back(std::move(sj));
  }
  json ignored_j = json::array();
  for (const auto& i : ignored) ignored_j.push_back({{"source", i.source}, {"reason", i.reason}});
  json layout_j = {{"path", layout}, {"ok", layout_ok}, {"signers", layout_signers}};
  if (!layout_expires.empty()) layout_j["expires"] = layout_expires;
  json model_j = {{"path", model}};
  if (!model_digest.empty()) model_j["digest"] = "sha256:" + model_digest;
  static const char* names[] = {"ok", "not_trusted", "usage", "io"};
  json out = {{"model", model_j}, {"layout", layout_j}, {"steps", steps_j}, {"ignored", ignored_j},
              {"status", names[static_cast<int>(status)]}, {"exitCode", static_cast<int>(status)}};
  if (!error.empty()) out["error"] = error;
  return out;
}

}  // namespace modelseal

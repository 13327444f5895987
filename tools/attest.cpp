// modelseal attest: write a signed in-toto attestation about models, datasets or files.
#include <cstdio>
#include <ctime>

#include "common.hpp"
#include "modelseal/attest.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/json.hpp"
#include "modelseal/files.hpp"

using namespace modelseal;

namespace {

json read_json_object(const std::string& path, const std::string& what) {
  std::string text = read_file_limited(path, 16u << 20, what);
  try {
    json j = parse_json_strict(text, what + " " + path);
    if (!j.is_object()) throw usage_error(what + " is not a JSON object: " + path);
    return j;
  } catch (const Error& e) {
    if (e.status() == Status::not_trusted) throw usage_error(e.what());
    throw;
  } catch (const json::exception&) {   // e.g. a number too large for a double
    throw usage_error(what + " is not valid JSON: " + path);
  }
}

std::time_t time_arg(const std::string& s, const char* flag) {
  auto t = parse_rfc3339(s);
  if (!t) throw usage_error(std::string(flag) + " is not an RFC 3339 time: " + s, "e.g. 2026-03-01T12:00:00Z");
  return *t;
}

}  // namespace

int main(int argc, char** argv) {
  tool::App app{"Append a signed in-toto attestation (DSSE, Statement v1) about models, datasets or files to a\n"
                ".intoto.jsonl bundle. Directories and models are named by their OMS root digest\n"
                "(as 'modelseal digest' prints it).",
                "modelseal attest"};
  std::vector<std::string> subjects, files, keys, ignores, datasets, base_models, metrics, thresholds;
  std::string output, pass_file, build_type, builder_id, ext_params, started, finished, invocation;
  std::string approve, approver, comment, result, url, predicate_type, predicate_file;
  bool provenance = false, eval = false, as_json = false, quiet = false;
  unsigned threads = 0;
  app.add_option("SUBJECT", subjects, "Model or dataset (directory or file), named by its OMS root digest");
  app.add_option("--file", files, "A plain file as subject, by the SHA-256 of its bytes; repeatable");
  app.add_option("-k,--key", keys, "Private key to sign with; repeatable (one signature each)")->required();
  app.add_option("--passphrase-file", pass_file, "Read key passphrases from the first line of FILE");
  app.add_option("-o,--output", output, "Bundle to append to (default: FIRST-SUBJECT.intoto.jsonl beside it)");
  app.add_option("--ignore", ignores, "Leave this path out of the first subject's digest; repeatable");
  app.add_option("--threads", threads, "Hashing threads (default: one per core)")->check(tool::Range(1u, 1024u));
  app.add_flag("--json", as_json, "Print the statement that was signed (schemas/attestation-statement.schema.json)");

  auto* g_prov = app.add_option_group("provenance", "--provenance: SLSA provenance v1 of a training run");
  g_prov->add_flag("--provenance", provenance, "Attest how SUBJECT was built (https://slsa.dev/provenance/v1)");
  g_prov->add_option("--build-type", build_type, "buildDefinition.buildType (URI)");
  g_prov->add_option("--builder-id", builder_id, "runDetails.builder.id (URI)");
  g_prov->add_option("--external-parameters", ext_params, "JSON object file: buildDefinition.externalParameters");
  g_prov->add_option("--dataset", datasets, "Training dataset (directory or file), by digest; repeatable");
  g_prov->add_option("--base-model", base_models, "Base model that was fine-tuned, by digest; repeatable");
  g_prov->add_option("--started", started, "When the run started (RFC 3339)");
  g_prov->add_option("--finished", finished, "When the run finished (RFC 3339; default: now)");
  g_prov->add_option("--invocation-id", invocation, "runDetails.metadata.invocationId");

  auto* g_eval = app.add_option_group("evaluation", "--eval: in-toto test-result v0.1");
  g_eval->add_flag("--eval", eval, "Attest an evaluation (https://in-toto.io/attestation/test-result/v0.1)");
  g_eval->add_option("--metric", metrics, "NAME=VALUE, a measured metric; repeatable");
  g_eval->add_option("--threshold", thresholds, "NAME>=X or NAME<=X, the bar a metric had to meet; repeatable");
  g_eval->add_option("--result", result, "PASSED, WARNED or FAILED (default: from the thresholds)")
      ->check(tool::IsMember({"PASSED", "WARNED", "FAILED"}));
  g_eval->add_option("--url", url, "Where the full evaluation report is");

  auto* g_appr = app.add_option_group("approval", "--approve: release approval");
  g_appr->add_option("--approve", approve, "Approve release VERSION (https://modelseal.dev/release-approval/v1)");
  g_appr->add_option("--approver", approver, "Who approves (name or e-mail)");
  g_appr->add_option("--comment", comment, "A note kept in the approval");

  auto* g_other = app.add_option_group("other", "any other predicate");
  g_other->add_option("--predicate-type", predicate_type, "Predicate type URI");
  g_other->add_option("--predicate", predicate_file, "JSON object file: the predicate");
  tool::Audit audit;
  tool::add_audit_option(app, audit);
  tool::add_common(app, quiet);
  app.footer(
      "Exactly one of --provenance, --eval, --approve VERSION, --predicate-type URI is given.\n"
      "Exit status: 0 written, 1 the bundle is damaged, 2 usage error, 3 I/O error.\n\n"
      "Example:\n"
      "  $ modelseal attest ./bert -k trainer.key --provenance --build-type https://example.com/train/v1 \\\n"
      "      --builder-id https://ci.example.com/runner --dataset ./wiki --started 2026-03-01T08:00:00Z\n"
      "  bert.intoto.jsonl: appended https://slsa.dev/provenance/v1 about bert (sha256:9274...), signed by 3f1c0a...");
  return tool::run(app, argc, argv, [&]() -> int {
    const int kinds = provenance + eval + !approve.empty() + !predicate_type.empty();
    if (kinds != 1)
      throw usage_error(kinds ? "give only one kind of predicate" : "no predicate given",
                        "use one of --provenance, --eval, --approve VERSION, --predicate-type URI");
    auto only_for = [&](bool selected, bool used, const char* opts, const char* kind) {
      if (used && !selected) throw usage_error(std::string(opts) + " only go with " + kind);
    };
    only_for(provenance, !build_type.empty() || !builder_id.empty() || !ext_params.empty() || !datasets.empty() ||
                             !base_models.empty() || !started.empty() || !finished.empty() || !invocation.empty(),
             "--build-type, --builder-id, --external-parameters, --dataset, --base-model, --started, --finished, "
             "--invocation-id",
             "--provenance");
    only_for(eval, !metrics.empty() || !thresholds.empty() || !result.empty() || !url.empty(),
             "--metric, --threshold, --result, --url", "--eval");
    only_for(!approve.empty(), !approver.empty() || !comment.empty(), "--approver, --comment", "--approve");
    only_for(!predicate_type.empty(), !predicate_file.empty(), "--predicate", "--predicate-type");
    if (subjects.empty() && files.empty()) throw usage_error("no subject given", "name a model, dataset or --file");
    if (provenance && started.empty()) throw usage_error("provenance needs a start time", "use --started TIME");
    if (!predicate_type.empty() && predicate_file.empty()) throw usage_error("--predicate-type needs --predicate FILE");
    const std::time_t now = std::time(nullptr);

    SignOptions hash_opts;
    hash_opts.hash.threads = threads;
    Statement st;
    {
      tool::Progress progress("hashing", [&] {
        uint64_t n = 0;
        for (const auto& s : subjects) n += tool::model_size(s);
        return n;
      }, quiet || as_json);
      hash_opts.hash.bytes_done = progress.counter();
      for (size_t i = 0; i < subjects.size(); ++i) {
        SignOptions o = hash_opts;
        if (i == 0) o.ignore_paths = ignores;
        st.subjects.push_back(model_subject(subjects[i], o));
      }
      for (const auto& f : files) st.subjects.push_back(file_subject(f));
      if (provenance) {
        Provenance p;
        p.build_type = build_type;
        p.builder_id = builder_id;
        if (!ext_params.empty()) p.external_parameters = read_json_object(ext_params, "external parameters");
        for (const auto& d : datasets) p.dependencies.push_back({model_subject(d, hash_opts), "dataset"});
        for (const auto& b : base_models) p.dependencies.push_back({model_subject(b, hash_opts), "base-model"});
        p.started = time_arg(started, "--started");
        p.finished = finished.empty() ? now : time_arg(finished, "--finished");
        p.invocation_id = invocation;
        st.predicate_type = std::string(kSlsaProvenanceType);
        st.predicate = provenance_predicate(p);
      }
    }
    if (eval) {
      std::vector<Metric> ms;
      for (const auto& a : metrics) {
        auto [name, value] = parse_metric_arg(a);
        ms.push_back({name, value, std::nullopt, true});
      }
      for (const auto& a : thresholds) {
        ThresholdArg t = parse_threshold_arg(a);
        auto it = std::find_if(ms.begin(), ms.end(), [&](const Metric& m) { return m.name == t.name; });
        if (it == ms.end()) throw usage_error("threshold for unknown metric " + t.name, "add --metric " + t.name + "=VALUE");
        if (it->threshold) throw usage_error("two thresholds for metric " + t.name);
        it->threshold = t.value;
        it->higher_is_better = t.higher_is_better;
      }
      if (ms.empty() && result.empty()) throw usage_error("an evaluation needs --metric or --result");
      std::string measured = metrics_result(ms);
      if (result.empty()) result = measured;
      else if (result == "PASSED" && measured == "FAILED")
        throw usage_error("--result PASSED contradicts a threshold that was not met");
      st.predicate_type = std::string(kTestResultType);
      st.predicate = test_result_predicate(result, ms, url);
    }
    if (!approve.empty()) {
      st.predicate_type = std::string(kReleaseApprovalType);
      st.predicate = approval_predicate(approve, approver, now, comment);
    }
    if (!predicate_type.empty()) {
      st.predicate_type = predicate_type;
      st.predicate = read_json_object(predicate_file, "predicate");
    }

    tool::Signers loaded = tool::load_signers(keys, pass_file);
    const std::vector<const SigningKey*>& signers = loaded.ptrs;
    const std::string bundle =
        output.empty() ? default_attestations_path(subjects.empty() ? files.front() : subjects.front()).string() : output;
    audit.fields["model"] = st.subjects.front().name;
    if (!st.subjects.front().sha256.empty()) audit.fields["model_digest"] = "sha256:" + st.subjects.front().sha256;
    audit.fields["predicate_type"] = st.predicate_type;
    audit.fields["keyids"] = json::array();
    for (const SigningKey* k : signers) audit.fields["keyids"].push_back(k->public_key().keyid());
    append_attestation(bundle, st, signers);
    if (as_json) {
      std::printf("%s\n", st.to_json().dump(2).c_str());
    } else if (!quiet) {
      std::string who;
      for (const SigningKey* k : signers) who += (who.empty() ? "" : ", ") + k->public_key().keyid().substr(0, 16);
      std::printf("%s: appended %s about %s (sha256:%s), signed by %s\n", bundle.c_str(), st.predicate_type.c_str(),
                  st.subjects.front().name.c_str(), st.subjects.front().sha256.c_str(), who.c_str());
    }
    return 0;
  }, &audit);
}

// modelseal chain: sign a release layout, and verify a model's chain of attestations against it.
#include <cstdio>
#include <ctime>

#include "common.hpp"
#include "modelseal/attest.hpp"
#include "modelseal/chain.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/files.hpp"

using namespace modelseal;
namespace fs = std::filesystem;

namespace {

std::string short_id(const std::string& keyid) { return keyid.substr(0, 16); }

void print_text(const ChainReport& r) {
  if (r.layout_ok) {
    std::string who;
    for (const auto& s : r.layout_signers) who += (who.empty() ? "" : ", ") + s;
    std::printf("layout %s: OK (signed by %s, expires %s)\n", r.layout.c_str(), who.c_str(), r.layout_expires.c_str());
  }
  if (!r.model_digest.empty()) std::printf("model %s: sha256:%s\n", r.model.c_str(), r.model_digest.c_str());
  for (const StepResult& s : r.steps) {
    std::string subject = s.subject_digest.empty() ? "" : " [" + s.subject_name + " sha256:" + s.subject_digest.substr(0, 16) + "...]";
    if (s.ok) {
      std::string who;
      for (const auto& k : s.signers) who += (who.empty() ? "" : ", ") + k.name + " (" + short_id(k.keyid) + ")";
      std::printf("step %s%s: OK (%u of %u: signed by %s)\n", s.step.c_str(), subject.c_str(),
                  static_cast<unsigned>(s.signers.size()), s.threshold, who.c_str());
    } else {
      std::printf("step %s%s: FAILED (%s)\n", s.step.c_str(), subject.c_str(), s.reason.c_str());
    }
  }
  for (const auto& i : r.ignored) std::printf("ignored %s: %s\n", i.source.c_str(), i.reason.c_str());
  if (r.status == Status::ok) std::printf("chain: OK\n");
}

}  // namespace

int main(int argc, char** argv) {
  tool::App app{"Verify a release's chain of attestations against a signed layout (modelseal-layout(5)),\n"
                "or sign a layout.",
                "modelseal chain"};
  bool quiet = false;
  tool::Audit audit;
  tool::add_audit_option(app, audit);
  tool::add_common(app, quiet);
  app.require_subcommand(1);

  std::string model, layout;
  std::vector<std::string> layout_keys, attestations, ignores;
  bool as_json = false;
  unsigned threads = 0;
  auto* verify = app.add_subcommand("verify", "Verify MODEL's chain of attestations against LAYOUT");
  verify->add_option("MODEL", model, "Model directory or file; its root digest is recomputed from disk")->required();
  verify->add_option("--layout", layout, "Signed layout (from 'chain sign-layout')")->required();
  verify->add_option("--layout-key", layout_keys,
                     "Public key trusted to sign layouts; repeatable. Never taken from the layout itself")
      ->required();
  verify->add_option("--attestations", attestations, "Attestation bundle (.intoto.jsonl); repeatable "
                                                     "(default: MODEL.intoto.jsonl)");
  verify->add_option("--ignore", ignores, "Leave this path (relative to MODEL) out of its digest; repeatable");
  verify->add_flag("--json", as_json, "Print a JSON report (schemas/chain-report.schema.json)");
  verify->add_option("--threads", threads, "Hashing threads (default: one per core)")->check(tool::Range(1u, 1024u));

  std::string layout_in, layout_out, pass_file;
  std::vector<std::string> owner_keys;
  bool force = false;
  auto* sign = app.add_subcommand("sign-layout", "Sign a layout JSON with owner keys");
  sign->add_option("LAYOUT", layout_in, "Layout JSON; keys may be given as {\"path\": \"KEY.pub\"}")->required();
  sign->add_option("-k,--key", owner_keys, "Owner private key; repeatable")->required();
  sign->add_option("-o,--output", layout_out, "Signed layout (default: LAYOUT with .dsse.json)");
  sign->add_option("--passphrase-file", pass_file, "Read key passphrases from the first line of FILE");
  sign->add_flag("-f,--force", force, "Overwrite the output");

  app.footer(
      "Exit status: 0 the chain holds, 1 it does not (or a layout/attestation is not trusted),\n"
      "2 usage error, 3 I/O error.\n\n"
      "Example:\n"
      "  $ modelseal chain sign-layout release.layout.json -k owner.key -o release.layout.dsse.json\n"
      "  $ modelseal chain verify ./bert --layout release.layout.dsse.json --layout-key owner.pub \\\n"
      "      --attestations bert.intoto.jsonl\n"
      "  step training [bert sha256:9274511...]: OK (1 of 1: signed by trainer (3f1c0a...))\n"
      "  ...\n"
      "  chain: OK");
  return tool::run(app, argc, argv, [&]() -> int {
    if (*sign) {
      std::string out = layout_out;
      if (out.empty()) {
        fs::path p(layout_in);
        out = (p.extension() == ".json" ? p.replace_extension("") : p).string() + ".dsse.json";
      }
      std::error_code ec;
      if (!force && fs::exists(out, ec)) throw usage_error("refusing to overwrite " + out, "use -f/--force");
      std::string text = read_file_limited(layout_in, kMaxLayoutBytes, "layout");
      fs::path base = fs::path(layout_in).parent_path();
      std::string resolved = resolve_layout(text, base.empty() ? fs::path(".") : base, "layout " + layout_in);
      tool::Signers loaded = tool::load_signers(owner_keys, pass_file);
      const std::vector<const SigningKey*>& signers = loaded.ptrs;
      std::vector<PublicKey> pubs;
      for (const SigningKey* k : signers) pubs.push_back(k->public_key());
      Envelope env = sign_layout(resolved, signers);
      const std::string bytes = env.to_json().dump(2) + "\n";
      // Read it back as a verifier will: signatures, owners listed, threshold. The clock is left
      // out here (an owner may sign a layout dated for a test of expiry); verify checks it.
      Envelope back = Envelope::from_json(parse_json_strict(bytes, "new layout"), "new layout");
      Layout parsed = Layout::parse_unauthenticated(back.payload, "layout " + layout_in);
      try {
        verify_layout(back, pubs, parsed.expires - 1, "layout " + layout_in);
      } catch (const Error& e) {
        throw usage_error(e.what(), e.hint());   // the caller's keys or layout, not an attack
      }
      write_file_atomic(out, bytes, 0644);
      if (!quiet) std::printf("%s: signed layout with %zu key(s)\n", out.c_str(), signers.size());
      return 0;
    }
    ChainInputs in;
    in.model = model;
    in.layout = layout;
    for (const auto& k : layout_keys) in.layout_keys.push_back(PublicKey::load(k));
    if (attestations.empty()) attestations.push_back(default_attestations_path(model).string());
    for (const auto& a : attestations) in.attestations.push_back(a);
    in.ignore_paths = ignores;
    in.hash.threads = threads;
    ChainReport report;
    std::optional<Error> failure;
    {
      tool::Progress progress("hashing", [&] { return tool::model_size(model); }, quiet || as_json);
      in.hash.bytes_done = progress.counter();
      try {
        verify_chain(in, report);
      } catch (const Error& e) {
        failure = e;
      }
    }
    audit.fields["model"] = model;
    if (!report.model_digest.empty()) audit.fields["model_digest"] = "sha256:" + report.model_digest;
    audit.fields["keyids"] = report.layout_signers;
    if (failure) audit.fields["reason"] = failure->what();
    if (as_json) std::printf("%s\n", report.to_json().dump(2).c_str());
    else if (!quiet || failure) print_text(report);
    std::fflush(stdout);
    if (failure) {
      tool::print_error(*failure);
      return static_cast<int>(failure->status());
    }
    return 0;
  }, &audit);
}

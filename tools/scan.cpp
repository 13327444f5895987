// modelseal scan: find code injection in model files, by content (DESIGN §6).
#include <cstdio>
#include <optional>

#include "common.hpp"
#include "modelseal/attest.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/version.hpp"

using namespace modelseal;

namespace {

void print_report(const scan::FileReport& r) {
  std::printf("%s: %s (%s)\n", r.path.c_str(), scan::to_string(r.verdict), r.format.c_str());
  for (const scan::Finding& f : r.findings) {
    std::printf("  %-8s  %s", f.severity.c_str(), f.what.c_str());
    if (!f.member.empty()) std::printf("  [in %s]", f.member.c_str());
    std::printf("  @%llu\n", static_cast<unsigned long long>(f.offset));
  }
  if (!r.error.empty() && !r.io_failed) std::printf("  error     %s\n", r.error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  tool::App app{"Scan model files for code injection: pickle globals, Keras Lambda layers, malformed "
                "safetensors/GGUF/zip. Formats are recognised by content, never by file name.",
                "modelseal scan"};
  std::vector<std::string> paths;
  bool as_json = false, quiet = false;
  app.add_option("PATH", paths, "Files or directories (scanned recursively)")->required();
  app.add_flag("--json", as_json, "Print a JSON report (schemas/scan-report.schema.json)");
  bool skip_archives = false;
  app.add_flag("--insecure-skip-archives", skip_archives,
               "Do not fail on 7z/RAR/lz4/zstd files, which no model loader opens (their content is not scanned)");
  bool attest = false;
  std::vector<std::string> keys;
  std::string attestations, pass_file;
  app.add_flag("--attest", attest,
               "Record the result as a signed attestation about the model (one PATH: the model) for a chain layout");
  app.add_option("-k,--key", keys, "With --attest: private key signing the attestation; repeatable");
  app.add_option("--attestations", attestations, "With --attest: bundle to append to (default: MODEL.intoto.jsonl)");
  app.add_option("--passphrase-file", pass_file, "Read key passphrases from the first line of FILE");
  tool::add_common(app, quiet);
  app.footer(
      "Exit status: 0 all files safe (or of a format that holds no code), 1 unsafe content or a file\n"
      "that could not be parsed, 2 usage error, 3 I/O error.\n\n"
      "Example:\n"
      "  $ modelseal scan ./resnet\n"
      "  resnet/model.safetensors: safe (safetensors)\n"
      "  resnet/pytorch_model.bin: unsafe (pytorch-zip)\n"
      "    critical  global posix.system  [in archive/data.pkl]  @58\n"
      "  $ modelseal scan ./bert --attest -k scanner.key     # a signed scan result for 'modelseal chain'");
  return tool::run(app, argc, argv, [&] {
    if (attest && (paths.size() != 1 || keys.empty()))
      throw usage_error("--attest needs exactly one PATH (the model) and -k KEY");
    if (!attest && (!keys.empty() || !attestations.empty()))
      throw usage_error("-k and --attestations go with --attest");
    // Keys first: a wrong passphrase must not cost a whole scan.
    tool::Signers loaded = tool::load_signers(keys, pass_file);
    // With --attest the model is walked, scanned and hashed in one pass, as sign does it: the
    // subject digest covers exactly the bytes that were scanned.
    std::optional<ScannedModel> scanned;
    if (attest) scanned = scan_model(paths.front(), {});
    std::vector<scan::FileReport> reports = scanned ? std::move(scanned->reports) : scan::scan_paths(paths);
    if (skip_archives) scan::insecure_skip_unopened_archives(reports);
    bool untrusted = false, io = false;
    for (const scan::FileReport& r : reports) {
      if (r.io_failed) {
        io = true;
        tool::print_error(io_error(r.error));
      } else if (scan::blocks_trust(r)) {
        untrusted = true;
      }
    }
    if (as_json) {
      std::printf("%s\n", scan::to_json(reports).dump(2).c_str());
    } else {
      for (const scan::FileReport& r : reports) {
        if (r.io_failed || (quiet && !scan::blocks_trust(r))) continue;
        print_report(r);
      }
      if (!quiet) {
        size_t bad = 0;
        for (const scan::FileReport& r : reports) bad += scan::blocks_trust(r) && !r.io_failed;
        std::printf("%zu file%s scanned, %zu unsafe or unparseable\n", reports.size(),
                    reports.size() == 1 ? "" : "s", bad);
      }
    }
    if (attest && !io) {
      Statement st;
      if (scanned->manifest.resources.empty()) throw usage_error("no files to attest in " + paths.front());
      st.subjects.push_back({artifact_name(paths.front()), digest_hex(scanned->manifest.root()),
                             digest_hex(scanned->manifest.names_digest())});
      st.predicate_type = std::string(kScanPredicateType);
      st.predicate = scan_predicate(untrusted ? "unsafe" : "safe", "modelseal " MODELSEAL_VERSION, std::time(nullptr),
                                    scan::to_json(reports));
      const std::vector<const SigningKey*>& signers = loaded.ptrs;
      std::string out = attestations.empty() ? default_attestations_path(paths.front()).string() : attestations;
      append_attestation(out, st, signers);
      if (!quiet && !as_json)
        std::printf("%s: appended scan result (%s) about %s (sha256:%s)\n", out.c_str(), untrusted ? "unsafe" : "safe",
                    st.subjects.front().name.c_str(), st.subjects.front().sha256.c_str());
    }
    if (untrusted) return static_cast<int>(Status::not_trusted);
    if (io) return static_cast<int>(Status::io);
    return 0;
  });
}

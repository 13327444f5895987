// modelseal fetch: download a signed model over HTTPS (or mTLS), verifying as it arrives.
#include <csignal>
#include <cstdio>
#include <optional>

#include "common.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/fetch.hpp"

using namespace modelseal;

namespace {

// SIGINT/SIGTERM stop the fetch between two reads, so that the temporary directory is removed.
std::atomic<bool> g_cancel{false};
extern "C" void on_signal(int) { g_cancel.store(true); }

}  // namespace

int main(int argc, char** argv) {
  tool::App app{"Download a signed model over HTTPS, verifying every file as it arrives.", "modelseal fetch"};
  std::string url, out, policy_file, max_size = "64G";
  std::vector<std::string> pubkeys, age_identities;
  std::string pass_file;
  bool age_passphrase = false;
  FetchOptions opts;
  bool as_json = false, quiet = false;
  app.add_option("URL", url, "https:// URL of the model's folder (the one holding model.sig)")->required();
  app.add_option("-o,--output", out, "Write the verified model to this new directory")->required();
  app.add_option("-p,--public-key", pubkeys, "Trusted public key (repeatable; any one suffices)");
  app.add_option("--policy", policy_file, "Trust policy (see modelseal-policy(5)) instead of -p");
  app.add_option("--cacert", opts.tls.ca_file, "Trust only the CA certificates in this PEM file for the server");
  app.add_option("--pinned-pubkey", opts.tls.pinned_pubkey,
                 "Require this server public key (PEM/DER file, or sha256//BASE64)");
  app.add_option("--cert", opts.tls.client_cert, "Client certificate (PEM) for mTLS");
  app.add_option("--key", opts.tls.client_key, "Private key (PEM, unencrypted) of --cert");
  app.add_flag("--insecure-http", opts.tls.insecure_http, "Allow a plain http:// URL (no TLS: anyone on the path can stall or "
               "swap the download, though not make it verify)");
  app.add_option("--max-file-size", max_size, "Refuse any file larger than SIZE (default 64G; K, M, G, T suffixes)");
  app.add_option("--parallel", opts.parallel, "Files downloaded at once (default 4)")->check(tool::Range(1u, 64u));
  app.add_option("--retries", opts.retries, "Retries per file after a network error (default 2)")
      ->check(tool::Range(0u, 20u));
  app.add_option("--connect-timeout", opts.connect_timeout, "Seconds to connect, TLS included (default 30)")
      ->check(tool::Range(1L, 3600L));
  app.add_option("--timeout", opts.stall_timeout, "Drop a transfer slower than 1 KiB/s for this many seconds (default 60)")
      ->check(tool::Range(1L, 3600L));
  app.add_flag("-f,--force", opts.replace,
               "Replace an existing DIR (empty, or a model signed under the same trust) atomically, once all verified");
  app.add_option("-i,--age-identity", age_identities,
                 "An encrypted model: fetch each NAME as NAME.age, decrypting it with this age identity file as it "
                 "streams to check the plaintext; only the ciphertext lands; repeatable");
  app.add_flag("--passphrase", age_passphrase, "An encrypted model: its files were encrypted with a passphrase");
  app.add_option("--passphrase-file", pass_file, "With --passphrase: read it from the first line of FILE (mode 600)");
  app.add_flag("--json", as_json, "Print a JSON report (schemas/fetch-report.schema.json)");
  tool::add_common(app, quiet);
  app.footer("Nothing is written to DIR unless every file matched the signature; exit status: 0 fetched and\n"
             "verified, 1 not trusted, 2 usage error, 3 network, TLS, HTTP or I/O error.\n\n"
             "Example:\n  $ modelseal fetch https://models.example.com/bert -o ./bert -p release.pub\n"
             "  ./bert: OK (12 files, 420.1 MiB, sha256:9274..., signed by 3f1c0a...)\n"
             "  $ modelseal fetch https://10.0.0.5/bert -o ./bert --policy prod.json \\\n"
             "      --cacert ca.pem --cert client.pem --key client.key\n"
             "  $ modelseal fetch https://models.example.com/bert-enc -o ./bert -p release.pub -i inference.agekey");
  return tool::run(app, argc, argv, [&]() -> int {
    Policy policy = tool::load_policy(pubkeys, policy_file);
    opts.max_file_size = parse_size(max_size);
    if (!pass_file.empty() && !age_passphrase) throw usage_error("--passphrase-file goes with --passphrase");
    const std::vector<age::Identity> ids = tool::load_age_identities(age_identities, age_passphrase, pass_file);
    if (!ids.empty()) opts.identities = &ids;
    if (!opts.tls.client_key.empty() && opts.tls.client_cert.empty())
      throw usage_error("--key needs --cert", "give the client certificate with --cert FILE");
    const bool show = !quiet && !as_json;
    std::optional<tool::Progress> progress;
    opts.on_verified = [&](uint64_t total) -> std::atomic<uint64_t>* {
      return progress.emplace("fetching", [total] { return total; }, !show).counter();
    };
    opts.cancel = &g_cancel;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
    FetchReport report;
    std::optional<Error> failure;
    try {
      fetch_model(url, out, policy, opts, &report);
    } catch (const Error& e) {
      failure = e;
    }
    progress.reset();
    if (as_json) std::printf("%s\n", report.to_json().dump(2).c_str());
    if (failure) {
      tool::print_error(*failure);
      return static_cast<int>(failure->status());
    }
    if (show) {
      std::string who;
      for (const auto& s : report.signers) who += (who.empty() ? "" : ", ") + s.id;
      const size_t n = report.files.size();
      std::printf("%s: OK (%zu file%s, %.1f MiB, sha256:%s, signed by %s)\n", out.c_str(), n, n == 1 ? "" : "s",
                  report.bytes / 1048576.0, report.root_digest.c_str(), who.c_str());
    }
    return 0;
  });
}

// modelseal verify: verify a model against its signature.
#include <cstdio>

#include "common.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/verify.hpp"
#include "modelseal/verified_read.hpp"
#include "modelseal/version_cache.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Verify a model (directory or file) against its OpenSSF Model Signing signature.",
                "modelseal verify"};
  std::string model, sig, policy_file, model_name, identity, identity_re, issuer, trusted_root, cert_identity;
  std::vector<std::string> pubkeys, ignores, cert_roots, age_identities;
  bool allow_symlinks = false, old_allow_symlinks = false, ignore_unsigned = false, as_json = false, verbose = false,
       quiet = false;
  unsigned threads = 0;
  app.add_option("MODEL", model, "Model directory or file")->required();
  app.add_option("-p,--public-key", pubkeys, "Trusted public key (repeatable; any one suffices)");
  app.add_option("--policy", policy_file, "Trust policy (see modelseal-policy(5)) instead of -p");
  app.add_option("--identity", identity, "Sigstore keyless: the signer's identity (SAN e-mail or URI), exact");
  app.add_option("--identity-regexp", identity_re, "Sigstore keyless: a regexp the whole identity must match");
  app.add_option("--issuer", issuer, "Sigstore keyless: the OIDC issuer of the identity, exact");
  app.add_option("--trusted-root", trusted_root,
                 "Sigstore trusted root (default: the public-good root shipped with modelseal)");
  app.add_option("--certificate-chain", cert_roots,
                 "Certificate method: PEM root certificates the bundle's chain must reach; repeatable");
  app.add_option("--certificate-identity", cert_identity,
                 "Certificate method: the signing certificate's SAN, CN or subject must equal this");
  std::string pass_file;
  bool age_passphrase = false;
  app.add_option("-i,--age-identity", age_identities,
                 "An encrypted model: age identity file to decrypt NAME.age files with (in memory, as they are "
                 "hashed; nothing is written); repeatable");
  app.add_flag("--passphrase", age_passphrase, "An encrypted model: its files were encrypted with a passphrase");
  app.add_option("--passphrase-file", pass_file, "With --passphrase: read it from the first line of FILE (mode 600)");
  app.add_option("-s,--signature", sig, "Signature to check (default: MODEL/model.sig, or FILE.sig)");
  app.add_option("--ignore", ignores, "Leave this path (relative to MODEL) out of the check; repeatable");
  app.add_option("--model-name", model_name,
                 "The name this model must have been signed as (default: the folder's name when the policy "
                 "scopes keys to models)");
  app.add_flag("--insecure-allow-symlinks", allow_symlinks,
               "Follow symlinks even when the signature was made without them");
  app.add_flag("--allow-symlinks", old_allow_symlinks)->group("");   // the old spelling
  bool hf_cache = false;
  app.add_flag("--hf-cache", hf_cache,
               "MODEL is a Hugging Face cache snapshot (REPO/snapshots/REV): follow a symlink only to a file in "
               "that cache's own blobs/");
  app.add_flag("--insecure-ignore-unsigned-files,--insecure-ignore-unlisted-files", ignore_unsigned,
               "Accept files that the signature does not list (they stay unverified)");
  app.add_flag("--json", as_json, "Print a JSON report (schemas/verify-report.schema.json)");
  app.add_flag("-v,--verbose", verbose, "Print 'path: OK' or 'path: FAILED (reason)' for every file");
  app.add_option("--threads", threads, "Hashing threads (default: one per core)")->check(tool::Range(1u, 1024u));
  bool record = false;
  app.add_flag("--record", record,
               "Once verified, record the files in this account's verification cache (MODELSEAL_CACHE_DIR), "
               "so that the shim and the verified-read API need not hash them again");
  tool::Audit audit;
  tool::add_audit_option(app, audit);
  tool::add_common(app, quiet);
  app.footer("Exit status: 0 verified, 1 not trusted, 2 usage error, 3 I/O error.\n\n"
             "Example:\n  $ modelseal verify ./bert -p release.pub\n"
             "  ./bert: OK (12 files, sha256:9274..., signed by 3f1c0a...)\n"
             "  $ modelseal verify ./bert -p release.pub -i inference.agekey   # NAME.age files, encrypted at rest");
  return tool::run(app, argc, argv, [&]() -> int {
    if (old_allow_symlinks)
      std::fprintf(stderr, "modelseal: warning: --allow-symlinks is deprecated; it is now --insecure-allow-symlinks\n");
    const bool keyless = !identity.empty() || !identity_re.empty() || !issuer.empty();
    const int kinds = keyless + !cert_roots.empty() + (!pubkeys.empty() || !policy_file.empty());
    if (kinds > 1)
      throw usage_error("give one kind of trust: -p/--policy, --identity/--issuer, or --certificate-chain");
    if ((!trusted_root.empty() && !keyless) || (!cert_identity.empty() && cert_roots.empty()))
      throw usage_error(!trusted_root.empty() ? "--trusted-root goes with --identity and --issuer"
                                              : "--certificate-identity goes with --certificate-chain");
    Policy policy = keyless ? Policy::from_sigstore(TrustedRoot::load(trusted_root.empty() ? tool::default_trusted_root()
                                                                                         : trusted_root),
                                                    {identity, identity_re, issuer})
                    : !cert_roots.empty()
                        ? Policy::from_certificate_roots(tool::read_pem_files(cert_roots),
                                                         cert_identity.empty() ? std::nullopt
                                                                               : std::optional<std::string>(cert_identity))
                        : tool::load_policy(pubkeys, policy_file);
    if (!pass_file.empty() && !age_passphrase) throw usage_error("--passphrase-file goes with --passphrase");
    const std::vector<age::Identity> ids = tool::load_age_identities(age_identities, age_passphrase, pass_file);
    VerifyOptions opts;
    opts.signature = sig;
    if (!ids.empty()) opts.identities = &ids;
    tool::check_ignores(model, ignores, quiet);
    opts.ignore_paths = ignores;
    opts.model_name = model_name;
    opts.insecure_allow_symlinks = allow_symlinks || old_allow_symlinks;
    opts.hf_cache = hf_cache;
    opts.insecure_ignore_unlisted_files = ignore_unsigned;
    opts.hash.threads = threads;
    if (record) {   // before hashing: a cache that cannot be used is the operator's to fix
      std::string why;
      if (!VersionCache::from_environment(why))
        throw usage_error(why.empty() ? "--record: there is no verification cache (MODELSEAL_CACHE_DIR is off or unset, "
                                        "and so is XDG_RUNTIME_DIR)"
                                      : "--record: " + why,
                          "set MODELSEAL_CACHE_DIR to the folder the service uses");
    }
    VerifyReport report;
    std::optional<VerifiedModel> verified;
    std::optional<Error> failure;
    {
      tool::Progress progress("verifying", [&] { return tool::model_size(model); }, quiet || as_json);
      opts.hash.bytes_done = progress.counter();
      try {
        verified = verify_model(model, policy, opts);
        report = verified->report();
      } catch (const VerificationFailed& e) {
        failure = e;
        report = e.report();
      }
    }
    audit.fields["model"] = model;
    if (!report.root_digest.empty()) audit.fields["model_digest"] = "sha256:" + report.root_digest;
    audit.fields["keyids"] = json::array();
    for (const auto& s : report.signers) audit.fields["keyids"].push_back(s.keyid);
    if (failure) audit.fields["reason"] = failure->what();
    if (as_json) std::printf("%s\n", report.to_json().dump(2).c_str());
    if (verbose && !as_json) {
      for (const auto& f : report.files) {
        if (f.ok) std::printf("%s: OK\n", printable(f.name).c_str());
        else std::printf("%s: FAILED (%s)\n", printable(f.name).c_str(), printable(f.reason).c_str());
      }
      for (const auto& f : report.ignored) std::printf("%s: IGNORED (not signed)\n", printable(f).c_str());
      for (const auto& sg : report.signers) {
        if (!sg.certified) continue;
        const CertifiedSigner& c = *sg.certified;
        std::string line = "signer " + sg.id + ": identity " + c.identity + ", issuer " + c.issuer;
        if (c.log_index) line += ", Rekor log index " + std::to_string(*c.log_index);
        if (c.integrated_time) line += ", logged " + format_rfc3339(*c.integrated_time);
        std::printf("%s\n", printable(line).c_str());
      }
    }
    if (failure) {
      tool::print_error(*failure);
      return static_cast<int>(failure->status());
    }
    if (record) {
      const auto& files = verified->verified_files();
      std::string dir = record_verified(*verified, files);
      if (!quiet) {
        std::fprintf(stderr, "modelseal: recorded %s in the verification cache %s\n",
                     tool::count_of(files.size(), "file").c_str(), dir.c_str());
        if (files.size() < report.files.size())
          std::fprintf(stderr,
                       "modelseal: %s not recorded: open for writing while verified, changed within the last clock "
                       "tick, or on a file system whose times do not show every change (modelseal-preload(8))\n",
                       tool::count_of(report.files.size() - files.size(), "file").c_str());
      }
    }
    if (!quiet && !as_json) {
      std::string who;
      for (const auto& s : report.signers) who += (who.empty() ? "" : ", ") + s.id;
      std::printf("%s: OK (%s, sha256:%s, signed by %s)\n", model.c_str(), tool::count_of(report.files.size(), "file").c_str(),
                  report.root_digest.c_str(), who.c_str());
    }
    return 0;
  }, &audit);
}

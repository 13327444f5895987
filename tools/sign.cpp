// modelseal sign: sign a model directory or file.
#include <cstdio>

#include <set>

#include "common.hpp"

#include <ctime>

#include "modelseal/pkcs11.hpp"
#include "modelseal/signing_cert.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/json.hpp"

using namespace modelseal;

int main(int argc, char** argv) {
  tool::App app{"Sign a model (directory or file) in the OpenSSF Model Signing format.", "modelseal sign"};
  std::string model, sig, pass_file, model_name, signing_cert;
  std::vector<std::string> cert_chain;
  std::vector<std::string> keys, ignores;
  bool allow_symlinks = false, allow_unsafe = false, quiet = false;
  unsigned threads = 0;
  uint64_t shard_size = 0;
  app.add_option("MODEL", model, "Model directory or file")->required();
  app.add_option("-k,--key", keys, "Private key (repeat to add signatures to one envelope)")->required();
  app.add_option("-s,--signature", sig, "Write the signature here (default: MODEL/model.sig, or FILE.sig)");
  app.add_option("--ignore", ignores, "Leave this path (relative to MODEL) out of the signature; repeatable");
  app.add_option("--model-name", model_name,
                 "The name the signature gives the model (default: the folder's name); policies scope keys by it");
  app.add_flag("--allow-symlinks", allow_symlinks, "Hash the targets of symlinks under their link names");
  app.add_option("--threads", threads, "Hashing threads (default: one per core)")->check(tool::Range(1u, 1024u));
  tool::add_size_option(app, "--shard-size", shard_size,
                        "Sign shards of SIZE each (the OMS 'shards' serialization; bytes, or K, M, G, T: 256M)",
                        1, uint64_t{1} << 50);
  app.add_flag("--insecure-allow-unsafe-content", allow_unsafe,
               "Sign even files that 'modelseal scan' flags (pickle code, Lambda layers, ...)");
  app.add_option("--passphrase-file", pass_file, "Read the key's passphrase from the first line of FILE");
  app.add_option("--signing-certificate", signing_cert,
                 "Sign with the certificate method: the PEM certificate of -k (key usage digitalSignature and "
                 "EKU codeSigning, valid now), or a pkcs11: URI of a certificate object on a token");
  app.add_option("--certificate-chain", cert_chain,
                 "With --signing-certificate: PEM intermediates, leaf's issuer first; repeatable");
  tool::Audit audit;
  tool::add_audit_option(app, audit);
  tool::add_common(app, quiet);
  app.footer("Example:\n  $ modelseal sign ./bert -k release.key\n"
             "  modelseal: signed ./bert (12 files, sha256:9274...) -> ./bert/model.sig");
  return tool::run(app, argc, argv, [&] {
    audit.fields["model"] = model;
    tool::Signers loaded = tool::load_signers(keys, pass_file);
    const std::vector<const SigningKey*>& ptrs = loaded.ptrs;
    SignOptions opts;
    opts.signature = sig;
    tool::check_ignores(model, ignores, quiet);
    opts.ignore_paths = ignores;
    opts.model_name = model_name;
    if (!cert_chain.empty() && signing_cert.empty())
      throw usage_error("--certificate-chain goes with --signing-certificate");
    if (!signing_cert.empty()) {
      if (ptrs.size() != 1) throw usage_error("--signing-certificate signs with exactly one -k key");
      std::vector<std::filesystem::path> chain(cert_chain.begin(), cert_chain.end());
      const PublicKey& pub = ptrs.front()->public_key();
      opts.certificate_chain =
          Pkcs11Uri::is_uri(signing_cert)
              ? [&] {
                  Pkcs11Uri uri = Pkcs11Uri::parse(signing_cert);
                  return load_signing_chain_der(pkcs11_certificate(uri), uri.display(), chain, pub, std::time(nullptr));
                }()
              : load_signing_chain(signing_cert, chain, pub, std::time(nullptr));
    }
    opts.allow_symlinks = allow_symlinks;
    opts.shard_size = shard_size;
    opts.insecure_allow_unsafe_content = allow_unsafe;
    opts.hash.threads = threads;
    SignResult r = [&] {
      tool::Progress progress("signing", [&] { return tool::model_size(model); }, quiet);
      opts.hash.bytes_done = progress.counter();
      return sign_model(model, ptrs, opts);
    }();
    audit.fields["model_digest"] = "sha256:" + digest_hex(r.manifest.root());
    audit.fields["keyids"] = json::array();
    for (const SigningKey* k : ptrs) audit.fields["keyids"].push_back(k->public_key().keyid());
    if (!quiet) {
      // Signed because it was there; said, since such files usually are not meant to be.
      std::set<std::string> clutter;
      for (const auto& res : r.manifest.resources) {
        auto shard = r.manifest.serialization.method == Method::shards ? parse_shard_name(res.name) : std::nullopt;
        if (auto c = clutter_path(shard ? shard->path : res.name)) clutter.insert(*c);
      }
      for (const auto& c : clutter)
        std::fprintf(stderr, "modelseal: warning: signed %s, which looks like what an editor, notebook or OS leaves "
                             "behind (leave it out with --ignore %s)\n", printable(c).c_str(), printable(c).c_str());
    }
    if (!quiet)
      std::fprintf(stderr, "modelseal: signed %s (%s, sha256:%s) -> %s\n", model.c_str(),
                   tool::count_of(r.manifest.resources.size(), "resource").c_str(), digest_hex(r.manifest.root()).c_str(), r.signature.c_str());
    return 0;
  }, &audit);
}

#include "modelseal/sign.hpp"

#include <map>
#include <mutex>
#include <set>

#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/verify.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;

namespace modelseal {

namespace {

// The files a signature of `model` covers, and how they are serialized.
ModelTree signed_tree(const fs::path& model, const SignOptions& opts, Serialization& ser) {
  ser.allow_symlinks = opts.allow_symlinks;
  if (opts.shard_size) {
    ser.method = Method::shards;
    ser.shard_size = opts.shard_size;
  }
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    std::set<std::string, decltype(&name_less)> ignores(&name_less);
    for (auto d : kDefaultIgnores) ignores.emplace(d);
    ignores.emplace(kHfDownloadMetadata);
    fs::path sig = opts.signature.empty() ? default_signature_path(model) : opts.signature;
    if (auto rel = relative_ignore_path(model, fs::absolute(sig, ec).string())) ignores.insert(*rel);
    for (const auto& ig : opts.ignore_paths) {
      auto rel = relative_ignore_path(model, ig);
      if (!rel) throw usage_error("ignore path is outside the model: " + ig);
      ignores.insert(*rel);
    }
    ser.ignore_paths.assign(ignores.begin(), ignores.end());
  }
  return walk_model(model, {ser.ignore_paths, ser.allow_symlinks, {}});
}

// Refuses content that runs code when loaded (pickle globals, Lambda layers, malformed
// safetensors/GGUF, ...): a signature must not vouch for it by accident. It scans through the
// descriptor the file is hashed through, so what is scanned is what is signed.
void refuse_unsafe_content(int fd, const ModelFile& f) {
  scan::FileReport r = scan::scan_fd(fd, f.path.string());
  if (!scan::blocks_trust(r)) return;
  std::string why = !r.findings.empty() ? r.findings.front().severity + " " + r.findings.front().what : r.error;
  throw untrusted("refusing to sign unsafe content (" + r.format + ": " + why + "): " + f.path.string(),
                  "check it with 'modelseal scan'; sign anyway with --insecure-allow-unsafe-content");
}

}  // namespace

ScannedModel scan_model(const fs::path& model, const SignOptions& opts) {
  Serialization ser;
  ModelTree tree = signed_tree(model, opts, ser);
  std::mutex mu;
  std::map<std::string, scan::FileReport, decltype(&name_less)> reports(&name_less);
  HashOptions hash = opts.hash;
  hash.inspect = [&](int fd, const ModelFile& f) {
    scan::FileReport r = scan::scan_fd(fd, f.path.string());
    std::lock_guard lock(mu);
    reports.emplace(f.name, std::move(r));
  };
  ScannedModel out{hash_model(tree, ser, hash), {}};
  for (auto& [name, r] : reports) out.reports.push_back(std::move(r));
  return out;
}

Manifest manifest_for(const fs::path& model, const SignOptions& opts) {
  Serialization ser;
  ModelTree tree = signed_tree(model, opts, ser);
  return hash_model(tree, ser, opts.hash);
}

SignResult sign_model(const fs::path& model, const std::vector<const SigningKey*>& keys, const SignOptions& opts) {
  if (keys.empty()) throw usage_error("no signing key given", "use -k KEY");
  SignResult out;
  out.signature = opts.signature.empty() ? default_signature_path(model) : opts.signature;
  Serialization ser;
  ModelTree tree = signed_tree(model, opts, ser);
  HashOptions hash = opts.hash;
  if (!opts.insecure_allow_unsafe_content) hash.inspect = refuse_unsafe_content;
  out.manifest = hash_model(tree, ser, hash);
  if (!opts.model_name.empty()) out.manifest.model_name = opts.model_name;
  if (out.manifest.resources.empty())
    throw usage_error("model has no files to sign: " + model.string());

  out.bundle.envelope = sign_envelope(std::string(kInTotoPayloadType), out.manifest.statement(), keys);
  std::vector<PublicKey> pubs;
  for (const SigningKey* k : keys) pubs.push_back(k->public_key());
  out.bundle.media_type = std::string(kBundleMediaType);
  out.bundle.key_hint = keys.front()->public_key().hint();
  out.bundle.certificate_chain = opts.certificate_chain;
  const std::string bytes = out.bundle.serialize();

  // Verify what is about to be written, as a verifier will read it (minisign does the same).
  Bundle reread = Bundle::parse(bytes, "new signature");
  Policy self = Policy::from_keys(pubs);
  AuthenticatedPayload payload = self.authenticate(reread.envelope, "new signature");
  Manifest check = Manifest::from_statement(payload);
  if (payload.signers().size() != keys.size() || check.root() != out.manifest.root() ||
      check.resources.size() != out.manifest.resources.size())
    throw io_error("the new signature does not verify; nothing was written");

  write_file_atomic(out.signature, bytes, 0644);
  return out;
}

}  // namespace modelseal

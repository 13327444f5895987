#include "modelseal/verify.hpp"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <sys/stat.h>

#include "modelseal/age_model.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/content.hpp"
#include "modelseal/files.hpp"
#include "modelseal/json.hpp"
#include "modelseal/parallel.hpp"

namespace fs = std::filesystem;

namespace modelseal {

namespace {

constexpr std::string_view kEncryptedNoIdentity = "encrypted (age), and no identity was given to decrypt it";

// The listed name an age file stands for: NAME for NAME.age.
std::optional<std::string> encrypted_name(const VerifiedModel& vm, const std::string& name) {
  if (name.size() <= 4 || !name.ends_with(".age")) return std::nullopt;
  std::string plain = name.substr(0, name.size() - 4);
  if (vm.resources_for(plain).empty()) return std::nullopt;
  return plain;
}

// The on-disk files the verifier compares with the manifest: what the signer left out (as it
// recorded it), user ignores and the signature itself.
WalkOptions verifier_walk_options(const fs::path& model, const fs::path& sig, const Manifest& m,
                                  const VerifyOptions& opts) {
  WalkOptions w;
  w.allow_symlinks = m.serialization.allow_symlinks || opts.insecure_allow_symlinks;
  w.ignore_paths = m.serialization.signer_ignores();
  if (opts.hf_cache) w.symlink_dir = hf_cache_blobs(model);
  for (const auto& ig : opts.ignore_paths)
    if (auto rel = relative_ignore_path(model, ig)) w.ignore_paths.push_back(*rel);
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    fs::path abs_sig = sig.is_absolute() ? sig : fs::absolute(sig, ec);
    if (auto rel = relative_ignore_path(model, abs_sig.string())) w.ignore_paths.push_back(*rel);
  }
  return w;
}

// What to try when verification failed for a reason that is most often a layout, not an attack:
// symlinks of a Hugging Face cache, or an unlisted file that tools and editors leave behind.
std::string failure_hint(const fs::path& model, const VerifyOptions& opts, const std::vector<FileCheck>& files) {
  for (const auto& f : files) {
    if (f.ok) continue;
    if (f.reason.rfind(kEncryptedNoIdentity, 0) == 0)
      return "the model is encrypted: give the age identity it was encrypted to (verify -i FILE)";
    if (f.reason.find("symlink") != std::string::npos) {
      if (opts.hf_cache) return "a Hugging Face snapshot's links must resolve to files in its own blobs/";
      try {
        hf_cache_blobs(model);
        return "this is a Hugging Face cache snapshot: --hf-cache follows its links into the cache's blobs/";
      } catch (const Error&) {
      }
      continue;   // a symlink anywhere else is what an attack looks like: no way around it is offered
    }
    if (f.reason.rfind("unlisted", 0) != 0) continue;
    auto clutter = clutter_path(f.name);
    if (!clutter) continue;
    if (*clutter == kHfDownloadMetadata)
      return ".cache/huggingface/ is what 'hf download --local-dir' leaves behind: leave it out with "
             "--ignore .cache/huggingface (modelseal sign leaves it out by default)";
    return f.name + " looks like what an editor, notebook or OS leaves behind: remove it, or leave it out with "
                    "--ignore " + *clutter;
  }
  return {};
}

// The name the verifier expects the model to have: given, or the folder's (file's) own name.
std::string expected_name(const fs::path& model, const VerifyOptions& opts) {
  if (!opts.model_name.empty()) return opts.model_name;
  fs::path p = model.lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  std::error_code ec;
  if (p.empty() || p == "." || p == "..") p = fs::weakly_canonical(fs::absolute(model, ec), ec);
  return p.filename().string();
}

}  // namespace

json certified_json(const CertifiedSigner& c) {
  json j = {{"identity", c.identity}, {"issuer", c.issuer}};
  if (!c.subject.empty()) j["subject"] = c.subject;
  if (c.log_index) j["log_index"] = *c.log_index;
  if (c.integrated_time) j["integrated_time"] = format_rfc3339(*c.integrated_time);
  return j;
}

json VerifyReport::to_json() const {
  json files_j = json::array();
  for (const auto& f : files) {
    json e = {{"name", f.name}, {"ok", f.ok}};
    if (!f.ok) e["reason"] = f.reason;
    files_j.push_back(e);
  }
  json signers_j = json::array();
  for (const auto& s : signers) {
    json e = {{"id", s.id}, {"keyid", s.keyid}};
    if (s.certified) e["certificate"] = certified_json(*s.certified);
    signers_j.push_back(e);
  }
  json j = {{"model", model},
            {"signature", signature},
            {"verified", status == Status::ok},
            {"status", status_name(status)},
            {"exit_code", static_cast<int>(status)},
            {"signers", signers_j},
            {"files", files_j},
            {"ignored", ignored}};
  if (!root_digest.empty()) j["root_digest"] = "sha256:" + root_digest;
  if (!error.empty()) j["error"] = error;
  return j;
}

fs::path default_signature_path(const fs::path& model) {
  std::error_code ec;
  if (fs::is_directory(model, ec)) return model / std::string(kDefaultSignatureName);
  fs::path p = model;
  p += std::string(kSignatureSuffix);
  return p;
}

std::vector<const Resource*> VerifiedModel::resources_for(std::string_view name) const {
  std::vector<const Resource*> out;
  auto it = index_.find(std::string(name));
  if (it == index_.end() && single_file_ && manifest_.resources.size() == 1) it = index_.find(".");
  if (it != index_.end())
    for (size_t i : it->second) out.push_back(&manifest_.resources[i]);
  return out;
}

const VerifiedFile* VerifiedModel::verified_file(std::string_view name) const {
  auto it = std::lower_bound(verified_.begin(), verified_.end(), name,
                             [](const VerifiedFile& f, std::string_view n) { return f.name < n; });
  return it != verified_.end() && it->name == name ? &*it : nullptr;
}

void VerifiedModel::build_index() {
  const bool shards = manifest_.serialization.method == Method::shards;
  for (size_t i = 0; i < manifest_.resources.size(); ++i) {
    const std::string& n = manifest_.resources[i].name;
    index_[shards ? parse_shard_name(n)->path : n].push_back(i);
  }
  if (shards)  // shards of a file in offset order
    for (auto& [path, idx] : index_)
      std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
        return parse_shard_name(manifest_.resources[a].name)->start < parse_shard_name(manifest_.resources[b].name)->start;
      });
}

VerifiedModel verify_signature(const fs::path& model, const Policy& policy, const VerifyOptions& opts) {
  const std::time_t now = opts.now ? opts.now : std::time(nullptr);  // one clock reading
  fs::path sig = opts.signature.empty() ? default_signature_path(model) : opts.signature;
  VerifiedModel vm;
  vm.report_.model = model.string();
  vm.report_.signature = sig.string();
  try {
    struct stat st;
    if (::stat(model.c_str(), &st) != 0) throw errno_error("cannot open model", model.string(), errno);
    const std::string sig_name = opts.signature_name.empty() ? sig.string() : opts.signature_name;
    const std::string bytes = read_file_limited(sig, kMaxBundleBytes, "signature");
    Bundle bundle = Bundle::parse(bytes, "signature " + sig_name);
    vm.signature_digest_ = sha256(bytes);
    vm.policy_fingerprint_ = policy.fingerprint();
    // Authenticate, then parse: the statement is read only from bytes a trusted key signed.
    AuthenticatedPayload payload = policy.authenticate(bundle.envelope, bundle.material, sig_name);
    vm.root_ = model;
    vm.single_file_ = !S_ISDIR(st.st_mode);
    if (opts.hf_cache) vm.symlink_dir_ = hf_cache_blobs(model);
    vm.manifest_ = Manifest::from_statement(payload);
    vm.root_digest_ = vm.manifest_.root();
    vm.build_index();
    // Model scopes are checked against the name the verifier expects; a signer that names the
    // model otherwise is not speaking about this model.
    const std::string name = expected_name(model, opts);
    if ((policy.scopes_models() || !opts.model_name.empty()) && vm.manifest_.model_name != name && !vm.manifest_.legacy)
      throw untrusted("the signature is for model \"" + vm.manifest_.model_name + "\", not \"" + name + "\": " +
                          sig_name,
                      "name the model with --model-name if it was renamed after signing");
    vm.signers_ = policy.authorize(payload, name, vm.root_digest_, now);
    vm.report_.root_digest = digest_hex(vm.root_digest_);
    vm.report_.signers = vm.signers_;
    return vm;
  } catch (const Error& e) {
    vm.report_.status = e.status();
    vm.report_.error = e.what();
    throw VerificationFailed(e, std::move(vm.report_));
  }
}

VerifiedModel verify_model(const fs::path& model, const Policy& policy, const VerifyOptions& opts) {
  VerifiedModel vm = verify_signature(model, policy, opts);
  VerifyReport& report = vm.report_;
  const Manifest& m = vm.manifest_;
  fs::path sig = opts.signature.empty() ? default_signature_path(model) : opts.signature;
  try {
    WalkOptions wo = verifier_walk_options(model, sig, m, opts);
    ModelTree tree = walk_model(model, wo);

    std::map<std::string, FileCheck, decltype(&name_less)> checks(&name_less);
    std::vector<ModelFile> to_hash;
    std::vector<ContentCheck> expected;   // per file in to_hash
    std::unordered_set<std::string> on_disk;
    const bool ignore_unlisted = opts.insecure_ignore_unlisted_files || policy.insecure_ignore_unlisted_files();
    std::vector<std::pair<ModelFile, std::string>> encrypted;   // NAME.age and the NAME it stands for
    for (const auto& f : tree.files) {
      on_disk.insert(f.name);
      auto plain = tree.single_file ? std::nullopt : encrypted_name(vm, f.name);
      if (plain && vm.resources_for(f.name).empty()) {
        on_disk.insert(*plain);
        if (f.kind != EntryKind::regular)
          checks[f.name] = {f.name, false, "is a " + f.kind_detail + ", not an encrypted file"};
        else if (!opts.identities)
          checks[f.name] = {f.name, false, std::string(kEncryptedNoIdentity)};
        else
          encrypted.emplace_back(f, *plain);
        continue;
      }
      if (vm.resources_for(f.name).empty()) {
        if (ignore_unlisted) {
          report.ignored.push_back(f.name);
        } else {
          std::string what = f.kind == EntryKind::regular ? "file" : f.kind_detail;
          checks[f.name] = {f.name, false, "unlisted " + what + " (not in the signature)"};
        }
        continue;
      }
      if (f.kind != EntryKind::regular) {
        checks[f.name] = {f.name, false, "is a " + f.kind_detail + ", signed as a regular file"};
        continue;
      }
      try {
        expected.push_back(ContentCheck::of(vm, f.name, f.size(), ""));  // for shards, also the size
      } catch (const Error& e) {
        checks[f.name] = {f.name, false, e.what()};
        continue;
      }
      to_hash.push_back(f);
    }
    std::vector<std::string> user_ignores;   // --ignore, relative to the model
    for (const auto& ig : opts.ignore_paths)
      if (auto rel = relative_ignore_path(model, ig)) user_ignores.push_back(*rel);
    for (const auto& [path, idx] : vm.index_) {
      std::string name = tree.single_file ? tree.model_name : path;
      if (on_disk.count(name)) continue;
      checks[name] = {name, false, is_ignored(name, user_ignores) ? "left out by --ignore, but the signature lists it"
                                                                  : "missing"};
    }

    HashOptions ho = opts.hash;
    ho.shard_size = m.serialization.method == Method::shards ? m.serialization.shard_size : 0;
    auto digests = hash_files(to_hash, wo.allow_symlinks || tree.single_file, ho);
    for (size_t i = 0; i < to_hash.size(); ++i) {
      const ModelFile& f = to_hash[i];
      FileCheck c{f.name, true, "", Status::ok};
      if (digests[i].error) {
        c = {f.name, false, digests[i].error->what(), digests[i].error->status()};
      } else {
        try {
          expected[i].compare(digests[i].shards);
          if (digests[i].quiet) vm.verified_.push_back({f.name, f.id, digests[i].shards});
        } catch (const Error& e) {
          c = {f.name, false, e.what()};
        }
      }
      checks[f.name] = c;
    }
    // Encrypted files, spread over the cores (a file's chunks too, when there are fewer files).
    const unsigned threads = opts.hash.threads ? opts.hash.threads : default_threads();
    const unsigned per_file = std::max<unsigned>(1, threads / std::max<size_t>(1, encrypted.size()));
    std::vector<FileCheck> decrypted(encrypted.size());
    parallel_for(encrypted.size(), threads, [&](size_t i, unsigned) {
      const auto& [f, plain] = encrypted[i];
      try {
        age::check_encrypted(vm, plain, f.path, *opts.identities, per_file);
        decrypted[i] = {f.name, true, "", Status::ok};
      } catch (const Error& e) {
        decrypted[i] = {f.name, false, e.what(), e.status() == Status::io ? Status::io : Status::not_trusted};
      }
    });
    for (auto& c : decrypted) checks[c.name] = std::move(c);
    size_t failed = 0;
    const FileCheck* first = nullptr;
    bool any_untrusted = false;
    for (auto& [name, c] : checks) {
      report.files.push_back(c);
      if (c.ok) continue;
      ++failed;
      if (!first) first = &c;
      any_untrusted |= c.status != Status::io;
    }
    if (failed) {
      std::string msg = "model does not match its signature: " + first->name + ": " + first->reason;
      if (failed > 1) msg += " (and " + std::to_string(failed - 1) + " more)";
      // Unreadable files alone are an I/O error; anything else means the model is not trusted.
      throw Error(any_untrusted ? Status::not_trusted : Status::io, msg, failure_hint(model, opts, report.files));
    }
    std::sort(vm.verified_.begin(), vm.verified_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    vm.files_checked_ = true;
    report.status = Status::ok;
    return vm;
  } catch (const VerificationFailed&) {
    throw;
  } catch (const Error& e) {
    report.status = e.status();
    report.error = e.what();
    throw VerificationFailed(e, std::move(report));
  }
}

}  // namespace modelseal

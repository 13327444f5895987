#include "modelseal/verify.hpp"

#include <algorithm>
#include <map>
#include <unordered_set>
#include <sys/stat.h>

#include "modelseal/formats.hpp"

namespace fs = std::filesystem;

namespace modelseal {

namespace {

// Records the failure in the report and throws it.
[[noreturn]] void fail(VerifyReport* report, const Error& e) {
  if (report) {
    report->status = e.status();
    report->error = e.what();
  }
  throw e;
}

// The on-disk files the verifier compares with the manifest: user ignores, recorded ignores,
// the default git paths and the signature itself are left out.
WalkOptions verifier_walk_options(const fs::path& model, const fs::path& sig, const Manifest& m,
                                  const VerifyOptions& opts) {
  WalkOptions w;
  w.allow_symlinks = m.serialization.allow_symlinks || opts.allow_symlinks;
  w.ignore_paths = m.serialization.ignore_paths;
  for (auto d : kDefaultIgnores) w.ignore_paths.emplace_back(d);
  for (const auto& ig : opts.ignore_paths)
    if (auto rel = relative_ignore_path(model, ig)) w.ignore_paths.push_back(*rel);
  std::error_code ec;
  if (fs::is_directory(model, ec)) {
    fs::path abs_sig = sig.is_absolute() ? sig : fs::absolute(sig, ec);
    if (auto rel = relative_ignore_path(model, abs_sig.string())) w.ignore_paths.push_back(*rel);
  }
  return w;
}

}  // namespace

json VerifyReport::to_json() const {
  json files_j = json::array();
  for (const auto& f : files) {
    json e = {{"name", f.name}, {"ok", f.ok}};
    if (!f.ok) e["reason"] = f.reason;
    files_j.push_back(e);
  }
  json signers_j = json::array();
  for (const auto& s : signers) signers_j.push_back({{"id", s.id}, {"keyid", s.keyid}});
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

ExpectedContent expected_content(const VerifiedModel& model, std::string_view name, uint64_t size) {
  const Manifest& m = model.manifest();
  auto res = model.resources_for(name);
  if (res.empty()) {
    std::vector<std::string> ignored = m.serialization.ignore_paths;
    for (auto d : kDefaultIgnores) ignored.emplace_back(d);
    if (is_ignored(name, ignored))
      throw untrusted("not covered by the signature (the signer ignored it)");
    throw untrusted("not listed in the signature");
  }
  ExpectedContent want;
  if (m.serialization.method == Method::files) {
    want.ranges.emplace_back(0, size);
    want.digests.push_back(res.front()->digest);
    return want;
  }
  for (const Resource* r : res) {  // in offset order (resources_for)
    auto sn = parse_shard_name(r->name);
    want.ranges.emplace_back(sn->start, sn->end);
    want.digests.push_back(r->digest);
  }
  if (want.ranges != shard_ranges(size, m.serialization.shard_size))
    throw untrusted("size is " + std::to_string(size) + " bytes, signed as " + std::to_string(want.ranges.back().second));
  return want;
}

VerifiedModel verify_signature(const fs::path& model, const Policy& policy, const VerifyOptions& opts,
                               VerifyReport* report) {
  const std::time_t now = opts.now ? opts.now : std::time(nullptr);  // one clock reading
  fs::path sig = opts.signature.empty() ? default_signature_path(model) : opts.signature;
  if (report) {
    report->model = model.string();
    report->signature = sig.string();
  }
  try {
    struct stat st;
    if (::stat(model.c_str(), &st) != 0) throw errno_error("cannot open model", model.string(), errno);
    Bundle bundle = Bundle::load(sig);
    // Errors about what the signature says name the signature file.
    auto naming_sig = [&](auto&& step) {
      try {
        return step();
      } catch (const Error& e) {
        throw Error(e.status(), std::string(e.what()) + ": " + sig.string(), e.hint());
      }
    };
    // Authenticate, then parse: the statement is read only from bytes a trusted key signed.
    auto signers = naming_sig([&] { return policy.valid_signers(bundle.envelope, now); });
    if (bundle.envelope.payload_type != kInTotoPayloadType)
      throw untrusted("unexpected payloadType \"" + bundle.envelope.payload_type + "\": " + sig.string());
    VerifiedModel vm;
    vm.root_ = model;
    vm.single_file_ = !S_ISDIR(st.st_mode);
    vm.manifest_ = naming_sig([&] { return Manifest::from_statement(bundle.envelope.payload); });
    vm.root_digest_ = vm.manifest_.root();
    vm.build_index();
    vm.signers_ = policy.authorize(signers, vm.manifest_.model_name, vm.root_digest_, now);
    if (report) {
      report->root_digest = digest_hex(vm.root_digest_);
      report->signers = vm.signers_;
    }
    return vm;
  } catch (const Error& e) {
    fail(report, e);
  }
}

VerifiedModel verify_model(const fs::path& model, const Policy& policy, const VerifyOptions& opts,
                           VerifyReport* report) {
  VerifyReport local;
  if (!report) report = &local;
  VerifiedModel vm = verify_signature(model, policy, opts, report);
  const Manifest& m = vm.manifest_;
  const bool shards = m.serialization.method == Method::shards;
  fs::path sig = opts.signature.empty() ? default_signature_path(model) : opts.signature;
  try {
    WalkOptions wo = verifier_walk_options(model, sig, m, opts);
    ModelTree tree = walk_model(model, wo);

    std::map<std::string, FileCheck, decltype(&name_less)> checks(&name_less);
    std::vector<ModelFile> to_hash;
    std::vector<ExpectedContent> expected;   // per file in to_hash
    std::unordered_set<std::string> on_disk;
    const bool ignore_unlisted = opts.insecure_ignore_unsigned_files || policy.insecure_ignore_unlisted_files();
    for (const auto& f : tree.files) {
      on_disk.insert(f.name);
      if (vm.resources_for(f.name).empty()) {
        if (ignore_unlisted) {
          report->ignored.push_back(f.name);
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
        expected.push_back(expected_content(vm, f.name, f.size));  // for shards, also the size
      } catch (const Error& e) {
        checks[f.name] = {f.name, false, e.what()};
        continue;
      }
      to_hash.push_back(f);
    }
    for (const auto& [path, idx] : vm.index_) {
      std::string name = tree.single_file ? tree.model_name : path;
      if (!on_disk.count(name)) checks[name] = {name, false, "missing"};
    }

    HashOptions ho = opts.hash;
    ho.shard_size = shards ? m.serialization.shard_size : 0;
    auto digests = hash_files(to_hash, wo.allow_symlinks || tree.single_file, ho);
    for (size_t i = 0; i < to_hash.size(); ++i) {
      const ModelFile& f = to_hash[i];
      FileCheck c{f.name, true, "", Status::ok};
      if (digests[i].error) {
        c = {f.name, false, digests[i].error->what(), digests[i].error->status()};
      } else {
        const ExpectedContent& want = expected[i];
        for (size_t s = 0; s < want.digests.size(); ++s)
          if (digests[i].shards[s] != want.digests[s]) {
            c = {f.name, false,
                 "modified: sha256 is " + digest_hex(digests[i].shards[s]) + " but the signature says " +
                     digest_hex(want.digests[s]) +
                     (shards ? " (shard " + f.name + ":" + std::to_string(want.ranges[s].first) + ":" +
                                   std::to_string(want.ranges[s].second) + ")"
                             : "")};
            break;
          }
      }
      checks[f.name] = c;
    }
    size_t failed = 0;
    const FileCheck* first = nullptr;
    bool any_untrusted = false;
    for (auto& [name, c] : checks) {
      report->files.push_back(c);
      if (c.ok) continue;
      ++failed;
      if (!first) first = &c;
      any_untrusted |= c.status != Status::io;
    }
    if (failed) {
      std::string msg = "model does not match its signature: " + first->name + ": " + first->reason;
      if (failed > 1) msg += " (and " + std::to_string(failed - 1) + " more)";
      // Unreadable files alone are an I/O error; anything else means the model is not trusted.
      throw Error(any_untrusted ? Status::not_trusted : Status::io, msg);
    }
    vm.files_checked_ = true;
    report->status = Status::ok;
    return vm;
  } catch (const Error& e) {
    fail(report, e);
  }
}

}  // namespace modelseal

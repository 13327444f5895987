#include "decision.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.hpp"
#include "paths.hpp"
#include "modelseal/age_model.hpp"
#include "modelseal/content.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/verified_read.hpp"
#include "modelseal/version_cache.hpp"

namespace modelseal::preload {

namespace {

// A sealed in-memory copy of `fd`'s content, filled while it is hashed.
UniqueFd make_copy(std::string_view name) {
  std::string label = "modelseal:" + std::string(name.substr(name.rfind('/') + 1));
  return UniqueFd(static_cast<int>(::syscall(SYS_memfd_create, label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING)));
}

void write_all_at(int fd, const uint8_t* data, size_t len, uint64_t off) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw errno_error("cannot copy", "memfd", errno);
    data += n;
    off += static_cast<uint64_t>(n);
    len -= static_cast<size_t>(n);
  }
}

// A read-only description of the sealed copy, so the caller cannot even try to write.
UniqueFd read_only_copy(UniqueFd& copy) {
  constexpr int kSeals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
  if (::fcntl(copy.get(), F_ADD_SEALS, kSeals) != 0) throw errno_error("cannot seal", "memfd", errno);
  std::string self = proc_fd(copy.get());
  UniqueFd ro(::open(self.c_str(), O_RDONLY | O_CLOEXEC));
  if (ro) return ro;
  ::lseek(copy.get(), 0, SEEK_SET);
  return std::move(copy);
}

// The machine's verification cache: a record of exactly this version; a record that is there but
// refused (another account's, damaged) is logged and never trusted.
std::optional<Hashed> machine_cached(const VersionCache::Scope& scope, const FileIdentity& id,
                                     const std::vector<ContentCheck::Range>& ranges) {
  const Config& c = config();
  if (!c.cache) return std::nullopt;
  std::string problem;
  auto digests = c.cache->find(scope, id, ranges, problem);
  if (!problem.empty()) write_stderr("modelseal: verification cache: " + problem + "\n");
  if (!digests) return std::nullopt;
  return Hashed{ranges, std::move(*digests), std::nullopt};
}

// The background preverification threads of this process: stopped (between chunks) and waited
// for at exit, so that none outlives the libraries it hashes with.
struct Background {
  std::mutex mu;
  std::condition_variable cv;
  int running = 0;
  pid_t owner = 0;
  std::atomic<bool> stop{false};
};

void stop_background() {
  Background& b = immortal<Background>();
  b.stop = true;
  std::unique_lock<std::mutex> lock(b.mu);
  if (b.owner != ::getpid()) return;   // a forked child has no such thread
  b.cv.wait_for(lock, std::chrono::seconds(5), [&] { return b.running == 0; });
}

}  // namespace

void hold_decision_locks(bool hold) noexcept {
  Background& b = immortal<Background>();
  hold ? b.mu.lock() : b.mu.unlock();
}

namespace {

// The names the open of each listed file of `vm` judges: paths, or the base name of a single file.
std::set<std::string> listed_names(const VerifiedModel& vm) {
  std::set<std::string> names;
  if (vm.single_file()) {
    names.insert(vm.root().filename().string());
    return names;
  }
  const bool shards = vm.manifest().serialization.method == Method::shards;
  for (const auto& r : vm.manifest().resources) names.insert(shards ? parse_shard_name(r.name)->path : r.name);
  return names;
}

// Hashes every listed file of the model that is not known yet, at once on every core, settling
// each in `t.pending` as it is done; run in the background.
void preverify_all(Target& t, const std::shared_ptr<const VerifiedModel>& model, const FileIdentity& sig_id) {
  const Config& c = config();
  const VerifiedModel& vm = *model;
  const VersionCache::Scope scope{vm.signature_digest(), vm.policy_fingerprint()};
  // Processes starting at once preverify the model once: the others wait, then take the records.
  UniqueFd claim = c.cache ? c.cache->claim(scope, sig_id) : UniqueFd();
  PreverifyOptions opts;
  opts.cancel = &immortal<Background>().stop;
  opts.known = [&](const std::string& name, const FileIdentity& id) {
    try {
      const auto ranges = ContentCheck::of(vm, name, id.size, name).ranges();
      if (auto k = cached(id); k && k->ranges == ranges) return true;
      if (machine_cached(scope, id, ranges)) return true;   // its open takes it from there
    } catch (const Error&) {
    }
    return false;
  };
  opts.on_file = [&](const std::string& name, const VerifiedFile* f) {
    if (f) {
      try {
        Hashed h{ContentCheck::of(vm, f->name, f->id.size, f->name).ranges(), f->digests, std::nullopt, true};
        remember(f->id, h);
        if (c.cache) c.cache->store(scope, f->id, h.ranges, h.digests);
      } catch (const std::exception&) {
      }
    }
    std::lock_guard<std::mutex> lock(t.mu);
    t.pending.erase(name);
    t.settled.notify_all();
  };
  try {
    preverify(vm, opts);
  } catch (const std::exception&) {
  }
}

// MODELSEAL_PREVERIFY=model: the first open below a target starts hashing every listed file of
// its model in one background thread (on every core), and returns as soon as its own file is
// done; each later open waits only for its own file, so that the loader reads one file while the
// next are hashed.
void preverify_target(Target& t, const std::shared_ptr<const VerifiedModel>& model) {
  FileIdentity sig_id;
  {
    std::lock_guard<std::mutex> lock(t.mu);
    if (t.preverified == model) return;
    t.preverified = model;
    t.pending = listed_names(*model);
    t.pending_pid = ::getpid();
    sig_id = t.sig_id;
  }
  Background& b = immortal<Background>();
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(stop_background); });
  {
    std::lock_guard<std::mutex> lock(b.mu);
    if (b.owner != ::getpid()) b.owner = ::getpid(), b.running = 0;
    ++b.running;
  }
  auto done = [&t, &b] {
    {
      std::lock_guard<std::mutex> lock(t.mu);
      t.pending.clear();
      t.settled.notify_all();
    }
    std::lock_guard<std::mutex> lock(b.mu);
    --b.running;
    b.cv.notify_all();
  };
  try {
    std::thread([&t, model, sig_id, done] {
      Inside in;   // its own opens pass straight through
      preverify_all(t, model, sig_id);
      done();
    }).detach();
  } catch (const std::exception&) {   // no thread: each open hashes its own file
    done();
  }
}

// Waits until the background preverification has settled `name` (at most ten minutes).
void wait_preverified(Target& t, const std::string& name) {
  std::unique_lock<std::mutex> lock(t.mu);
  if (t.pending_pid != ::getpid()) return;
  t.settled.wait_for(lock, std::chrono::minutes(10), [&] { return !t.pending.count(name); });
}

// The verified model of `root` into `d.model`, or false with the reason in `d.reason`.
bool model_for(Target& root, Decision& d) {
  std::string error;
  d.model = model_of(root, error);
  if (!d.model) d.reason = error;
  return d.model != nullptr;
}

std::string scan_verdict(int fd, std::string_view name) {
  try {
    scan::FileReport rep = scan::scan_fd(fd, std::string(name));
    if (!scan::blocks_trust(rep)) return {};
    std::string block = "the scanner flags it as " + std::string(scan::to_string(rep.verdict));
    if (!rep.findings.empty()) block += ": " + rep.findings.front().what;
    else if (!rep.error.empty()) block += ": " + rep.error;
    return block;
  } catch (const std::exception& e) {
    return std::string("cannot scan: ") + e.what();
  }
}

}  // namespace

void judge(int fd, Target* root, std::string_view name, bool via_symlink, std::string_view real, Use use,
           Decision& d) {
  const Config& c = config();
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    d.reason = std::string("cannot stat: ") + std::strerror(errno);
    return;
  }
  if (S_ISDIR(st.st_mode) && use == Use::data) {  // listing a model directory reveals nothing unverified
    d.allow = true;
    return;
  }
  if (!root) {
    d.reason = "the protected root names nothing now";
    return;
  }
  if (!root->single_file && name == kDefaultSignatureName && use == Use::data) {  // the signature stays readable
    d.allow = true;
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    d.reason = "not a regular file";
    return;
  }
  if (!model_for(*root, d)) return;
  const VerifiedModel& vm = *d.model;
  if (via_symlink && !vm.manifest().serialization.allow_symlinks) {
    // A Hugging Face snapshot's link into its cache's own blobs/ (MODELSEAL_HF_CACHE) is followed.
    const std::string blobs = vm.symlink_dir().string();
    const bool into_blobs = !blobs.empty() && real.size() > blobs.size() + 1 && real.starts_with(blobs) &&
                            real[blobs.size()] == '/';
    if (!into_blobs) {
      d.reason = blobs.empty() ? "reached through a symlink, which the signature does not allow"
                               : "a symlink that does not resolve to a file in the cache's blobs/";
      return;
    }
  }
  if (vm.resources_for(name).empty() && c.policy->insecure_ignore_unlisted_files() && use == Use::data) {
    d.allow = true;
    d.reason = "not in the signature, allowed unverified by the policy (unlisted_files: insecure-ignore)";
    return;
  }
  FileIdentity id = identity_of(fd, std::string(name));
  ContentCheck want = ContentCheck::of(vm, name, id.size, std::string(name));
  const bool copy = use == Use::load || (c.copy_max > 0 && id.size <= c.copy_max);
  if (c.preverify_model && use == Use::data) {
    preverify_target(*root, d.model);
    // A small file is hashed here at once rather than waited for behind the big ones.
    constexpr uint64_t kWaitAbove = 16u << 20;
    if (id.size >= kWaitAbove) wait_preverified(*root, std::string(name));
  }
  const VersionCache::Scope scope{vm.signature_digest(), vm.policy_fingerprint()};
  std::optional<Hashed> known;
  // A cache hit needs the same file version and no writer now: a writable shared mapping can
  // change bytes without changing the version (see no_writer()).
  if (!copy) {
    Decision::Known from = Decision::no;
    auto k = cached(id);
    if (k && k->ranges == want.ranges()) from = k->preverified ? Decision::preverified : Decision::in_process;
    else if ((k = machine_cached(scope, id, want.ranges()))) from = Decision::machine;
    if (from != Decision::no && no_writer(fd)) {
      want.compare(k->digests);
      known = std::move(k);
      d.known = from;
      known->preverified = false;
      if (from != Decision::in_process) remember(id, *known);
    }
  }
  // Processes opening this version at once hash it once: the first to claim it hashes and
  // records, the others wait for it and take the record.
  // Only a version that can be recorded is claimed: the others would only be hashed in turn.
  UniqueFd claim;
  if (!known && !copy && c.cache && rememberable(fd, id, realtime_ns()) && no_writer(fd)) {
    claim = c.cache->claim(scope, id);
    if (auto k = claim ? machine_cached(scope, id, want.ranges()) : std::nullopt; k && no_writer(fd)) {
      want.compare(k->digests);
      known = std::move(k);
      d.known = Decision::machine;
      remember(id, *known);
    }
  }
  bool cacheable = false;
  if (!known) {
    const int64_t started = realtime_ns();
    const bool quiet_before = no_writer(fd);
    UniqueFd copy_fd;
    OffsetSink sink;
    if (copy) {
      copy_fd = make_copy(name);
      if (!copy_fd) throw errno_error("cannot make a private copy", std::string(name), errno);
      sink = [&](uint64_t off, const uint8_t* data, size_t len) { write_all_at(copy_fd.get(), data, len, off); };
    }
    d.hashed = true;
    // The one content checker: the shards of the file are hashed in parallel through `fd`.
    known = Hashed{want.ranges(), check_fd(want, fd, 0, sink), std::nullopt};
    cacheable = quiet_before && no_writer(fd) && rememberable(fd, id, started);
    if (copy) d.replacement = read_only_copy(copy_fd);
    if (cacheable && c.cache) c.cache->store(scope, id, known->ranges, known->digests);
  }
  bool scanned = false;
  if (c.scan && !known->scan_block) {
    known->scan_block = scan_verdict(d.replacement ? d.replacement.get() : fd, name);
    scanned = true;
  }
  if (cacheable || (scanned && !d.hashed)) remember(id, *known);
  if (known->scan_block && !known->scan_block->empty()) {
    d.replacement = UniqueFd();
    d.reason = *known->scan_block;
    return;
  }
  d.allow = true;
}

void judge_encrypted(int fd, Target* root, std::string_view name, bool via_symlink, Decision& d) {
  const Config& c = config();
  const std::string file(name);
  if (!root) {
    d.reason = "the protected root names nothing now";
    return;
  }
  if (c.identities.empty()) {
    d.reason = c.identity_error;
    return;
  }
  if (c.decrypt_max == 0) {
    d.reason = "MODELSEAL_DECRYPT_MAX is not a size";
    return;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    d.reason = file + ".age is not a regular file";
    return;
  }
  if (!model_for(*root, d)) return;
  const VerifiedModel& vm = *d.model;
  if (via_symlink && !vm.manifest().serialization.allow_symlinks) {
    d.reason = "reached through a symlink, which the signature does not allow";
    return;
  }
  (void)ContentCheck::of(vm, name, 0, file);   // a name the signature does not list is refused here
  d.replacement = age::open_decrypted(vm, file, fd, c.identities, c.decrypt_max);
  d.hashed = d.decrypted = true;
  if (c.scan) {
    std::string block = scan_verdict(d.replacement.get(), name);
    if (!block.empty()) {
      d.replacement = UniqueFd();
      d.reason = block;
      return;
    }
  }
  d.allow = true;
}

}  // namespace modelseal::preload

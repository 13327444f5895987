#include "trust.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <fcntl.h>
#include <sys/stat.h>
#include <unordered_map>

#include "config.hpp"
#include "modelseal/formats.hpp"

namespace modelseal::preload {

namespace {

struct RootState {
  std::mutex mu;
  std::vector<std::shared_ptr<Target>> targets;
};

struct RootStates {
  std::vector<std::unique_ptr<RootState>> v;
  RootStates() {
    for (size_t i = 0; i < config().roots.size(); ++i) v.push_back(std::make_unique<RootState>());
  }
};

std::shared_ptr<Target> make_target(const std::string& real, const struct stat& st) {
  auto t = std::make_shared<Target>();
  t->path = real;
  t->dev = st.st_dev;
  t->ino = st.st_ino;
  t->single_file = S_ISREG(st.st_mode);
  t->signature = t->single_file ? real + std::string(kSignatureSuffix)
                                : (real == "/" ? "" : real) + "/" + std::string(kDefaultSignatureName);
  return t;
}

struct IdHash {
  size_t operator()(const FileIdentity& f) const noexcept {
    uint64_t h = f.ino * 0x9E3779B97F4A7C15ull ^ f.dev ^ (f.size << 7) ^ static_cast<uint64_t>(f.mtime_ns) ^
                 (static_cast<uint64_t>(f.ctime_ns) << 3);
    return static_cast<size_t>(h);
  }
};

struct Cache {
  std::mutex mu;
  std::unordered_map<FileIdentity, Hashed, IdHash> entries;
};
constexpr size_t kMaxCacheEntries = 1u << 16;

}  // namespace

std::vector<RootView> resolve_roots() {
  const Config& c = config();
  auto& states = immortal<RootStates>().v;
  std::vector<RootView> out(c.roots.size());
  for (size_t i = 0; i < c.roots.size(); ++i) {
    const std::string& given = c.roots[i];
    RootState& rs = *states[i];
    struct stat st;
    const bool exists = ::stat(given.c_str(), &st) == 0;
    std::lock_guard<std::mutex> lock(rs.mu);
    const bool same = exists && !rs.targets.empty() && rs.targets.back()->dev == st.st_dev &&
                      rs.targets.back()->ino == st.st_ino;
    if (exists && !same) {
      char real[PATH_MAX];
      struct stat rst;
      if (::realpath(given.c_str(), real) && ::stat(real, &rst) == 0) {
        std::shared_ptr<Target> t;
        for (auto it = rs.targets.begin(); it != rs.targets.end(); ++it) {
          if ((*it)->path == real && (*it)->dev == rst.st_dev && (*it)->ino == rst.st_ino) {
            t = *it;
            rs.targets.erase(it);
            break;
          }
        }
        rs.targets.push_back(t ? t : make_target(real, rst));
      }
    }
    out[i].given = &given;
    out[i].targets = rs.targets;
    // A root that names nothing now has no current target, but what it named stays protected.
    if (!exists) out[i].targets.push_back(nullptr);
  }
  return out;
}

std::shared_ptr<const VerifiedModel> model_of(Target& t, std::string& error) {
  const Config& c = config();
  if (!c.policy) {
    error = c.policy_error;
    return nullptr;
  }
  UniqueFd sig(::open(t.signature.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!sig) {
    error = std::string("no signature: ") + t.signature + ": " + std::strerror(errno);
    return nullptr;
  }
  FileIdentity id;
  try {
    id = identity_of(sig.get(), t.signature);
  } catch (const Error& e) {
    error = e.what();
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(t.mu);
  if (!t.loaded || !(t.sig_id == id)) {
    t.loaded = true;
    t.sig_id = id;
    t.model.reset();
    t.error.clear();
    try {
      VerifyOptions opts;
      opts.signature = t.signature;
      // MODELSEAL_HF_CACHE: a root that is a Hugging Face cache snapshot follows its links into the
      // cache's blobs/ (a root that is not one is verified as usual).
      if (c.hf_cache && !t.single_file) {
        try {
          hf_cache_blobs(t.path);
          opts.hf_cache = true;
        } catch (const Error&) {
        }
      }
      t.model = std::make_shared<const VerifiedModel>(verify_signature(t.path, *c.policy, opts));
    } catch (const Error& e) {
      t.error = std::string("signature not trusted: ") + e.what();
    }
  }
  error = t.error;
  return t.model;
}

void hold_trust_locks(bool hold) noexcept {
  auto& states = immortal<RootStates>().v;
  Cache& cache = immortal<Cache>();
  if (!hold) cache.mu.unlock();
  for (auto& rs : states) {
    if (hold) rs->mu.lock();
    for (auto& t : rs->targets) hold ? t->mu.lock() : t->mu.unlock();
    if (!hold) rs->mu.unlock();
  }
  if (hold) cache.mu.lock();
}

std::optional<Hashed> cached(const FileIdentity& id) {
  Cache& cache = immortal<Cache>();
  std::lock_guard<std::mutex> lock(cache.mu);
  auto it = cache.entries.find(id);
  if (it == cache.entries.end()) return std::nullopt;
  return it->second;
}

void remember(const FileIdentity& id, const Hashed& h) {
  Cache& cache = immortal<Cache>();
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.entries.size() >= kMaxCacheEntries) cache.entries.clear();
  cache.entries[id] = h;
}

}  // namespace modelseal::preload

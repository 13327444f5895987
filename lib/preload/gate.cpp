#include "gate.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <pthread.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "modelseal/audit.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/scan.hpp"
#include "modelseal/content.hpp"
#include "modelseal/verified_read.hpp"
#include "paths.hpp"
#include "modelseal/json.hpp"

namespace modelseal::preload {

namespace {

// ---- re-entry: the shim's own opens (policy, signature, OpenSSL, audit log) pass through ----

__attribute__((tls_model("initial-exec"))) thread_local int depth = 0;

struct Inside {
  Inside() noexcept { ++depth; }
  ~Inside() { --depth; }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;
};

// Objects that live as long as the process and are never destroyed: hooks run during exit too,
// after static destructors would have run.
template <typename T>
T& immortal() {
  alignas(T) static unsigned char storage[sizeof(T)];
  static T* object = ::new (storage) T();
  return *object;
}

int sys_openat(int dirfd, const char* path, int flags, mode_t mode) {
  return static_cast<int>(::syscall(SYS_openat, dirfd, path, flags, mode));
}

// openat2 refusing any symlink: when it succeeds, the lexical path is the real one.
int openat_no_symlinks(int dirfd, const char* path, int flags, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<unsigned>(flags);
  how.mode = ((flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE) ? mode : 0;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

void write_stderr(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// ---- configuration, read once from the environment ----

struct Root {
  std::string path;        // canonical
  bool single_file = false;
  std::string signature;   // model.sig inside, or FILE.sig beside a single-file model
  std::mutex mu;           // guards the fields below
  bool loaded = false;
  FileIdentity sig_id;
  std::shared_ptr<const VerifiedModel> model;
  std::string error;
};

struct Config {
  std::vector<std::unique_ptr<Root>> roots;
  std::string policy_path;
  bool warn = false, scan = false, verbose = false;
  uint64_t copy_max = 0;
};

uint64_t parse_size(const char* s) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  switch (end && *end ? *end : 0) {
    case 'k': case 'K': return v << 10;
    case 'm': case 'M': return v << 20;
    case 'g': case 'G': return v << 30;
    default: return v;
  }
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

void load_config() {
  Inside in;
  Config& c = immortal<Config>();
  try {
    if (const char* p = std::getenv("MODELSEAL_POLICY")) c.policy_path = p;
    const char* mode = std::getenv("MODELSEAL_MODE");
    c.warn = mode && std::strcmp(mode, "warn") == 0;
    if (mode && *mode && !c.warn && std::strcmp(mode, "enforce") != 0)
      write_stderr(std::string("modelseal: unknown MODELSEAL_MODE \"") + mode + "\", enforcing\n");
    c.scan = env_flag("MODELSEAL_SCAN");
    c.verbose = env_flag("MODELSEAL_VERBOSE");
    if (const char* s = std::getenv("MODELSEAL_PRIVATE_COPY_MAX")) c.copy_max = parse_size(s);
    const char* roots = std::getenv("MODELSEAL_ROOTS");
    std::string_view rest = roots ? roots : "";
    while (!rest.empty()) {
      size_t colon = rest.find(':');
      std::string given(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      if (given.empty()) continue;
      auto r = std::make_unique<Root>();
      char real[PATH_MAX];
      struct stat st {};
      if (::realpath(given.c_str(), real)) {
        r->path = real;
      } else {
        // Not there yet: protect the path as written, so a root created later is still covered.
        r->path = normalize(base_dir(AT_FDCWD), given);
      }
      r->single_file = ::stat(r->path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
      r->signature = r->single_file ? r->path + std::string(kSignatureSuffix)
                                    : normalize(r->path, std::string(kDefaultSignatureName));
      c.roots.push_back(std::move(r));
    }
  } catch (...) {
    // Out of memory while reading the environment: protect nothing rather than crash the host.
    write_stderr("modelseal: cannot read MODELSEAL_ROOTS, the shim is inactive\n");
    c.roots.clear();
  }
}

const Config& config() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_config);
  return immortal<Config>();
}

// ---- the policy, loaded on the first open below a root ----

struct PolicyState {
  std::optional<Policy> policy;
  std::string error;
};

void load_policy() {
  PolicyState& ps = immortal<PolicyState>();
  const Config& c = immortal<Config>();
  try {
    if (c.policy_path.empty()) throw usage_error("MODELSEAL_POLICY is not set");
    ps.policy = Policy::load(c.policy_path);
  } catch (const std::exception& e) {
    ps.error = std::string("no usable policy: ") + e.what();
  } catch (...) {
    ps.error = "no usable policy";
  }
}

const PolicyState& policy_state() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, load_policy);
  return immortal<PolicyState>();
}

// The verified signature of a root, re-verified whenever its signature file changes.
std::shared_ptr<const VerifiedModel> model_of(Root& r, std::string& error) {
  const PolicyState& ps = policy_state();
  if (!ps.policy) {
    error = ps.error;
    return nullptr;
  }
  UniqueFd sig(::open(r.signature.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!sig) {
    error = std::string("no signature: ") + r.signature + ": " + std::strerror(errno);
    return nullptr;
  }
  FileIdentity id;
  try {
    id = identity_of(sig.get(), r.signature);
  } catch (const Error& e) {
    error = e.what();
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.loaded || !(r.sig_id == id)) {
    r.loaded = true;
    r.sig_id = id;
    r.model.reset();
    r.error.clear();
    try {
      VerifyOptions opts;
      opts.signature = r.signature;
      r.model = std::make_shared<const VerifiedModel>(verify_signature(r.path, *ps.policy, opts));
    } catch (const Error& e) {
      r.error = std::string("signature not trusted: ") + e.what();
    }
  }
  error = r.error;
  return r.model;
}

// ---- digests of file versions already hashed, keyed on (dev, inode, size, mtime, ctime) ----

struct IdHash {
  size_t operator()(const FileIdentity& f) const noexcept {
    uint64_t h = f.ino * 0x9E3779B97F4A7C15ull ^ f.dev ^ (f.size << 7) ^ static_cast<uint64_t>(f.mtime_ns) ^
                 (static_cast<uint64_t>(f.ctime_ns) << 3);
    return static_cast<size_t>(h);
  }
};

struct Hashed {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  std::vector<Digest> digests;
  std::optional<std::string> scan_block;   // set once scanned: empty when the scanner passed it
};

struct Cache {
  std::mutex mu;
  std::unordered_map<FileIdentity, Hashed, IdHash> entries;
};
constexpr size_t kMaxCacheEntries = 1u << 16;

// ---- one decision ----

struct Decision {
  bool allow = false;
  std::string reason;       // why it was refused (or allowed unverified)
  bool hashed = false;      // the content was hashed now (not from the cache)
  int replacement = -1;     // a sealed private copy to hand out instead of the file
  std::shared_ptr<const VerifiedModel> model;
};

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
int read_only_copy(UniqueFd& copy) {
  constexpr int kSeals = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
  if (::fcntl(copy.get(), F_ADD_SEALS, kSeals) != 0) throw errno_error("cannot seal", "memfd", errno);
  std::string self = "/proc/self/fd/" + std::to_string(copy.get());
  int ro = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (ro >= 0) return ro;
  ::lseek(copy.get(), 0, SEEK_SET);
  return copy.release();
}

// Fills `d` as far as it gets (the model, once known, stays in it when a check throws).
void judge(const Config& c, int fd, Root& root, std::string_view name, bool via_symlink, Decision& d) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    d.reason = std::string("cannot stat: ") + std::strerror(errno);
    return;
  }
  if (S_ISDIR(st.st_mode)) {  // listing a model directory reveals nothing unverified
    d.allow = true;
    return;
  }
  if (!root.single_file && name == kDefaultSignatureName) {  // the signature itself stays readable
    d.allow = true;
    return;
  }
  if (!S_ISREG(st.st_mode)) {
    d.reason = "not a regular file";
    return;
  }
  std::string error;
  d.model = model_of(root, error);
  if (!d.model) {
    d.reason = error;
    return;
  }
  const VerifiedModel& vm = *d.model;
  if (via_symlink && !vm.manifest().serialization.allow_symlinks) {
    d.reason = "reached through a symlink, which the signature does not allow";
    return;
  }
  if (vm.resources_for(name).empty() && policy_state().policy->insecure_ignore_unlisted_files()) {
    d.allow = true;
    d.reason = "not in the signature, allowed unverified by the policy (unlisted_files: insecure-ignore)";
    return;
  }
  FileIdentity id = identity_of(fd, std::string(name));
  ContentCheck want = ContentCheck::of(vm, name, id.size, std::string(name));
  Cache& cache = immortal<Cache>();
  std::optional<Hashed> known;
  const bool copy = c.copy_max > 0 && id.size <= c.copy_max;
  if (!copy) {
    std::lock_guard<std::mutex> lock(cache.mu);
    auto it = cache.entries.find(id);
    if (it != cache.entries.end() && it->second.ranges == want.ranges()) known = it->second;
  }
  if (!known) {
    UniqueFd copy_fd;
    OffsetSink sink;
    if (copy) {
      copy_fd = make_copy(name);
      if (!copy_fd) throw errno_error("cannot make a private copy", std::string(name), errno);
      sink = [&](uint64_t off, const uint8_t* data, size_t len) { write_all_at(copy_fd.get(), data, len, off); };
    }
    d.hashed = true;
    known = Hashed{want.ranges(), check_fd(want, fd, 0, sink), std::nullopt};
    if (copy) d.replacement = read_only_copy(copy_fd);
  } else {
    want.compare(known->digests);
  }
  if (c.scan && !known->scan_block) {
    std::string block;
    try {
      scan::FileReport rep = scan::scan_fd(d.replacement >= 0 ? d.replacement : fd, std::string(name));
      if (scan::blocks_trust(rep)) {
        block = "the scanner flags it as " + std::string(scan::to_string(rep.verdict));
        if (!rep.findings.empty()) block += ": " + rep.findings.front().what;
        else if (!rep.error.empty()) block += ": " + rep.error;
      }
    } catch (const std::exception& e) {
      block = std::string("cannot scan: ") + e.what();
    }
    known->scan_block = block;
  }
  if (d.hashed || (c.scan && known->scan_block)) {
    std::lock_guard<std::mutex> lock(cache.mu);
    if (cache.entries.size() >= kMaxCacheEntries) cache.entries.clear();
    cache.entries[id] = *known;
  }
  if (known->scan_block && !known->scan_block->empty()) {
    if (d.replacement >= 0) ::close(std::exchange(d.replacement, -1));
    d.reason = *known->scan_block;
    return;
  }
  d.allow = true;
  return;
}

void record(const Config& c, const Decision& d, const std::string& path, bool refused) {
  const char* decision = d.allow ? "allow" : (refused ? "deny" : "warn");
  if (!d.allow) {
    write_stderr(refused ? "modelseal: open refused (" + d.reason + "): " + path + "\n"
                         : "modelseal: warning: unverified open allowed (" + d.reason + "): " + path + "\n");
  } else if (c.verbose) {
    write_stderr("modelseal: verified (" + std::string(d.hashed ? "hashed" : d.reason.empty() ? "cached" : d.reason) +
                 "): " + path + "\n");
  }
  if (d.allow && !d.hashed && d.reason.empty()) return;  // cached re-opens are not audited again
  try {
    json event = {{"tool", "preload"}, {"decision", decision}, {"reason", d.allow && d.reason.empty() ? "verified" : d.reason},
                  {"path", path}};
    if (d.model) {
      event["model"] = d.model->root().string();
      event["model_digest"] = "sha256:" + digest_hex(d.model->root_digest());
      json keyids = json::array();
      for (const auto& s : d.model->signers()) keyids.push_back(s.keyid);
      event["keyids"] = keyids;
    }
    audit_event(event);
  } catch (const std::exception& e) {
    write_stderr(std::string("modelseal: cannot write the audit log: ") + e.what() + "\n");
  }
}

struct Found {
  Root* root = nullptr;
  std::string name;
  bool via_symlink = false;
};

// The root `real` (the kernel's path) is below. When the path as written is below a root but
// leads elsewhere, a symlink inside the root was followed: the written name is what counts.
Found find_root(const Config& c, const std::string& real, const std::string& lexical) {
  auto below = [&](const std::string& p) -> Found {
    for (const auto& r : c.roots) {
      auto rel = relative_to(p, r->path);
      if (!rel) continue;
      std::string name = r->single_file ? r->path.substr(r->path.rfind('/') + 1) : std::string(*rel);
      return {r.get(), std::move(name), false};
    }
    return {};
  };
  if (!lexical.empty() && lexical != real) {
    Found f = below(lexical);
    f.via_symlink = f.root != nullptr;
    if (f.root) return f;
  }
  return real.empty() ? Found{} : below(real);
}

bool wants_write(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) || (flags & __O_TMPFILE) == __O_TMPFILE;
}

int refuse() {
  errno = EACCES;
  return -1;
}

// Opens for writing (or creating): decided before anything on disk changes. The parent folder
// is opened first and the file is created relative to it, so the folder checked is the one used.
int gated_write(const Config& c, int dirfd, const char* path, int flags, mode_t mode) {
  auto [parent, last] = split_last(path);
  if (last.empty()) last = ".";
  UniqueFd pfd(sys_openat(dirfd, parent.empty() ? "." : parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
  if (!pfd) return sys_openat(dirfd, path, flags, mode);  // fails the same way, with its own errno
  std::string pdir = fd_path(pfd.get());
  std::string target = pdir.empty() ? "" : normalize(pdir, last);
  // A final symlink that will be followed: decide on where it points.
  struct stat st;
  if (!(flags & O_NOFOLLOW) && !target.empty() && ::fstatat(pfd.get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    char real[PATH_MAX];
    if (::realpath(target.c_str(), real)) {
      target = real;
    } else {  // dangling: where it would be created
      char link[PATH_MAX + 1];
      ssize_t n = ::readlinkat(pfd.get(), last.c_str(), link, PATH_MAX);
      target = n > 0 ? normalize(pdir, std::string_view(link, static_cast<size_t>(n))) : "";
    }
  }
  std::string lexical = normalize(base_dir(dirfd), path);
  Found f = find_root(c, target, lexical);
  if (!f.root && target.empty()) f = find_root(c, lexical, lexical);
  if (f.root) {
    Decision d;
    d.reason = "opened for writing below a protected model root";
    record(c, d, target.empty() ? lexical : target, !c.warn);
    if (!c.warn) return refuse();
  }
  return sys_openat(pfd.get(), last.c_str(), flags, mode);
}

// Opened with O_NONBLOCK so that a FIFO (or a device) never blocks the open before we know where
// it is; the caller's own flags are restored once it is known to be a regular file or folder.
void restore_blocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

bool regular_or_dir(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

int gated_read(const Config& c, int dirfd, const char* path, int flags, mode_t mode) {
  const std::string base = path[0] == '/' ? "/" : base_dir(dirfd);
  std::string lexical = base.empty() ? "" : normalize(base, path);
  const int caller_flags = flags;
  // The common case costs one open: a path that is outside every root as written, and has no
  // symlink on the way (RESOLVE_NO_SYMLINKS), is outside every root for real.
  if (!lexical.empty() && !find_root(c, lexical, lexical).root) {
    int fd = openat_no_symlinks(dirfd, path, caller_flags, mode);
    if (fd >= 0) return fd;
    // ENOENT, ENOTDIR, EACCES met before any symlink are what openat would say too.
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return -1;
  }
  std::string real;
  const bool added_nonblock = !(flags & O_NONBLOCK) && !(flags & O_PATH);
  flags |= added_nonblock ? O_NONBLOCK : 0;
  int fd = openat_no_symlinks(dirfd, path, flags, mode);
  if (fd >= 0) {
    if (!lexical.empty()) real = lexical;
    else real = fd_path(fd);
  } else {
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return -1;
    fd = sys_openat(dirfd, path, flags, mode);
    if (fd < 0) return -1;
    real = fd_path(fd);
    if (real.empty() && !lexical.empty()) {  // no /proc: resolve it the slow way
      char buf[PATH_MAX];
      if (::realpath(lexical.c_str(), buf)) real = buf;
    }
  }
  Found f = find_root(c, real, lexical);
  if (!f.root) {
    if (!added_nonblock) return fd;
    if (regular_or_dir(fd)) {
      restore_blocking(fd);
      return fd;
    }
    // A FIFO or device outside the roots: open it again exactly as the caller asked.
    ::close(fd);
    return sys_openat(dirfd, path, caller_flags, mode);
  }
  if (flags & O_PATH) return fd;  // cannot be read; re-opening it through /proc is checked again
  Decision d;
  try {
    judge(c, fd, *f.root, f.name, f.via_symlink, d);
  } catch (const std::bad_alloc&) {
    d.allow = false;
    d.reason = "out of memory";
  } catch (const std::exception& e) {
    d.allow = false;
    d.reason = e.what();
  }
  const std::string& shown = f.via_symlink || real.empty() ? lexical : real;
  record(c, d, shown, !c.warn);
  if (d.allow || c.warn) {
    if (added_nonblock) restore_blocking(fd);
    if (d.replacement >= 0) {
      ::dup3(d.replacement, fd, flags & O_CLOEXEC);
      ::close(d.replacement);
    }
    return fd;
  }
  ::close(fd);
  return refuse();
}

}  // namespace

bool inside_shim() noexcept { return depth > 0; }

bool shim_active() noexcept { return !config().roots.empty(); }

int gated_openat(int dirfd, const char* path, int flags, mode_t mode) noexcept {
  if (depth > 0 || !path || !*path) return sys_openat(dirfd, path, flags, mode);
  Inside in;
  const Config& c = config();
  if (c.roots.empty()) return sys_openat(dirfd, path, flags, mode);
  try {
    return wants_write(flags) ? gated_write(c, dirfd, path, flags, mode) : gated_read(c, dirfd, path, flags, mode);
  } catch (...) {
    write_stderr(std::string("modelseal: open refused (internal error): ") + path + "\n");
    return refuse();
  }
}

}  // namespace modelseal::preload

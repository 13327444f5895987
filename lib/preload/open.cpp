// The open paths: where an open lands, whether that is below a root, and what the caller gets.
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <new>
#include <string>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "config.hpp"
#include "open.hpp"
#include "modelseal/audit.hpp"
#include "paths.hpp"
#include "modelseal/json.hpp"

namespace modelseal::preload {

namespace {

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

void record(const Decision& d, const std::string& path, bool refused, const char* verb) {
  const Config& c = config();
  const char* decision = d.allow ? "allow" : (refused ? "deny" : "warn");
  if (!d.allow) {
    write_stderr(refused ? std::string("modelseal: ") + verb + " refused (" + d.reason + "): " + path + "\n"
                         : std::string("modelseal: warning: unverified ") + verb + " allowed (" + d.reason +
                               "): " + path + "\n");
  } else if (c.verbose) {
    const std::string how = d.decrypted                       ? "decrypted and hashed"
                            : d.hashed                        ? "hashed"
                            : d.known == Decision::in_process ? "cached"
                            : d.known == Decision::machine    ? "machine cache"
                            : d.known == Decision::preverified ? "preverified"
                                                              : d.reason;
    write_stderr("modelseal: verified (" + how + "): " + path + "\n");
  }
  if (d.allow && d.known == Decision::in_process) return;  // re-opens are not audited again
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
  bool below = false;
  Target* root = nullptr;   // nullptr when the root names nothing now
  std::string name;
  bool via_symlink = false;
  std::string real;         // where the open landed
};

std::string basename_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

// The root a file is below. `lexical` is the path as written (made absolute), `real` the
// kernel's path of what was opened. A path written below a root's configured path counts as
// below it: when it does not land where the root's path names now plus the same name, a symlink
// below the root was followed (or the root moved while opening) and the written name is what
// counts. Otherwise the real path decides, against everything each root has named.
Found find_root(const std::vector<RootView>& roots, const std::string& real, const std::string& lexical) {
  if (!lexical.empty()) {
    for (const auto& v : roots) {
      auto rel = relative_to(lexical, *v.given);
      if (!rel) continue;
      Found f{true, v.now().get(), std::string(*rel), false, {}};
      if (f.root) {
        std::string expected = f.root->single_file ? f.root->path : normalize(f.root->path, *rel);
        if (f.root->single_file) f.name = basename_of(f.root->path);
        f.via_symlink = real != expected;
      }
      return f;
    }
  }
  if (real.empty()) return {};
  for (const auto& v : roots) {
    for (const auto& t : v.targets) {
      if (!t) continue;
      auto rel = relative_to(real, t->path);
      if (!rel) continue;
      return {true, t.get(), t->single_file ? basename_of(t->path) : std::string(*rel), false, {}};
    }
  }
  return {};
}

// Whether a file the kernel cannot name (its path is past PATH_MAX) may be below a root: yes
// unless it is on a file system that no root is on. Nothing is passed that cannot be told.
bool maybe_below(const std::vector<RootView>& roots, int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return true;
  for (const auto& v : roots) {
    if (v.targets.empty() || !v.targets.back()) return true;   // a root that names nothing now
    for (const auto& t : v.targets)
      if (t && t->dev == st.st_dev) return true;
  }
  return false;
}

bool wants_write(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)) || (flags & __O_TMPFILE) == __O_TMPFILE;
}

int refuse() {
  errno = EACCES;
  return -1;
}

constexpr const char* kUnknown = "cannot tell whether it is below a protected root (its path is too long)";

// Whether creating or writing `path` would land below a root; the parent folder is opened
// into `pfd` and `last` is the name inside it, so that the folder checked is the one used.
// Returns the reason to refuse, or empty; `pfd` stays invalid when the folder cannot be opened.
std::string write_verdict(int dirfd, const char* path, int flags, UniqueFd& pfd, std::string& last,
                          std::string& shown) {
  auto [parent, tail] = split_last(path);
  last = tail.empty() ? "." : tail;
  pfd = UniqueFd(sys_openat(dirfd, parent.empty() ? "." : parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
  if (!pfd) return {};
  const auto roots = resolve_roots();
  bool unknown = false;
  std::string pdir = fd_path(pfd.get(), &unknown);
  std::string base = path[0] == '/' ? "/" : base_dir(dirfd);
  std::string lexical = base.empty() ? "" : normalize(base, path);
  shown = lexical.empty() ? path : lexical;
  if (pdir.empty()) return maybe_below(roots, pfd.get()) ? kUnknown : "";
  std::string target = normalize(pdir, last);
  // A final symlink that will be followed: decide on where it points.
  struct stat st;
  if (!(flags & O_NOFOLLOW) && ::fstatat(pfd.get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    char real[PATH_MAX];
    if (::realpath(target.c_str(), real)) {
      target = real;
    } else {  // dangling: where it would be created
      char link[PATH_MAX + 1];
      ssize_t n = ::readlinkat(pfd.get(), last.c_str(), link, PATH_MAX);
      target = n > 0 && n < PATH_MAX ? normalize(pdir, std::string_view(link, static_cast<size_t>(n))) : "";
      if (target.empty()) return kUnknown;
    }
  }
  shown = target;
  if (find_root(roots, target, lexical).below || find_root(roots, lexical, lexical).below)
    return "opened for writing below a protected model root";
  return {};
}

int gated_write(int dirfd, const char* path, int flags, mode_t mode) {
  const Config& c = config();
  UniqueFd pfd;
  std::string last, shown;
  std::string why = write_verdict(dirfd, path, flags, pfd, last, shown);
  if (!pfd) return sys_openat(dirfd, path, flags, mode);  // fails the same way, with its own errno
  if (!why.empty()) {
    Decision d;
    d.reason = why;
    record(d, shown, !c.warn, "open");
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

// Where an open for reading landed.
struct Landed {
  UniqueFd fd;
  Found found;
  std::string shown;       // the name for the log line
  bool unknown = false;    // below a root as far as anyone can tell: the kernel cannot name it
  bool added_nonblock = false;
};

// Opens `path` for reading with `flags` and finds the root it is below. An invalid fd means
// the open itself failed (errno set), or that it was outside every root and reopened as asked
// (then `reopened` holds it).
Landed land(int dirfd, const char* path, int flags, mode_t mode) {
  Landed l;
  const std::string base = path[0] == '/' ? "/" : base_dir(dirfd);
  const std::string lexical = base.empty() ? "" : normalize(base, path);
  // The common case costs one open: a path that is outside every root as written, and has no
  // symlink on the way (RESOLVE_NO_SYMLINKS), is outside every root for real. The roots are
  // looked at again after the open, so that a root flipped meanwhile is seen.
  if (!lexical.empty() && !find_root(resolve_roots(), lexical, lexical).below) {
    UniqueFd fd(openat_no_symlinks(dirfd, path, flags, mode));
    if (fd) {
      l.found = find_root(resolve_roots(), lexical, lexical);
      l.shown = lexical;
      l.fd = std::move(fd);
      return l;
    }
    // ENOENT, ENOTDIR, EACCES met before any symlink are what openat would say too.
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return l;
  }
  std::string real;
  l.added_nonblock = !(flags & O_NONBLOCK) && !(flags & O_PATH);
  flags |= l.added_nonblock ? O_NONBLOCK : 0;
  UniqueFd fd(openat_no_symlinks(dirfd, path, flags, mode));
  if (fd) {
    real = lexical.empty() ? fd_path(fd.get(), &l.unknown) : lexical;
  } else {
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return l;
    fd = UniqueFd(sys_openat(dirfd, path, flags, mode));
    if (!fd) return l;
    real = fd_path(fd.get(), &l.unknown);
  }
  const auto roots = resolve_roots();
  l.found = find_root(roots, real, lexical);
  l.found.real = real;   // the kernel's path when a symlink was followed
  l.unknown = l.unknown && !l.found.below && maybe_below(roots, fd.get());
  l.shown = l.found.via_symlink || real.empty() ? (lexical.empty() ? path : lexical) : real;
  l.fd = std::move(fd);
  return l;
}

Decision decide(const Landed& l, Use use) {
  Decision d;
  if (l.unknown) {  // a folder can still be walked through: what is opened inside it is judged
    struct stat st;
    d.allow = use == Use::data && ::fstat(l.fd.get(), &st) == 0 && S_ISDIR(st.st_mode);
    if (!d.allow) d.reason = kUnknown;
    return d;
  }
  try {
    judge(l.fd.get(), l.found.root, l.found.name, l.found.via_symlink, l.found.real, use, d);
  } catch (const std::bad_alloc&) {
    d.allow = false;
    d.reason = "out of memory";
  } catch (const std::exception& e) {
    d.allow = false;
    d.reason = e.what();
  }
  if (!d.allow) d.replacement = UniqueFd();
  return d;
}

// NAME is not there. When NAME.age is, below a root, its plaintext stands for NAME: decrypted into
// a sealed memory file and checked against the signature (judge_encrypted), or refused. Anything
// else fails as the open did.
int open_encrypted(int dirfd, const char* path, int flags) {
  const int missing = errno;
  const Config& c = config();
  // Without MODELSEAL_IDENTITY nothing is decrypted, and a missing file costs no second look.
  const bool configured = !c.identities.empty() || !c.identity_error.empty();
  if (!configured || (flags & (O_PATH | O_DIRECTORY)) || std::strlen(path) > PATH_MAX - 5) return errno = missing, -1;
  const std::string age_path = std::string(path) + ".age";
  Landed l = land(dirfd, age_path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (!l.fd || !l.found.below || l.unknown || !l.found.name.ends_with(".age") || l.found.name.size() <= 4)
    return errno = missing, -1;
  if (l.added_nonblock) restore_blocking(l.fd.get());
  const std::string name = l.found.name.substr(0, l.found.name.size() - 4);
  Decision d;
  try {
    judge_encrypted(l.fd.get(), l.found.root, name, l.found.via_symlink, d);
  } catch (const std::bad_alloc&) {
    d.reason = "out of memory";
  } catch (const std::exception& e) {
    d.reason = e.what();
  }
  if (!d.allow) d.replacement = UniqueFd();
  // Never in warn mode either: there is no plaintext to hand over that was not checked.
  record(d, l.shown.substr(0, l.shown.size() - (l.shown.ends_with(".age") ? 4 : 0)), true, "open");
  if (!d.allow || !d.replacement) return refuse();
  if (!(flags & O_CLOEXEC)) ::fcntl(d.replacement.get(), F_SETFD, 0);
  return d.replacement.release();
}

int gated_read(int dirfd, const char* path, int flags, mode_t mode) {
  const Config& c = config();
  Landed l = land(dirfd, path, flags, mode);
  if (!l.fd) return errno == ENOENT ? open_encrypted(dirfd, path, flags) : -1;
  if (!l.found.below && !l.unknown) {
    if (!l.added_nonblock) return l.fd.release();
    if (regular_or_dir(l.fd.get())) {
      restore_blocking(l.fd.get());
      return l.fd.release();
    }
    // A FIFO or device outside the roots: open it again exactly as the caller asked.
    l.fd = UniqueFd();
    return sys_openat(dirfd, path, flags, mode);
  }
  if ((flags & O_PATH) && !l.unknown) return l.fd.release();  // cannot be read; a re-open through /proc is checked again
  Decision d = decide(l, Use::data);
  record(d, l.shown, !c.warn, "open");
  if (!d.allow && !c.warn) return refuse();
  if (l.added_nonblock) restore_blocking(l.fd.get());
  if (d.replacement) ::dup3(d.replacement.get(), l.fd.get(), flags & O_CLOEXEC);
  return l.fd.release();
}

}  // namespace

bool shim_active() noexcept { return !config().roots.empty(); }

int gated_openat(int dirfd, const char* path, int flags, mode_t mode) noexcept {
  if (inside_shim() || !path || !*path) return sys_openat(dirfd, path, flags, mode);
  Inside in;
  const Config& c = config();
  if (c.roots.empty()) return sys_openat(dirfd, path, flags, mode);
  try {
    return wants_write(flags) ? gated_write(dirfd, path, flags, mode) : gated_read(dirfd, path, flags, mode);
  } catch (...) {
    write_stderr(std::string("modelseal: open refused (internal error): ") + path + "\n");
    return refuse();
  }
}

int open_for_child(int dirfd, const char* path, int& flags, mode_t mode, UniqueFd& fd, std::string& child_path) noexcept {
  Inside in;
  const Config& c = config();
  try {
    if (wants_write(flags)) {
      UniqueFd pfd;
      std::string last, shown;
      std::string why = write_verdict(dirfd, path, flags, pfd, last, shown);
      if (!pfd) return errno ? errno : ENOENT;
      if (!why.empty()) {
        Decision d;
        d.reason = why;
        record(d, shown, !c.warn, "open");
        if (!c.warn) return EACCES;
      }
      child_path = proc_fd(pfd.get()) + "/" + last;
      // A symlink put there after this check is not followed into a root.
      struct stat st;
      if (::fstatat(pfd.get(), last.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) flags |= O_NOFOLLOW;
      fd = std::move(pfd);
      return 0;
    }
    // Never blocks here on a FIFO or a device: the child opens it again with the caller's flags.
    Landed l = land(dirfd, path, (flags & ~O_PATH) | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    if (!l.fd) {
      if (errno != ENOENT) return errno;
      int plain = open_encrypted(dirfd, path, flags | O_CLOEXEC);   // NAME.age below a root
      if (plain < 0) return errno;
      l.fd = UniqueFd(plain);
    } else if (l.found.below || l.unknown) {
      Decision d = decide(l, Use::data);
      record(d, l.shown, !c.warn, "open");
      if (!d.allow && !c.warn) return EACCES;
      if (d.replacement) l.fd = std::move(d.replacement);
    }
    child_path = proc_fd(l.fd.get());
    flags &= ~O_NOFOLLOW;   // the child follows the magic link to the file judged here
    fd = std::move(l.fd);
    return 0;
  } catch (...) {
    write_stderr(std::string("modelseal: open refused (internal error): ") + path + "\n");
    return EACCES;
  }
}

bool may_create(int dirfd, const char* path) noexcept {
  if (inside_shim() || !path || !*path || config().roots.empty()) return true;
  Inside in;
  const Config& c = config();
  try {
    UniqueFd pfd;
    std::string last, shown;
    std::string why = write_verdict(dirfd, path, O_CREAT, pfd, last, shown);
    if (why.empty()) return true;
    Decision d;
    d.reason = why;
    record(d, shown, !c.warn, "open");
    return c.warn;
  } catch (...) {
    write_stderr(std::string("modelseal: open refused (internal error): ") + path + "\n");
    return false;
  }
}

CodeOpen open_code(int dirfd, const char* path, int at_flags, Use use, const char* verb) noexcept {
  CodeOpen out;
  if (inside_shim() || !path || config().roots.empty()) return out;
  Inside in;
  const Config& c = config();
  try {
    // An empty path with AT_EMPTY_PATH is the descriptor itself: name it through /proc.
    std::string self;
    if (!*path && (at_flags & AT_EMPTY_PATH)) {
      self = proc_fd(dirfd);
      path = self.c_str();
      dirfd = AT_FDCWD;
    }
    if (!*path) return out;
    int flags = O_RDONLY | O_CLOEXEC | ((at_flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0);
    Landed l = land(dirfd, path, flags, 0);
    if (!l.fd || (!l.found.below && !l.unknown)) return out;  // the real call opens it (or fails) as usual
    if (l.added_nonblock) restore_blocking(l.fd.get());
    Decision d = decide(l, use);
    record(d, l.shown, !c.warn, verb);
    if (!d.allow && !c.warn) {
      out.kind = CodeOpen::refused;
      return out;
    }
    out.kind = CodeOpen::allowed;
    out.fd = std::move(l.fd);
    out.copy = std::move(d.replacement);
    return out;
  } catch (...) {
    write_stderr(std::string("modelseal: ") + verb + " refused (internal error): " + path + "\n");
    out.kind = CodeOpen::refused;
    return out;
  }
}

}  // namespace modelseal::preload

// The temporary directory a fetch writes into: beside the destination (same filesystem), files
// created without following links, renamed into place only once everything verified.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <dirent.h>
#include <random>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/formats.hpp"

namespace fs = std::filesystem;

namespace modelseal::fetch_detail {

namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string random_suffix() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 8; ++i) out += kChars[rd() % (sizeof kChars - 1)];
  return out;
}

void fsync_dir(int fd, const std::string& what) {
  if (::fsync(fd) != 0 && errno != EINVAL) throw errno_error("cannot sync", what, errno);
}

}  // namespace

// An existing destination may be replaced only when it is empty or holds a model that the
// caller accepts (fetch: its signature verifies under the policy), so that a slip such as
// `-o ~ --force`, or a folder with a stray model.sig, cannot lose anyone's files.
void Staging::check_replaceable() const {
  UniqueFd fd(::openat(parent_fd_.get(), name_.c_str(), kDirFlags));
  if (!fd) throw usage_error("refusing to replace " + dest_.string() + ": not a directory", "choose another -o DIR");
  std::error_code ec;
  if (fs::is_empty(dest_, ec) && !ec) return;
  struct stat st;
  if (::fstatat(fd.get(), std::string(kDefaultSignatureName).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    throw usage_error("refusing to replace " + dest_.string() + ": it does not hold a model (no model.sig)",
                      "choose another -o DIR, or remove it yourself");
  may_replace_(dest_);
}

// A fetch killed with SIGKILL leaves `.NAME.fetch-XXXXXXXX` of unverified bytes behind. Each
// running fetch holds an flock on its own; one that nobody holds, owned by us, is stale.
void Staging::remove_stale() const {
  const std::string prefix = "." + name_ + ".fetch-";
  UniqueFd dup(::openat(parent_fd_.get(), ".", kDirFlags));
  DIR* dir = dup ? ::fdopendir(dup.get()) : nullptr;
  if (!dir) return;
  (void)dup.release();   // owned by dir now
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (!n.starts_with(prefix) || n.size() != prefix.size() + 8) continue;
    UniqueFd fd(::openat(parent_fd_.get(), n.c_str(), kDirFlags));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid()) continue;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) stale.push_back(n);   // released when fd closes
  }
  ::closedir(dir);
  for (const auto& n : stale) {
    std::error_code ec;
    fs::remove_all(parent_ / n, ec);   // remove_all never follows links inside
  }
}

Staging::Staging(const fs::path& dest, bool replace, ReplaceCheck may_replace)
    : replace_(replace), may_replace_(std::move(may_replace)) {
  fs::path d = dest.lexically_normal();
  if (!d.empty() && d.filename().empty()) d = d.parent_path();   // "out/" -> "out"
  name_ = d.filename().string();
  if (name_.empty() || name_ == "." || name_ == "..")
    throw usage_error("invalid output directory: " + dest.string(), "name a new folder, e.g. -o ./bert");
  dest_ = d;
  parent_ = d.has_parent_path() ? d.parent_path() : fs::path(".");
  parent_fd_ = UniqueFd(::open(parent_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd_) throw errno_error("cannot open the folder of the output directory", parent_.string(), errno);
  struct stat st;
  if (::fstatat(parent_fd_.get(), name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!replace_)
      throw usage_error("output directory exists: " + dest_.string(),
                        "choose a new one, or use --force to replace a model directory");
    check_replaceable();
  }
  remove_stale();
  // Created and opened relative to the parent's descriptor, like everything inside it.
  for (int attempt = 0;; ++attempt) {
    tmp_name_ = "." + name_ + ".fetch-" + random_suffix();
    if (::mkdirat(parent_fd_.get(), tmp_name_.c_str(), 0700) == 0) break;
    if (errno != EEXIST || attempt == 100)
      throw errno_error("cannot create a temporary directory in", parent_.string(), errno);
  }
  tmp_ = parent_ / tmp_name_;
  tmp_fd_ = UniqueFd(::openat(parent_fd_.get(), tmp_name_.c_str(), kDirFlags));
  if (!tmp_fd_ || ::flock(tmp_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::unlinkat(parent_fd_.get(), tmp_name_.c_str(), AT_REMOVEDIR);
    throw errno_error("cannot open", tmp_.string(), err);
  }
}

Staging::~Staging() {
  std::error_code ec;
  if (!committed_) fs::remove_all(tmp_, ec);
}

UniqueFd Staging::create_file(std::string_view rel) {
  int dir = tmp_fd_.get();
  UniqueFd sub;
  std::string so_far;
  size_t start = 0;
  for (size_t slash; (slash = rel.find('/', start)) != std::string_view::npos; start = slash + 1) {
    std::string comp(rel.substr(start, slash - start));
    so_far += (so_far.empty() ? "" : "/") + comp;
    if (::mkdirat(dir, comp.c_str(), 0755) != 0 && errno != EEXIST)
      throw errno_error("cannot create folder", (tmp_ / so_far).string(), errno);
    UniqueFd next(::openat(dir, comp.c_str(), kDirFlags));
    if (!next) throw errno_error("cannot open folder", (tmp_ / so_far).string(), errno);
    dirs_.insert(so_far);
    sub = std::move(next);
    dir = sub.get();
  }
  std::string leaf(rel.substr(start));
  UniqueFd fd(::openat(dir, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) throw errno_error("cannot create", (tmp_ / std::string(rel)).string(), errno);
  return fd;
}

void Staging::commit() {
  for (const auto& d : dirs_) {
    UniqueFd fd(::openat(tmp_fd_.get(), d.c_str(), kDirFlags));
    if (!fd) throw errno_error("cannot open folder", (tmp_ / d).string(), errno);
    fsync_dir(fd.get(), (tmp_ / d).string());
  }
  if (::fchmod(tmp_fd_.get(), 0755) != 0) throw errno_error("cannot set the mode of", tmp_.string(), errno);
  fsync_dir(tmp_fd_.get(), tmp_.string());

  struct stat st;
  bool exists = ::fstatat(parent_fd_.get(), name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !replace_) throw usage_error("output directory appeared meanwhile: " + dest_.string());
  if (exists) check_replaceable();   // again: it may have changed while the model streamed
  // RENAME_NOREPLACE: never over something that appeared meanwhile; RENAME_EXCHANGE: readers
  // see the old model or the new one, never a mix, and the old one ends up at tmp_.
  unsigned flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
  if (::renameat2(parent_fd_.get(), tmp_name_.c_str(), parent_fd_.get(), name_.c_str(), flags) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY)
      throw usage_error("output directory appeared meanwhile: " + dest_.string());
    throw errno_error("cannot rename the verified model into place", dest_.string(), errno);
  }
  committed_ = !exists;   // when exchanged, the destructor removes the old model from tmp_
  fsync_dir(parent_fd_.get(), parent_.string());
  if (exists) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
    committed_ = true;
  }
}

}  // namespace modelseal::fetch_detail

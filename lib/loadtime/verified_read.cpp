#include "modelseal/verified_read.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "modelseal/formats.hpp"
#include "modelseal/walk.hpp"

namespace modelseal {

FileIdentity identity_of(int fd, const std::string& display_name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat", display_name, errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + display_name);
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
}

std::vector<Digest> hash_ranges(int fd, const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                                const std::string& display_name, const ChunkSink& sink) {
  std::vector<uint8_t> buffer(kReadChunk);
  std::vector<Digest> out;
  Sha256 sha;
  for (const auto& [start, end] : ranges) {
    for (uint64_t off = start; off < end;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(end - off, buffer.size()));
      hash_fd_range(fd, off, n, sha, {buffer.data(), n}, display_name);
      if (sink) sink(buffer.data(), n);
      off += n;
    }
    out.push_back(sha.finish());
  }
  return out;
}

void compare_digests(const ExpectedContent& want, const std::vector<Digest>& have) {
  for (size_t i = 0; i < want.digests.size(); ++i) {
    if (i < have.size() && have[i] == want.digests[i]) continue;
    std::string where = want.digests.size() > 1 ? " (bytes " + std::to_string(want.ranges[i].first) + "-" +
                                                      std::to_string(want.ranges[i].second) + ")"
                                                : "";
    throw untrusted("modified: sha256 is " + (i < have.size() ? digest_hex(have[i]) : std::string("missing")) +
                    " but the signature says " + digest_hex(want.digests[i]) + where);
  }
}

namespace {

// Hashes the whole file once through `fd`, passing every chunk to `sink`; checks the file kept
// its identity (size, mtime, ctime) while it was read.
void verify_through(const VerifiedModel& model, std::string_view name, int fd, const std::string& display,
                    const ChunkSink& sink) {
  FileIdentity before = identity_of(fd, display);
  try {
    ExpectedContent want = expected_content(model, name, before.size);
    auto have = hash_ranges(fd, want.ranges, display, sink);
    if (!(identity_of(fd, display) == before)) throw untrusted("file changed while it was verified");
    compare_digests(want, have);
  } catch (const Error& e) {
    if (std::string_view(e.what()).ends_with(display)) throw;
    throw Error(e.status(), std::string(e.what()) + ": " + display, e.hint());
  }
}

std::string display_of(const VerifiedModel& model, std::string_view path);

// Opens the listed file `name` below the model root without following symlinks (unless the
// signature allows them for files), never blocking on a FIFO.
UniqueFd open_listed(const VerifiedModel& model, std::string_view name) {
  const std::string display = display_of(model, name);
  const int file_flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  UniqueFd fd;
  if (model.single_file()) {
    std::string base = model.root().filename().string();
    if (name != base && name != ".") throw usage_error("not part of the model: " + std::string(name), base);
    fd = UniqueFd(::open(model.root().c_str(), file_flags));
    if (!fd) throw errno_error("cannot open", model.root().string(), errno);
  } else {
    if (auto why = invalid_path_reason(name)) throw usage_error("invalid path in the model: " + std::string(name), *why);
    UniqueFd dir(::open(model.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw errno_error("cannot open model", model.root().string(), errno);
    std::string_view rest = name;
    for (size_t slash; (slash = rest.find('/')) != std::string_view::npos; rest.remove_prefix(slash + 1)) {
      std::string comp(rest.substr(0, slash));
      UniqueFd sub(::openat(dir.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) throw errno_error("cannot open", display, errno);
      dir = std::move(sub);
    }
    const bool follow = model.manifest().serialization.allow_symlinks;
    fd = UniqueFd(::openat(dir.get(), std::string(rest).c_str(), file_flags | (follow ? 0 : O_NOFOLLOW)));
    if (!fd) throw errno == ELOOP ? untrusted("is a symlink, signed as a regular file: " + display)
                                  : errno_error("cannot open", display, errno);
  }
  identity_of(fd.get(), display);  // a regular file, or not trusted
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string name_in_model(const VerifiedModel& model, std::string_view path) {
  return model.single_file() ? model.root().filename().string() : std::string(path);
}

std::string display_of(const VerifiedModel& model, std::string_view path) {
  return model.single_file() ? model.root().string() : (model.root() / std::string(path)).string();
}

}  // namespace

void check_fd(const VerifiedModel& model, std::string_view name, int fd, const std::string& display_name) {
  verify_through(model, name, fd, display_name, {});
}

std::string read_verified(const VerifiedModel& model, std::string_view path) {
  UniqueFd fd = open_listed(model, path);
  const std::string display = display_of(model, path);
  std::string out;
  out.reserve(identity_of(fd.get(), display).size);
  verify_through(model, name_in_model(model, path), fd.get(), display,
                 [&](const uint8_t* data, size_t len) { out.append(reinterpret_cast<const char*>(data), len); });
  return out;
}

UniqueFd open_verified(const VerifiedModel& model, std::string_view path) {
  UniqueFd fd = open_listed(model, path);
  check_fd(model, name_in_model(model, path), fd.get(), display_of(model, path));
  return fd;
}

}  // namespace modelseal

#include "modelseal/verified_read.hpp"

#include <algorithm>
#include <optional>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "modelseal/age_model.hpp"
#include "modelseal/content.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/version_cache.hpp"
#include "modelseal/walk.hpp"

namespace modelseal {

namespace {

// Hashes the file once through `fd`, passing every chunk to `sink`, and checks it against the
// signature (the one content checker).
void verify_through(const VerifiedModel& model, std::string_view name, int fd, const std::string& display,
                    const OffsetSink& sink) {
  check_fd(ContentCheck::of(model, name, identity_of(fd, display).size, display), fd, 0, sink);
}

std::string display_of(const VerifiedModel& model, std::string_view path);

constexpr int kFileFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

// Opens `rel` below the model root, folder by folder without following symlinks, the last
// component following one only if the signature allows symlinks; an invalid descriptor with
// errno set when it cannot.
UniqueFd open_below(const VerifiedModel& model, std::string_view rel) {
  UniqueFd dir(::open(model.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return dir;
  std::string_view rest = rel;
  for (size_t slash; (slash = rest.find('/')) != std::string_view::npos; rest.remove_prefix(slash + 1)) {
    UniqueFd sub(::openat(dir.get(), std::string(rest.substr(0, slash)).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return sub;
    dir = std::move(sub);
  }
  const bool follow = model.manifest().serialization.allow_symlinks;
  UniqueFd fd(::openat(dir.get(), std::string(rest).c_str(), kFileFlags | (follow ? 0 : O_NOFOLLOW)));
  const int saved = errno;
  dir = UniqueFd();
  errno = saved;
  return fd;
}

// Opens the listed file `name` below the model root without following symlinks (unless the
// signature allows them for files), never blocking on a FIFO.
UniqueFd open_listed(const VerifiedModel& model, std::string_view name) {
  const std::string display = display_of(model, name);
  const int file_flags = kFileFlags;
  UniqueFd fd;
  if (model.single_file()) {
    std::string base = model.root().filename().string();
    if (name != base && name != ".") throw usage_error("not part of the model: " + std::string(name), base);
    fd = UniqueFd(::open(model.root().c_str(), file_flags));
    if (!fd) throw errno_error("cannot open", model.root().string(), errno);
  } else {
    if (auto why = invalid_path_reason(name)) throw usage_error("invalid path in the model: " + std::string(name), *why);
    // An unlisted name is refused before anything is opened (it need not even exist): this throws
    // the content checker's own "not listed" error.
    if (model.resources_for(name).empty()) (void)ContentCheck::of(model, name, 0, display);
    fd = open_below(model, name);
    if (!fd && errno == ELOOP && !model.symlink_dir().empty()) {
      // A Hugging Face snapshot: a link into the cache's own blobs/, read at its real path.
      auto real = resolves_inside(display, model.symlink_dir());
      if (!real) throw untrusted("is a symlink that does not resolve to a file in the cache's blobs/: " + display);
      fd = UniqueFd(::open(real->c_str(), file_flags | O_NOFOLLOW));
      if (!fd) throw errno_error("cannot open", real->string(), errno);
    } else if (!fd) {
      throw errno == ELOOP ? untrusted("is a symlink, signed as a regular file: " + display)
                           : errno_error("cannot open", display, errno);
    }
  }
  identity_of(fd.get(), display);  // a regular file, or not trusted
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

// With identities, for the listed file `path` that is not there: its NAME.age, open (a regular
// file, or not trusted). Invalid when NAME is there, or nothing stands in for it.
UniqueFd encrypted_instead(const VerifiedModel& model, std::string_view path,
                           const std::vector<age::Identity>& identities) {
  if (identities.empty() || model.single_file() || invalid_path_reason(path) || model.resources_for(path).empty())
    return UniqueFd();
  if (open_below(model, path) || errno != ENOENT) return UniqueFd();
  UniqueFd enc = open_below(model, std::string(path) + ".age");
  if (enc) identity_of(enc.get(), (model.root() / std::string(path)).string() + ".age");
  return enc;
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
  std::string out(identity_of(fd.get(), display).size, '\0');
  verify_through(model, name_in_model(model, path), fd.get(), display,
                 [&](uint64_t off, const uint8_t* data, size_t len) {
                   if (off + len <= out.size()) std::memcpy(out.data() + off, data, len);
                 });
  return out;
}

UniqueFd open_verified(const VerifiedModel& model, std::string_view path) {
  UniqueFd fd = open_listed(model, path);
  const std::string name = name_in_model(model, path), display = display_of(model, path);
  const VerifiedFile* known = model.verified_file(name);
  if (known && identity_of(fd.get(), display) == known->id && no_writer(fd.get())) {
    ContentCheck::of(model, name, known->id.size, display).compare(known->digests);
    return fd;
  }
  check_fd(model, name, fd.get(), display);
  return fd;
}

UniqueFd open_verified(const VerifiedModel& model, std::string_view path, const std::vector<age::Identity>& identities) {
  UniqueFd enc = encrypted_instead(model, path, identities);
  if (!enc) return open_verified(model, path);
  return age::open_decrypted(model, std::string(path), enc.get(), identities, age::decrypt_memory_cap());
}

std::string read_verified(const VerifiedModel& model, std::string_view path, uint64_t offset, uint64_t length,
                          const std::vector<age::Identity>& identities) {
  const std::string name = name_in_model(model, path), display = display_of(model, path);
  std::optional<age::Decryptor> dec;   // NAME.age standing for a missing NAME
  if (UniqueFd enc = encrypted_instead(model, path, identities))
    dec.emplace(age::Decryptor::open(enc.get(), identities, display + ".age"));
  UniqueFd fd = dec ? UniqueFd() : open_listed(model, path);
  const FileIdentity id = dec ? FileIdentity{} : identity_of(fd.get(), display);
  const uint64_t size = dec ? dec->size() : id.size;
  if (offset > size || length > size - offset)
    throw usage_error("bytes " + std::to_string(offset) + "+" + std::to_string(length) + " are past the end of " +
                      display + " (" + std::to_string(size) + " bytes)");
  const ContentCheck want = ContentCheck::of(model, name, size, display);
  std::string out(length, '\0');
  std::vector<uint8_t> buf(8u << 20);
  // Every signed range the bytes touch is read whole (decrypting only its chunks) and checked.
  for (size_t i = 0; i < want.ranges().size(); ++i) {
    const auto [start, end] = want.ranges()[i];
    if (length == 0 || end <= offset || start >= offset + length) continue;
    Sha256 sha;
    for (uint64_t pos = start; pos < end;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
      if (dec) {
        dec->read(pos, {buf.data(), n});
      } else {
        ssize_t got = ::pread(fd.get(), buf.data(), n, static_cast<off_t>(pos));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw errno_error("cannot read", display, errno);
        if (static_cast<size_t>(got) != n) throw untrusted("changed while it was read (shorter): " + display);
      }
      sha.update(buf.data(), n);
      const uint64_t from = std::max(pos, offset), to = std::min(pos + n, offset + length);
      if (from < to) std::memcpy(out.data() + (from - offset), buf.data() + (from - pos), static_cast<size_t>(to - from));
      pos += n;
    }
    const Digest got = sha.finish();
    if (got != want.digests()[i]) want.mismatch(i, got);
  }
  if (!dec && identity_of(fd.get(), display) != id) throw untrusted("changed while it was read: " + display);
  return out;
}

// The names of the files a manifest lists, once each, sorted.
std::vector<std::string> listed_names(const VerifiedModel& model) {
  std::vector<std::string> names;
  for (const auto& r : model.manifest().resources)
    names.push_back(model.manifest().serialization.method == Method::shards ? parse_shard_name(r.name)->path : r.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<VerifiedFile> preverify(const VerifiedModel& model, const PreverifyOptions& opts) {
  std::vector<UniqueFd> fds;
  std::vector<FdCheck> checks;
  std::vector<std::string> opened;
  std::vector<FileIdentity> ids;
  for (const auto& listed : listed_names(model)) {
    const std::string path = model.single_file() ? model.root().filename().string() : listed;
    const std::string name = name_in_model(model, path);
    try {
      UniqueFd fd = open_listed(model, path);
      const std::string display = display_of(model, path);
      const FileIdentity id = identity_of(fd.get(), display);
      if (!opts.known || !opts.known(name, id)) {
        checks.push_back({ContentCheck::of(model, name, id.size, display), fd.get()});
        fds.push_back(std::move(fd));
        opened.push_back(name);
        ids.push_back(id);
        continue;
      }
    } catch (const Error&) {
      // missing, not a regular file, or the wrong size: left for its own open to report
    }
    if (opts.on_file) opts.on_file(name, nullptr);
  }
  std::vector<VerifiedFile> out(checks.size());
  std::vector<char> good(checks.size(), 0);
  check_fds(checks, opts.threads, [&](size_t i, const FileDigests& r) {
    if (r.quiet) {
      out[i] = {opened[i], ids[i], r.shards};
      good[i] = 1;
    }
    if (opts.on_file) opts.on_file(opened[i], r.quiet ? &out[i] : nullptr);
  }, opts.cancel);
  std::vector<VerifiedFile> kept;
  for (size_t i = 0; i < out.size(); ++i)
    if (good[i]) kept.push_back(std::move(out[i]));
  return kept;
}

std::string record_verified(const VerifiedModel& model, const std::vector<VerifiedFile>& files) {
  std::string why;
  auto cache = VersionCache::from_environment(why);
  if (!cache) {
    if (!why.empty()) throw usage_error(why);
    throw usage_error("there is no verification cache to record in",
                      "set MODELSEAL_CACHE_DIR (or XDG_RUNTIME_DIR) as for the service");
  }
  const VersionCache::Scope scope{model.signature_digest(), model.policy_fingerprint()};
  for (const auto& f : files) {
    const auto ranges = ContentCheck::of(model, f.name, f.id.size, f.name).ranges();
    if (!cache->store(scope, f.id, ranges, f.digests))
      throw Error(Status::io, "cannot write a record in the verification cache " + cache->path());
  }
  return cache->path();
}

}  // namespace modelseal

#include "modelseal/content.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <sys/stat.h>

#include "modelseal/error.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/walk.hpp"
#include "modelseal/parallel.hpp"

namespace modelseal {

namespace {

std::string bytes_text(uint64_t n) { return std::to_string(n) + " bytes"; }

std::string naming(const std::string& display) { return display.empty() ? "" : ": " + display; }

// Not listed: say whether the signer left it out on purpose.
[[noreturn]] void unlisted(const Manifest& m, std::string_view name, const std::string& display) {
  if (is_ignored(name, m.serialization.signer_ignores()))
    throw untrusted("not covered by the signature (the signer ignored it)" + naming(display));
  throw untrusted("not listed in the signature" + naming(display));
}

}  // namespace

ContentCheck ContentCheck::of(const VerifiedModel& model, std::string_view name, uint64_t size, std::string display) {
  const Manifest& m = model.manifest();
  auto res = model.resources_for(name);
  if (res.empty()) unlisted(m, name, display);
  ContentCheck c;
  c.display_ = std::move(display);
  if (m.serialization.method == Method::files) {
    c.ranges_.emplace_back(0, size);
    c.digests_.push_back(res.front()->digest);
    return c;
  }
  for (const Resource* r : res) {  // in offset order (resources_for)
    auto sn = parse_shard_name(r->name);
    c.ranges_.emplace_back(sn->start, sn->end);
    c.digests_.push_back(r->digest);
    c.names_.push_back(r->name);
  }
  if (c.ranges_ != shard_ranges(size, m.serialization.shard_size))
    throw untrusted("size is " + std::to_string(size) + " bytes, signed as " + std::to_string(c.ranges_.back().second) +
                    naming(c.display_));
  return c;
}

ContentCheck ContentCheck::of_manifest(const Manifest& m, std::string_view name, std::string display) {
  ContentCheck c;
  c.display_ = std::move(display);
  std::vector<std::pair<ShardName, const Resource*>> parts;
  for (const Resource& r : m.resources) {
    if (m.serialization.method == Method::files) {
      if (r.name == name) parts.push_back({{r.name, 0, 0}, &r});
    } else if (auto sn = parse_shard_name(r.name); sn && sn->path == name) {
      parts.push_back({*sn, &r});
    }
  }
  if (parts.empty()) unlisted(m, name, c.display_);
  if (m.serialization.method == Method::files) {
    c.sized_ = false;
    c.ranges_.emplace_back(0, UINT64_MAX);
    c.digests_.push_back(parts.front().second->digest);
    return c;
  }
  std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
  for (const auto& [sn, r] : parts) {
    c.ranges_.emplace_back(sn.start, sn.end);
    c.digests_.push_back(r->digest);
    c.names_.push_back(r->name);
  }
  if (c.ranges_ != shard_ranges(c.ranges_.back().second, m.serialization.shard_size))
    throw untrusted("the signature's shards of " + std::string(name) + " do not cover the file exactly" +
                    naming(c.display_));
  return c;
}

void ContentCheck::mismatch(size_t i, const Digest& have) const {
  throw untrusted("modified: sha256 is " + digest_hex(have) + " but the signature says " + digest_hex(digests_[i]) +
                  (names_.empty() ? "" : " (shard " + names_[i] + ")") + naming(display_));
}

void ContentCheck::compare(const std::vector<Digest>& have) const {
  if (have.size() != digests_.size()) throw untrusted("incomplete content check" + naming(display_));
  for (size_t i = 0; i < digests_.size(); ++i)
    if (have[i] != digests_[i]) mismatch(i, have[i]);
}

ContentCheck ContentCheck::named(std::string display) const {
  ContentCheck c = *this;
  c.display_ = std::move(display);
  return c;
}

void ContentStream::update(const uint8_t* data, size_t n) {
  const auto& ranges = check_.ranges();
  const auto signed_size = check_.size();
  const uint64_t limit = signed_size ? *signed_size : bound_;
  if (n > limit - pos_) {
    if (signed_size) throw untrusted("longer than signed (" + bytes_text(limit) + ")" + naming(check_.display()));
    throw untrusted("longer than allowed (" + bytes_text(limit) + ")" + naming(check_.display()),
                    "raise --max-file-size if you expect a file this large");
  }
  if (!signed_size) {
    sha_.update(data, n);
    pos_ += n;
    return;
  }
  for (size_t done = 0; done < n;) {  // check each shard the moment its last byte arrives
    const uint64_t take = std::min<uint64_t>(n - done, ranges[piece_].second - (pos_ + done));
    sha_.update(data + done, take);
    done += take;
    if (pos_ + done == ranges[piece_].second) {
      Digest got = sha_.finish();
      if (got != check_.digests()[piece_]) check_.mismatch(piece_, got);
      ++piece_;
    }
  }
  pos_ += n;
}

void ContentStream::finish() {
  const auto& ranges = check_.ranges();
  if (!check_.size()) {
    Digest got = sha_.finish();
    if (got != check_.digests()[0]) check_.mismatch(0, got);
    return;
  }
  while (piece_ < ranges.size() && ranges[piece_].second == pos_) {  // empty shards (an empty file)
    Digest got = sha_.finish();
    if (got != check_.digests()[piece_]) check_.mismatch(piece_, got);
    ++piece_;
  }
  if (piece_ != ranges.size())
    throw untrusted("is " + bytes_text(pos_) + ", signed as " + bytes_text(*check_.size()) + naming(check_.display()));
}

void ContentStream::restart() {
  sha_.finish();  // resets
  pos_ = 0;
  piece_ = 0;
}

FileIdentity identity_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
          st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
}

FileIdentity identity_of(int fd, const std::string& display_name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) throw errno_error("cannot stat", display_name, errno);
  if (!S_ISREG(st.st_mode)) throw untrusted("not a regular file: " + display_name);
  return identity_of(st);
}

std::vector<Digest> check_fd(const ContentCheck& check, int fd, unsigned threads, const OffsetSink& sink) {
  const FileIdentity before = identity_of(fd, check.display());
  const auto& ranges = check.ranges();
  if (!check.size() || before.size != *check.size())
    throw untrusted("file changed while it was verified: " + check.display());
  std::vector<Digest> have(ranges.size());
  const unsigned workers = std::min<size_t>(threads ? threads : default_threads(), std::max<size_t>(ranges.size(), 1));
  std::vector<std::vector<uint8_t>> buffers(workers);
  parallel_for(ranges.size(), workers, [&](size_t i, unsigned w) {   // rethrows the first error
    auto& buffer = buffers[w];
    if (buffer.empty()) buffer.resize(kReadChunk);
    Sha256 sha;
    for (uint64_t off = ranges[i].first; off < ranges[i].second;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(ranges[i].second - off, buffer.size()));
      hash_fd_range(fd, off, n, sha, {buffer.data(), n}, check.display());
      if (sink) sink(off, buffer.data(), n);
      off += n;
    }
    have[i] = sha.finish();
  });
  if (!(identity_of(fd, check.display()) == before))
    throw untrusted("file changed while it was verified: " + check.display());
  check.compare(have);
  return have;
}

}  // namespace modelseal

// What each file of a verified manifest must be, and the check of its bytes as they stream.
#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/formats.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/walk.hpp"

namespace modelseal::fetch_detail {

namespace {

std::string bytes_text(uint64_t n) { return std::to_string(n) + " bytes"; }

}  // namespace

std::vector<FilePlan> plan_files(const Manifest& m, uint64_t max_file_size) {
  const bool shards = m.serialization.method == Method::shards;
  std::map<std::string, std::vector<std::pair<ShardName, Digest>>, decltype(&name_less)> files(&name_less);
  for (const auto& r : m.resources) {
    if (r.name == ".")
      throw usage_error("the signature names its only file \".\", so the file name is unknown",
                        "re-sign the model as a directory to fetch it");
    ShardName sn{r.name, 0, 0};
    if (shards) sn = *parse_shard_name(r.name);   // validated by Manifest::from_statement
    files[sn.path].emplace_back(sn, r.digest);
  }
  std::vector<FilePlan> out;
  for (auto& [path, parts] : files) {
    if (path == kDefaultSignatureName) throw untrusted("the signature lists " + path + " as a model file");
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      if (files.count(path.substr(0, slash)))
        throw untrusted("the signature lists both " + path.substr(0, slash) + " and " + path);
    FilePlan plan;
    plan.name = path;
    plan.bound = max_file_size;
    if (!shards) {
      plan.pieces.push_back({0, parts.front().second, path});
      out.push_back(std::move(plan));
      continue;
    }
    std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.first.start < b.first.start; });
    std::vector<std::pair<uint64_t, uint64_t>> have;
    for (const auto& [sn, d] : parts) {
      have.emplace_back(sn.start, sn.end);
      plan.pieces.push_back({sn.end, d, path + ":" + std::to_string(sn.start) + ":" + std::to_string(sn.end)});
    }
    const uint64_t size = have.back().second;
    if (have != shard_ranges(size, m.serialization.shard_size))
      throw untrusted("the signature's shards of " + path + " do not cover the file exactly");
    if (size > max_file_size)
      throw untrusted(path + " is signed as " + bytes_text(size) + ", more than --max-file-size (" +
                          bytes_text(max_file_size) + ")",
                      "raise --max-file-size if you expect a file this large");
    plan.sized = true;
    plan.bound = size;
    out.push_back(std::move(plan));
  }
  return out;
}

void Stream::announce(int64_t length) {
  if (length < 0) return;
  const uint64_t n = static_cast<uint64_t>(length);
  if (plan_->sized && n != plan_->bound)
    throw untrusted(plan_->name + " is " + bytes_text(n) + " on the server, signed as " + bytes_text(plan_->bound) +
                    ": " + url_);
  if (n > plan_->bound)
    throw untrusted(plan_->name + " is " + bytes_text(n) + " on the server, more than allowed (" +
                        bytes_text(plan_->bound) + "): " + url_,
                    "raise --max-file-size if you expect a file this large");
}

void Stream::check_piece() {
  const Piece& p = plan_->pieces[piece_];
  Digest got = hash_.finish();
  if (got != p.digest)
    throw untrusted(plan_->name + " does not match its signature (sha256 of " + p.name + " is " + digest_hex(got) +
                    ", signed " + digest_hex(p.digest) + "): " + url_);
  ++piece_;
}

void Stream::write(int fd, const char* data, size_t n) {
  if (n > plan_->bound - pos_) {
    if (plan_->sized)
      throw untrusted(plan_->name + " is longer on the server than signed (" + bytes_text(plan_->bound) + "): " + url_);
    throw untrusted(plan_->name + " is longer than allowed (" + bytes_text(plan_->bound) + "): " + url_,
                    "raise --max-file-size if you expect a file this large");
  }
  if (plan_->sized) {
    // Check each shard the moment its last byte arrives.
    for (size_t done = 0; done < n;) {
      const uint64_t take = std::min<uint64_t>(n - done, plan_->pieces[piece_].end - (pos_ + done));
      hash_.update(data + done, take);
      done += take;
      if (pos_ + done == plan_->pieces[piece_].end) check_piece();
    }
  } else if (!plan_->pieces.empty()) {
    hash_.update(data, n);
  }
  pos_ += n;
  for (size_t off = 0; off < n;) {
    ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw errno_error("cannot write", plan_->name, errno);
    off += static_cast<size_t>(w);
  }
}

void Stream::finish() {
  if (plan_->sized) {
    while (piece_ < plan_->pieces.size() && plan_->pieces[piece_].end == pos_) check_piece();   // empty shards
    if (piece_ != plan_->pieces.size())
      throw untrusted(plan_->name + " is " + bytes_text(pos_) + " on the server, signed as " +
                      bytes_text(plan_->bound) + ": " + url_);
  } else if (!plan_->pieces.empty()) {
    check_piece();
  }
}

void Stream::restart() {
  hash_.finish();   // resets
  pos_ = 0;
  piece_ = 0;
}

}  // namespace modelseal::fetch_detail

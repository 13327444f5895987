// What each file of a verified manifest must be, and the check of its bytes as they stream.
#include <algorithm>
#include <cerrno>
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
  std::set<std::string, decltype(&name_less)> files(&name_less);
  for (const auto& r : m.resources) {
    if (r.name == ".")
      throw usage_error("the signature names its only file \".\", so the file name is unknown",
                        "re-sign the model as a directory to fetch it");
    files.insert(shards ? parse_shard_name(r.name)->path : r.name);   // validated by Manifest::from_statement
  }
  std::vector<FilePlan> out;
  for (const std::string& path : files) {
    if (path == kDefaultSignatureName) throw untrusted("the signature lists " + path + " as a model file");
    for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
      if (files.count(path.substr(0, slash)))
        throw untrusted("the signature lists both " + path.substr(0, slash) + " and " + path);
    FilePlan plan{path, ContentCheck::of_manifest(m, path, ""), false, max_file_size};
    if (auto size = plan.check->size()) {
      if (*size > max_file_size)
        throw untrusted(path + " is signed as " + bytes_text(*size) + ", more than --max-file-size (" +
                            bytes_text(max_file_size) + ")",
                        "raise --max-file-size if you expect a file this large");
      plan.sized = true;
      plan.bound = *size;
    }
    out.push_back(std::move(plan));
  }
  return out;
}

Stream::Stream(const FilePlan& plan, std::string url, const std::vector<age::Identity>* identities)
    : plan_(&plan), url_(std::move(url)), identities_(plan.encrypted ? identities : nullptr),
      plain_(std::make_unique<Plain>()), limit_(plan.bound) {
  if (plan.check) plain_->content.emplace(plan.check->named(url_));
  if (plan.encrypted && !identities_) throw usage_error("no identity to decrypt " + url_ + " with");
  if (identities_) {   // header, payload nonce, a tag per chunk
    const uint64_t chunks = plan.bound / age::kChunkSize + 1;
    limit_ = plan.bound > UINT64_MAX / 2 ? UINT64_MAX
                                         : plan.bound + chunks * age::kTagSize + age::kNonceSize + age::kMaxHeaderSize;
  }
  restart();
}

void Stream::Plain::take(const FilePlan& plan, const std::string& url, const uint8_t* data, size_t n) {
  if (n > plan.bound - pos) {
    if (plan.sized) throw untrusted(plan.name + " is longer on the server than signed (" + bytes_text(plan.bound) + "): " + url);
    throw untrusted(plan.name + " is longer than allowed (" + bytes_text(plan.bound) + "): " + url,
                    "raise --max-file-size if you expect a file this large");
  }
  if (content) content->update(data, n);
  pos += n;
}

void Stream::announce(int64_t length) {
  if (length < 0) return;
  const uint64_t n = static_cast<uint64_t>(length);
  if (plan_->sized && !identities_ && n != plan_->bound)
    throw untrusted(plan_->name + " is " + bytes_text(n) + " on the server, signed as " + bytes_text(plan_->bound) +
                    ": " + url_);
  if (n > limit_)
    throw untrusted(plan_->stored() + " is " + bytes_text(n) + " on the server, more than allowed (" +
                        bytes_text(limit_) + "): " + url_,
                    "raise --max-file-size if you expect a file this large");
}

void Stream::write(int fd, const char* data, size_t n) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  if (decrypt_) {
    if (n > limit_ - pos_)
      throw untrusted(plan_->stored() + " is longer than its plaintext allows (" + bytes_text(limit_) + "): " + url_);
    decrypt_->feed({bytes, n});   // the plaintext goes to plain_ as each chunk authenticates
  } else {
    plain_->take(*plan_, url_, bytes, n);
  }
  pos_ += n;
  for (size_t off = 0; off < n;) {
    ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw errno_error("cannot write", plan_->stored(), errno);
    off += static_cast<size_t>(w);
  }
}

void Stream::finish() {
  if (decrypt_) decrypt_->finish();
  if (plan_->sized && plain_->pos != plan_->bound)
    throw untrusted(plan_->name + " is " + bytes_text(plain_->pos) + (identities_ ? " decrypted" : " on the server") +
                    ", signed as " + bytes_text(plan_->bound) + ": " + url_);
  if (plain_->content) plain_->content->finish();
}

void Stream::restart() {
  if (plain_->content) plain_->content->restart();
  plain_->pos = 0;
  pos_ = 0;
  if (identities_) {
    Plain* plain = plain_.get();
    const FilePlan* plan = plan_;
    const std::string url = url_;
    decrypt_ = std::make_unique<age::StreamDecryptor>(
        *identities_, [plain, plan, url](std::span<const uint8_t> b) { plain->take(*plan, url, b.data(), b.size()); },
        url_);
  }
}

}  // namespace modelseal::fetch_detail

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

void Stream::write(int fd, const char* data, size_t n) {
  if (n > plan_->bound - pos_) {
    if (plan_->sized)
      throw untrusted(plan_->name + " is longer on the server than signed (" + bytes_text(plan_->bound) + "): " + url_);
    throw untrusted(plan_->name + " is longer than allowed (" + bytes_text(plan_->bound) + "): " + url_,
                    "raise --max-file-size if you expect a file this large");
  }
  if (content_) content_->update(reinterpret_cast<const uint8_t*>(data), n);
  pos_ += n;
  for (size_t off = 0; off < n;) {
    ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw errno_error("cannot write", plan_->name, errno);
    off += static_cast<size_t>(w);
  }
}

void Stream::finish() {
  if (plan_->sized && pos_ != plan_->bound)
    throw untrusted(plan_->name + " is " + bytes_text(pos_) + " on the server, signed as " + bytes_text(plan_->bound) +
                    ": " + url_);
  if (content_) content_->finish();
}

void Stream::restart() {
  if (content_) content_->restart();
  pos_ = 0;
}

}  // namespace modelseal::fetch_detail

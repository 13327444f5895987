// Internals of fetch: libcurl handles, the staging directory and a file's streaming check.
#pragma once

#include <curl/curl.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/content.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fetch.hpp"
#include "modelseal/hash.hpp"

namespace modelseal::fetch_detail {

// ---- libcurl (http.cpp)

struct EasyDeleter { void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); } };
struct MultiDeleter { void operator()(CURLM* h) const noexcept { curl_multi_cleanup(h); } };
using Easy = std::unique_ptr<CURL, EasyDeleter>;
using Multi = std::unique_ptr<CURLM, MultiDeleter>;

// curl_global_init, once per process.
void init_curl();
// Checks the scheme (https, or http with insecure_http), rejects a query or fragment and
// returns the URL without trailing slashes. Error(usage) otherwise.
std::string base_url(const std::string& url, const TlsOptions& tls);
// base + "/" + the resource path with each segment percent-encoded.
std::string resource_url(const std::string& base, std::string_view name);
// An easy handle with the TLS, timeout and protocol settings of `opts` for `url`.
Easy make_easy(const std::string& url, const FetchOptions& opts, char* errbuf);
// Whether a failed transfer is worth another try (connection trouble, 5xx, 429).
bool transient(CURLcode rc, CURL* h);
// The error for a failed transfer of `name` from `url` (Status::io), with a hint where one helps.
Error transfer_error(CURLcode rc, CURL* h, const char* errbuf, std::string_view name, const std::string& url);

// ---- file descriptors


// ---- the temporary directory beside the destination (staging.cpp)

class Staging {
 public:
  // Throws Error(usage) unless the existing directory may be replaced (fetch: it holds a model
  // whose signature verifies under the policy).
  using ReplaceCheck = std::function<void(const std::filesystem::path& existing)>;
  // Checks `dest` (absent, or with `replace` an empty directory or one `may_replace` accepts),
  // removes the staging folders of earlier fetches to it that were killed (unlocked, ours), and
  // creates `.NAME.fetch-XXXXXXXX` beside it, locked while this fetch runs. Error(usage) or io.
  Staging(const std::filesystem::path& dest, bool replace, ReplaceCheck may_replace);
  ~Staging();   // removes the temporary directory unless committed
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  const std::filesystem::path& path() const { return tmp_; }
  const std::filesystem::path& dest() const { return dest_; }
  // Creates `rel` (a validated resource path) with O_EXCL|O_NOFOLLOW, its folders with
  // mkdirat/openat relative to the temporary directory, never following a link.
  UniqueFd create_file(std::string_view rel);
  // Syncs every folder, renames the temporary directory to the destination (atomically
  // exchanging it with an existing one when replacing) and syncs the parent.
  void commit();

 private:
  std::filesystem::path dest_, parent_, tmp_;
  std::string name_, tmp_name_;
  bool replace_ = false, committed_ = false;
  ReplaceCheck may_replace_;
  void check_replaceable() const;
  void remove_stale() const;
  UniqueFd parent_fd_, tmp_fd_;
  std::set<std::string> dirs_;   // created sub-folders, relative
};

// ---- one file's expected content, checked as it streams (stream.cpp)

struct FilePlan {
  std::string name;                   // path relative to the model root
  std::optional<ContentCheck> check;  // what the signature says it holds; none: only bounded
  bool sized = false;                 // the signature records the size (shards): bound
  uint64_t bound = 0;                 // most bytes accepted (of plaintext, when encrypted)
  bool encrypted = false;             // fetched and stored as NAME.age; its plaintext is checked
  std::string stored() const { return encrypted ? name + ".age" : name; }
};

// Files of a verified manifest, grouped and bounded. Error(not_trusted) if the shards of a file
// do not cover it exactly or exceed `max_file_size`, or a name cannot be created.
std::vector<FilePlan> plan_files(const Manifest& m, uint64_t max_file_size);

// Receives the bytes of one file: bounds them, hashes them, checks every digest as soon as its
// bytes are complete and writes them to `fd`. Any failure is kept and ends the transfer.
class Stream {
 public:
  // With `identities`, the bytes are an age file (plan.encrypted): they are decrypted as they
  // arrive and the plaintext is what is bounded and checked; the ciphertext is what is stored.
  Stream(const FilePlan& plan, std::string url, const std::vector<age::Identity>* identities = nullptr);
  // Content-Length announced by the server (-1 unknown): refused at once when out of bounds.
  void announce(int64_t length);
  void write(int fd, const char* data, size_t n);
  // The transfer ended normally: checks that nothing signed is missing.
  void finish();
  void restart();   // for a retry: forget everything received
  uint64_t received() const { return pos_; }
  const FilePlan& plan() const { return *plan_; }
  const std::string& url() const { return url_; }

 private:
  // What the content check sees: the bytes received, or what they decrypt to. On the heap, so
  // that the decryptor's sink keeps pointing at it when the stream moves.
  struct Plain {
    std::optional<ContentStream> content;
    uint64_t pos = 0;
    void take(const FilePlan& plan, const std::string& url, const uint8_t* data, size_t n);
  };
  const FilePlan* plan_;
  std::string url_;
  const std::vector<age::Identity>* identities_;
  std::unique_ptr<Plain> plain_;
  std::unique_ptr<age::StreamDecryptor> decrypt_;
  uint64_t pos_ = 0;
  uint64_t limit_;   // most bytes received: the bound, or the most its ciphertext can take
};

}  // namespace modelseal::fetch_detail

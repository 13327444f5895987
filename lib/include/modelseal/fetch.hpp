// Fetching a signed model over HTTPS (or mTLS): the signature is authenticated first, then
// every listed file is hashed while it streams into a temporary directory beside the
// destination, which is renamed into place only when every file matched.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "modelseal/error.hpp"
#include <nlohmann/json.hpp>
#include "modelseal/policy.hpp"
#include "modelseal/verify.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

namespace age {
class Identity;
}


// How to reach the server. Defaults are the safe choice: HTTPS only, TLS 1.2 or newer, the
// server's certificate checked against the system store.
struct TlsOptions {
  std::string ca_file;          // trust only these CAs (PEM) instead of the system store
  std::string pinned_pubkey;    // libcurl form: a PEM/DER public key file or "sha256//BASE64;..."
  std::string client_cert;      // mTLS: client certificate (PEM) ...
  std::string client_key;       // ... and its private key (PEM; default: in client_cert)
  bool insecure_http = false;   // allow a plain http:// URL
};

inline constexpr uint64_t kDefaultMaxFileSize = uint64_t{64} << 30;  // 64 GiB

struct FetchOptions {
  TlsOptions tls;
  uint64_t max_file_size = kDefaultMaxFileSize;  // bound on every file (and the signed size, if known)
  unsigned parallel = 4;                // files downloaded at once
  unsigned retries = 2;                 // per file, for transient network errors only
  long connect_timeout = 30;            // seconds
  long stall_timeout = 60;              // seconds below 1 KiB/s before a transfer is dropped
  bool replace = false;                 // replace an existing DIR atomically (it must hold a model)
  std::time_t now = 0;                  // 0: read the clock once at the start
  const std::atomic<bool>* cancel = nullptr;   // set (e.g. from a signal handler) to stop and clean up
  // Called once the signature is verified, with the bytes to come (0 if the signature does not
  // record sizes); returns a counter to add downloaded bytes to, or nullptr.
  std::function<std::atomic<uint64_t>*(uint64_t total)> on_verified;
  // An encrypted model: every listed NAME is fetched as NAME.age, decrypted with these as it
  // streams so that its plaintext is checked against the signature, and stored as ciphertext.
  const std::vector<age::Identity>* identities = nullptr;
};

struct FetchedFile {
  std::string name;
  uint64_t size = 0;         // bytes received
  std::string sha256;        // hex, when the whole file arrived and matched
  bool ok = false;
  std::string reason;        // empty when ok
};

struct FetchReport {
  std::string url, dir;
  std::string root_digest;   // hex, once the signature is verified
  std::vector<Signer> signers;
  std::vector<FetchedFile> files;
  uint64_t bytes = 0;
  double seconds = 0;
  Status status = Status::ok;
  std::string error;         // one line, when status != ok
  nlohmann::json to_json() const;
};

// Downloads URL/model.sig, authenticates it with `policy` (as verify_signature does), then
// downloads every listed file into a temporary directory beside `dir`, hashing while it streams
// and stopping a transfer at once when it exceeds its size bound or a digest mismatches. Only
// when every file matched is the directory (with model.sig) renamed to `dir` and synced. On any
// failure nothing is left at `dir` and the temporary directory is removed. Throws Error:
// not_trusted (signature or content), usage (bad URL, existing dir), io (network, TLS, HTTP,
// disk). Returns the model as verify_signature(dir) sees it; its files were checked on the way.
VerifiedModel fetch_model(const std::string& url, const std::filesystem::path& dir, const Policy& policy,
                          const FetchOptions& opts, FetchReport* report = nullptr);

}  // namespace modelseal

#pragma GCC visibility pop

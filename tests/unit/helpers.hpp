// Shared bits of the unit tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/keys.hpp"

namespace test {

// The status of the modelseal::Error that `f` throws (ok if none); its message ("" if none).
inline modelseal::Status status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelseal::Error& e) {
    return e.status();
  }
  return modelseal::Status::ok;
}
inline std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelseal::Error& e) {
    return e.what();
  }
  return {};
}

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

inline std::filesystem::path shared_dir() { return env_or("MODELSEAL_SHARED", "../shared"); }
inline std::filesystem::path vectors_dir() {
  return env_or("CRYPTOGRAPHY_VECTORS", "/usr/lib/python3/dist-packages/cryptography_vectors");
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string unhex(const std::string& h) { return *modelseal::from_hex(h); }

// An unencrypted PKCS#8 PEM for an Ed25519 seed (RFC 8410 layout).
inline std::string ed25519_pem_from_seed(const std::string& seed) {
  std::string der = unhex("302e020100300506032b657004220420") + seed;
  return "-----BEGIN PRIVATE KEY-----\n" + modelseal::base64_encode(der) + "\n-----END PRIVATE KEY-----\n";
}

inline modelseal::PrivateKey ed25519_from_seed(const std::string& seed) {
  return modelseal::PrivateKey::from_pem(ed25519_pem_from_seed(seed), nullptr, "test key");
}

// A temporary folder removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string t = (std::filesystem::temp_directory_path() / "modelseal-unit-XXXXXX").string();
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path, ec); }
};

inline void write(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

}  // namespace test

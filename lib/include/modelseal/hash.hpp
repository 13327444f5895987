// SHA-256 (OpenSSL, which uses the CPU's SHA instructions) and file hashing.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Digest finish();  // and resets for the next message

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest sha256(std::string_view data);
std::string digest_hex(const Digest& d);

// Reads [offset, offset+length) of `fd` with pread in large chunks into `hasher`. Throws
// Error(io) on a read error and Error(not_trusted) if the file ends early (it changed).
void hash_fd_range(int fd, uint64_t offset, uint64_t length, Sha256& hasher,
                   std::span<uint8_t> buffer, const std::string& display_name);

// Chunk size for streaming reads: large enough to amortise syscalls, small enough for L2.
inline constexpr size_t kReadChunk = 1u << 20;

}  // namespace modelseal

#pragma GCC visibility pop

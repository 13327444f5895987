#include "modelseal/hash.hpp"

#include <cerrno>
#include <openssl/evp.h>
#include <unistd.h>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"

namespace modelseal {

struct Sha256::Ctx {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

namespace {
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once, kept
  return md;
}
}  // namespace

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (!ctx_->ctx || EVP_DigestInit_ex(ctx_->ctx.get(), sha256_md(), nullptr) != 1)
    throw Error(Status::io, "sha-256 is not available from openssl");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t len) {
  if (len) EVP_DigestUpdate(ctx_->ctx.get(), data, len);
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->ctx.get(), d.data(), &n);
  EVP_DigestInit_ex(ctx_->ctx.get(), sha256_md(), nullptr);
  return d;
}

Digest sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

std::string digest_hex(const Digest& d) { return to_hex(d); }

void hash_fd_range(int fd, uint64_t offset, uint64_t length, Sha256& hasher, std::span<uint8_t> buffer,
                   const std::string& display_name) {
  while (length > 0) {
    size_t want = length < buffer.size() ? static_cast<size_t>(length) : buffer.size();
    ssize_t n = pread(fd, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("cannot read", display_name, errno);
    }
    if (n == 0) throw untrusted("file changed while it was read (shorter than expected): " + display_name);
    hasher.update(buffer.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
}

}  // namespace modelseal

#include "modelseal/secret.hpp"
#include "modelseal/testing.hpp"

#include <atomic>
#include <cstring>
#include <new>
#include <sodium.h>

namespace modelseal {

namespace {
std::atomic<uint64_t> g_wipes{0};
void ensure_sodium() {
  static const int ok = sodium_init();
  if (ok < 0) throw std::bad_alloc();
}
}  // namespace

SecretBytes::SecretBytes(size_t n) {
  ensure_sodium();
  // sodium_malloc: guard pages, mlock'ed, wiped by sodium_free.
  data_ = static_cast<uint8_t*>(sodium_malloc(n ? n : 1));
  if (!data_) throw std::bad_alloc();
  size_ = cap_ = n;
}

SecretBytes::SecretBytes(const void* data, size_t n) : SecretBytes(n) {
  if (n) std::memcpy(data_, data, n);
}

SecretBytes::~SecretBytes() {
  if (data_) {
    sodium_memzero(data_, cap_);
    sodium_free(data_);
    g_wipes.fetch_add(1);
  }
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) {
  o.data_ = nullptr;
  o.size_ = o.cap_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    this->~SecretBytes();
    data_ = o.data_;
    size_ = o.size_;
    cap_ = o.cap_;
    o.data_ = nullptr;
    o.size_ = o.cap_ = 0;
  }
  return *this;
}

uint64_t secret_wipes_for_testing() { return g_wipes.load(); }

}  // namespace modelseal

// The age payload: a 16-byte nonce, then ChaCha20-Poly1305 STREAM chunks of 64 KiB. Encryption,
// streaming decryption (chunk released once authenticated) and random-access decryption.
#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/parallel.hpp"

namespace modelseal::age {

using namespace detail;

namespace {

constexpr size_t kSealedChunk = kChunkSize + kTagSize;

[[noreturn]] void payload_error(const std::string& why, const std::string& name) {
  throw AgeError(Failure::payload, "age payload " + why + ": " + name);
}

void write_all(int fd, Bytes data) {
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot write", "age output", errno);
    off += static_cast<size_t>(n);
  }
}

// pread until `len` bytes or EOF; returns the count read.
size_t pread_full(int fd, uint8_t* buf, size_t len, uint64_t off, const std::string& name) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf + got, len - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read", name, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

}  // namespace

// ---- encryption ----

struct Encryptor::State {
  Sink out;
  std::optional<ArmorWriter> armor;
  SecretBytes key;
  std::vector<uint8_t> plain = std::vector<uint8_t>(kChunkSize);
  std::vector<uint8_t> sealed = std::vector<uint8_t>(kSealedChunk);
  size_t fill = 0;
  uint64_t counter = 0;
  bool finished = false;

  void emit(Bytes b) {
    if (armor) armor->write(b);
    else out(b);
  }
  void seal(bool last) {
    auto nonce = chunk_nonce(counter++, last);
    aead_seal(key.data(), nonce.data(), {plain.data(), fill}, sealed.data());
    emit({sealed.data(), fill + kTagSize});
    fill = 0;
  }
};

Encryptor::Encryptor(const std::vector<Recipient>& recipients, Sink out, bool armor) : s_(std::make_unique<State>()) {
  if (sodium_init() < 0) throw io_error("libsodium cannot be initialised");
  s_->out = std::move(out);
  if (armor) s_->armor.emplace(s_->out);
  SecretBytes file_key(16);
  randombytes_buf(file_key.data(), 16);
  std::string header = encode_header(wrap_file_key(file_key, recipients), file_key);
  uint8_t nonce[kNonceSize];
  randombytes_buf(nonce, sizeof nonce);
  s_->key = payload_key(file_key, {nonce, sizeof nonce});
  s_->emit(bytes_of(header));
  s_->emit({nonce, sizeof nonce});
}

Encryptor::~Encryptor() = default;

void Encryptor::write(std::span<const uint8_t> data) {
  if (s_->finished) throw usage_error("age encryptor written after finish");
  while (!data.empty()) {
    if (s_->fill == kChunkSize) s_->seal(false);   // more data follows: this chunk is not the last
    size_t n = std::min(data.size(), kChunkSize - s_->fill);
    std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n), s_->plain.begin() + static_cast<std::ptrdiff_t>(s_->fill));
    s_->fill += n;
    data = data.subspan(n);
  }
}

void Encryptor::finish() {
  if (s_->finished) return;
  s_->seal(true);
  if (s_->armor) s_->armor->finish();
  s_->finished = true;
}

uint64_t encrypt_fd(int in_fd, int out_fd, const std::vector<Recipient>& recipients, bool armor) {
  Encryptor enc(recipients, [&](Bytes b) { write_all(out_fd, b); }, armor);
  std::vector<uint8_t> buf(kReadChunk);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(in_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw errno_error("cannot read", "age input", errno);
    if (n == 0) break;
    enc.write({buf.data(), static_cast<size_t>(n)});
    total += static_cast<uint64_t>(n);
  }
  enc.finish();
  return total;
}

// ---- streaming decryption ----

struct StreamDecryptor::State {
  const std::vector<Identity>* ids = nullptr;
  Sink out;
  std::string name;
  std::string pending;
  size_t head = 0;                  // consumed bytes at the front of `pending`
  enum { header, nonce, payload, done } phase = header;
  SecretBytes key;
  uint64_t counter = 0;
  std::vector<uint8_t> plain = std::vector<uint8_t>(kChunkSize);

  size_t avail() const { return pending.size() - head; }
  const uint8_t* at() const { return reinterpret_cast<const uint8_t*>(pending.data()) + head; }

  // Opens the chunk at the front as final or not. A full-size chunk is also tried with the other
  // flag, as age does: it is authentic either way, and what comes after it (more data after a
  // final chunk, or none after a non-final one) is then the error. Returns whether it was final.
  bool open_chunk(size_t len, bool last) {
    auto n = chunk_nonce(counter, last);
    bool ok = aead_open(key.data(), n.data(), {at(), len}, plain.data());
    if (!ok && len == kSealedChunk) {
      last = !last;
      n = chunk_nonce(counter, last);
      ok = aead_open(key.data(), n.data(), {at(), len}, plain.data());
    }
    if (!ok) payload_error("chunk " + std::to_string(counter) + " does not authenticate", name);
    ++counter;
    head += len;
    out({plain.data(), len - kTagSize});
    return last;
  }

  void process(bool eof) {
    if (phase == header) {
      size_t end = header_end(std::string_view(pending).substr(head));
      if (end == 0) {
        if (eof) throw AgeError(Failure::header, "malformed age header: truncated: " + name);
        return;
      }
      std::string_view text = std::string_view(pending).substr(head, end);
      Header h = parse_header(text);
      SecretBytes file_key = unwrap_file_key(h, text, *ids);
      head += end;
      phase = nonce;
      key = std::move(file_key);   // held as the file key until the nonce arrives
    }
    if (phase == nonce) {
      if (avail() < kNonceSize) {
        if (eof) throw AgeError(Failure::header, "malformed age header: no payload nonce: " + name);
        return;
      }
      key = payload_key(key, {at(), kNonceSize});
      head += kNonceSize;
      phase = payload;
    }
    while (phase == payload && avail() > kSealedChunk)
      if (open_chunk(kSealedChunk, false)) phase = done;
    if (phase == payload && eof) {
      if (avail() < kTagSize) payload_error(counter == 0 && avail() == 0 ? "has no chunk" : "is truncated", name);
      if (avail() == kTagSize && counter > 0) payload_error("ends with an empty final chunk", name);
      if (!open_chunk(avail(), true)) payload_error("ends without a final chunk", name);
      phase = done;
    }
    if (phase == done && avail() > 0) payload_error("has data after the final chunk", name);
    if (head > (1u << 20) && head * 2 > pending.size()) {
      pending.erase(0, head);
      head = 0;
    }
  }
};

StreamDecryptor::StreamDecryptor(const std::vector<Identity>& identities, Sink out, std::string display_name)
    : s_(std::make_unique<State>()) {
  s_->ids = &identities;
  s_->out = std::move(out);
  s_->name = std::move(display_name);
}

StreamDecryptor::~StreamDecryptor() = default;

void StreamDecryptor::feed(std::span<const uint8_t> data) {
  if (s_->phase == State::done && !data.empty()) payload_error("has data after the final chunk", s_->name);
  s_->pending.append(reinterpret_cast<const char*>(data.data()), data.size());
  s_->process(false);
}

void StreamDecryptor::finish() {
  if (s_->phase != State::done) s_->process(true);
}

void decrypt_buffer(std::string_view file, const std::vector<Identity>& identities, const Sink& out,
                    const std::string& display_name) {
  std::string dearmored;
  if (looks_armored(file)) {
    dearmored = armor_decode(file);
    file = dearmored;
  }
  StreamDecryptor d(identities, out, display_name);
  d.feed(bytes_of(file));
  d.finish();
}

// ---- random access ----

struct Decryptor::State {
  UniqueFd fd;
  std::string name;
  SecretBytes key;
  uint64_t payload_off = 0;     // first chunk
  uint64_t n = 0;               // chunks
  size_t last_len = 0;          // sealed length of the final chunk
  uint64_t size = 0;
};

Decryptor::Decryptor(std::unique_ptr<State> s) : s_(std::move(s)) {}
Decryptor::Decryptor(Decryptor&&) noexcept = default;
Decryptor& Decryptor::operator=(Decryptor&&) noexcept = default;
Decryptor::~Decryptor() = default;

Decryptor Decryptor::open(int fd, const std::vector<Identity>& identities, const std::string& name) {
  auto s = std::make_unique<State>();
  s->name = name;
  s->fd = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!s->fd) throw errno_error("cannot duplicate the descriptor of", name, errno);
  struct stat st;
  if (::fstat(s->fd.get(), &st) != 0) throw errno_error("cannot stat", name, errno);
  if (!S_ISREG(st.st_mode)) throw io_error("not a regular file: " + name, "random access needs a seekable file");
  uint64_t file_size = static_cast<uint64_t>(st.st_size);

  std::string head;
  size_t end = 0;
  while (end == 0) {
    size_t old = head.size();
    if (old >= kMaxHeaderSize + 4096) throw AgeError(Failure::header, "malformed age header: too long: " + name);
    head.resize(old + 4096);
    size_t got = pread_full(s->fd.get(), reinterpret_cast<uint8_t*>(head.data()) + old, 4096, old, name);
    head.resize(old + got);
    if (old == 0 && looks_armored(head)) {
      constexpr uint64_t kMaxArmored = uint64_t{1} << 30;
      if (file_size > kMaxArmored) throw AgeError(Failure::armor, "armored age file too large: " + name);
      std::string text(file_size, '\0');
      text.resize(pread_full(s->fd.get(), reinterpret_cast<uint8_t*>(text.data()), text.size(), 0, name));
      std::string bin = armor_decode(text);
      UniqueFd mem(::memfd_create("age-dearmored", MFD_CLOEXEC));
      if (!mem) throw errno_error("cannot create a memory file for", name, errno);
      write_all(mem.get(), bytes_of(bin));
      s->fd = std::move(mem);
      file_size = bin.size();
      head = bin.substr(0, std::min<size_t>(bin.size(), kMaxHeaderSize + 4096));
      end = header_end(head);
      if (end == 0) throw AgeError(Failure::header, "malformed age header: truncated: " + name);
      break;
    }
    end = header_end(head);
    if (end == 0 && got == 0) throw AgeError(Failure::header, "malformed age header: truncated: " + name);
  }
  std::string_view text = std::string_view(head).substr(0, end);
  Header h = parse_header(text);
  SecretBytes file_key = unwrap_file_key(h, text, identities);
  uint8_t nonce[kNonceSize];
  if (pread_full(s->fd.get(), nonce, kNonceSize, end, name) != kNonceSize)
    throw AgeError(Failure::header, "malformed age header: no payload nonce: " + name);
  s->key = payload_key(file_key, {nonce, kNonceSize});
  s->payload_off = end + kNonceSize;
  uint64_t payload = file_size - s->payload_off;
  if (payload == 0) payload_error("has no chunk", name);
  s->n = (payload + kSealedChunk - 1) / kSealedChunk;
  s->last_len = static_cast<size_t>(payload - (s->n - 1) * kSealedChunk);
  if (s->last_len < kTagSize) payload_error("is truncated", name);
  if (s->last_len == kTagSize && s->n > 1) payload_error("ends with an empty final chunk", name);
  s->size = (s->n - 1) * kChunkSize + (s->last_len - kTagSize);
  Decryptor d(std::move(s));
  std::vector<uint8_t> probe(kChunkSize);
  d.decrypt_chunk(d.s_->n - 1, probe);   // the final chunk first: the size is then authenticated
  sodium_memzero(probe.data(), probe.size());
  return d;
}

uint64_t Decryptor::size() const { return s_->size; }
uint64_t Decryptor::chunks() const { return s_->n; }

size_t Decryptor::decrypt_chunk(uint64_t i, std::span<uint8_t> out) const {
  if (i >= s_->n) throw usage_error("age chunk " + std::to_string(i) + " is past the end of " + s_->name);
  if (out.size() < kChunkSize) throw usage_error("age chunk buffer too small");
  const bool last = i == s_->n - 1;
  const size_t len = last ? s_->last_len : kSealedChunk;
  thread_local std::vector<uint8_t> sealed(kSealedChunk);
  if (pread_full(s_->fd.get(), sealed.data(), len, s_->payload_off + i * kSealedChunk, s_->name) != len)
    payload_error("is truncated (the file changed)", s_->name);
  auto nonce = chunk_nonce(i, last);
  if (!aead_open(s_->key.data(), nonce.data(), {sealed.data(), len}, out.data())) {
    sodium_memzero(out.data(), kChunkSize);
    payload_error("chunk " + std::to_string(i) + " does not authenticate", s_->name);
  }
  return len - kTagSize;
}

void Decryptor::read(uint64_t offset, std::span<uint8_t> out, unsigned threads) const {
  if (offset > s_->size || out.size() > s_->size - offset)
    throw usage_error("read past the end of " + s_->name);
  if (out.empty()) return;
  const uint64_t first = offset / kChunkSize, last = (offset + out.size() - 1) / kChunkSize;
  std::mutex mu;
  std::optional<AgeError> err;
  parallel_for(static_cast<size_t>(last - first + 1), threads, [&](size_t k, unsigned) {
    thread_local std::vector<uint8_t> plain(kChunkSize);
    const uint64_t c = first + k, c_start = c * kChunkSize;
    try {
      size_t n = decrypt_chunk(c, plain);
      uint64_t from = std::max(offset, c_start), to = std::min<uint64_t>(offset + out.size(), c_start + n);
      std::copy(plain.begin() + static_cast<std::ptrdiff_t>(from - c_start), plain.begin() + static_cast<std::ptrdiff_t>(to - c_start),
                out.begin() + static_cast<std::ptrdiff_t>(from - offset));
    } catch (const AgeError& e) {
      std::lock_guard lock(mu);
      if (!err) err = e;
    }
  });
  if (err) {
    sodium_memzero(out.data(), out.size());
    throw *err;
  }
}

void Decryptor::stream(uint64_t offset, uint64_t length, const Sink& sink, unsigned threads) const {
  if (offset > s_->size || length > s_->size - offset) throw usage_error("read past the end of " + s_->name);
  if (length == 0) return;
  if (threads == 0) threads = default_threads();
  const uint64_t first = offset / kChunkSize, end_chunk = (offset + length - 1) / kChunkSize + 1;
  const uint64_t window = uint64_t{threads} * 32;   // 2 MiB of plaintext per thread
  struct Window {
    std::vector<uint8_t> buf;
    uint64_t c0 = 0, c1 = 0;
    std::optional<AgeError> err;
  };
  Window a, b;
  a.buf.resize(window * kChunkSize);
  b.buf.resize(window * kChunkSize);
  auto decrypt = [&](Window& w) {
    std::mutex mu;
    parallel_for(static_cast<size_t>(w.c1 - w.c0), threads, [&](size_t k, unsigned) {
      try {
        decrypt_chunk(w.c0 + k, {w.buf.data() + k * kChunkSize, kChunkSize});
      } catch (const AgeError& e) {
        std::lock_guard lock(mu);
        if (!w.err) w.err = e;
      }
    });
  };
  a.c0 = first;
  a.c1 = std::min(end_chunk, first + window);
  decrypt(a);
  Window* cur = &a;
  Window* next = &b;
  for (;;) {
    if (cur->err) throw *cur->err;
    next->c0 = cur->c1;
    next->c1 = std::min(end_chunk, next->c0 + window);
    next->err.reset();
    {
      std::jthread worker;
      if (next->c0 < next->c1) worker = std::jthread([&] { decrypt(*next); });
      uint64_t from = std::max(offset, cur->c0 * kChunkSize);
      uint64_t to = std::min(offset + length, std::min(cur->c1 * kChunkSize, s_->size));
      sink({cur->buf.data() + (from - cur->c0 * kChunkSize), static_cast<size_t>(to - from)});
    }
    if (next->c0 >= next->c1) return;
    std::swap(cur, next);
  }
}

}  // namespace modelseal::age

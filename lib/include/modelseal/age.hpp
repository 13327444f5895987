// age v1 file encryption (C2SP age): X25519 and scrypt recipients, STREAM payload, ASCII armor.
// age authenticates the holder of the file key, not the author: integrity of a model always comes
// from its signature. No unauthenticated plaintext is ever handed to a caller.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/secret.hpp"

#pragma GCC visibility push(default)   // the installed API: exported from libmodelseal.so

namespace modelseal::age {

inline constexpr size_t kChunkSize = 64 * 1024;            // plaintext bytes per STREAM chunk
inline constexpr size_t kTagSize = 16;                     // Poly1305 tag per chunk
inline constexpr size_t kNonceSize = 16;                   // payload nonce after the header
inline constexpr int kDefaultScryptLog2N = 18;             // what age writes
inline constexpr int kMaxScryptLog2N = 22;                 // the most age accepts on decryption
inline constexpr size_t kMaxHeaderSize = 1 << 20;          // a longer header is refused

// Why a file was refused, in the testkit's classes. The status of every AgeError is not_trusted
// except `identity` (a malformed key or recipient given by the user: usage).
enum class Failure { header, hmac, payload, armor, no_match, identity };
std::string_view failure_name(Failure f);

class AgeError : public Error {
 public:
  AgeError(Failure f, const std::string& what, std::string hint = {})
      : Error(f == Failure::identity ? Status::usage : Status::not_trusted, what, std::move(hint)), failure_(f) {}
  Failure failure() const noexcept { return failure_; }

 private:
  Failure failure_;
};

// Whom a file is encrypted to: an X25519 public key (`age1...`) or a passphrase (scrypt).
class Recipient {
 public:
  static Recipient parse(std::string_view age1);               // AgeError(identity) if malformed
  static Recipient passphrase(SecretBytes pass, int log2n = kDefaultScryptLog2N);
  Recipient(const Recipient& o);              // a passphrase is copied into new locked memory
  Recipient& operator=(const Recipient& o);
  Recipient(Recipient&&) noexcept = default;
  Recipient& operator=(Recipient&&) noexcept = default;
  bool is_passphrase() const { return !pass_.empty(); }
  const std::string& to_string() const { return text_; }        // age1...; empty for a passphrase
  const uint8_t* x25519() const { return pub_; }
  const SecretBytes& secret_passphrase() const { return pass_; }
  int log2n() const { return log2n_; }

 private:
  Recipient() = default;
  uint8_t pub_[32] = {};
  std::string text_;
  SecretBytes pass_;
  int log2n_ = 0;
};

// A recipients file (`-R`): one `age1...` per line; empty lines and `#` comments skipped.
std::vector<Recipient> load_recipients(const std::filesystem::path& file);

// What can open a file: an X25519 secret key (`AGE-SECRET-KEY-1...`) or a passphrase. The key
// lives in locked memory and is wiped when the Identity goes away.
class Identity {
 public:
  static Identity generate();
  static Identity parse(std::string_view secret_text);          // AgeError(identity) if malformed
  static Identity passphrase(SecretBytes pass, int max_log2n = kMaxScryptLog2N);
  Identity(const Identity& o);                // the secret is copied into new locked memory
  Identity& operator=(const Identity& o);
  Identity(Identity&&) noexcept = default;
  Identity& operator=(Identity&&) noexcept = default;
  bool is_passphrase() const { return !pass_.empty(); }
  Recipient recipient() const;                                  // X25519 only
  SecretBytes encode() const;                                   // AGE-SECRET-KEY-1..., X25519 only
  // The file `age-keygen` writes: created and public key comments, then the key.
  SecretBytes keygen_file() const;

  const SecretBytes& secret() const { return sk_; }            // the 32-byte X25519 scalar
  const SecretBytes& secret_passphrase() const { return pass_; }
  int max_log2n() const { return max_log2n_; }

 private:
  Identity() = default;
  SecretBytes sk_;
  SecretBytes pass_;
  int max_log2n_ = kMaxScryptLog2N;
};

// Identities from text (age-keygen's format: comments, empty lines, one key a line), or from a
// file that must be a regular file not accessible by group or others.
std::vector<Identity> parse_identities(std::string_view text, const std::string& what);
std::vector<Identity> load_identities(const std::filesystem::path& file);

using Sink = std::function<void(std::span<const uint8_t>)>;

// Encrypts a stream written to it in pieces; the age file goes to `out` as it is produced.
class Encryptor {
 public:
  Encryptor(const std::vector<Recipient>& recipients, Sink out, bool armor = false);
  ~Encryptor();
  Encryptor(const Encryptor&) = delete;
  Encryptor& operator=(const Encryptor&) = delete;
  void write(std::span<const uint8_t> data);
  void finish();   // writes the final chunk; nothing may be written after

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Encrypts all of `in_fd` (read to EOF) to `out_fd`. Returns the plaintext size.
uint64_t encrypt_fd(int in_fd, int out_fd, const std::vector<Recipient>& recipients, bool armor = false);

// Decrypts a stream fed in pieces (a download, a pipe): each chunk is released to `out` only once
// it is authenticated and known to be in its right place (final or not). Binary files only.
// `identities` must outlive the decryptor.
class StreamDecryptor {
 public:
  StreamDecryptor(const std::vector<Identity>& identities, Sink out, std::string display_name);
  ~StreamDecryptor();
  StreamDecryptor(const StreamDecryptor&) = delete;
  StreamDecryptor& operator=(const StreamDecryptor&) = delete;
  void feed(std::span<const uint8_t> data);
  void finish();   // AgeError(payload) unless a valid final chunk ended the file

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Decrypts a whole age file held in memory (binary or armored), releasing chunk by chunk.
void decrypt_buffer(std::string_view file, const std::vector<Identity>& identities, const Sink& out,
                    const std::string& display_name);

// Random access to an age file on a seekable descriptor. open() authenticates the header (file key
// unwrapped, header MAC) and the final chunk, so size() is known and authenticated. Chunks are
// independent: any of them is decrypted on its own, from any thread.
class Decryptor {
 public:
  // `fd` is duplicated; armored input is decoded into an anonymous memory file first.
  static Decryptor open(int fd, const std::vector<Identity>& identities, const std::string& display_name);
  Decryptor(Decryptor&&) noexcept;
  Decryptor& operator=(Decryptor&&) noexcept;
  ~Decryptor();

  uint64_t size() const;                     // plaintext bytes
  uint64_t chunks() const;                   // STREAM chunks (at least 1)
  // Chunk i into `out` (at least kChunkSize bytes); returns its plaintext length. AgeError(payload)
  // if it does not authenticate; `out` is then zeroed.
  size_t decrypt_chunk(uint64_t i, std::span<uint8_t> out) const;
  // Plaintext [offset, offset + out.size()) into `out`, the chunks spread over `threads` (0: one per
  // core). On failure `out` is zeroed and AgeError(payload) thrown.
  void read(uint64_t offset, std::span<uint8_t> out, unsigned threads = 0) const;
  // Plaintext [offset, offset + length) handed to `sink` in order, on the calling thread, while the
  // next piece is decrypted in parallel. Stops at the first chunk that fails (AgeError(payload)).
  void stream(uint64_t offset, uint64_t length, const Sink& sink, unsigned threads = 0) const;

 private:
  struct State;
  explicit Decryptor(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// For the load-time shim: the whole plaintext of `d` in an anonymous memory file (memfd), each
// piece also handed in order to `observer` (e.g. a digest check, which may throw to abandon it);
// once complete, the memfd is sealed against writes, shrinking and growing, and returned
// positioned at 0. It is never linked into a file system. The caller bounds d.size() first.
UniqueFd decrypt_to_sealed_memfd(const Decryptor& d, const Sink& observer, const std::string& name,
                                 unsigned threads = 0);

// ASCII armor (strict PEM, label "AGE ENCRYPTED FILE"); decoding tolerates LF or CRLF and
// whitespace around the block only. AgeError(armor) if malformed.
bool looks_armored(std::string_view file);
std::string armor_decode(std::string_view text);

}  // namespace modelseal::age

#pragma GCC visibility pop

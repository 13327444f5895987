// Building blocks of the age implementation, shared by its files (not a public header).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/secret.hpp"

namespace modelseal::age::detail {

using Bytes = std::span<const uint8_t>;
inline Bytes bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Unpadded standard base64 (the header's); decoding rejects padding and non-canonical input.
std::string b64_raw_encode(Bytes data);
std::optional<std::string> b64_raw_decode(std::string_view text);

// Bech32 (BIP 173, no length limit). decode: lowercase or uppercase only; `hrp` is returned in
// lowercase; data into `out` (wiped by the caller if secret). false if malformed.
std::string bech32_encode(std::string_view hrp, Bytes data);
bool bech32_decode(std::string_view text, std::string& hrp, SecretBytes& out);

// HKDF-SHA-256 to 32 bytes (empty salt: none, which RFC 5869 makes equal to HashLen zeros).
SecretBytes hkdf(Bytes ikm, Bytes salt, std::string_view info);
std::array<uint8_t, 32> hmac_sha256(Bytes key, Bytes data);
SecretBytes scrypt(Bytes pass, Bytes salt, int log2n);

// ChaCha20-Poly1305 (IETF) with a 32-byte key and 12-byte nonce, no associated data.
void aead_seal(const uint8_t* key, const uint8_t* nonce, Bytes plain, uint8_t* out);   // out: plain+16
bool aead_open(const uint8_t* key, const uint8_t* nonce, Bytes sealed, uint8_t* out);  // out: sealed-16

struct Stanza {
  std::vector<std::string> args;   // args[0] is the type
  std::string body;
};

struct Header {
  std::vector<Stanza> stanzas;
  std::array<uint8_t, 32> mac{};
  size_t mac_input_len = 0;        // bytes up to and including "---"
  size_t size = 0;                 // whole header, through the MAC line's LF
};

// Where the header in `data` ends (one past the MAC line's LF), or 0 if `data` holds no complete
// MAC line yet. Throws AgeError(header) when it can tell the header is malformed or too long.
size_t header_end(std::string_view data);
// Strict parse of exactly one header (data must hold it). AgeError(header).
Header parse_header(std::string_view data);
// The header text for `stanzas`, MAC'd with the file key.
std::string encode_header(const std::vector<Stanza>& stanzas, const SecretBytes& file_key);

// The file key from the stanzas: AgeError(header) for a malformed stanza of a known type,
// AgeError(no_match) if no identity opens one; then the header MAC is checked (AgeError(hmac)).
SecretBytes unwrap_file_key(const Header& h, std::string_view header_text, const std::vector<Identity>& ids);
std::vector<Stanza> wrap_file_key(const SecretBytes& file_key, const std::vector<Recipient>& recipients);

// Payload key from the file key and the payload's nonce.
SecretBytes payload_key(const SecretBytes& file_key, Bytes nonce);
// The 12-byte STREAM nonce of chunk `i`.
std::array<uint8_t, 12> chunk_nonce(uint64_t i, bool last);

// Armors what is written to it, 48 bytes (64 columns) a line.
class ArmorWriter {
 public:
  explicit ArmorWriter(Sink out) : out_(std::move(out)) {}
  void write(Bytes data);
  void finish();

 private:
  Sink out_;
  std::string pending_;
  bool started_ = false;
};

}  // namespace modelseal::age::detail

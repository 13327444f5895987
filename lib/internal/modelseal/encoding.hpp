// Hex and base64 (standard alphabet, padded), strict on input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace modelseal {

std::string to_hex(std::span<const uint8_t> bytes);
inline std::string to_hex(std::string_view bytes) {
  return to_hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}
// Lowercase or uppercase hex; nullopt on odd length or a non-hex character.
std::optional<std::string> from_hex(std::string_view hex);

// For messages that quote untrusted text: control bytes and DEL become \xNN, so a name or a
// parser's excerpt can never break a one-line error or forge a line of output.
std::string printable(std::string_view text);

std::string base64_encode(std::string_view bytes);
// Strict: padded standard alphabet only, no whitespace; nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view b64);

// A size in bytes, with an optional K, M, G or T suffix (powers of 1024; "256M", "64GiB", "1G").
// Error(usage) naming `text` when it is not one.
uint64_t parse_size(const std::string& text);

}  // namespace modelseal

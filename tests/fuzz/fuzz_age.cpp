// libFuzzer target: the age header parser, the armor decoder and the stanza checks behind them
// (through a full decryption attempt with a fixed identity and passphrase).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../../lib/age/internal.hpp"
#include "modelseal/age.hpp"

using namespace modelseal::age;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    size_t end = detail::header_end(in);
    if (end) detail::parse_header(in.substr(0, end));
  } catch (const modelseal::Error&) {
  }
  try {
    if (looks_armored(in)) armor_decode(in);
  } catch (const modelseal::Error&) {
  }
  static const std::vector<Identity> ids = [] {
    std::vector<Identity> v;
    v.push_back(Identity::parse("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"));
    // A low bound keeps scrypt stanzas cheap; larger work factors are refused before any work.
    v.push_back(Identity::passphrase(modelseal::SecretBytes("password", 8), 4));
    return v;
  }();
  try {
    decrypt_buffer(in, ids, [](std::span<const uint8_t>) {}, "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

// libFuzzer entry point: PEM public and private keys (plain and encrypted).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    modelseal::PublicKey::from_pem(text, "fuzz");
  } catch (const modelseal::Error&) {
  }
  try {
    modelseal::PrivateKey::from_pem(text, [] {
      modelseal::Passphrase p;
      p.bytes = modelseal::SecretBytes("fuzz", 4);
      return p;
    }, "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

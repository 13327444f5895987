// libFuzzer entry point: RFC 7512 PKCS#11 URIs (parsing only; no module is loaded).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/pkcs11.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = "pkcs11:" + std::string(reinterpret_cast<const char*>(data), size);
  try {
    auto uri = modelseal::Pkcs11Uri::parse(text);
    // What is displayed parses again to the same URI.
    std::string shown = uri.display();
    if (modelseal::Pkcs11Uri::parse(shown).display() != shown) __builtin_trap();
  } catch (const modelseal::Error&) {
  }
  return 0;
}

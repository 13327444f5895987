// libFuzzer entry point: Sigstore trusted roots (trusted_root.json).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/sigstore.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    modelseal::TrustedRoot::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

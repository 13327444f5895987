// libFuzzer entry point: trust policies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    // Key paths are resolved against a folder that does not exist: only inline PEM can load.
    modelseal::Policy::parse(text, "/nonexistent-fuzz-dir", "fuzz");
  } catch (const modelseal::Error&) {
  }
  modelseal::parse_rfc3339(text);
  return 0;
}

// libFuzzer entry point: .intoto.jsonl bundles and the statements inside them.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/attest.hpp"
#include "modelseal/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& entry : modelseal::parse_attestations(text, "fuzz")) {
      try {
        modelseal::Statement::parse_unauthenticated(entry.envelope.payload, "fuzz");
      } catch (const modelseal::Error&) {
      }
    }
  } catch (const modelseal::Error&) {
  }
  try {
    modelseal::Statement::parse_unauthenticated(text, "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

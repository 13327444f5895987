// libFuzzer entry point: signature bundles, their DSSE envelope and the OMS statement inside.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/bundle.hpp"
#include "modelseal/error.hpp"
#include "modelseal/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    modelseal::Bundle b = modelseal::Bundle::parse(text, "fuzz");
    modelseal::Manifest::parse_unauthenticated(b.envelope.payload);
  } catch (const modelseal::Error&) {
  }
  // The bytes as a statement, as if a trusted key had signed them.
  try {
    modelseal::Manifest m = modelseal::Manifest::parse_unauthenticated(text);
    (void)m.statement();
  } catch (const modelseal::Error&) {
  }
  return 0;
}

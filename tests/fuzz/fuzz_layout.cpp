// libFuzzer entry point: signed-layout envelopes and layout payloads.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/json.hpp"
#include "modelseal/layout.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The bytes as a layout payload (what an owner-signed envelope carries).
  try {
    modelseal::Layout::parse_unauthenticated(text, "fuzz");
  } catch (const modelseal::Error&) {
  }
  // The bytes as a signed-layout file: the envelope, then its payload.
  try {
    modelseal::json j = modelseal::parse_json_strict(text, "fuzz");
    if (j.is_object()) modelseal::Layout::parse_unauthenticated(modelseal::Envelope::from_json(j, "fuzz").payload, "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

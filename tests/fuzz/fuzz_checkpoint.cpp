// libFuzzer entry point: C2SP signed-note checkpoints (Rekor inclusion proofs carry one).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelseal/error.hpp"
#include "modelseal/sigstore.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    modelseal::Checkpoint::parse(text, "fuzz");
  } catch (const modelseal::Error&) {
  }
  return 0;
}

// libFuzzer entry point for the scanner's npy header reader (numpy format.py). Malformed input must end
// in a modelseal::Error or a verdict, never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <span>

#include "../../lib/scan/internal.hpp"
#include "modelseal/error.hpp"

using namespace modelseal::scan::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    MemorySource src(std::span<const uint8_t>(data, size));

    (void)scan_npy(src, 0);
  } catch (const modelseal::Error&) {
  }
  (void)modelseal::scan::scan_memory(std::span<const uint8_t>(data, size), "fuzz");
  return 0;
}

// libFuzzer entry point for the scanner's pickle parser. Malformed input must end in a
// modelseal::Error (or a verdict), never in a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "../../lib/scan/internal.hpp"
#include "modelseal/error.hpp"

using namespace modelseal::scan::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    MemorySource src(std::span<const uint8_t>(data, size));
    (void)scan_pickle(src, true, 0);
    (void)scan_pickle(src, false, 0);
  } catch (const modelseal::Error&) {
  }
  // The public entry point too: detection by content, then whichever parser applies.
  (void)modelseal::scan::scan_memory(std::span<const uint8_t>(data, size), "fuzz");
  return 0;
}

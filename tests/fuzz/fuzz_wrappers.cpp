// libFuzzer entry point for the decompressors (zlib, gzip, bz2, xz, lzma through their
// libraries): corrupt streams end in an error or a bounded output, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <span>

#include "../../lib/scan/internal.hpp"
#include "modelseal/error.hpp"

using namespace modelseal::scan::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemorySource src(std::span<const uint8_t>(data, size));
  for (Wrapper w : {Wrapper::deflate, Wrapper::zlib, Wrapper::gzip, Wrapper::bz2, Wrapper::xz, Wrapper::lzma,
                    Wrapper::lz4}) {
    try {
      Decompressed d = decompress(src, 0, src.size(), w, 1u << 20);
      if (d.data.size() > (1u << 20)) __builtin_trap();
    } catch (const modelseal::Error&) {
    }
  }
  (void)modelseal::scan::scan_memory(std::span<const uint8_t>(data, size), "fuzz");
  return 0;
}

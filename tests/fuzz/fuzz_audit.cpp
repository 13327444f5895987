// libFuzzer entry point: audit log lines (modelseal audit verify). The log is a memory file,
// named through /proc/self/fd, so that no input costs a write to disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "modelseal/audit.hpp"
#include "modelseal/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("modelseal-fuzz-audit", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0) return 0;
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    modelseal::audit_verify(path);
  } catch (const modelseal::Error&) {
  }
  return 0;
}

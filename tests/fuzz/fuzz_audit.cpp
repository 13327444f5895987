// libFuzzer entry point: audit log lines (modelseal audit verify).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <unistd.h>

#include "modelseal/audit.hpp"
#include "modelseal/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static char path[] = "/tmp/modelseal-fuzz-audit-XXXXXX";
  static int fd = mkstemp(path);
  if (fd < 0) return 0;
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) return 0;
  try {
    modelseal::audit_verify(path);
  } catch (const modelseal::Error&) {
  }
  return 0;
}

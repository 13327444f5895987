// The plaintext of an age file in a sealed memfd: what the shim hands back instead of a path.
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.hpp"

namespace modelseal::age {

UniqueFd decrypt_to_sealed_memfd(const Decryptor& d, const Sink& observer, const std::string& name, unsigned threads) {
  UniqueFd mem(::memfd_create(("modelseal:" + name.substr(name.find_last_of('/') + 1)).substr(0, 240).c_str(),
                              MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) throw errno_error("cannot create a memory file for", name, errno);
  if (::ftruncate(mem.get(), static_cast<off_t>(d.size())) != 0)
    throw errno_error("cannot size the memory file for", name, errno);
  uint64_t off = 0;
  d.stream(0, d.size(), [&](std::span<const uint8_t> b) {
    if (observer) observer(b);
    for (size_t done = 0; done < b.size();) {
      ssize_t n = ::pwrite(mem.get(), b.data() + done, b.size() - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw errno_error("cannot fill the memory file for", name, errno);
      done += static_cast<size_t>(n);
    }
    off += b.size();
  }, threads);
  if (::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    throw errno_error("cannot seal the memory file for", name, errno);
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) throw errno_error("cannot rewind the memory file for", name, errno);
  return mem;
}

}  // namespace modelseal::age

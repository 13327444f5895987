// The plaintext of an age file in a sealed memfd: what the shim and open_verified hand back for
// NAME when only NAME.age is there, and how much of it one process may hold.
#include <cerrno>
#include <cstdio>
#include <iterator>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/age_model.hpp"
#include "modelseal/content.hpp"
#include "modelseal/encoding.hpp"

namespace modelseal::age {

UniqueFd decrypt_to_sealed_memfd(const Decryptor& d, const Sink& observer, const std::string& name, unsigned threads) {
  UniqueFd mem(::memfd_create((std::string(kMemfdPrefix) + name.substr(name.find_last_of('/') + 1)).substr(0, 240).c_str(),
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

namespace {

// 300 KiB, 12.5 MiB, 2.0 GiB: for messages.
std::string size_text(uint64_t n) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace

uint64_t decrypted_bytes_held() {
  const std::string tag = "/memfd:" + std::string(kMemfdPrefix);
  std::set<ino_t> seen;
  uint64_t held = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(dir)) {
      char link[512];
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
      if (n <= 0 || std::string_view(link, static_cast<size_t>(n)).rfind(tag, 0) != 0) continue;
      struct stat st;
      if (::stat(path.c_str(), &st) == 0 && seen.insert(st.st_ino).second) held += static_cast<uint64_t>(st.st_size);
    }
    ::closedir(dir);
  }
  // Mapped and closed (safetensors maps, then closes): the mapped length counts.
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find(tag);
    if (at == std::string::npos) continue;
    std::istringstream in(line.substr(0, at));
    std::string range, perms, offset, dev;
    unsigned long long inode = 0;
    in >> range >> perms >> offset >> dev >> inode;
    const size_t dash = range.find('-');
    if (dash == std::string::npos || seen.count(static_cast<ino_t>(inode))) continue;
    held += std::strtoull(range.c_str() + dash + 1, nullptr, 16) - std::strtoull(range.c_str(), nullptr, 16);
  }
  return held;
}

uint64_t decrypt_memory_cap() {
  if (const char* v = std::getenv("MODELSEAL_DECRYPT_MAX"); v && *v) return parse_size(v);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 2 : 1ull << 30;
}

UniqueFd open_decrypted(const VerifiedModel& model, const std::string& name, int fd,
                        const std::vector<Identity>& identities, uint64_t cap, unsigned threads) {
  Decryptor d = Decryptor::open(fd, identities, name + ".age");
  const uint64_t held = decrypted_bytes_held();
  if (d.size() > cap || held > cap - d.size())
    throw Error(Status::io,
                "decrypting " + name + " (" + size_text(d.size()) + ") would take the plaintext this process holds to " +
                    size_text(held + d.size()) + ", over the cap of " + size_text(cap) + " (MODELSEAL_DECRYPT_MAX)",
                "raise MODELSEAL_DECRYPT_MAX, or load fewer encrypted files at once");
  ContentStream check(ContentCheck::of(model, name, d.size(), name));
  UniqueFd mem = decrypt_to_sealed_memfd(d, [&](std::span<const uint8_t> b) { check.update(b.data(), b.size()); },
                                         name, threads);
  check.finish();   // nothing is handed out before its digest matched
  // A read-only description: the caller cannot even try to write (the seals forbid it anyway).
  UniqueFd ro(::open(("/proc/self/fd/" + std::to_string(mem.get())).c_str(), O_RDONLY | O_CLOEXEC));
  return ro ? std::move(ro) : std::move(mem);
}

}  // namespace modelseal::age

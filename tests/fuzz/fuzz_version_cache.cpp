// libFuzzer entry point: records of the machine's verification cache (MODELSEAL_CACHE_DIR). The
// input is a record's bytes; with bit 1 of the first byte set its first 40 bytes become the
// magic and key of the record under test, and with bit 0 set the record's own SHA-256 is
// appended, so that the fuzzer reaches what is parsed after the framing holds. A record is never trusted
// for another version or other ranges than the ones it names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <algorithm>
#include <string>
#include <unistd.h>

#include "modelseal/hash.hpp"
#include "modelseal/version_cache.hpp"

using namespace modelseal;

namespace {

struct Setup {
  std::string dir, record, head;   // head: the valid record's magic and key
  VersionCache::Scope scope{};
  FileIdentity id{1, 2, 100, 3, 4};
  std::vector<VersionCache::Range> ranges{{0, 50}, {50, 100}};
  std::optional<VersionCache> cache;
  Setup() {
    char tmpl[] = "/tmp/modelseal-fuzz-cache-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    dir = tmpl;
    cache = VersionCache::open(dir);
    cache->store(scope, id, ranges, {Digest{}, Digest{}});
    DIR* d = ::opendir(dir.c_str());
    for (dirent* e; (e = ::readdir(d));)
      if (e->d_name[0] != '.') record = dir + "/" + e->d_name;
    ::closedir(d);
    if (record.empty()) std::abort();
    int fd = ::open(record.c_str(), O_RDONLY);
    head.resize(40);
    if (fd < 0 || ::read(fd, head.data(), head.size()) != 40) std::abort();
    ::close(fd);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup s;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 2)) bytes.replace(0, std::min(bytes.size(), s.head.size()), s.head);
  if (size > 0 && (data[0] & 1)) {
    Digest sum = sha256(bytes);
    bytes.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  }
  int fd = ::open(s.record.c_str(), O_WRONLY | O_TRUNC);
  if (fd < 0) return 0;
  if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) std::abort();
  ::close(fd);
  std::string problem;
  auto got = s.cache->find(s.scope, s.id, s.ranges, problem);
  if (got && (got->size() != s.ranges.size() || !problem.empty())) std::abort();
  return 0;
}

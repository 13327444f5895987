// Benchmark: parallel age decryption + SHA-256 of a file (what `verify -i` does per file) against
// plain SHA-256 of the same plaintext bytes, measured in the same run on the same machine.
// Size: MODELSEAL_BENCH_AGE_MIB (default 1024). Files go to $TMPDIR and are removed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <sodium.h>
#include <string>
#include <unistd.h>
#include <vector>

#include "modelseal/age.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/hash.hpp"
#include "modelseal/hasher.hpp"
#include "modelseal/parallel.hpp"

namespace fs = std::filesystem;
using namespace modelseal;
using clk = std::chrono::steady_clock;

namespace {

double secs_since(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

void write_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) throw io_error("bench: write failed");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

int main() {
  if (sodium_init() < 0) return 3;
  const char* env = std::getenv("MODELSEAL_BENCH_AGE_MIB");
  const uint64_t mib = env ? std::strtoull(env, nullptr, 10) : 1024;
  const uint64_t size = mib << 20;
  fs::path dir = fs::temp_directory_path() / ("modelseal-bench-age-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path plain_path = dir / "weights.bin", age_path = dir / "weights.bin.age";
  try {
    age::Identity id = age::Identity::generate();
    {
      UniqueFd pf(::open(plain_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      UniqueFd af(::open(age_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      age::Encryptor enc({id.recipient()}, [&](std::span<const uint8_t> b) { write_all(af.get(), b.data(), b.size()); });
      std::vector<uint8_t> block(16 << 20);
      uint8_t seed[randombytes_SEEDBYTES] = {1};
      for (uint64_t done = 0; done < size; done += block.size()) {
        seed[1] = static_cast<uint8_t>(done >> 24);
        randombytes_buf_deterministic(block.data(), block.size(), seed);
        size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), size - done));
        write_all(pf.get(), block.data(), n);
        enc.write({block.data(), n});
      }
      enc.finish();
    }
    // Warm both files into the page cache equally: each is read once before timing.
    std::vector<uint8_t> buf(kReadChunk);
    auto plain_sha = [&] {
      UniqueFd fd(::open(plain_path.c_str(), O_RDONLY | O_CLOEXEC));
      Sha256 h;
      hash_fd_range(fd.get(), 0, size, h, buf, plain_path.string());
      return h.finish();
    };
    auto age_sha = [&](unsigned threads) {
      UniqueFd fd(::open(age_path.c_str(), O_RDONLY | O_CLOEXEC));
      age::Decryptor d = age::Decryptor::open(fd.get(), {id}, age_path.string());
      Sha256 h;
      d.stream(0, d.size(), [&](std::span<const uint8_t> b) { h.update(b.data(), b.size()); }, threads);
      return h.finish();
    };
    plain_sha();
    age_sha(0);
    double best_plain = 1e9, best_age = 1e9, best_age1 = 1e9;
    Digest dp{}, da{}, da1{};
    for (int rep = 0; rep < 3; ++rep) {
      auto t = clk::now();
      dp = plain_sha();
      best_plain = std::min(best_plain, secs_since(t));
      t = clk::now();
      da = age_sha(0);
      best_age = std::min(best_age, secs_since(t));
    }
    auto t = clk::now();
    da1 = age_sha(1);
    best_age1 = secs_since(t);
    if (dp != da || dp != da1) {
      std::fprintf(stderr, "bench-age: decrypted digest differs from the plaintext's\n");
      fs::remove_all(dir);
      return 1;
    }
    const double mibf = static_cast<double>(mib);
    std::printf("bench-age: %llu MiB, %u threads (best of 3, page cache warm)\n", static_cast<unsigned long long>(mib),
                default_threads());
    std::printf("  plain sha256             %7.3f s  %7.0f MiB/s\n", best_plain, mibf / best_plain);
    std::printf("  age decrypt+sha256       %7.3f s  %7.0f MiB/s  (%.2fx plain)\n", best_age, mibf / best_age,
                best_age / best_plain);
    std::printf("  age decrypt+sha256, 1 t  %7.3f s  %7.0f MiB/s  (%.2fx plain)\n", best_age1, mibf / best_age1,
                best_age1 / best_plain);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench-age: %s\n", e.what());
    fs::remove_all(dir);
    return 3;
  }
  fs::remove_all(dir);
  return 0;
}

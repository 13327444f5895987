// The hashing engine: identical results for every thread count and shard size.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.hpp"
#include "modelseal/error.hpp"
#include "modelseal/manifest.hpp"
#include "modelseal/sign.hpp"
#include "modelseal/parallel.hpp"

using namespace modelseal;

namespace {
std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}
}  // namespace

TEST_CASE("digests are identical for every thread count, and equal to sha256 of each file") {
  test::TempDir dir;
  std::vector<std::pair<std::string, std::string>> files = {
      {"empty", ""}, {"one", "x"}, {"d/mid.bin", random_bytes((1 << 20) + 3, 1)},
      {"d/e/big.bin", random_bytes(5 << 20, 2)}, {"z.json", "{}"}};
  for (const auto& [name, data] : files) test::write(dir.path / name, data);

  for (uint64_t shard : {uint64_t{0}, uint64_t{1000}, uint64_t{1} << 20, uint64_t{64} << 20}) {
    std::optional<Digest> first;
    for (unsigned threads : {1u, 2u, 3u, 8u}) {
      SignOptions o;
      o.shard_size = shard;
      o.hash.threads = threads;
      Manifest m = manifest_for(dir.path, o);
      if (!first) first = m.root();
      CHECK_MESSAGE(m.root() == *first, "threads " << threads << " shard " << shard);
      if (shard == 0) {
        REQUIRE(m.resources.size() == files.size());
        for (const auto& r : m.resources) {
          auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.first == r.name; });
          REQUIRE(it != files.end());
          CHECK(r.digest == sha256(it->second));
        }
      }
    }
  }
}

TEST_CASE("shard digests cover exactly their byte ranges") {
  test::TempDir dir;
  std::string data = random_bytes(2500, 3);
  test::write(dir.path / "f", data);
  SignOptions o;
  o.shard_size = 1000;
  Manifest m = manifest_for(dir.path, o);
  REQUIRE(m.resources.size() == 3);
  CHECK(m.resources[0].name == "f:0:1000");
  CHECK(m.resources[2].name == "f:2000:2500");
  CHECK(m.resources[2].algorithm == "sha256-sharded-1000");
  CHECK(m.resources[1].digest == sha256(std::string_view(data).substr(1000, 1000)));
}

TEST_CASE("default ignores and the signature file are left out") {
  test::TempDir dir;
  test::write(dir.path / "w", "w");
  test::write(dir.path / ".git/config", "x");
  test::write(dir.path / "model.sig", "old");
  test::write(dir.path / ".gitattributes", "x");
  Manifest m = manifest_for(dir.path, {});
  REQUIRE(m.resources.size() == 1);
  CHECK(m.resources[0].name == "w");
}

TEST_CASE("special files are refused without being opened") {
  test::TempDir dir;
  test::write(dir.path / "w", "w");
  REQUIRE(::mkfifo((dir.path / "pipe").c_str(), 0600) == 0);
  try {
    manifest_for(dir.path, {});
    FAIL("hashed a fifo");
  } catch (const Error& e) {
    CHECK(e.status() == Status::io);
    CHECK(std::string(e.what()).find("fifo") != std::string::npos);
  }
}

TEST_CASE("nothing thrown in a worker terminates the process: it reaches the caller") {
  test::TempDir dir;
  for (int i = 0; i < 8; ++i) {
    std::ofstream(dir.path / ("f" + std::to_string(i))) << random_bytes(1000, i);
  }
  ModelTree tree = walk_model(dir.path, {});
  for (unsigned threads : {1u, 2u, 4u}) {
    HashOptions opts;
    opts.threads = threads;
    std::atomic<int> calls{0};
    opts.inspect = [&](int, const ModelFile&) {
      if (++calls == 3) throw std::bad_alloc();
    };
    CHECK_THROWS_AS(hash_model(tree, {}, opts), std::bad_alloc);
    // An Error from one file is that file's error, and the others are still hashed.
    opts.inspect = [&](int, const ModelFile& f) {
      if (f.name == "f5") throw io_error("injected: " + f.name);
    };
    CHECK_THROWS_WITH_AS(hash_model(tree, {}, opts), doctest::Contains("injected: f5"), Error);
  }
  // parallel_for itself: every index runs at most once, the first exception is rethrown.
  std::atomic<int> ran{0};
  CHECK_THROWS_AS(parallel_for(1000, 4, [&](size_t i, unsigned) {
                    ++ran;
                    if (i == 10) throw std::runtime_error("boom");
                  }),
                  std::runtime_error);
  CHECK(ran.load() <= 1000);
}

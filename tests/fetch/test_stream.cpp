// Unit tests of fetch's internals: the streaming check (shard boundaries, bounds), the plan made
// from a manifest, URLs, and the staging directory (no network).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "../unit/helpers.hpp"

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

#include "../../lib/fetch/internal.hpp"
#include "modelseal/manifest.hpp"

using namespace modelseal;
using test::status_of;
using test::what_of;
using namespace modelseal::fetch_detail;
namespace fs = std::filesystem;

namespace {


struct DevNull {
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ~DevNull() { ::close(fd); }
};

// A 10-byte file "0123456789" in shards of 4: [0,4) [4,8) [8,10).
Manifest sharded(const std::string& content = "0123456789") {
  Manifest m;
  m.serialization.method = Method::shards;
  m.serialization.shard_size = 4;
  for (uint64_t start = 0; start < content.size(); start += 4) {
    uint64_t end = std::min<uint64_t>(start + 4, content.size());
    m.resources.push_back({"w/a.bin:" + std::to_string(start) + ":" + std::to_string(end), "sha256",
                           sha256(content.substr(start, end - start))});
  }
  return m;
}

fs::path temp_dir() {
  std::string t = (fs::temp_directory_path() / "modelseal-fetch-unit-XXXXXX").string();
  REQUIRE(::mkdtemp(t.data()));
  return t;
}

}  // namespace

TEST_CASE("shards are checked as each one completes, in any chunking") {
  auto plans = plan_files(sharded(), 1000);
  REQUIRE(plans.size() == 1);
  CHECK(plans[0].sized);
  CHECK(plans[0].bound == 10);
  DevNull null;
  const std::string good = "0123456789";
  for (size_t chunk : {1u, 3u, 4u, 7u, 10u}) {
    Stream s(plans[0], "u");
    for (size_t off = 0; off < good.size(); off += chunk) s.write(null.fd, good.data() + off, std::min(chunk, good.size() - off));
    CHECK_NOTHROW(s.finish());
    CHECK(s.received() == 10);
  }
  // A byte changed in the second shard: shard one passes, the chunk that completes shard two fails.
  Stream s(plans[0], "u");
  s.write(null.fd, "0123", 4);
  s.write(null.fd, "45", 2);
  CHECK(status_of([&] { s.write(null.fd, "X7", 2); }) == Status::not_trusted);
}

TEST_CASE("a stream is bounded by the signed size, and a short one fails") {
  auto plans = plan_files(sharded(), 1000);
  DevNull null;
  Stream longer(plans[0], "u");
  CHECK(status_of([&] { longer.write(null.fd, "0123456789X", 11); }) == Status::not_trusted);
  Stream shorter(plans[0], "u");
  shorter.write(null.fd, "01234567", 8);
  CHECK(status_of([&] { shorter.finish(); }) == Status::not_trusted);
  Stream announced(plans[0], "u");
  CHECK(status_of([&] { announced.announce(11); }) == Status::not_trusted);
  CHECK(status_of([&] { announced.announce(-1); }) == Status::ok);
  CHECK(status_of([&] { announced.announce(10); }) == Status::ok);
}

TEST_CASE("whole files: bounded by max_file_size, compared at the end; restart forgets") {
  Manifest m;
  m.resources.push_back({"a.bin", "sha256", sha256("hello")});
  auto plans = plan_files(m, 5);
  REQUIRE(plans.size() == 1);
  CHECK_FALSE(plans[0].sized);
  DevNull null;
  Stream s(plans[0], "u");
  s.write(null.fd, "hel", 3);
  CHECK(status_of([&] { s.write(null.fd, "lo!", 3); }) == Status::not_trusted);
  s.restart();
  s.write(null.fd, "hello", 5);
  CHECK_NOTHROW(s.finish());
  Stream bad(plans[0], "u");
  bad.write(null.fd, "jello", 5);
  CHECK(status_of([&] { bad.finish(); }) == Status::not_trusted);
  CHECK(status_of([&] { Stream(plans[0], "u").announce(6); }) == Status::not_trusted);
}

TEST_CASE("an empty sharded file has one empty shard") {
  Manifest m;
  m.serialization.method = Method::shards;
  m.serialization.shard_size = 4;
  m.resources.push_back({"e:0:0", "sha256", sha256("")});
  auto plans = plan_files(m, 100);
  DevNull null;
  Stream s(plans[0], "u");
  CHECK_NOTHROW(s.finish());
  Stream more(plans[0], "u");
  CHECK(status_of([&] { more.write(null.fd, "x", 1); }) == Status::not_trusted);
}

TEST_CASE("plans refuse what cannot be fetched safely") {
  Manifest gap = sharded();
  gap.resources.erase(gap.resources.begin() + 1);   // [0,4) [8,10)
  CHECK(status_of([&] { plan_files(gap, 1000); }) == Status::not_trusted);
  CHECK(status_of([&] { plan_files(sharded(), 9); }) == Status::not_trusted);   // signed size > bound
  Manifest m;
  m.resources.push_back({"model.sig", "sha256", sha256("")});
  CHECK(status_of([&] { plan_files(m, 10); }) == Status::not_trusted);
  m.resources = {{"a", "sha256", sha256("")}, {"a/b", "sha256", sha256("")}};
  CHECK(status_of([&] { plan_files(m, 10); }) == Status::not_trusted);
  m.resources = {{".", "sha256", sha256("")}};
  CHECK(status_of([&] { plan_files(m, 10); }) == Status::usage);
}

TEST_CASE("URLs: https only unless asked, no query, segments escaped") {
  TlsOptions tls;
  CHECK(base_url("https://h.example/models/bert//", tls) == "https://h.example/models/bert");
  CHECK(base_url("HTTPS://h.example/m", tls) == "HTTPS://h.example/m");
  CHECK(status_of([&] { base_url("http://h.example/m", tls); }) == Status::usage);
  CHECK(status_of([&] { base_url("ftp://h.example/m", tls); }) == Status::usage);
  CHECK(status_of([&] { base_url("https://h.example/m?a=1", tls); }) == Status::usage);
  CHECK(status_of([&] { base_url("https://h.example/m#x", tls); }) == Status::usage);
  tls.insecure_http = true;
  CHECK(base_url("http://h.example/m", tls) == "http://h.example/m");
  CHECK(resource_url("https://h/m", "dir one/a#b?.bin") == "https://h/m/dir%20one/a%23b%3F.bin");
}

TEST_CASE("staging: files created beside the destination, never through a link, removed on failure") {
  fs::path base = temp_dir();
  fs::path dest = base / "model";
  fs::path tmp;
  // The caller decides whether an existing model may go (fetch: its signature verifies).
  int asked = 0;
  bool accept = true;
  Staging::ReplaceCheck check = [&](const fs::path&) {
    ++asked;
    if (!accept) throw Error(Status::usage, "not a model this policy trusts");
  };
  {
    Staging st(dest, false, check);
    tmp = st.path();
    CHECK(tmp.parent_path() == base);
    CHECK(st.create_file("a/b/c.bin"));
    CHECK(status_of([&] { st.create_file("a/b/c.bin"); }) == Status::io);   // O_EXCL
    fs::create_directory_symlink(base, tmp / "link");
    CHECK(status_of([&] { st.create_file("link/x"); }) == Status::io);
    CHECK_FALSE(fs::exists(base / "x"));
  }
  CHECK_FALSE(fs::exists(tmp));
  CHECK_FALSE(fs::exists(dest));
  {
    Staging st(dest, false, check);
    st.create_file("model.sig");
    st.commit();
  }
  CHECK(fs::exists(dest / "model.sig"));
  CHECK(status_of([&] { Staging st(dest, false, check); }) == Status::usage);
  fs::create_directory(base / "home");
  std::ofstream(base / "home" / "notes.txt") << "mine";
  CHECK(status_of([&] { Staging st(base / "home", true, check); }) == Status::usage);
  CHECK(asked == 0);   // no model.sig: refused before the caller is asked
  accept = false;
  CHECK(status_of([&] { Staging st(dest, true, check); }) == Status::usage);
  CHECK(asked == 1);
  CHECK(fs::exists(dest / "model.sig"));
  accept = true;
  {
    Staging st(dest, true, check);   // replaces a model directory the caller accepts
    st.create_file("new.bin");
    st.commit();
  }
  CHECK(fs::exists(dest / "new.bin"));
  CHECK_FALSE(fs::exists(dest / "model.sig"));
  CHECK(fs::directory_iterator(base) != fs::directory_iterator());
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(base)) entries += e.path().filename().string()[0] == '.';
  CHECK(entries == 0);   // no temporary directory left behind
  fs::remove_all(base);
}

// The C2SP age testkit (../shared/vectors/age/testkit): every vector without post-quantum
// recipients gives its expected result, through both the streaming and the random-access decryptor,
// and only authenticated plaintext is ever released.
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "modelseal/age.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/hash.hpp"

namespace fs = std::filesystem;
using namespace modelseal;
using namespace modelseal::age;

namespace {

fs::path testkit_dir() {
  const char* s = std::getenv("MODELSEAL_SHARED");
  return fs::path(s ? s : "../shared") / "vectors" / "age" / "testkit";
}

std::string inflate_all(std::string_view in) {
  z_stream z{};
  REQUIRE(inflateInit(&z) == Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc != Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

struct Vector {
  std::string name, expect, payload;
  std::vector<std::string> identities, passphrases;
  bool armored = false;
  std::string file;
};

Vector load(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Vector v;
  v.name = p.filename().string();
  size_t pos = 0;
  bool compressed = false;
  for (;;) {
    size_t nl = all.find('\n', pos);
    std::string line = all.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) break;
    size_t c = line.find(": ");
    std::string key = line.substr(0, c), val = line.substr(c + 2);
    if (key == "expect") v.expect = val;
    else if (key == "payload") v.payload = val;
    else if (key == "identity") v.identities.push_back(val);
    else if (key == "passphrase") v.passphrases.push_back(val);
    else if (key == "armored") v.armored = val == "yes";
    else if (key == "compressed") compressed = val == "zlib";
  }
  v.file = all.substr(pos);
  if (compressed) v.file = inflate_all(v.file);
  return v;
}

std::string expected_class(const std::string& expect) {
  return expect == "success" ? "success" : expect;
}

std::string hex_sha(const std::string& s) { return digest_hex(sha256(s)); }

}  // namespace

TEST_CASE("age testkit: every non-post-quantum vector") {
  REQUIRE(fs::is_directory(testkit_dir()));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(testkit_dir())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int run = 0, skipped = 0;
  for (const auto& p : files) {
    Vector v = load(p);
    bool pq = v.name.find("hybrid") != std::string::npos;
    for (const auto& i : v.identities) pq |= i.starts_with("AGE-SECRET-KEY-PQ-");
    if (pq) {
      ++skipped;
      continue;
    }
    ++run;
    CAPTURE(v.name);
    std::vector<Identity> ids;
    for (const auto& i : v.identities) ids.push_back(Identity::parse(i));
    for (const auto& pw : v.passphrases) ids.push_back(Identity::passphrase(SecretBytes(pw.data(), pw.size())));

    // Streaming: chunk by chunk, as each is authenticated.
    std::string released;
    std::string got = "success";
    try {
      decrypt_buffer(v.file, ids, [&](std::span<const uint8_t> b) { released.append(reinterpret_cast<const char*>(b.data()), b.size()); },
                     v.name);
    } catch (const AgeError& e) {
      got = std::string(failure_name(e.failure()));
    }
    CHECK(got == expected_class(v.expect));
    if (!v.payload.empty()) CHECK(hex_sha(released) == v.payload);
    else CHECK(released.empty());

    // Random access over a descriptor: the header and the final chunk are authenticated by open().
    int fd = ::memfd_create("vector", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, v.file.data(), v.file.size()) == static_cast<ssize_t>(v.file.size()));
    std::string ra;
    std::string got_ra = "success";
    try {
      Decryptor d = Decryptor::open(fd, ids, v.name);
      std::vector<uint8_t> whole(d.size(), 0xAA);
      try {
        d.read(0, whole, 2);
      } catch (const AgeError&) {
        CHECK(std::all_of(whole.begin(), whole.end(), [](uint8_t b) { return b == 0; }));
        throw;
      }
      d.stream(0, d.size(), [&](std::span<const uint8_t> b) { ra.append(reinterpret_cast<const char*>(b.data()), b.size()); }, 2);
      CHECK(std::string(whole.begin(), whole.end()) == ra);
    } catch (const AgeError& e) {
      got_ra = std::string(failure_name(e.failure()));
    }
    ::close(fd);
    CHECK(got_ra == expected_class(v.expect));
    if (got_ra == "success") CHECK(hex_sha(ra) == v.payload);
    else CHECK(released.compare(0, ra.size(), ra) == 0);   // never more than what authenticates
  }
  MESSAGE("testkit: " << run << " vectors run, " << skipped << " post-quantum vectors skipped");
  CHECK(run >= 120);
}

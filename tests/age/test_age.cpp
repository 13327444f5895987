// age round trips, keys and tamper cases.
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/age/internal.hpp"
#include "modelseal/age.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;
using namespace modelseal;
using namespace modelseal::age;

namespace {

std::string encrypt_string(std::string_view plain, const std::vector<Recipient>& rs, bool armor = false) {
  std::string out;
  Encryptor enc(rs, [&](std::span<const uint8_t> b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); }, armor);
  // Odd-sized pieces, so chunk boundaries fall inside writes.
  for (size_t i = 0; i < plain.size(); i += 10007) {
    auto piece = plain.substr(i, 10007);
    enc.write({reinterpret_cast<const uint8_t*>(piece.data()), piece.size()});
  }
  enc.finish();
  return out;
}

std::string stream_decrypt(std::string_view file, const std::vector<Identity>& ids, std::string* released = nullptr) {
  std::string out;
  try {
    decrypt_buffer(file, ids, [&](std::span<const uint8_t> b) { out.append(reinterpret_cast<const char*>(b.data()), b.size()); }, "test");
  } catch (...) {
    if (released) *released = out;
    throw;
  }
  return out;
}

UniqueFd memfile(std::string_view data) {
  UniqueFd fd(::memfd_create("t", MFD_CLOEXEC));
  REQUIRE(::write(fd.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  return fd;
}

std::string pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

Failure failure_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const AgeError& e) {
    return e.failure();
  }
  FAIL("no AgeError");
  return Failure::identity;
}

// Header size of an age file.
size_t header_size(const std::string& f) { return detail::header_end(f); }

}  // namespace

TEST_CASE("bech32 keys: the spec's example pair, strict decoding") {
  Identity id = Identity::parse("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX");
  CHECK(id.recipient().to_string() == "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj");
  CHECK(id.encode().view() == "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX");
  CHECK_THROWS_AS(Identity::parse("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEY"), AgeError);
  CHECK_THROWS_AS(Identity::parse("AGE-SECRET-KEY-1gFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"), AgeError);
  CHECK_THROWS_AS(Identity::parse("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"), AgeError);
  CHECK_THROWS_AS(Recipient::parse("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwk"), AgeError);
  CHECK_THROWS_AS(Recipient::parse("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"), AgeError);
  Identity fresh = Identity::generate();
  CHECK(Identity::parse(fresh.encode().view()).recipient().to_string() == fresh.recipient().to_string());
}

TEST_CASE("identity files: age-keygen's layout, refused when group or world readable") {
  fs::path dir = fs::temp_directory_path() / ("age-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Identity id = Identity::generate();
  fs::path p = dir / "key.txt";
  write_file_atomic(p, id.keygen_file().view(), 0600);
  std::ifstream in(p);
  std::string first;
  std::getline(in, first);
  CHECK(first.starts_with("# created: "));
  auto ids = load_identities(p);
  REQUIRE(ids.size() == 1);
  CHECK(ids[0].recipient().to_string() == id.recipient().to_string());
  ::chmod(p.c_str(), 0644);
  CHECK_THROWS_AS(load_identities(p), Error);
  ::chmod(p.c_str(), 0640);
  CHECK_THROWS_AS(load_identities(p), Error);
  write_file_atomic(dir / "bad.txt", "# nothing\nAGE-SECRET-KEY-1XYZ\n", 0600);
  CHECK_THROWS_AS(load_identities(dir / "bad.txt"), AgeError);
  write_file_atomic(dir / "r.txt", "# team\n" + id.recipient().to_string() + "\n\n" + Identity::generate().recipient().to_string() + "\n");
  CHECK(load_recipients(dir / "r.txt").size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("round trips: sizes around the chunk size, X25519, several recipients, scrypt, armor") {
  Identity a = Identity::generate(), b = Identity::generate(), other = Identity::generate();
  for (size_t n : {size_t{0}, size_t{1}, kChunkSize - 1, kChunkSize, kChunkSize + 1, 3 * kChunkSize, 3 * kChunkSize + 7}) {
    CAPTURE(n);
    std::string plain = pattern(n, static_cast<unsigned>(n));
    std::string file = encrypt_string(plain, {a.recipient(), b.recipient()});
    CHECK(file.size() == header_size(file) + kNonceSize + plain.size() + kTagSize * std::max<size_t>(1, (n + kChunkSize - 1) / kChunkSize));
    CHECK(stream_decrypt(file, {b}) == plain);
    CHECK(failure_of([&] { stream_decrypt(file, {other}); }) == Failure::no_match);
    UniqueFd fd = memfile(file);
    Decryptor d = Decryptor::open(fd.get(), {other, a}, "t");
    CHECK(d.size() == n);
    std::string back(n, '\0');
    d.read(0, {reinterpret_cast<uint8_t*>(back.data()), n}, 3);
    CHECK(back == plain);
    if (n > 10) {   // a range across a chunk boundary
      uint64_t off = n > kChunkSize ? kChunkSize - 5 : 3;
      std::string part(std::min<size_t>(n - off, 100), '\0');
      d.read(off, {reinterpret_cast<uint8_t*>(part.data()), part.size()});
      CHECK(part == plain.substr(off, part.size()));
      std::string streamed;
      d.stream(off, n - off, [&](std::span<const uint8_t> s) { streamed.append(reinterpret_cast<const char*>(s.data()), s.size()); }, 2);
      CHECK(streamed == plain.substr(off));
    }
    CHECK_THROWS_AS(d.read(n, {reinterpret_cast<uint8_t*>(back.data()), 1}), Error);
  }
  std::string plain = pattern(200000);
  std::string armored = encrypt_string(plain, {a.recipient()}, true);
  CHECK(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
  CHECK(armored.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
  CHECK(stream_decrypt(armored, {a}) == plain);
  UniqueFd fd = memfile(armored);
  CHECK(Decryptor::open(fd.get(), {a}, "t").size() == plain.size());

  std::string pw = "correct horse battery staple";
  std::string sfile = encrypt_string(plain, {Recipient::passphrase(SecretBytes(pw.data(), pw.size()), 10)});
  CHECK(sfile.find("-> scrypt ") != std::string::npos);
  CHECK(stream_decrypt(sfile, {Identity::passphrase(SecretBytes(pw.data(), pw.size()))}) == plain);
  CHECK(failure_of([&] { stream_decrypt(sfile, {Identity::passphrase(SecretBytes("wrong", 5))}); }) == Failure::no_match);
  CHECK(failure_of([&] { stream_decrypt(sfile, {Identity::passphrase(SecretBytes(pw.data(), pw.size()), 9)}); }) == Failure::header);
  CHECK_THROWS_AS(encrypt_string("x", {Recipient::passphrase(SecretBytes("p", 1), 10), a.recipient()}), Error);
}

TEST_CASE("tamper: any flipped byte, truncation, a final chunk marked non-final, swapped chunks") {
  Identity id = Identity::generate();
  std::string plain = pattern(3 * kChunkSize + 100);
  std::string file = encrypt_string(plain, {id.recipient()});
  const size_t hs = header_size(file);
  auto refused = [&](const std::string& f) {
    std::string released;
    Failure streamed = Failure::identity;
    try {
      stream_decrypt(f, {id}, &released);
      FAIL("tampered file decrypted");
    } catch (const AgeError& e) {
      streamed = e.failure();
    }
    CHECK(plain.compare(0, released.size(), released) == 0);   // only authentic chunks came out
    UniqueFd fd = memfile(f);
    Failure ra = failure_of([&] {
      Decryptor d = Decryptor::open(fd.get(), {id}, "t");
      std::vector<uint8_t> all(d.size());
      d.read(0, all);
    });
    return std::make_pair(streamed, ra);
  };
  // Header: the version line, the stanza's argument and body, the MAC.
  size_t stanza = file.find("-> X25519 ") + 12, body = file.find('\n', stanza) + 5, mac = file.find("--- ") + 10;
  for (size_t pos : {size_t{3}, stanza, body}) {
    std::string f = file;
    f[pos] = static_cast<char>(f[pos] == 'A' ? 'B' : 'A');
    CAPTURE(pos);
    auto r = refused(f);
    CHECK(r.first != Failure::payload);
    CHECK(r.first == r.second);
  }
  {
    std::string f = file;
    f[mac] = static_cast<char>(f[mac] == 'A' ? 'B' : 'A');
    CHECK(refused(f) == std::make_pair(Failure::hmac, Failure::hmac));
  }
  // The nonce and every chunk (first byte, a middle byte, the tag).
  for (size_t pos : {hs, hs + kNonceSize, hs + kNonceSize + kChunkSize + kTagSize + 1000, file.size() - 1}) {
    std::string f = file;
    f[pos] ^= 1;
    CAPTURE(pos);
    CHECK(refused(f) == std::make_pair(Failure::payload, Failure::payload));
  }
  // Truncated: inside the last chunk, at a chunk boundary, inside the header.
  for (size_t len : {file.size() - 1, hs + kNonceSize + 2 * (kChunkSize + kTagSize), hs + kNonceSize, hs - 5}) {
    CAPTURE(len);
    auto r = refused(file.substr(0, len));
    CHECK(r.first == r.second);
  }
  // Appended data.
  CHECK(refused(file + "x").first == Failure::payload);

  // A file whose last chunk is sealed as non-final (built with the file key, as an attacker who
  // holds it could): refused.
  {
    SecretBytes fk(16);
    std::fill(fk.data(), fk.data() + 16, 7);
    std::string f = detail::encode_header(detail::wrap_file_key(fk, {id.recipient()}), fk);
    std::string nonce(kNonceSize, 'n');
    f += nonce;
    SecretBytes key = detail::payload_key(fk, detail::bytes_of(nonce));
    std::string sealed(100 + kTagSize, '\0');
    auto n = detail::chunk_nonce(0, false);
    detail::aead_seal(key.data(), n.data(), detail::bytes_of(std::string(100, 'p')), reinterpret_cast<uint8_t*>(sealed.data()));
    CHECK(refused(f + sealed) == std::make_pair(Failure::payload, Failure::payload));
    n = detail::chunk_nonce(0, true);
    detail::aead_seal(key.data(), n.data(), detail::bytes_of(std::string(100, 'p')), reinterpret_cast<uint8_t*>(sealed.data()));
    CHECK(stream_decrypt(f + sealed, {id}) == std::string(100, 'p'));
  }
  // Chunk 1 of another file encrypted to the same recipient.
  {
    std::string other = encrypt_string(plain, {id.recipient()});
    const size_t ho = header_size(other);
    std::string f = file;
    size_t c1 = hs + kNonceSize + kChunkSize + kTagSize, o1 = ho + kNonceSize + kChunkSize + kTagSize;
    f.replace(c1, kChunkSize + kTagSize, other.substr(o1, kChunkSize + kTagSize));
    CHECK(refused(f) == std::make_pair(Failure::payload, Failure::payload));
    // And chunks 0 and 1 of one file swapped.
    std::string g = file;
    size_t c0 = hs + kNonceSize;
    std::string a = g.substr(c0, kChunkSize + kTagSize), b = g.substr(c1, kChunkSize + kTagSize);
    g.replace(c0, a.size(), b);
    g.replace(c1, b.size(), a);
    CHECK(refused(g) == std::make_pair(Failure::payload, Failure::payload));
  }
}

TEST_CASE("header parser: canonical round trip and bounds") {
  Identity id = Identity::generate();
  std::string file = encrypt_string("hello", {id.recipient(), Identity::generate().recipient()});
  std::string text = file.substr(0, header_size(file));
  detail::Header h = detail::parse_header(text);
  CHECK(h.stanzas.size() == 2);
  CHECK(h.size == text.size());
  CHECK_THROWS_AS(detail::parse_header(text + "x"), AgeError);
  std::string huge = "age-encryption.org/v1\n-> grease\n" + std::string(kMaxHeaderSize, 'A');
  CHECK_THROWS_AS(detail::header_end(huge), AgeError);
}

TEST_CASE("sealed memfd: the plaintext, sealed; an observer that throws abandons it") {
  Identity id = Identity::generate();
  std::string plain = pattern(5 * kChunkSize + 3);
  UniqueFd file = memfile(encrypt_string(plain, {id.recipient()}));
  Decryptor d = Decryptor::open(file.get(), {id}, "dir/weights.bin.age");
  uint64_t seen = 0;
  UniqueFd mem = decrypt_to_sealed_memfd(d, [&](std::span<const uint8_t> b) { seen += b.size(); }, "dir/weights.bin");
  CHECK(seen == plain.size());
  std::string back(plain.size(), '\0');
  REQUIRE(::pread(mem.get(), back.data(), back.size(), 0) == static_cast<ssize_t>(back.size()));
  CHECK(back == plain);
  int seals = ::fcntl(mem.get(), F_GET_SEALS);
  CHECK((seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
  CHECK(::pwrite(mem.get(), "x", 1, 0) == -1);
  CHECK(::ftruncate(mem.get(), 1) == -1);
  CHECK_THROWS_AS(decrypt_to_sealed_memfd(d, [](std::span<const uint8_t>) { throw untrusted("digest mismatch"); }, "w"), Error);
}

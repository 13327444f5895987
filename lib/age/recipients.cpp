// X25519 and scrypt recipients and identities: encodings, key files, wrapping the file key.
#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.hpp"
#include "modelseal/encoding.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/policy.hpp"
#include "modelseal/files.hpp"

namespace fs = std::filesystem;

namespace modelseal::age {

using namespace detail;

namespace {

constexpr std::string_view kX25519Label = "age-encryption.org/v1/X25519";
constexpr std::string_view kScryptLabel = "age-encryption.org/v1/scrypt";
constexpr uint8_t kZeroNonce[12] = {};

void ensure_sodium() {
  if (sodium_init() < 0) throw io_error("libsodium cannot be initialised");
}

// The lines of `text`, without their LF or a trailing CR and spaces; empty and `#` lines dropped.
template <class F>
void for_each_entry(std::string_view text, F&& f) {
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    f(line, line_no);
  }
}

bool decimal_log2n(std::string_view s, int& out) {
  if (s.empty() || s.size() > 2 || s[0] < '1' || s[0] > '9') return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// A recognised stanza with the wrong shape is a header failure (spec: "MUST reject").
struct X25519Stanza { uint8_t share[32]; };
struct ScryptStanza { std::string salt; int log2n = 0; };

X25519Stanza check_x25519(const Stanza& s) {
  if (s.args.size() != 2) throw AgeError(Failure::header, "malformed age header: X25519 stanza has " +
                                                              std::to_string(s.args.size() - 1) + " arguments");
  auto share = b64_raw_decode(s.args[1]);
  if (!share || share->size() != 32) throw AgeError(Failure::header, "malformed age header: bad X25519 share");
  if (s.body.size() != 32) throw AgeError(Failure::header, "malformed age header: X25519 body is not 32 bytes");
  X25519Stanza x;
  std::copy(share->begin(), share->end(), x.share);
  return x;
}

ScryptStanza check_scrypt(const Stanza& s) {
  if (s.args.size() != 3) throw AgeError(Failure::header, "malformed age header: scrypt stanza has " +
                                                              std::to_string(s.args.size() - 1) + " arguments");
  auto salt = b64_raw_decode(s.args[1]);
  if (!salt || salt->size() != 16) throw AgeError(Failure::header, "malformed age header: bad scrypt salt");
  ScryptStanza out;
  if (!decimal_log2n(s.args[2], out.log2n)) throw AgeError(Failure::header, "malformed age header: bad scrypt work factor");
  if (s.body.size() != 32) throw AgeError(Failure::header, "malformed age header: scrypt body is not 32 bytes");
  out.salt = std::move(*salt);
  return out;
}

}  // namespace

std::string_view failure_name(Failure f) {
  switch (f) {
    case Failure::header: return "header failure";
    case Failure::hmac: return "HMAC failure";
    case Failure::payload: return "payload failure";
    case Failure::armor: return "armor failure";
    case Failure::no_match: return "no match";
    case Failure::identity: return "bad identity";
  }
  return "?";
}

namespace {
SecretBytes copy_secret(const SecretBytes& s) { return s.empty() ? SecretBytes() : SecretBytes(s.data(), s.size()); }
}  // namespace

Recipient::Recipient(const Recipient& o) : text_(o.text_), pass_(copy_secret(o.pass_)), log2n_(o.log2n_) {
  std::copy(o.pub_, o.pub_ + 32, pub_);
}

Recipient& Recipient::operator=(const Recipient& o) {
  if (this != &o) *this = Recipient(o);
  return *this;
}

Identity::Identity(const Identity& o) : sk_(copy_secret(o.sk_)), pass_(copy_secret(o.pass_)), max_log2n_(o.max_log2n_) {}

Identity& Identity::operator=(const Identity& o) {
  if (this != &o) *this = Identity(o);
  return *this;
}

Recipient Recipient::parse(std::string_view text) {
  std::string hrp;
  SecretBytes data;
  if (!bech32_decode(text, hrp, data) || hrp != "age" || data.size() != 32)
    throw AgeError(Failure::identity, "not an age X25519 recipient (age1...): " + printable(text.substr(0, 80)));
  Recipient r;
  std::copy(data.data(), data.data() + 32, r.pub_);
  r.text_ = bech32_encode("age", {r.pub_, 32});
  return r;
}

Recipient Recipient::passphrase(SecretBytes pass, int log2n) {
  if (pass.empty()) throw usage_error("empty passphrase");
  if (log2n < 1 || log2n > kMaxScryptLog2N) throw usage_error("scrypt work factor out of range");
  Recipient r;
  r.pass_ = std::move(pass);
  r.log2n_ = log2n;
  return r;
}

std::vector<Recipient> load_recipients(const fs::path& file) {
  std::string text = read_file_limited(file, 1 << 20, "recipients file");
  std::vector<Recipient> out;
  for_each_entry(text, [&](std::string_view line, size_t n) {
    try {
      out.push_back(Recipient::parse(line));
    } catch (const AgeError&) {
      throw AgeError(Failure::identity, "malformed recipient on line " + std::to_string(n) + ": " + file.string());
    }
  });
  if (out.empty()) throw usage_error("no recipient in " + file.string());
  return out;
}

Identity Identity::generate() {
  ensure_sodium();
  Identity id;
  id.sk_ = SecretBytes(32);
  randombytes_buf(id.sk_.data(), 32);
  return id;
}

Identity Identity::parse(std::string_view text) {
  std::string hrp;
  SecretBytes data;
  if (!bech32_decode(text, hrp, data) || hrp != "age-secret-key-" || data.size() != 32)
    throw AgeError(Failure::identity, "not an age X25519 identity (AGE-SECRET-KEY-1...)");
  Identity id;
  id.sk_ = std::move(data);
  return id;
}

Identity Identity::passphrase(SecretBytes pass, int max_log2n) {
  if (pass.empty()) throw usage_error("empty passphrase");
  Identity id;
  id.pass_ = std::move(pass);
  id.max_log2n_ = max_log2n;
  return id;
}

Recipient Identity::recipient() const {
  if (sk_.empty()) throw usage_error("a passphrase has no recipient");
  ensure_sodium();
  uint8_t pub[32];
  crypto_scalarmult_base(pub, sk_.data());
  return Recipient::parse(bech32_encode("age", {pub, 32}));
}

SecretBytes Identity::encode() const {
  if (sk_.empty()) throw usage_error("a passphrase has no identity encoding");
  std::string s = bech32_encode("age-secret-key-", {sk_.data(), sk_.size()});
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  SecretBytes out(s.data(), s.size());
  sodium_memzero(s.data(), s.size());
  return out;
}

SecretBytes Identity::keygen_file() const {
  SecretBytes key = encode();
  std::string head = "# created: " + format_rfc3339(std::time(nullptr)) + "\n# public key: " + recipient().to_string() + "\n";
  SecretBytes out(head.size() + key.size() + 1);
  std::copy(head.begin(), head.end(), out.data());
  std::copy(key.data(), key.data() + key.size(), out.data() + head.size());
  out.data()[out.size() - 1] = '\n';
  return out;
}

std::vector<Identity> parse_identities(std::string_view text, const std::string& what) {
  std::vector<Identity> out;
  for_each_entry(text, [&](std::string_view line, size_t n) {
    try {
      out.push_back(Identity::parse(line));
    } catch (const AgeError&) {
      throw AgeError(Failure::identity, "malformed age identity on line " + std::to_string(n) + ": " + what,
                     "an identity file holds AGE-SECRET-KEY-1... lines, as age-keygen writes them");
    }
  });
  if (out.empty()) throw AgeError(Failure::identity, "no age identity in " + what);
  return out;
}

std::vector<Identity> load_identities(const fs::path& file) {
  SecretBytes text = read_secret_file(file, "identity file");
  return parse_identities(text.view(), file.string());
}

namespace detail {

SecretBytes unwrap_file_key(const Header& h, std::string_view header_text, const std::vector<Identity>& ids) {
  ensure_sodium();
  bool scrypt_seen = false;
  for (const auto& s : h.stanzas) {
    if (s.args[0] == "X25519") check_x25519(s);
    if (s.args[0] == "scrypt") {
      check_scrypt(s);
      scrypt_seen = true;
    }
  }
  if (scrypt_seen && h.stanzas.size() != 1)
    throw AgeError(Failure::header, "malformed age header: an scrypt stanza must be alone");
  SecretBytes file_key;
  for (const auto& s : h.stanzas) {
    if (s.args[0] == "X25519") {
      X25519Stanza x = check_x25519(s);
      for (const auto& id : ids) {
        if (id.is_passphrase()) continue;
        SecretBytes shared(32);
        if (crypto_scalarmult(shared.data(), id.secret().data(), x.share) != 0)
          throw AgeError(Failure::header, "malformed age header: X25519 share is a low-order point");
        uint8_t salt[64];
        std::copy(x.share, x.share + 32, salt);
        crypto_scalarmult_base(salt + 32, id.secret().data());
        SecretBytes key = hkdf({shared.data(), 32}, {salt, 64}, kX25519Label);
        SecretBytes fk(16);
        if (aead_open(key.data(), kZeroNonce, bytes_of(s.body), fk.data())) {
          file_key = std::move(fk);
          break;
        }
      }
    } else if (s.args[0] == "scrypt") {
      ScryptStanza sc = check_scrypt(s);
      for (const auto& id : ids) {
        if (!id.is_passphrase()) continue;
        if (sc.log2n > id.max_log2n())
          throw AgeError(Failure::header, "age scrypt work factor 2^" + std::to_string(sc.log2n) + " is above the limit 2^" +
                                              std::to_string(id.max_log2n()));
        std::string salt = std::string(kScryptLabel) + sc.salt;
        const SecretBytes& p = id.secret_passphrase();
        SecretBytes key = scrypt({p.data(), p.size()}, bytes_of(salt), sc.log2n);
        SecretBytes fk(16);
        if (aead_open(key.data(), kZeroNonce, bytes_of(s.body), fk.data())) {
          file_key = std::move(fk);
          break;
        }
      }
    }
    if (!file_key.empty()) break;
  }
  if (file_key.empty())
    throw AgeError(Failure::no_match, "no identity matches any recipient of the file",
                   "it was encrypted to other recipients; pass the right -i/--identity");
  SecretBytes mac_key = hkdf({file_key.data(), file_key.size()}, {}, "header");
  auto mac = hmac_sha256({mac_key.data(), mac_key.size()}, bytes_of(header_text.substr(0, h.mac_input_len)));
  if (sodium_memcmp(mac.data(), h.mac.data(), 32) != 0) throw AgeError(Failure::hmac, "age header MAC does not match");
  return file_key;
}

std::vector<Stanza> wrap_file_key(const SecretBytes& file_key, const std::vector<Recipient>& recipients) {
  ensure_sodium();
  if (recipients.empty()) throw usage_error("no recipient given", "use -r age1..., -R FILE or --passphrase");
  std::vector<Stanza> out;
  for (const auto& r : recipients) {
    if (r.is_passphrase() && recipients.size() != 1)
      throw usage_error("a passphrase cannot be combined with other recipients");
    Stanza s;
    std::string body(32, '\0');
    auto* b = reinterpret_cast<uint8_t*>(body.data());
    if (r.is_passphrase()) {
      uint8_t salt[16];
      randombytes_buf(salt, sizeof salt);
      std::string full = std::string(kScryptLabel) + std::string(reinterpret_cast<char*>(salt), sizeof salt);
      const SecretBytes& p = r.secret_passphrase();
      SecretBytes key = scrypt({p.data(), p.size()}, bytes_of(full), r.log2n());
      aead_seal(key.data(), kZeroNonce, {file_key.data(), file_key.size()}, b);
      s.args = {"scrypt", b64_raw_encode({salt, 16}), std::to_string(r.log2n())};
    } else {
      SecretBytes eph(32), shared(32);
      randombytes_buf(eph.data(), 32);
      uint8_t salt[64];
      crypto_scalarmult_base(salt, eph.data());
      std::copy(r.x25519(), r.x25519() + 32, salt + 32);
      if (crypto_scalarmult(shared.data(), eph.data(), r.x25519()) != 0)
        throw AgeError(Failure::identity, "age recipient is a low-order point: " + r.to_string());
      SecretBytes key = hkdf({shared.data(), 32}, {salt, 64}, kX25519Label);
      aead_seal(key.data(), kZeroNonce, {file_key.data(), file_key.size()}, b);
      s.args = {"X25519", b64_raw_encode({salt, 32})};
    }
    s.body = std::move(body);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace detail

}  // namespace modelseal::age

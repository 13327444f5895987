// Unpadded canonical base64 and Bech32, as age encodes stanzas and keys.
#include <cstring>
#include <sodium.h>

#include "internal.hpp"

namespace modelseal::age::detail {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

constexpr char kBech32[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

uint32_t polymod(const std::vector<uint8_t>& v) {
  static const uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  uint32_t chk = 1;
  for (uint8_t x : v) {
    uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ x;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= gen[i];
  }
  return chk;
}

std::vector<uint8_t> hrp_expand(std::string_view hrp) {
  std::vector<uint8_t> v;
  for (char c : hrp) v.push_back(static_cast<uint8_t>(static_cast<unsigned char>(c) >> 5));
  v.push_back(0);
  for (char c : hrp) v.push_back(static_cast<uint8_t>(c & 31));
  return v;
}

// A vector whose contents are wiped when it goes away (the 5-bit groups of a secret key).
struct WipedVector : std::vector<uint8_t> {
  ~WipedVector() {
    if (!empty()) sodium_memzero(data(), size());
  }
};

}  // namespace

std::string b64_raw_encode(Bytes d) {
  std::string out;
  out.reserve((d.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= d.size(); i += 3) {
    uint32_t v = (uint32_t{d[i]} << 16) | (uint32_t{d[i + 1]} << 8) | d[i + 2];
    for (int s = 18; s >= 0; s -= 6) out.push_back(kB64[(v >> s) & 63]);
  }
  size_t rest = d.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{d[i]} << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint32_t{d[i]} << 16) | (uint32_t{d[i + 1]} << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> b64_raw_decode(std::string_view t) {
  if (t.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(t.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : t) {
    int v = b64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;   // not canonical
  return out;
}

std::string bech32_encode(std::string_view hrp, Bytes data) {
  // Reserved up front: no reallocation leaves a stray copy of a secret key's groups behind.
  std::vector<uint8_t> five;
  five.reserve(data.size() * 8 / 5 + 1);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      five.push_back(static_cast<uint8_t>((acc >> bits) & 31));
    }
  }
  if (bits > 0) five.push_back(static_cast<uint8_t>((acc << (5 - bits)) & 31));
  std::vector<uint8_t> v = hrp_expand(hrp);
  v.reserve(v.size() + five.size() + 6);
  v.insert(v.end(), five.begin(), five.end());
  v.insert(v.end(), 6, 0);
  uint32_t mod = polymod(v) ^ 1;
  std::string out;
  out.reserve(hrp.size() + 1 + five.size() + 6);
  out += hrp;
  out.push_back('1');
  for (uint8_t x : five) out.push_back(kBech32[x]);
  for (int i = 0; i < 6; ++i) out.push_back(kBech32[(mod >> (5 * (5 - i))) & 31]);
  sodium_memzero(v.data(), v.size());
  sodium_memzero(five.data(), five.size());
  return out;
}

bool bech32_decode(std::string_view s, std::string& hrp, SecretBytes& out) {
  bool lower = false, upper = false;
  for (char c : s) {
    if (c < 33 || c > 126) return false;
    lower |= c >= 'a' && c <= 'z';
    upper |= c >= 'A' && c <= 'Z';
  }
  if (lower && upper) return false;
  size_t pos = s.rfind('1');
  if (pos == std::string_view::npos || pos == 0 || pos + 7 > s.size()) return false;
  hrp.clear();
  for (char c : s.substr(0, pos)) hrp.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  WipedVector v;
  v.reserve(hrp.size() * 2 + 1 + s.size());
  for (uint8_t x : hrp_expand(hrp)) v.push_back(x);
  size_t data_start = v.size();
  for (char c : s.substr(pos + 1)) {
    char l = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    const char* p = std::strchr(kBech32, l);
    if (!p || l == '\0') return false;
    v.push_back(static_cast<uint8_t>(p - kBech32));
  }
  if (polymod(v) != 1) return false;
  size_t n5 = v.size() - data_start - 6;
  SecretBytes bytes(n5 * 5 / 8);
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n5; ++i) {
    acc = ((acc << 5) | v[data_start + i]) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.data()[n++] = static_cast<uint8_t>((acc >> bits) & 0xff);
    }
  }
  bool ok = bits < 5 && (acc & ((1u << bits) - 1)) == 0;   // strict padding
  acc = 0;
  if (!ok) return false;
  bytes.resize_down(n);
  out = std::move(bytes);
  return true;
}

}  // namespace modelseal::age::detail

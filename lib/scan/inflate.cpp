// Raw DEFLATE (RFC 1951) decoding for zip members, bounded in output, and CRC-32.
// Canonical Huffman codes are decoded one bit at a time: simple, and fast enough for the
// configs and pickles that are worth decompressing.
#include <array>
#include <string>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr int kMaxBits = 15;

struct Huffman {
  std::array<uint16_t, kMaxBits + 1> count{};
  std::array<uint16_t, 288> symbol{};
};

constexpr uint16_t kLenBase[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27,
                                   31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLenExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                   2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
                                    6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
constexpr uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

[[noreturn]] void bad(const std::string& why) { throw untrusted("deflate: " + why); }

struct OutputFull {};

class Inflater {
 public:
  Inflater(const Source& src, uint64_t off, uint64_t len, uint64_t max_out)
      : in_(src, off), end_(off + len), max_out_(max_out) {}

  std::string run(bool* truncated) {
    *truncated = false;
    try {
      bool last = false;
      while (!last) {
        last = bits(1);
        switch (bits(2)) {
          case 0: stored(); break;
          case 1: fixed(); break;
          case 2: dynamic(); break;
          default: bad("invalid block type");
        }
      }
    } catch (const OutputFull&) {
      *truncated = true;
    }
    return std::move(out_);
  }

 private:
  uint32_t bits(int n) {
    while (count_ < n) {
      if (in_.pos() >= end_) bad("compressed data ends early");
      buf_ |= static_cast<uint32_t>(in_.byte()) << count_;
      count_ += 8;
    }
    uint32_t v = buf_ & ((1u << n) - 1);
    buf_ >>= n;
    count_ -= n;
    return v;
  }
  void emit(char c) {
    if (out_.size() >= max_out_) throw OutputFull{};
    out_.push_back(c);
  }
  void stored() {
    buf_ = 0;
    count_ = 0;
    if (end_ - in_.pos() < 4) bad("stored block header past the end");
    uint32_t len = static_cast<uint32_t>(in_.le(2));
    uint32_t nlen = static_cast<uint32_t>(in_.le(2));
    if ((len ^ 0xFFFF) != nlen) bad("stored block length check fails");
    if (len > end_ - in_.pos()) bad("stored block past the end");
    for (uint32_t i = 0; i < len; ++i) emit(static_cast<char>(in_.byte()));
  }
  // Builds a canonical code; an over-subscribed set, or an incomplete one with more than
  // one code (except the fixed distance code), is rejected.
  static void build(Huffman& h, const uint8_t* lengths, int n, bool fixed_code = false) {
    h.count.fill(0);
    for (int i = 0; i < n; ++i) ++h.count[lengths[i]];
    if (h.count[0] == n) return;  // no codes: any use of it is an error in decode
    int left = 1;
    for (int len = 1; len <= kMaxBits; ++len) {
      left = left * 2 - h.count[len];
      if (left < 0) bad("over-subscribed code");
    }
    std::array<uint16_t, kMaxBits + 1> offs{};
    for (int len = 1; len < kMaxBits; ++len) offs[len + 1] = offs[len] + h.count[len];
    for (int i = 0; i < n; ++i) {
      if (lengths[i]) h.symbol[offs[lengths[i]]++] = static_cast<uint16_t>(i);
    }
    if (left > 0 && !fixed_code && n - h.count[0] > 1) bad("incomplete code");
  }
  int decode(const Huffman& h) {
    int code = 0, first = 0, index = 0;
    for (int len = 1; len <= kMaxBits; ++len) {
      code |= static_cast<int>(bits(1));
      int c = h.count[len];
      if (code - c < first) return h.symbol[index + (code - first)];
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    bad("invalid Huffman code");
  }
  void codes(const Huffman& lit, const Huffman& dist) {
    for (;;) {
      int sym = decode(lit);
      if (sym < 256) {
        emit(static_cast<char>(sym));
        continue;
      }
      if (sym == 256) return;
      sym -= 257;
      if (sym >= 29) bad("invalid length symbol");
      uint32_t len = kLenBase[sym] + bits(kLenExtra[sym]);
      int dsym = decode(dist);
      if (dsym >= 30) bad("invalid distance symbol");
      uint32_t d = kDistBase[dsym] + bits(kDistExtra[dsym]);
      if (d > out_.size()) bad("distance before the start of the data");
      for (uint32_t i = 0; i < len; ++i) emit(out_[out_.size() - d]);
    }
  }
  void fixed() {
    uint8_t lengths[288 + 30];
    for (int i = 0; i < 144; ++i) lengths[i] = 8;
    for (int i = 144; i < 256; ++i) lengths[i] = 9;
    for (int i = 256; i < 280; ++i) lengths[i] = 7;
    for (int i = 280; i < 288; ++i) lengths[i] = 8;
    for (int i = 0; i < 30; ++i) lengths[288 + i] = 5;
    Huffman lit, dist;
    build(lit, lengths, 288);
    build(dist, lengths + 288, 30, true);  // 30 of 32 codes, by definition
    codes(lit, dist);
  }
  void dynamic() {
    int nlen = static_cast<int>(bits(5)) + 257;
    int ndist = static_cast<int>(bits(5)) + 1;
    int ncode = static_cast<int>(bits(4)) + 4;
    if (nlen > 286 || ndist > 30) bad("bad code counts");
    uint8_t lengths[320] = {};
    for (int i = 0; i < ncode; ++i) lengths[kCodeLengthOrder[i]] = static_cast<uint8_t>(bits(3));
    Huffman lencode;
    build(lencode, lengths, 19);
    int i = 0;
    while (i < nlen + ndist) {
      int sym = decode(lencode);
      if (sym < 16) {
        lengths[i++] = static_cast<uint8_t>(sym);
        continue;
      }
      uint8_t value = 0;
      int repeat;
      if (sym == 16) {
        if (i == 0) bad("repeat with no previous length");
        value = lengths[i - 1];
        repeat = 3 + static_cast<int>(bits(2));
      } else if (sym == 17) {
        repeat = 3 + static_cast<int>(bits(3));
      } else {
        repeat = 11 + static_cast<int>(bits(7));
      }
      if (i + repeat > nlen + ndist) bad("too many code lengths");
      while (repeat--) lengths[i++] = value;
    }
    if (lengths[256] == 0) bad("no end-of-block code");
    Huffman lit, dist;
    build(lit, lengths, nlen);
    build(dist, lengths + nlen, ndist);
    codes(lit, dist);
  }

  Reader in_;
  uint64_t end_;
  uint64_t max_out_;
  uint32_t buf_ = 0;
  int count_ = 0;
  std::string out_;
};

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[n] = c;
  }
  return t;
}

}  // namespace

std::string inflate(const Source& src, uint64_t off, uint64_t len, uint64_t max_out, bool* truncated) {
  return Inflater(src, off, len, max_out).run(truncated);
}

uint32_t crc32(uint32_t crc, const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace modelseal::scan::detail

// Decompression through the libraries the loaders use: zlib (zip DEFLATE members, gzip and
// zlib streams), libbz2, liblzma (.xz and legacy .lzma) and liblz4 (lz4 frames, joblib's
// compress="lz4" through python3-lz4). Python's gzip, bz2, lzma and lz4.frame readers, and
// joblib's, read concatenated streams one after another, so this does too; what follows the
// last complete stream is reported, never silently ignored.
#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <string>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr size_t kChunk = 1u << 16;
// liblzma allocates the dictionary a header asks for; past this the stream is not read (and
// the file is unsafe, since Python's lzma module has no such limit).
constexpr uint64_t kMaxLzmaMemory = 512ull << 20;

struct MemoryLimit {};

// One decoder step over `in`: consumes input, appends output (at most `room` bytes), and says
// whether the stream ended. Throws Error(not_trusted) on corrupt data.
class Decoder {
 public:
  virtual ~Decoder() = default;
  // Returns true at the end of the stream. `used` and `made` receive the byte counts.
  virtual bool step(const uint8_t* in, size_t n, uint8_t* out, size_t room, size_t* used, size_t* made) = 0;
};

class ZlibDecoder final : public Decoder {
 public:
  explicit ZlibDecoder(int window_bits) {
    if (inflateInit2(&z_, window_bits) != Z_OK) throw untrusted("zlib: cannot initialise");
  }
  ~ZlibDecoder() override { inflateEnd(&z_); }
  bool step(const uint8_t* in, size_t n, uint8_t* out, size_t room, size_t* used, size_t* made) override {
    z_.next_in = const_cast<Bytef*>(in);
    z_.avail_in = static_cast<uInt>(n);
    z_.next_out = out;
    z_.avail_out = static_cast<uInt>(room);
    int rc = ::inflate(&z_, Z_NO_FLUSH);
    *used = n - z_.avail_in;
    *made = room - z_.avail_out;
    if (rc == Z_STREAM_END) return true;
    if (rc == Z_BUF_ERROR && (*used || *made)) return false;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw untrusted(std::string("corrupt data: ") + (z_.msg ? z_.msg : "zlib error"));
    return false;
  }

 private:
  z_stream z_{};
};

class Bz2Decoder final : public Decoder {
 public:
  Bz2Decoder() {
    if (BZ2_bzDecompressInit(&b_, 0, 0) != BZ_OK) throw untrusted("bz2: cannot initialise");
  }
  ~Bz2Decoder() override { BZ2_bzDecompressEnd(&b_); }
  bool step(const uint8_t* in, size_t n, uint8_t* out, size_t room, size_t* used, size_t* made) override {
    b_.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(in));
    b_.avail_in = static_cast<unsigned>(n);
    b_.next_out = reinterpret_cast<char*>(out);
    b_.avail_out = static_cast<unsigned>(room);
    int rc = BZ2_bzDecompress(&b_);
    *used = n - b_.avail_in;
    *made = room - b_.avail_out;
    if (rc == BZ_STREAM_END) return true;
    if (rc != BZ_OK) throw untrusted("corrupt data: bz2 error " + std::to_string(rc));
    return false;
  }

 private:
  bz_stream b_{};
};

class LzmaDecoder final : public Decoder {
 public:
  explicit LzmaDecoder(bool alone) {
    // Python's lzma (and joblib's reader) use FORMAT_AUTO: liblzma's auto decoder, which
    // is picky about legacy .lzma headers (dictionary sizes, uncompressed size) as it is.
    (void)alone;
    lzma_ret rc = lzma_auto_decoder(&s_, kMaxLzmaMemory, 0);
    if (rc != LZMA_OK) throw untrusted("lzma: cannot initialise");
  }
  ~LzmaDecoder() override { lzma_end(&s_); }
  bool step(const uint8_t* in, size_t n, uint8_t* out, size_t room, size_t* used, size_t* made) override {
    s_.next_in = in;
    s_.avail_in = n;
    s_.next_out = out;
    s_.avail_out = room;
    lzma_ret rc = lzma_code(&s_, n ? LZMA_RUN : LZMA_FINISH);
    *used = n - s_.avail_in;
    *made = room - s_.avail_out;
    if (rc == LZMA_STREAM_END) return true;
    if (rc == LZMA_BUF_ERROR && (*used || *made)) return false;
    if (rc == LZMA_MEMLIMIT_ERROR) throw MemoryLimit{};
    if (rc != LZMA_OK) throw untrusted("corrupt data: lzma error " + std::to_string(static_cast<int>(rc)));
    return false;
  }

 private:
  lzma_stream s_ = LZMA_STREAM_INIT;
};

class Lz4Decoder final : public Decoder {
 public:
  Lz4Decoder() {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx_, LZ4F_VERSION))) throw untrusted("lz4: cannot initialise");
  }
  ~Lz4Decoder() override { LZ4F_freeDecompressionContext(ctx_); }
  bool step(const uint8_t* in, size_t n, uint8_t* out, size_t room, size_t* used, size_t* made) override {
    size_t src = n, dst = room;
    size_t rc = LZ4F_decompress(ctx_, out, &dst, in, &src, nullptr);
    if (LZ4F_isError(rc)) throw untrusted(std::string("corrupt data: lz4: ") + LZ4F_getErrorName(rc));
    *used = src;
    *made = dst;
    return rc == 0;  // the frame is complete
  }

 private:
  LZ4F_dctx* ctx_ = nullptr;
};

std::unique_ptr<Decoder> make_decoder(Wrapper w) {
  switch (w) {
    case Wrapper::deflate: return std::make_unique<ZlibDecoder>(-MAX_WBITS);
    case Wrapper::zlib: return std::make_unique<ZlibDecoder>(MAX_WBITS);
    case Wrapper::gzip: return std::make_unique<ZlibDecoder>(16 + MAX_WBITS);
    case Wrapper::bz2: return std::make_unique<Bz2Decoder>();
    case Wrapper::xz: return std::make_unique<LzmaDecoder>(false);
    case Wrapper::lzma: return std::make_unique<LzmaDecoder>(true);
    case Wrapper::lz4: return std::make_unique<Lz4Decoder>();
    case Wrapper::none: break;
  }
  throw untrusted("no decoder");
}

bool starts(const std::string& h, std::string_view magic) { return h.compare(0, magic.size(), magic) == 0; }

constexpr std::string_view kLz4Magic("\x04\x22\x4d\x18", 4);

}  // namespace

Wrapper detect_wrapper(const Source& src) {
  std::string h = src.peek(0, 6);
  if (h.size() < 2) return Wrapper::none;
  auto b0 = static_cast<unsigned char>(h[0]), b1 = static_cast<unsigned char>(h[1]);
  if (b0 == 0x1f && b1 == 0x8b) return Wrapper::gzip;
  if (b0 == 0x78 && (b0 * 256 + b1) % 31 == 0) return Wrapper::zlib;  // joblib's zlib prefix
  if (h.size() >= 4 && starts(h, "BZh") && h[3] >= '1' && h[3] <= '9') return Wrapper::bz2;
  if (starts(h, std::string_view("\xfd" "7zXZ\0", 6))) return Wrapper::xz;
  if (b0 == 0x5d && b1 == 0x00) return Wrapper::lzma;  // joblib's (and lzma's FORMAT_ALONE) prefix
  if (starts(h, kLz4Magic)) return Wrapper::lz4;
  return Wrapper::none;
}

const char* to_string(Wrapper w) {
  switch (w) {
    case Wrapper::deflate: return "deflate";
    case Wrapper::zlib: return "zlib";
    case Wrapper::gzip: return "gzip";
    case Wrapper::bz2: return "bz2";
    case Wrapper::xz: return "xz";
    case Wrapper::lzma: return "lzma";
    case Wrapper::lz4: return "lz4";
    case Wrapper::none: break;
  }
  return "none";
}

Decompressed decompress(const Source& src, uint64_t off, uint64_t len, Wrapper w, uint64_t max_out) {
  Decompressed d;
  if (off > src.size() || len > src.size() - off) throw untrusted("compressed data past the end of input");
  // Buffers in proportion to the input (a small stream is common; the loop goes round for more).
  std::string in(static_cast<size_t>(std::min<uint64_t>(kChunk, len)), '\0');
  std::string out_buf(static_cast<size_t>(std::min<uint64_t>(kChunk, std::max<uint64_t>(4096, 4 * len))), '\0');
  // Streams follow one another (gzip members, bz2 and xz streams); deflate in zip is one stream.
  bool multi = w == Wrapper::gzip || w == Wrapper::bz2 || w == Wrapper::xz || w == Wrapper::lz4;
  uint64_t pos = 0;  // consumed input, relative to off
  std::unique_ptr<Decoder> dec = make_decoder(w);
  bool ended = false;
  size_t have = 0, at = 0;  // buffered input window
  try {
    for (;;) {
      if (at == have && off + pos < off + len) {
        have = static_cast<size_t>(std::min<uint64_t>(in.size(), len - pos));
        src.read(off + pos, in.data(), have);
        at = 0;
      }
      size_t used = 0, made = 0;
      size_t room = static_cast<size_t>(std::min<uint64_t>(out_buf.size(), max_out - d.data.size() + 1));
      bool end = dec->step(reinterpret_cast<const uint8_t*>(in.data()) + at, have - at,
                           reinterpret_cast<uint8_t*>(out_buf.data()), room, &used, &made);
      at += used;
      pos += used;
      d.data.append(out_buf.data(), made);
      if (d.data.size() > max_out) {
        d.data.resize(static_cast<size_t>(max_out));
        d.capped = true;
        break;
      }
      if (end) {
        ended = true;
        d.streams++;
        d.consumed = pos;
        if (!multi || pos == len) break;
        // gzip allows zero padding after the last member (Python's gzip skips it).
        if (w == Wrapper::gzip) {
          std::string rest = src.peek(off + pos, 2);
          if (rest.size() < 2 || rest != "\x1f\x8b") break;
        } else if (w == Wrapper::bz2) {
          if (src.peek(off + pos, 3) != "BZh") break;
        } else if (w == Wrapper::lz4) {
          if (src.peek(off + pos, 4) != kLz4Magic) break;
        } else if (src.peek(off + pos, 6) != std::string_view("\xfd" "7zXZ\0", 6)) {
          break;
        }
        dec = make_decoder(w);
        ended = false;
        continue;
      }
      if (used == 0 && made == 0 && (pos == len || at < have)) {
        d.error = "truncated " + std::string(to_string(w)) + " stream";
        break;
      }
    }
  } catch (const Error& e) {
    if (e.status() == Status::io) throw;
    d.error = e.what();
  } catch (const MemoryLimit&) {
    d.error = "the stream needs more than the scanner's " + std::to_string(kMaxLzmaMemory >> 20) + " MiB of decoder memory";
    d.capped = true;
  }
  if (!ended && d.error.empty() && !d.capped) d.error = "truncated " + std::string(to_string(w)) + " stream";
  if (d.consumed < len && d.error.empty() && !d.capped) d.trailing = len - d.consumed;
  return d;
}

std::string inflate(const Source& src, uint64_t off, uint64_t len, uint64_t max_out, bool* truncated) {
  Decompressed d = decompress(src, off, len, Wrapper::deflate, max_out);
  *truncated = d.capped;
  if (!d.error.empty()) throw untrusted(d.error);
  return std::move(d.data);
}

uint32_t crc32(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  while (n) {
    auto take = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, p, take));
    p += take;
    n -= take;
  }
  return crc;
}

}  // namespace modelseal::scan::detail

// Scanner internals shared by the format parsers (not installed).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modelseal/scan.hpp"

namespace modelseal::scan::detail {

// Limits that keep every allocation and loop bounded whatever the input says.
inline constexpr int kMaxNesting = 4;                        // containers / nested pickles
inline constexpr size_t kMaxFindings = 1000;                 // per file
inline constexpr uint64_t kMaxInflated = 256ull << 20;       // one decompressed member
inline constexpr uint64_t kMaxJsonText = 64ull << 20;        // JSON configs and headers
inline constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;  // as the reference reader

// Random-access bytes: a file (pread), memory, or a window of another source.
class Source {
 public:
  virtual ~Source() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly n bytes at off; throws Error(not_trusted) past the end, Error(io) on failure.
  virtual void read(uint64_t off, void* buf, size_t n) const = 0;
  std::string read_string(uint64_t off, size_t n) const;
  // Up to n bytes from off (fewer at the end).
  std::string peek(uint64_t off, size_t n) const;
};

class FdSource final : public Source {
 public:
  FdSource(int fd, uint64_t size, std::string name) : fd_(fd), size_(size), name_(std::move(name)) {}
  uint64_t size() const override { return size_; }
  void read(uint64_t off, void* buf, size_t n) const override;

 private:
  int fd_;
  uint64_t size_;
  std::string name_;
};

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::span<const uint8_t> data) : data_(data) {}
  explicit MemorySource(std::string owned)
      : owned_(std::make_shared<std::string>(std::move(owned))),
        data_(reinterpret_cast<const uint8_t*>(owned_->data()), owned_->size()) {}
  uint64_t size() const override { return data_.size(); }
  void read(uint64_t off, void* buf, size_t n) const override;

 private:
  std::shared_ptr<std::string> owned_;
  std::span<const uint8_t> data_;
};

class SubSource final : public Source {
 public:
  SubSource(const Source& parent, uint64_t base, uint64_t len);
  uint64_t size() const override { return len_; }
  void read(uint64_t off, void* buf, size_t n) const override;

 private:
  const Source& parent_;
  uint64_t base_, len_;
};

// Sequential buffered reading over a Source, for parsers that walk a stream.
class Reader {
 public:
  explicit Reader(const Source& src, uint64_t start = 0);
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return src_.size() - pos_; }
  bool at_end() const { return pos_ >= src_.size(); }
  const Source& source() const { return src_; }
  uint8_t byte();                       // throws Error(not_trusted) at the end
  void read(void* out, size_t n);
  uint64_t le(int nbytes);              // little-endian unsigned integer of 1..8 bytes
  void skip(uint64_t n);                // checked against the real size
  void seek(uint64_t pos);
  // Reads through the next '\n' (consumed, not returned). Keeps at most `keep` bytes of the
  // line; `length` receives the whole length. Throws at the end of input without a newline.
  std::string line(size_t keep, uint64_t* length = nullptr);

 private:
  void fill();
  const Source& src_;
  uint64_t pos_;
  std::vector<uint8_t> buf_;
  uint64_t buf_start_ = 0;
  size_t buf_len_ = 0;
};

// What one format parser found.
struct Result {
  std::string format = "unknown";
  Verdict verdict = Verdict::unknown;
  std::vector<Finding> findings;
  std::string error;
  uint64_t dropped = 0;  // findings beyond kMaxFindings (the least severe ones): unsafe
  std::vector<std::string> members;  // archive members read, "outer/inner" when nested
};

void add_finding(Result& r, std::string what, const char* severity, uint64_t offset,
                 std::string member = {});
// Appends another result's findings (capped), prefixing members with `member`.
void merge_findings(Result& into, const Result& from, const std::string& member);
// Verdict from findings: any finding above "low" makes it unsafe.
bool has_serious(const Result& r);

// Classification by content; `depth` counts enclosing containers.
// `whole_file`: src ends where the file ends (an archive found from the end belongs to it).
Result scan_source(const Source& src, int depth, bool whole_file = true);
// Findings about archives no loader opens start with this (scan --insecure-skip-archives).
inline constexpr const char* kUnopenedArchive = "unopened archive: ";

// Pickle. `definite`: the caller knows it is a pickle (errors are unsafe); otherwise a trial
// that returns nullopt when the bytes are not a pickle that could import anything.
std::optional<Result> scan_pickle(const Source& src, bool definite, int depth);
// Globals policy: nullptr when allowlisted, else the severity.
const char* global_severity(std::string_view module, std::string_view name);

Result scan_zip(const Source& src, int depth);
Result scan_tar(const Source& src, int depth);
Result scan_safetensors(const Source& src);
Result scan_gguf(const Source& src);
Result scan_npy(const Source& src, int depth);
Result scan_hdf5(const Source& src);
// A JSON document (Keras config, tfjs model.json, HF config): Lambda layers and code.
std::optional<Result> scan_json(const Source& src);

bool looks_like_safetensors(const Source& src);
bool looks_like_tar(const Source& src);
// An end record near the end whose central directory starts where it says (as zipfile finds it).
bool zip_found_from_end(const Source& src);

// Compression wrappers the loaders open (joblib, Python's gzip/bz2/lzma, zip members).
enum class Wrapper { none, deflate, zlib, gzip, bz2, xz, lzma, lz4 };
Wrapper detect_wrapper(const Source& src);  // by magic; never returns deflate
const char* to_string(Wrapper w);
struct Decompressed {
  std::string data;      // what a loader reading the stream sees, up to the first error
  bool capped = false;   // output reached max_out: data holds its first max_out bytes
  std::string error;     // corrupt or truncated stream (data holds what came before)
  uint64_t consumed = 0; // input bytes of the complete streams
  uint64_t trailing = 0; // input bytes after the last complete stream
  uint64_t streams = 0;
};
Decompressed decompress(const Source& src, uint64_t off, uint64_t len, Wrapper w, uint64_t max_out);
// Raw DEFLATE of [off, off+len) of src (zip members); *truncated once the output would exceed
// max_out. Throws Error(not_trusted) on corrupt data.
std::string inflate(const Source& src, uint64_t off, uint64_t len, uint64_t max_out,
                    bool* truncated);
uint32_t crc32(uint32_t crc, const void* data, size_t n);

}  // namespace modelseal::scan::detail

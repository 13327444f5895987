// age's ASCII armor: strict PEM (RFC 7468 §3) with label "AGE ENCRYPTED FILE", padded base64 in
// 64-column lines. LF or CRLF; whitespace allowed only before and after the block.
#include "internal.hpp"

namespace modelseal::age {

namespace {

constexpr std::string_view kBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr std::string_view kEnd = "-----END AGE ENCRYPTED FILE-----";
constexpr size_t kColumns = 64;
constexpr std::string_view kSpace = " \t\r\n\v\f";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[noreturn]] void bad(const std::string& why) { throw AgeError(Failure::armor, "malformed age armor: " + why); }

// Padded canonical base64.
std::string b64_padded_decode(std::string_view t) {
  if (t.size() % 4 != 0) bad("base64 is not padded");
  size_t pad = 0;
  while (pad < 2 && pad < t.size() && t[t.size() - 1 - pad] == '=') ++pad;
  auto raw = detail::b64_raw_decode(t.substr(0, t.size() - pad));
  if (!raw) bad("base64 is not canonical");
  if ((raw->size() + pad) % 3 != 0) bad("base64 padding is wrong");
  return std::move(*raw);
}

}  // namespace

bool looks_armored(std::string_view file) {
  if (file.starts_with("age-encryption.org/")) return false;
  // A binary age file always starts with its version line; anything else with a PEM-style dash
  // run near the start is taken as (possibly malformed) armor, so it fails as armor.
  return file.substr(0, 1024).find("-----") != std::string_view::npos;
}

std::string armor_decode(std::string_view text) {
  size_t pos = text.find_first_not_of(kSpace);
  if (pos == std::string_view::npos) bad("empty");
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    size_t nl = text.find('\n', pos);
    line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    return true;
  };
  std::string_view line;
  if (!next_line(line) || line != kBegin) bad("does not start with " + std::string(kBegin));
  std::string b64;
  bool short_seen = false;
  for (;;) {
    if (!next_line(line)) bad("no end line");
    if (line == kEnd) break;
    if (short_seen) bad("a short line before the last");
    if (line.empty() || line.size() > kColumns) bad("line of " + std::to_string(line.size()) + " columns");
    for (char c : line)
      if (c != '=' && std::string_view(kB64).find(c) == std::string_view::npos) bad("invalid character");
    short_seen = line.size() < kColumns;
    b64 += line;
  }
  if (text.find_first_not_of(kSpace, pos) != std::string_view::npos) bad("data after the end line");
  if (b64.find('=') != std::string::npos && b64.find('=') < b64.size() - 2) bad("padding inside the data");
  return b64_padded_decode(b64);
}

namespace detail {

void ArmorWriter::write(Bytes data) {
  pending_.append(reinterpret_cast<const char*>(data.data()), data.size());
  size_t whole = pending_.size() / 48 * 48;
  if (whole == 0) return;
  std::string out;
  if (!started_) out = std::string(kBegin) + "\n";
  started_ = true;
  for (size_t i = 0; i < whole; i += 48) {
    std::string line = b64_raw_encode(bytes_of(std::string_view(pending_).substr(i, 48)));
    out += line + "\n";
  }
  pending_.erase(0, whole);
  out_(bytes_of(out));
}

void ArmorWriter::finish() {
  std::string out;
  if (!started_) out = std::string(kBegin) + "\n";
  started_ = true;
  if (!pending_.empty()) {
    std::string line = b64_raw_encode(bytes_of(pending_));
    while (line.size() % 4) line += '=';
    out += line + "\n";
  }
  out += std::string(kEnd) + "\n";
  pending_.clear();
  out_(bytes_of(out));
}

}  // namespace detail

}  // namespace modelseal::age

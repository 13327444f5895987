// The age header: version line, recipient stanzas, MAC. Parsed strictly: any deviation from the
// canonical encoding is a header failure, so the MAC covers exactly what was parsed.
#include <sodium.h>

#include "internal.hpp"

namespace modelseal::age::detail {

namespace {

constexpr std::string_view kVersionLine = "age-encryption.org/v1\n";
constexpr size_t kColumns = 64;

[[noreturn]] void bad(const std::string& why) { throw AgeError(Failure::header, "malformed age header: " + why); }

bool is_b64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

// The next line of `data` from `pos` (without its LF); advances `pos` past the LF.
std::string_view next_line(std::string_view data, size_t& pos) {
  size_t nl = data.find('\n', pos);
  if (nl == std::string_view::npos) bad("a line does not end");
  std::string_view line = data.substr(pos, nl - pos);
  pos = nl + 1;
  return line;
}

}  // namespace

size_t header_end(std::string_view data) {
  size_t line = 0;
  while (line < data.size()) {
    if (data.substr(line, 3) == "---") {
      size_t nl = data.find('\n', line);
      if (nl != std::string_view::npos) return nl + 1;
      break;
    }
    size_t nl = data.find('\n', line);
    if (nl == std::string_view::npos) break;
    line = nl + 1;
  }
  if (data.size() > kMaxHeaderSize) bad("longer than " + std::to_string(kMaxHeaderSize) + " bytes");
  return 0;
}

Header parse_header(std::string_view data) {
  Header h;
  if (!data.starts_with(kVersionLine)) {
    if (data.starts_with("age-encryption.org/")) bad("unsupported version");
    bad("not an age file");
  }
  size_t pos = kVersionLine.size();
  for (;;) {
    const size_t line_start = pos;
    std::string_view line = next_line(data, pos);
    if (line.starts_with("---")) {
      if (h.stanzas.empty()) bad("no recipient stanza");
      if (line.size() != 4 + 43 || line[3] != ' ') bad("malformed MAC line");
      auto mac = b64_raw_decode(line.substr(4));
      if (!mac || mac->size() != 32) bad("malformed MAC");
      std::copy(mac->begin(), mac->end(), h.mac.begin());
      h.mac_input_len = line_start + 3;
      h.size = pos;
      if (pos != data.size()) bad("data after the MAC line");
      return h;
    }
    if (!line.starts_with("-> ")) bad("a line is neither a stanza nor the MAC");
    Stanza s;
    std::string_view rest = line.substr(3);
    for (;;) {
      size_t sp = rest.find(' ');
      std::string_view arg = rest.substr(0, sp);
      if (arg.empty()) bad("empty stanza argument");
      for (char c : arg)
        if (c < 0x21 || c > 0x7e) bad("invalid character in a stanza argument");
      s.args.emplace_back(arg);
      if (sp == std::string_view::npos) break;
      rest = rest.substr(sp + 1);
    }
    std::string body_text;
    for (;;) {
      std::string_view body_line = next_line(data, pos);
      if (body_line.size() > kColumns) bad("stanza body line longer than 64 columns");
      for (char c : body_line)
        if (!is_b64_char(c)) bad("invalid character in a stanza body");
      body_text += body_line;
      if (body_line.size() < kColumns) break;
    }
    auto body = b64_raw_decode(body_text);
    if (!body) bad("stanza body is not canonical base64");
    s.body = std::move(*body);
    h.stanzas.push_back(std::move(s));
  }
}

std::string encode_header(const std::vector<Stanza>& stanzas, const SecretBytes& file_key) {
  std::string out(kVersionLine);
  for (const auto& s : stanzas) {
    out += "->";
    for (const auto& a : s.args) out += " " + a;
    out += "\n";
    std::string body = b64_raw_encode(bytes_of(s.body));
    for (size_t i = 0;; i += kColumns) {
      out += body.substr(i, kColumns);
      out += "\n";
      if (body.size() - i < kColumns) break;
    }
  }
  out += "---";
  SecretBytes key = hkdf({file_key.data(), file_key.size()}, {}, "header");
  auto mac = hmac_sha256({key.data(), key.size()}, bytes_of(out));
  out += " " + b64_raw_encode(mac) + "\n";
  return out;
}

}  // namespace modelseal::age::detail

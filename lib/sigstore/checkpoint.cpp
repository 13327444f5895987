// Transparency log checkpoints in the C2SP signed-note format (c2sp.org/tlog-checkpoint,
// c2sp.org/signed-note): body lines "origin", "size", "base64 root", optional extension lines,
// an empty line, then one "— name base64(key hint[4] || signature)" line per signature.
#include <charconv>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/sigstore.hpp"

namespace modelseal {

namespace {

constexpr size_t kMaxNoteBytes = 64u << 10;
constexpr size_t kMaxNoteSignatures = 100;
constexpr std::string_view kSignaturePrefix = "\xe2\x80\x94 ";  // U+2014 EM DASH, space

std::vector<std::string_view> lines(std::string_view text) {  // every line ends with '\n'
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

Checkpoint Checkpoint::parse(std::string_view text, const std::string& what) {
  const std::string w = what + ": checkpoint";
  if (text.size() > kMaxNoteBytes) throw untrusted(w + ": too large");
  if (text.find('\0') != std::string_view::npos || text.find('\r') != std::string_view::npos)
    throw untrusted(w + ": contains NUL or CR");
  size_t split = text.find("\n\n");
  if (split == std::string_view::npos || text.back() != '\n') throw untrusted(w + ": not a signed note");
  Checkpoint cp;
  cp.note_text = std::string(text.substr(0, split + 1));
  auto body = lines(cp.note_text);
  if (body.size() < 3) throw untrusted(w + ": fewer than three body lines");
  cp.origin = std::string(body[0]);
  if (cp.origin.empty()) throw untrusted(w + ": empty origin");
  const std::string_view size = body[1];
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), cp.tree_size);
  if (size.empty() || ec != std::errc() || end != size.data() + size.size() || size[0] == '-' || size[0] == '+' ||
      (size.size() > 1 && size[0] == '0'))
    throw untrusted(w + ": invalid tree size");
  auto root = base64_decode(body[2]);
  if (!root || root->size() != 32) throw untrusted(w + ": root hash is not 32 bytes of base64");
  cp.root_hash = std::move(*root);

  for (std::string_view line : lines(text.substr(split + 2))) {
    if (!line.starts_with(kSignaturePrefix)) throw untrusted(w + ": malformed signature line");
    line.remove_prefix(kSignaturePrefix.size());
    size_t sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos) throw untrusted(w + ": malformed signature line");
    auto raw = base64_decode(line.substr(sp + 1));
    if (!raw || raw->size() < 5) throw untrusted(w + ": signature is not base64 of a key hint and a signature");
    if (cp.signatures.size() == kMaxNoteSignatures) throw untrusted(w + ": too many signatures");
    cp.signatures.push_back({std::string(line.substr(0, sp)), raw->substr(0, 4), raw->substr(4)});
  }
  if (cp.signatures.empty()) throw untrusted(w + ": no signature");
  return cp;
}

}  // namespace modelseal

// NumPy .npy: a magic, a version, a Python-literal header, then the array. Arrays of object
// dtype store a pickle after the header, which is scanned like any other pickle; the data of
// every header not proven to describe raw data only is read that way too.
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

[[noreturn]] void bad(const std::string& why) { throw untrusted("npy: " + why); }

// The header as numpy reads it: ast.literal_eval of a dict. Only the subset numpy itself
// writes is parsed — dicts, lists, tuples, ints, True/False/None and str literals without
// escapes or prefixes other than u (adjacent literals concatenate, a repeated key keeps the
// last value); anything else (escapes, bytes, comments, expressions) is nullopt, and the data
// is then read as numpy would read an object array. A field name is a string like any other,
// so it can never pass for the dtype.
struct Literal {
  enum Type { str, integer, boolean, none, tuple, list, dict } type = none;
  std::string text;             // str
  int64_t number = 0;           // integer, boolean
  std::vector<Literal> items;   // tuple, list; dict: key, value, key, value...
};

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view s) : s_(s) {}
  std::optional<Literal> parse() {
    std::optional<Literal> v = value(0);
    space();
    if (!v || i_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\f')) ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  std::optional<std::string> string_literal() {
    space();
    if (i_ < s_.size() && (s_[i_] == 'u' || s_[i_] == 'U') && i_ + 1 < s_.size() && (s_[i_ + 1] == '\'' || s_[i_ + 1] == '"')) ++i_;
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) return std::nullopt;
    char q = s_[i_];
    if (s_.substr(i_, 3) == std::string(3, q)) return std::nullopt;  // triple quotes
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view body = s_.substr(i_ + 1, end - i_ - 1);
    if (body.find_first_of("\\\n\r") != std::string_view::npos) return std::nullopt;
    i_ = end + 1;
    return std::string(body);
  }
  std::optional<Literal> container(char close, Literal::Type type, int depth) {
    Literal out;
    out.type = type;
    bool comma = true;  // a value may follow
    for (;;) {
      if (eat(close)) break;
      if (!comma) return std::nullopt;
      std::optional<Literal> v = value(depth + 1);
      if (!v) return std::nullopt;
      if (type == Literal::dict) {
        if (!eat(':')) return std::nullopt;
        std::optional<Literal> w = value(depth + 1);
        if (!w) return std::nullopt;
        bool replaced = false;
        for (size_t k = 0; k + 1 < out.items.size(); k += 2) {
          if (out.items[k].type == v->type && out.items[k].type == Literal::str && out.items[k].text == v->text) {
            out.items[k + 1] = std::move(*w);
            replaced = true;
          }
        }
        if (!replaced) {
          out.items.push_back(std::move(*v));
          out.items.push_back(std::move(*w));
        }
      } else {
        out.items.push_back(std::move(*v));
      }
      comma = eat(',');
      if (type == Literal::tuple && !comma && out.items.size() == 1) {
        if (!eat(')')) return std::nullopt;
        return std::move(out.items[0]);  // (x) is x, not a tuple
      }
    }
    return out;
  }
  std::optional<Literal> value(int depth) {
    if (depth > 32) return std::nullopt;
    space();
    if (i_ >= s_.size()) return std::nullopt;
    char c = s_[i_];
    if (c == '{') return ++i_, container('}', Literal::dict, depth);
    if (c == '[') return ++i_, container(']', Literal::list, depth);
    if (c == '(') return ++i_, container(')', Literal::tuple, depth);
    if (c == '\'' || c == '"' || c == 'u' || c == 'U') {
      std::optional<std::string> text = string_literal();
      if (!text) return std::nullopt;
      Literal v;
      v.type = Literal::str;
      v.text = std::move(*text);
      for (;;) {  // 'a' 'b' is 'ab'
        size_t save = i_;
        std::optional<std::string> more = string_literal();
        if (!more) {
          i_ = save;
          break;
        }
        v.text += *more;
      }
      return v;
    }
    for (auto [word, type, n] : {std::tuple{"True", Literal::boolean, 1}, {"False", Literal::boolean, 0},
                                 {"None", Literal::none, 0}}) {
      std::string_view w(word);
      if (s_.substr(i_, w.size()) == w && (i_ + w.size() == s_.size() || !std::isalnum(static_cast<unsigned char>(s_[i_ + w.size()])))) {
        i_ += w.size();
        Literal v;
        v.type = type;
        v.number = n;
        return v;
      }
    }
    bool neg = false;
    if (c == '-' || c == '+') {
      neg = c == '-';
      ++i_;
      space();
    }
    size_t from = i_;
    int64_t n = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      if (n > (INT64_MAX - 9) / 10) return std::nullopt;
      n = n * 10 + (s_[i_++] - '0');
    }
    if (i_ == from || (s_[from] == '0' && i_ - from > 1)) return std::nullopt;
    if (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' || s_[i_] == '_')) return std::nullopt;
    Literal v;
    v.type = Literal::integer;
    v.number = neg ? -n : n;
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// A type code numpy reads as raw bytes: [<>|=] letter digits, e.g. '<f4', '|b1', '<U8', '<M8[ns]'.
bool raw_type(const std::string& d) {
  static constexpr std::string_view kRaw = "?bBhHiIlLqQpPefdgFDGSUVaumMc";
  size_t p = 0;
  if (p < d.size() && std::string_view("<>|=").find(d[p]) != std::string_view::npos) ++p;
  if (p >= d.size() || kRaw.find(d[p]) == std::string_view::npos) return false;
  ++p;
  while (p < d.size() && d[p] >= '0' && d[p] <= '9') ++p;
  if (p < d.size() && d[p] == '[' && d.back() == ']') {
    for (size_t i = p + 1; i + 1 < d.size(); ++i) {
      if (!std::isalnum(static_cast<unsigned char>(d[i]))) return false;
    }
    return true;
  }
  return p == d.size();
}

// numpy's descr_to_dtype: a str, (descr, shape), or a list of (name, descr[, shape]) fields.
// True only when every type in it is a raw type code.
bool raw_descr(const Literal& d, int depth = 0) {
  if (depth > 16) return false;
  if (d.type == Literal::str) return raw_type(d.text);
  if (d.type == Literal::tuple) return d.items.size() == 2 && raw_descr(d.items[0], depth + 1);
  if (d.type != Literal::list || d.items.empty()) return false;
  for (const Literal& field : d.items) {
    if ((field.type != Literal::tuple && field.type != Literal::list) || field.items.size() < 2 || field.items.size() > 3) {
      return false;
    }
    if (!raw_descr(field.items[1], depth + 1)) return false;
  }
  return true;
}

// Whether the parsed header is a dict of exactly descr, fortran_order and shape (what numpy
// requires) whose descr holds raw data only.
bool header_is_raw(const std::optional<Literal>& d) {
  if (!d || d->type != Literal::dict || d->items.size() != 6) return false;
  const Literal* descr = nullptr;
  bool order = false, shape = false;
  for (size_t k = 0; k + 1 < d->items.size(); k += 2) {
    const Literal& key = d->items[k];
    if (key.type != Literal::str) return false;
    if (key.text == "descr") descr = &d->items[k + 1];
    else if (key.text == "fortran_order") order = d->items[k + 1].type == Literal::boolean;
    else if (key.text == "shape") shape = d->items[k + 1].type == Literal::tuple;
  }
  return descr && order && shape && raw_descr(*descr);
}

}  // namespace

Result scan_npy(const Source& src, int depth) {
  Result r;
  r.format = "numpy";
  Reader in(src);
  in.skip(6);  // "\x93NUMPY", checked by the caller
  int major = in.byte();
  in.byte();
  uint64_t len = major == 1 ? in.le(2) : (major == 2 || major == 3) ? in.le(4) : 0;
  if (major < 1 || major > 3) bad("unsupported format version " + std::to_string(major));
  if (len > in.remaining()) bad("header length past the end of the file");
  if (len > (1u << 20)) bad("header longer than 1 MiB");
  std::string header = src.read_string(in.pos(), static_cast<size_t>(len));
  size_t open = header.find_first_not_of(" ");
  size_t close = header.find_last_not_of(" \n");
  if (open == std::string::npos || header[open] != '{' || header[close] != '}' || header.back() != '\n') {
    bad("header is not a dictionary literal");
  }
  if (header.find("descr") == std::string::npos || header.find("shape") == std::string::npos) {
    bad("header lacks descr or shape");
  }
  uint64_t data = in.pos() + len;
  const std::optional<Literal> parsed = LiteralParser(header).parse();
  if (header_is_raw(parsed)) {
    r.verdict = Verdict::safe;
    return r;
  }
  // Object dtypes, and every spelling the scanner does not positively know as raw data: the
  // data is read the way numpy.load(allow_pickle=True) would read an object array.
  if (depth >= kMaxNesting) bad("nested too deeply");
  if (data >= src.size()) {
    r.verdict = Verdict::safe;
    return r;
  }
  SubSource body(src, data, src.size() - data);
  std::optional<Result> p = scan_pickle(body, false, depth + 1);
  if (p) {
    merge_findings(r, *p, "");
    for (Finding& f : r.findings) {
      if (f.member.empty()) f.offset += data;
    }
    add_finding(r, "array data is a pickle (numpy.load needs allow_pickle=True)", "low", data);
  } else if (!parsed) {
    add_finding(r, "header spelled in a form the scanner reads as possibly object; its data is not a pickle", "low", data);
  }
  r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail

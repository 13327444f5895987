// Pickle (protocols 0-5): a stack-and-memo emulation of the opcode stream.
//
// Nothing is executed; the emulator tracks just enough about each value (is it a str, and
// which one; is it a global, and which one) to resolve every global the real unpickler
// would import, however the name reaches STACK_GLOBAL (constants, memo GETs, MEMOIZE/PUT
// mixes). Every resolved global is checked against the policy in globals.cpp; bytes and
// strings that hold a pickle of their own are scanned too. Malformed streams are rejected
// at the same points as CPython's unpickler, and anything the emulator gives up on (its
// own limits) is unsafe, so a file is never passed because the emulator stopped early.
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "internal.hpp"
#include "modelseal/error.hpp"

namespace modelseal::scan::detail {

namespace {

constexpr size_t kMaxName = 256;          // longer strs are tracked without their content
constexpr size_t kMaxStack = 1u << 22;
constexpr size_t kMaxMemo = 1u << 22;
constexpr size_t kMaxMarks = 1u << 20;
constexpr uint64_t kMaxEmbedded = 64ull << 20;  // an escaped string decoded to look inside
constexpr uint64_t kMaxPicklesInStream = 1u << 20;
constexpr size_t kMaxNodes = 1u << 17;       // tuples, dicts and objects followed per pickle
constexpr size_t kMaxKeptItems = 1u << 20;   // their items, in all
constexpr size_t kMaxNodeItems = 128;        // a longer tuple or dict is followed without its items
constexpr std::string_view kArrayWrapper = "joblib.numpy_pickle.NumpyArrayWrapper";

// torch.save's legacy format starts with a pickle of this number (LONG1, little-endian).
constexpr uint8_t kTorchMagic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

// CPython rejects the stream here too: not a pickle, or a broken one.
struct Malformed {
  std::string why;
  uint64_t offset;
};
// The emulator's own limit: the stream might be valid, so it is never passed.
struct LimitReached {
  std::string why;
  uint64_t offset;
};

enum class Kind : uint8_t {
  data,    // a value that is certainly not a str (number, bytes, container, None...)
  str,     // a str; `text` holds it when it is at most kMaxName bytes
  global,  // a resolved global; `text` is "module.name"
  object,  // result of a call or persistent load: type unknown
};

struct Value {
  Kind kind = Kind::data;
  std::shared_ptr<const std::string> text;  // null for a long str
  bool magic = false;  // an int equal to torch's legacy magic number, however it was spelled
  bool importable = true;  // a global whose module name an import could find (see resolve)
  bool none = false;       // None
  bool has_int = false;    // an int (or bool) whose value is `num`
  int64_t num = 0;
  int32_t node = -1;       // a tuple, dict or object followed in the arena (see Node)
};

Value int_value(int64_t n) {
  Value v;
  v.has_int = true;
  v.num = n;
  return v;
}

// What the emulator follows of containers and objects, for the one reader that needs values:
// joblib's NumpyUnpickler, which reads raw array bytes out of the stream after BUILD of a
// NumpyArrayWrapper, as many as the wrapper's shape and dtype say. Small tuples and dicts keep
// their items; an object keeps what made it (its class, its arguments) and its BUILD state.
struct Node {
  enum Type : uint8_t { tuple, dict, object } type = tuple;
  std::vector<Value> items;  // tuple: elements; dict: key, value, key, value...
  bool complete = true;      // false once an item was not kept
  std::string cls;           // object: "module.name" of its class, or empty
  Value args;                // object: the arguments it was called with
  Value state;               // object: the last BUILD state
  bool built = false;
  bool constructed = false;  // object: its class was called (__init__ ran with `args`)
};

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

using u128 = unsigned __int128;

u128 torch_magic_value() {
  u128 v = 0;
  for (size_t i = sizeof kTorchMagic; i-- > 0;) v = (v << 8) | kTorchMagic[i];
  return v;
}

bool py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// Python's int(text, base) for base 0 or 10 (PyLong_FromString): surrounding whitespace, a
// sign, 0x/0o/0b prefixes and "0"-only leading zeros in base 0, single underscores between
// digits. C's unpickler parses the line as a C string, so it ends at a NUL; that is the more
// permissive reading, and the one used. Returns false when int() raises. `overflow` is set when
// the magnitude does not fit 128 bits (it then equals no value the scanner compares with).
bool parse_pyint(std::string_view s, int base, bool* negative, u128* magnitude, bool* overflow) {
  s = s.substr(0, s.find('\0'));
  size_t i = 0, n = s.size();
  while (i < n && py_space(s[i])) ++i;
  *negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) *negative = s[i++] == '-';
  bool only_zeros = false, after_prefix = false;
  if (base == 0) {
    if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) base = 16;
    else if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'o' || s[i + 1] == 'O')) base = 8;
    else if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'B')) base = 2;
    if (base != 0) {
      i += 2;
      after_prefix = true;
    } else {
      base = 10;
      only_zeros = i < n && s[i] == '0';
    }
  }
  *magnitude = 0;
  *overflow = false;
  size_t digits = 0;
  bool underscore = false;
  for (; i < n; ++i) {
    char c = s[i];
    if (c == '_') {
      if (underscore || (digits == 0 && !after_prefix)) return false;
      underscore = true;
      continue;
    }
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : c >= 'A' && c <= 'Z' ? c - 'A' + 10 : 99;
    if (d >= base) break;
    underscore = false;
    if (only_zeros && d != 0) return false;
    if (*magnitude >> 120) *overflow = true;
    *magnitude = *magnitude * static_cast<unsigned>(base) + static_cast<unsigned>(d);
    ++digits;
  }
  if (digits == 0 || underscore) return false;
  while (i < n && py_space(s[i])) ++i;
  return i == n;
}

// pickle's decode_long: little-endian two's complement.
bool le_equals_magic(const uint8_t* b, size_t n) {
  if (n < sizeof kTorchMagic || std::memcmp(b, kTorchMagic, sizeof kTorchMagic) != 0) return false;
  for (size_t i = sizeof kTorchMagic; i < n; ++i) {
    if (b[i] != 0) return false;
  }
  return true;
}

bool is_identifier_path(std::string_view s) {
  if (s.empty()) return false;
  bool start = true;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (start) return false;
      start = true;
      continue;
    }
    bool alpha = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || c == '_' || u >= 0x80;
    if (!alpha && !(u >= '0' && u <= '9' && !start)) return false;
    start = false;
  }
  return !start;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | ((cp >> 18) & 0x07));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// codecs.escape_decode, leniently: an escape CPython rejects is kept as written.
std::string escape_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\' || i + 1 == in.size()) {
      out += in[i];
      continue;
    }
    char c = in[++i];
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\\': case '\'': case '"': out += c; break;
      case '\n': break;
      case 'x':
        if (i + 2 < in.size() && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
          out += static_cast<char>(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
          i += 2;
        } else {
          out += "\\x";
        }
        break;
      default:
        if (c >= '0' && c <= '7') {
          int v = c - '0';
          for (int k = 0; k < 2 && i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '7'; ++k) {
            v = v * 8 + (in[++i] - '0');
          }
          out += static_cast<char>(v & 0xFF);
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

// raw-unicode-escape to UTF-8: bytes are code points, \uXXXX and \UXXXXXXXX are escapes
// when preceded by an odd run of backslashes.
std::string raw_unicode_escape_decode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    auto c = static_cast<unsigned char>(in[i]);
    if (c == '\\') {
      size_t run = 1;
      while (i + run < in.size() && in[i + run] == '\\') ++run;
      size_t next = i + run;
      bool escape = (run % 2 == 1) && next < in.size() && (in[next] == 'u' || in[next] == 'U');
      size_t literal = escape ? run - 1 : run;
      out.append(literal, '\\');
      i = next - 1;
      if (!escape) continue;
      size_t digits = in[next] == 'u' ? 4 : 8;
      uint32_t cp = 0;
      bool ok = next + digits < in.size();
      for (size_t k = 1; ok && k <= digits; ++k) {
        int h = next + k < in.size() ? hexval(in[next + k]) : -1;
        if (h < 0) ok = false;
        else cp = cp * 16 + static_cast<uint32_t>(h);
      }
      if (ok && cp <= 0x10FFFF) {
        put_utf8(out, cp);
        i = next + digits;
      } else {
        out += '\\';
      }
      continue;
    }
    put_utf8(out, c);
  }
  return out;
}

// A str's UTF-8 as latin-1 bytes (what _codecs.encode(s, "latin1") makes of it), or nullopt.
std::optional<std::string> utf8_to_latin1(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
      out += static_cast<char>(((c & 0x03) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool starts_like_pickle(std::string_view b) {
  return b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x80 &&
         static_cast<unsigned char>(b[1]) <= 5;
}

class Unpickler {
 public:
  Unpickler(Reader& in, int depth) : in_(in), depth_(depth) {}

  // Parses one pickle through STOP into `out`. Throws Malformed or LimitReached. `fresh`:
  // from an empty stack and memo (false: go on from the state copied into a plain reading).
  void run(Result& out, bool fresh = true);
  void step_all(Result& out, bool fresh);

  // Work done by plain readings (bytes read, values copied), shared by a stream's pickles.
  uint64_t* plain_work = nullptr;
  uint64_t plain_work_limit = 0;

  // Evidence that a stream which later breaks is a pickle and not text or raw data: a
  // denylisted global was imported, or a global was called. (Text such as "cat\ndog\n" reads
  // as GLOBAL at.dog, which CPython would fail to import before calling anything.)
  bool saw_import = false;
  bool stream_imported = false;  // some pickle of this stream imported or called something
  bool torch_magic = false; // the pickle is torch's legacy magic number
  int protocol = 0;

 private:
  [[noreturn]] void malformed(const std::string& why) { throw Malformed{why, op_at_}; }
  size_t frame_size() const { return stack_.size() - (marks_.empty() ? 0 : marks_.back()); }
  void push(Value v) {
    if (stack_.size() >= kMaxStack) throw LimitReached{"pickle stack deeper than the scanner's limit", op_at_};
    stack_.push_back(std::move(v));
  }
  Value pop() {
    if (frame_size() == 0) malformed("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const Value& top() {
    if (frame_size() == 0) malformed("stack underflow");
    return stack_.back();
  }
  size_t pop_mark() {  // returns how many items were above the mark (now dropped)
    if (marks_.empty()) malformed("MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    size_t n = stack_.size() - m;
    stack_.resize(m);
    return n;
  }
  void memo_put(uint64_t key) {
    const Value& v = top();
    if (memo_.size() >= kMaxMemo && !memo_.count(key)) {
      throw LimitReached{"pickle memo larger than the scanner's limit", op_at_};
    }
    memo_[key] = v;
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) malformed("memo key " + std::to_string(key) + " not found");
    push(it->second);
  }
  // GET and PUT: int(line, 10), as CPython parses them; a memo index is a non-negative ssize_t.
  uint64_t memo_key() {
    uint64_t len = 0;
    std::string s = in_.line(4096, &len);
    bool neg = false, overflow = false;
    u128 v = 0;
    if (len > s.size() || !parse_pyint(s, 10, &neg, &v, &overflow)) malformed("bad memo index");
    if (overflow || v > static_cast<u128>(INT64_MAX) || (neg && v != 0)) malformed("memo index out of range");
    return static_cast<uint64_t>(v);
  }
  // INT and LONG: the value matters when it is torch's magic number, and for joblib's array
  // sizes; that value is kept only for plain decimals (and INT's 00/01 for False/True), which
  // C's strtol-first reading and pickle.py's int(line, 0) agree on.
  Value text_int(bool is_long) {
    uint64_t len = 0;
    std::string s = in_.line(256, &len);
    if (len > s.size()) return {};
    std::string_view v = std::string_view(s).substr(0, s.find('\0'));
    if (is_long && !v.empty() && v.back() == 'L') v.remove_suffix(1);
    bool neg = false, overflow = false;
    u128 mag = 0;
    Value out;
    out.magic = parse_pyint(v, 0, &neg, &mag, &overflow) && !neg && !overflow && mag == torch_magic_value();
    if (!is_long && (v == "00" || v == "01")) return int_value(v[1] - '0');
    std::string_view digits = !v.empty() && v[0] == '-' ? v.substr(1) : v;
    bool plain = !digits.empty() && digits.size() <= 18 && (digits[0] != '0' || digits.size() == 1);
    for (char c : digits) plain = plain && c >= '0' && c <= '9';
    if (plain) {
      Value n = int_value(std::stoll(std::string(v)));
      n.magic = out.magic;
      return n;
    }
    return out;
  }
  Value long_bytes(uint64_t n) {
    Value v;
    if (n <= 8) {  // decode_long: little-endian two's complement
      uint8_t b[8] = {};
      in_.read(b, static_cast<size_t>(n));
      uint64_t u = 0;
      for (size_t k = n; k-- > 0;) u = (u << 8) | b[k];
      if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~0ull << (8 * n);
      return int_value(static_cast<int64_t>(u));
    }
    if (n >= sizeof kTorchMagic && n <= 64) {
      uint8_t b[64];
      in_.read(b, static_cast<size_t>(n));
      v.magic = le_equals_magic(b, static_cast<size_t>(n));
    } else {
      in_.skip(n);
    }
    return v;
  }
  Value resolve(const std::string& module, const std::string& name, Result& out, bool ascii = false);
  Value str_value(std::string text) {
    if (text.size() > kMaxName) return Value{Kind::str, nullptr};
    return Value{Kind::str, std::make_shared<const std::string>(std::move(text))};
  }
  void counted_str(uint64_t n, bool is_bytes, bool is_utf8, Result& out);
  void embedded(std::string_view bytes, uint64_t offset, Result& out);
  void embedded_range(uint64_t off, uint64_t n, Result& out);
  void call(const Value& callable, const char* opname, Result& out);

  // Values followed for joblib (see Node).
  int32_t new_node(Node::Type type) {
    if (plain_ || nodes_.size() >= kMaxNodes) return -1;
    nodes_.emplace_back().type = type;
    return static_cast<int32_t>(nodes_.size() - 1);
  }
  bool keep(Node& n, size_t more) {
    if (!n.complete || n.items.size() + more > kMaxNodeItems || kept_ + more > kMaxKeptItems) {
      n.complete = false;
      return false;
    }
    kept_ += more;
    return true;
  }
  std::vector<Value> take_mark() {  // the items above the top MARK, which is popped
    if (marks_.empty()) malformed("MARK missing");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(m)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  Value tuple_of(std::vector<Value> items);
  void dict_add(const Value& dict, std::vector<Value> pairs);
  Value made_object(const Value& callable, Value args, bool constructed);
  // The node a value refers to in this unpickler's arena, of that type, or null. (A plain
  // reading goes on from values copied from another unpickler, whose nodes it does not have.)
  const Node* node(const Value& v, Node::Type type) const {
    if (v.node < 0 || static_cast<size_t>(v.node) >= nodes_.size()) return nullptr;
    const Node& n = nodes_[static_cast<size_t>(v.node)];
    return n.type == type ? &n : nullptr;
  }
  void build(Value state, Result& out);
  void joblib_array(int32_t wrapper, const Value& state, Result& out);
  void plain_reading(Result& out);

  Reader& in_;
  int depth_;
  uint64_t op_at_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<Node> nodes_;
  size_t kept_ = 0;
  uint64_t frame_end_ = 0;     // where the last FRAME ends
  bool plain_ = false;         // pickle.load's reading of what joblib reads as array data
  bool wrapper_seen_ = false;  // joblib's NumpyArrayWrapper was resolved in this pickle
};

// `ascii`: INST, whose names CPython decodes as ASCII (GLOBAL: UTF-8) before importing. A
// name that fails to decode, or a module name no import could find (not a dotted identifier:
// random bytes, text), raises before any code runs; such a global does not count as evidence
// that a broken stream is a pickle (its finding stays when the stream is complete).
Value Unpickler::resolve(const std::string& module, const std::string& name, Result& out, bool ascii) {
  std::string full = module + "." + name;
  bool decodes = valid_utf8(full);
  if (ascii) {
    for (char c : full) decodes = decodes && static_cast<unsigned char>(c) < 0x80;
  }
  // CPython raises there (UnicodeDecodeError, or ValueError for an empty module name).
  if (!decodes || module.empty()) malformed("global name that CPython cannot decode or import");
  bool importable = is_identifier_path(module);
  if (full == kArrayWrapper) wrapper_seen_ = true;
  if (const char* sev = global_severity(module, name)) {
    add_finding(out, "global " + full, sev, op_at_);
    if (std::string_view(sev) == "critical" && importable && is_identifier_path(name)) saw_import = true;
  }
  Value v{Kind::global, std::make_shared<const std::string>(std::move(full))};
  v.importable = importable;
  return v;
}

void Unpickler::call(const Value& callable, const char* opname, Result& out) {
  if (callable.kind == Kind::global) {
    if (callable.importable) saw_import = true;
  } else if (callable.kind == Kind::object) {  // the result of a call: it may be callable
    add_finding(out, std::string(opname) + " calls a value that is not a global", "medium", op_at_);
  } else {  // a number, string or container: CPython raises TypeError before calling anything
    malformed(std::string(opname) + " calls a value that is not callable");
  }
}

Value Unpickler::tuple_of(std::vector<Value> items) {
  Value v;
  v.node = new_node(Node::tuple);
  if (v.node >= 0 && keep(nodes_[static_cast<size_t>(v.node)], items.size())) {
    nodes_[static_cast<size_t>(v.node)].items = std::move(items);
  }
  return v;
}

void Unpickler::dict_add(const Value& dict, std::vector<Value> pairs) {
  if (node(dict, Node::dict) == nullptr) return;
  Node& n = nodes_[static_cast<size_t>(dict.node)];
  if (pairs.size() % 2 != 0) n.complete = false;
  if (!keep(n, pairs.size())) return;
  for (Value& v : pairs) n.items.push_back(std::move(v));
}

// The result of calling `callable`: REDUCE, OBJ and INST call it (a class's __init__ runs with
// `args`); NEWOBJ, NEWOBJ_EX and copyreg._reconstructor make an instance without __init__.
Value Unpickler::made_object(const Value& callable, Value args, bool constructed) {
  Value v{Kind::object, nullptr};
  std::string cls = callable.kind == Kind::global && callable.text ? *callable.text : std::string();
  if (cls == "copyreg._reconstructor" || cls == "copy_reg._reconstructor") {
    const Node* a = node(args, Node::tuple);
    const Value* first = a && !a->items.empty() ? &a->items[0] : nullptr;
    cls = first && first->kind == Kind::global && first->text ? *first->text : std::string();
    if (cls.empty() && wrapper_seen_ && !plain_) {
      throw LimitReached{"copyreg._reconstructor of a class the scanner cannot follow, in a pickle with joblib "
                         "array wrappers", op_at_};
    }
    constructed = false;
  }
  v.node = new_node(Node::object);
  if (v.node < 0) {
    if (cls == kArrayWrapper && !plain_) {
      throw LimitReached{"more objects than the scanner follows before a joblib array wrapper", op_at_};
    }
    return v;
  }
  Node& n = nodes_[static_cast<size_t>(v.node)];
  n.cls = std::move(cls);
  n.args = std::move(args);
  n.constructed = constructed;
  return v;
}

namespace {

const Value* attribute(const std::vector<Value>& pairs, std::string_view name) {
  const Value* found = nullptr;
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    if (pairs[i].kind == Kind::str && pairs[i].text && *pairs[i].text == name) found = &pairs[i + 1];
  }
  return found;
}

// A dtype as numpy's dtype.__reduce__ spells it ('f4', 'b1', 'U3', 'V12', 'O8', 'M8'...), with
// an optional byte order; anything else is not sized (nullopt).
struct Typestr {
  char kind;
  uint64_t size;
};
std::optional<Typestr> parse_typestr(std::string_view s) {
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) s.remove_prefix(1);
  if (s == "O") return Typestr{'O', 8};
  if (s.size() < 2 || std::string_view("biufcSaUVOMm").find(s[0]) == std::string_view::npos) return std::nullopt;
  char kind = s[0];
  size_t i = 1;
  uint64_t n = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (n > (1ull << 40)) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (i == 1) return std::nullopt;
  std::string_view rest = s.substr(i);
  if (!rest.empty() && !((kind == 'M' || kind == 'm') && rest.front() == '[' && rest.back() == ']')) return std::nullopt;
  auto one_of = [n](std::initializer_list<uint64_t> ok) {
    for (uint64_t x : ok) {
      if (x == n) return true;
    }
    return false;
  };
  switch (kind) {
    case 'b': return n == 1 ? std::optional(Typestr{kind, 1}) : std::nullopt;
    case 'i': case 'u': return one_of({1, 2, 4, 8}) ? std::optional(Typestr{kind, n}) : std::nullopt;
    case 'f': return one_of({2, 4, 8, 12, 16}) ? std::optional(Typestr{kind, n}) : std::nullopt;
    case 'c': return one_of({8, 16, 24, 32}) ? std::optional(Typestr{kind, n}) : std::nullopt;
    case 'O': case 'M': case 'm': return n == 8 ? std::optional(Typestr{kind, 8}) : std::nullopt;
    case 'U': return Typestr{kind, n * 4};
    default: return Typestr{kind, n};  // S, a, V
  }
}

}  // namespace

void Unpickler::build(Value state, Result& out) {
  const Value& target = top();
  if (target.kind == Kind::global) {
    if (target.importable) saw_import = true;
    add_finding(out, "BUILD sets attributes of global " + *target.text, "high", op_at_);
  }
  if (plain_ || node(target, Node::object) == nullptr) return;
  int32_t id = target.node;
  Node& n = nodes_[static_cast<size_t>(id)];
  if (n.cls == kArrayWrapper) {
    joblib_array(id, state, out);
    return;
  }
  n.state = std::move(state);
  n.built = true;
}

// joblib's NumpyUnpickler.load_build (joblib/numpy_pickle.py): after BUILD of a
// NumpyArrayWrapper, NumpyArrayWrapper.read_array reads the array's bytes from the file
// itself: a pickle of its own (pickle.load) when the dtype holds objects, otherwise an
// optional padding (one byte giving its length) and then shape x itemsize raw bytes. The
// emulator reads exactly that; where it cannot tell how many bytes that is, the file is
// unsafe. pickle.load of the same file reads those bytes as opcodes instead: that reading is
// scanned too (plain_reading).
void Unpickler::joblib_array(int32_t wrapper, const Value& state, Result& out) {
  auto unsure = [&](const std::string& why) {
    throw LimitReached{"joblib array wrapper " + why + ": the scanner cannot tell where its array data ends", op_at_};
  };
  // pickle.py's load_build without __setstate__: a dict state, or (state, slotstate), updates
  // the instance's attributes; a falsy state does nothing.
  std::vector<Value> attrs;
  auto apply = [&](const Value& d) {
    if (d.none || (d.has_int && d.num == 0)) return true;
    const Node* dn = node(d, Node::dict);
    if (dn == nullptr || !dn->complete) {
      const Node* t = node(d, Node::tuple);
      return t != nullptr && t->complete && t->items.empty();
    }
    attrs.insert(attrs.end(), dn->items.begin(), dn->items.end());
    return true;
  };
  const Node* st = node(state, Node::tuple);
  bool applied = st && st->complete && st->items.size() == 2 ? apply(st->items[0]) && apply(st->items[1]) : apply(state);
  if (!applied) unsure("with a BUILD state the scanner does not follow");
  Node& w = nodes_[static_cast<size_t>(wrapper)];
  if (!keep(w, attrs.size())) unsure("with more attributes than the scanner follows");
  w.items.insert(w.items.end(), attrs.begin(), attrs.end());
  std::vector<Value> all;  // __init__(subclass, shape, order, dtype, allow_mmap=False, alignment=16)
  if (w.constructed) {
    const Node* a = node(w.args, Node::tuple);
    if (a == nullptr || !a->complete) unsure("called with arguments the scanner does not follow");
    if (a->items.size() < 4 || a->items.size() > 6) malformed("NumpyArrayWrapper() with a wrong number of arguments");
    static constexpr std::string_view kParams[] = {"subclass", "shape", "order", "dtype", "allow_mmap",
                                                   "numpy_array_alignment_bytes"};
    for (size_t i = 0; i < a->items.size(); ++i) {
      all.push_back(str_value(std::string(kParams[i])));
      all.push_back(a->items[i]);
    }
  }
  all.insert(all.end(), w.items.begin(), w.items.end());

  const Value* shape = attribute(all, "shape");
  const Value* dtype = attribute(all, "dtype");
  if (shape == nullptr || dtype == nullptr) malformed("NumpyArrayWrapper without a shape or a dtype");
  const Node* sn = node(*shape, Node::tuple);
  if (sn == nullptr || !sn->complete) unsure("whose shape is not a tuple the scanner follows");
  uint64_t count = 1;
  for (const Value& d : sn->items) {
    if (!d.has_int || d.num < 0) unsure("whose shape holds something other than sizes");
    if (d.num != 0 && count > static_cast<uint64_t>(INT64_MAX) / static_cast<uint64_t>(d.num)) {
      unsure("whose shape overflows");
    }
    count *= static_cast<uint64_t>(d.num);
  }
  const Node* dn = node(*dtype, Node::object);
  if (dn == nullptr || dn->cls != "numpy.dtype") unsure("whose dtype is not a numpy.dtype the scanner follows");
  const Node* da = node(dn->args, Node::tuple);
  std::optional<Typestr> ts;
  if (da && !da->items.empty() && da->items[0].kind == Kind::str && da->items[0].text) ts = parse_typestr(*da->items[0].text);
  if (!ts) unsure("whose dtype is spelled in a way the scanner does not size");
  // numpy's dtype.__setstate__ takes hasobject from the state's flags (bit 0) and the size of
  // a flexible type (S, U, V) from its elsize.
  bool hasobject = ts->kind == 'O';
  uint64_t itemsize = ts->size;
  if (dn->built) {
    const Node* s = node(dn->state, Node::tuple);
    if (s == nullptr || !s->complete || (s->items.size() != 8 && s->items.size() != 9) || !s->items[0].has_int ||
        (s->items[0].num != 3 && s->items[0].num != 4) || !s->items[5].has_int || !s->items[7].has_int ||
        s->items[7].num < INT32_MIN || s->items[7].num > INT32_MAX || !s->items[2].none) {
      unsure("whose dtype state the scanner does not follow");
    }
    hasobject = (s->items[7].num & 1) != 0;
    if (ts->kind == 'S' || ts->kind == 'a' || ts->kind == 'U' || ts->kind == 'V') {
      if (s->items[5].num < 0) unsure("whose dtype has a negative size");
      itemsize = static_cast<uint64_t>(s->items[5].num);
    }
  }
  if (itemsize == 0 && !hasobject) unsure("whose dtype has no size");
  if (frame_end_ > in_.pos()) {
    unsure("inside a pickle frame (joblib reads its data from after the frame, pickle.load from inside it)");
  }
  uint64_t at = in_.pos();
  plain_reading(out);
  if (hasobject) {  // read_array: pickle.load(file_handle), CPython's own unpickler
    if (depth_ + 1 >= kMaxNesting) unsure("of objects nested too deeply");
    Unpickler inner(in_, depth_ + 1);
    inner.plain_ = true;  // CPython's unpickler: a NumpyArrayWrapper in there is only an object
    inner.plain_work = plain_work;
    inner.plain_work_limit = plain_work_limit;
    Result r;
    inner.run(r);
    if (inner.saw_import) saw_import = true;
    merge_findings(out, r, "joblib-array@" + std::to_string(at));
  } else {
    const Value* align = attribute(all, "numpy_array_alignment_bytes");
    if (align ? !align->none : w.constructed) in_.skip(in_.byte());  // the padding and its length
    if (count != 0 && itemsize > static_cast<uint64_t>(INT64_MAX) / count) unsure("whose size overflows");
    if (count * itemsize > in_.remaining()) malformed("joblib array data past the end of the file");
    in_.skip(count * itemsize);
  }
  stack_.back() = Value{Kind::object, nullptr};  // the array, in the wrapper's place
}

// pickle.load of a joblib file reads what joblib reads as array data as opcodes, going on
// from the same stack and memo. That reading is scanned as far as CPython would get.
void Unpickler::plain_reading(Result& out) {
  uint64_t at = in_.pos();
  *plain_work += stack_.size() + memo_.size() + marks_.size();
  if (*plain_work > plain_work_limit) {
    throw LimitReached{"pickle.load's readings of joblib array data exceed the scanner's work limit", op_at_};
  }
  Reader r(in_.source(), at);
  Unpickler p(r, depth_);
  p.plain_ = true;
  p.plain_work = plain_work;
  p.plain_work_limit = plain_work_limit;
  p.stack_ = stack_;
  p.marks_ = marks_;
  p.memo_ = memo_;
  for (Value& v : p.stack_) v.node = -1;  // this reading follows no values (and has no nodes)
  for (auto& [key, v] : p.memo_) v.node = -1;
  p.protocol = protocol;
  p.stream_imported = stream_imported || saw_import;
  Result pr;
  bool keep_findings = true;
  try {
    p.run(pr, /*fresh=*/false);
  } catch (const Malformed&) {
    keep_findings = p.saw_import;  // CPython stops there; only what it imported or called counts
  }
  *plain_work += r.pos() - at;
  if (keep_findings && !pr.findings.empty()) {
    add_finding(out, "pickle.load reads joblib array data at offset " + std::to_string(at) +
                     " as opcodes (joblib.load skips them)", has_serious(pr) ? "high" : "low", at);
    merge_findings(out, pr, "pickle.load@" + std::to_string(at));
  }
}

// A bytes/str constant that is itself a pickle (for pickle.loads and friends).
void Unpickler::embedded(std::string_view bytes, uint64_t offset, Result& out) {
  if (!starts_like_pickle(bytes)) return;
  if (depth_ >= kMaxNesting) {
    add_finding(out, "embedded pickle nested too deeply to scan", "medium", offset);
    return;
  }
  MemorySource inner{std::string(bytes)};
  if (auto r = scan_pickle(inner, false, depth_ + 1)) {
    merge_findings(out, *r, "pickle@" + std::to_string(offset));
  }
}

void Unpickler::embedded_range(uint64_t off, uint64_t n, Result& out) {
  if (n < 2) return;
  std::string head = in_.source().read_string(off, 2);
  if (!starts_like_pickle(head)) return;
  if (depth_ >= kMaxNesting) {
    add_finding(out, "embedded pickle nested too deeply to scan", "medium", off);
    return;
  }
  SubSource inner(in_.source(), off, n);
  if (auto r = scan_pickle(inner, false, depth_ + 1)) {
    merge_findings(out, *r, "pickle@" + std::to_string(off));
  }
}

// A length-prefixed str or bytes of n bytes at the current position.
void Unpickler::counted_str(uint64_t n, bool is_bytes, bool is_utf8, Result& out) {
  if (n > in_.remaining()) malformed("string length past the end of data");
  uint64_t start = in_.pos();
  if (is_bytes) {
    embedded_range(start, n, out);
    in_.skip(n);
    push(Value{Kind::data, nullptr});
    return;
  }
  if (n <= kMaxName) {
    std::string s(static_cast<size_t>(n), '\0');
    in_.read(s.data(), s.size());
    if (!is_utf8) embedded(s, start, out);
    else if (auto latin = utf8_to_latin1(s)) embedded(*latin, start, out);
    push(str_value(std::move(s)));
    return;
  }
  // A long str: only worth reading if it is latin-1 text of an embedded pickle.
  std::string head = in_.source().read_string(start, 3);
  bool pickle_like = is_utf8 ? (head[0] == '\xC2' && head[1] == '\x80' && static_cast<unsigned char>(head[2]) <= 5)
                             : starts_like_pickle(head);
  if (pickle_like) {
    if (n > kMaxEmbedded) {
      add_finding(out, "embedded pickle too large to scan", "medium", start);
    } else {
      std::string s = in_.source().read_string(start, static_cast<size_t>(n));
      if (!is_utf8) embedded(s, start, out);
      else if (auto latin = utf8_to_latin1(s)) embedded(*latin, start, out);
    }
  }
  in_.skip(n);
  push(Value{Kind::str, nullptr});
}

void Unpickler::run(Result& out, bool fresh) {
  try {
    step_all(out, fresh);
  } catch (const Error& e) {
    if (e.status() == Status::io) throw;
    malformed(e.what());  // the data ends inside an opcode: CPython fails there too
  }
}

void Unpickler::step_all(Result& out, bool fresh) {
  if (fresh) {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    nodes_.clear();
    kept_ = 0;
    frame_end_ = 0;
    wrapper_seen_ = false;
  }
  torch_magic = false;
  for (;;) {
    op_at_ = in_.pos();
    uint8_t op;
    try {
      op = in_.byte();
    } catch (const Error&) {
      malformed("pickle ends without STOP");
    }
    switch (op) {
      case 0x80: {  // PROTO
        protocol = in_.byte();
        if (protocol > 5) malformed("unsupported pickle protocol " + std::to_string(protocol));
        break;
      }
      case 0x95: {  // FRAME: a read-ahead hint to the C unpickler, which reads opcodes
        // across its boundaries (pickle.py's _Unframer refuses that, so it accepts less).
        uint64_t n = in_.le(8);
        if (n > in_.remaining()) malformed("FRAME longer than the data");
        frame_end_ = in_.pos() + n;
        break;
      }
      case '.': {  // STOP
        torch_magic = pop().magic;
        return;
      }
      case '(': {  // MARK
        if (marks_.size() >= kMaxMarks) throw LimitReached{"too many MARKs for the scanner", op_at_};
        marks_.push_back(stack_.size());
        break;
      }
      case '0':  // POP (pops a MARK when the frame is empty)
        if (frame_size() == 0 && !marks_.empty()) pop_mark();
        else pop();
        break;
      case '1': pop_mark(); break;  // POP_MARK
      case '2': push(top()); break;  // DUP
      case 'N': {  // NONE
        Value none;
        none.none = true;
        push(none);
        break;
      }
      case 0x88: push(int_value(1)); break;  // NEWTRUE
      case 0x89: push(int_value(0)); break;  // NEWFALSE
      case 'I': push(text_int(false)); break;  // INT
      case 'L': push(text_int(true)); break;   // LONG
      case 'F': in_.line(0); push({}); break;  // FLOAT
      case 'J': push(int_value(static_cast<int32_t>(in_.le(4)))); break;  // BININT
      case 'K': push(int_value(static_cast<int64_t>(in_.le(1)))); break;  // BININT1
      case 'M': push(int_value(static_cast<int64_t>(in_.le(2)))); break;  // BININT2
      case 'G': in_.skip(8); push({}); break;  // BINFLOAT
      case 0x8a: {  // LONG1
        uint64_t n = in_.byte();
        if (n > in_.remaining()) malformed("LONG1 past the end of data");
        push(long_bytes(n));
        break;
      }
      case 0x8b: {  // LONG4
        uint64_t n = in_.le(4);
        if (n & 0x80000000u) malformed("LONG4 with a negative length");
        if (n > in_.remaining()) malformed("LONG4 past the end of data");
        push(long_bytes(n));
        break;
      }
      case 'S': {  // STRING: a quoted, escaped repr
        uint64_t len = 0;
        uint64_t start = in_.pos();
        std::string s = in_.line(kMaxEmbedded, &len);
        if (len < 2 || s.front() != s.back() || (s.front() != '\'' && s.front() != '"')) {
          malformed("STRING argument not quoted");
        }
        if (len > kMaxEmbedded) {
          if (s.compare(1, 4, "\\x80") == 0) {
            add_finding(out, "embedded pickle too large to scan", "medium", start);
          }
          push(Value{Kind::str, nullptr});
          break;
        }
        std::string decoded = escape_decode(std::string_view(s).substr(1, s.size() - 2));
        embedded(decoded, start, out);
        push(str_value(std::move(decoded)));
        break;
      }
      case 'V': {  // UNICODE: raw-unicode-escape
        uint64_t len = 0;
        uint64_t start = in_.pos();
        std::string s = in_.line(kMaxEmbedded, &len);
        if (len > kMaxEmbedded) {
          push(Value{Kind::str, nullptr});
          break;
        }
        std::string decoded = raw_unicode_escape_decode(s);
        if (auto latin = utf8_to_latin1(decoded)) embedded(*latin, start, out);
        push(str_value(std::move(decoded)));
        break;
      }
      case 'T': {  // BINSTRING
        uint64_t n = in_.le(4);
        if (n & 0x80000000u) malformed("BINSTRING with a negative length");
        counted_str(n, false, false, out);
        break;
      }
      case 'U': counted_str(in_.byte(), false, false, out); break;  // SHORT_BINSTRING
      case 'X': counted_str(in_.le(4), false, true, out); break;    // BINUNICODE
      case 0x8c: counted_str(in_.byte(), false, true, out); break;  // SHORT_BINUNICODE
      case 0x8d: counted_str(in_.le(8), false, true, out); break;   // BINUNICODE8
      case 'B': counted_str(in_.le(4), true, false, out); break;    // BINBYTES
      case 'C': counted_str(in_.byte(), true, false, out); break;   // SHORT_BINBYTES
      case 0x8e: counted_str(in_.le(8), true, false, out); break;   // BINBYTES8
      case 0x96: counted_str(in_.le(8), true, false, out); break;   // BYTEARRAY8
      case 0x97:  // NEXT_BUFFER: pickle.load without buffers= (every model loader) raises here
        malformed("NEXT_BUFFER without out-of-band buffers");
      case 0x98: top(); break;                                      // READONLY_BUFFER
      case ']': case 0x8f: push({}); break;  // EMPTY_LIST EMPTY_SET
      case ')': push(tuple_of({})); break;   // EMPTY_TUPLE
      case '}': {  // EMPTY_DICT
        Value d;
        d.node = new_node(Node::dict);
        push(d);
        break;
      }
      case 'l': case 0x91: pop_mark(); push({}); break;  // LIST FROZENSET
      case 't': push(tuple_of(take_mark())); break;       // TUPLE
      case 'd': {  // DICT
        std::vector<Value> items = take_mark();
        Value d;
        d.node = new_node(Node::dict);
        dict_add(d, std::move(items));
        push(d);
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1 TUPLE2 TUPLE3
        std::vector<Value> items(static_cast<size_t>(op - 0x84));
        for (size_t k = items.size(); k-- > 0;) items[k] = pop();
        push(tuple_of(std::move(items)));
        break;
      }
      case 'a': pop(); top(); break;  // APPEND
      case 's': {  // SETITEM
        Value v = pop();
        Value k = pop();
        std::vector<Value> pair;
        pair.push_back(std::move(k));
        pair.push_back(std::move(v));
        dict_add(top(), std::move(pair));
        break;
      }
      case 'u': {  // SETITEMS
        std::vector<Value> items = take_mark();
        dict_add(top(), std::move(items));
        break;
      }
      case 'e': case 0x90: pop_mark(); top(); break;  // APPENDS ADDITEMS
      case 'c': {  // GLOBAL
        std::string module = in_.line(kMaxName + 1);
        std::string name = in_.line(kMaxName + 1);
        push(resolve(module, name, out));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value name = pop();
        Value module = pop();
        if (name.kind == Kind::str && module.kind == Kind::str) {
          if (name.text && module.text) {
            push(resolve(*module.text, *name.text, out));
          } else {
            saw_import = true;
            add_finding(out, "STACK_GLOBAL with a name too long to check", "high", op_at_);
            push(Value{Kind::global, std::make_shared<const std::string>("?")});
          }
        } else if ((name.kind == Kind::str || name.kind == Kind::object) &&
                   (module.kind == Kind::str || module.kind == Kind::object)) {
          saw_import = true;
          add_finding(out, "STACK_GLOBAL with a computed name", "critical", op_at_);
          push(Value{Kind::global, std::make_shared<const std::string>("?")});
        } else {
          malformed("STACK_GLOBAL requires str");
        }
        break;
      }
      case 0x82: case 0x83: case 0x84: {  // EXT1 EXT2 EXT4
        uint64_t code = in_.le(op == 0x82 ? 1 : op == 0x83 ? 2 : 4);
        if (code == 0) malformed("EXT specifies code <= 0");
        // copyreg's extension registry is empty in a fresh interpreter: CPython raises
        // "unregistered extension code" unless something that ran earlier (a copyreg call,
        // itself flagged) registered one.
        if (!stream_imported && !saw_import) malformed("unregistered extension code " + std::to_string(code));
        add_finding(out, "extension registry code " + std::to_string(code) + " (registered by code that ran earlier)", "high", op_at_);
        push(Value{Kind::global, std::make_shared<const std::string>("?")});
        break;
      }
      case 'i': {  // INST: module and name lines, then the arguments above a MARK
        if (marks_.empty()) malformed("MARK missing");  // checked first, as CPython does
        std::string module = in_.line(kMaxName + 1);
        std::string name = in_.line(kMaxName + 1);
        Value cls = resolve(module, name, out, /*ascii=*/true);
        std::vector<Value> args = take_mark();
        call(cls, "INST", out);
        push(made_object(cls, tuple_of(std::move(args)), true));
        break;
      }
      case 'o': {  // OBJ: class and arguments above a MARK
        if (marks_.empty()) malformed("MARK missing");
        if (frame_size() == 0) malformed("OBJ without a class");
        Value cls = stack_[marks_.back()];
        std::vector<Value> args = take_mark();
        args.erase(args.begin());
        call(cls, "OBJ", out);
        push(made_object(cls, tuple_of(std::move(args)), true));
        break;
      }
      case 'R': {  // REDUCE
        Value args = pop();
        Value callable = pop();
        call(callable, "REDUCE", out);
        push(made_object(callable, std::move(args), true));
        break;
      }
      case 0x81: {  // NEWOBJ
        Value args = pop();
        Value cls = pop();
        call(cls, "NEWOBJ", out);
        push(made_object(cls, std::move(args), false));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        pop();
        Value args = pop();
        Value cls = pop();
        call(cls, "NEWOBJ_EX", out);
        push(made_object(cls, std::move(args), false));
        break;
      }
      case 'b': build(pop(), out); break;  // BUILD
      case 'P': in_.line(0); push(Value{Kind::object, nullptr}); break;  // PERSID
      case 'Q': pop(); push(Value{Kind::object, nullptr}); break;        // BINPERSID
      case 'g': memo_get(memo_key()); break;                              // GET
      case 'h': memo_get(in_.byte()); break;                              // BINGET
      case 'j': memo_get(in_.le(4)); break;                               // LONG_BINGET
      case 'p': memo_put(memo_key()); break;                              // PUT
      case 'q': memo_put(in_.byte()); break;                              // BINPUT
      case 'r': memo_put(in_.le(4)); break;                               // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;                           // MEMOIZE
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", op);
        malformed(std::string("invalid opcode ") + hex);
      }
    }
  }
}

// Bytes after the last pickle that parses: no unpickler reads them as a pickle (the next one
// fails before importing anything), but another reader may (a zip found from the end, a
// second format), so they are scanned by content like a file of their own.
void scan_after_pickles(Result& r, const Source& src, uint64_t start, int depth, bool legacy_storages) {
  uint64_t n = src.size() - start;
  std::string member = "bytes@" + std::to_string(start);
  if (legacy_storages) {
    add_finding(r, std::to_string(n) + " bytes of raw tensor storage after the five legacy pickles", "low", start);
  } else {
    add_finding(r, std::to_string(n) + " bytes after the last pickle (no unpickler reads them)", "low", start);
  }
  if (depth + 1 >= kMaxNesting) {
    add_finding(r, "bytes after the last pickle not scanned: nesting limit reached", "medium", start);
    return;
  }
  SubSource tail(src, start, n);
  Result t = scan_source(tail, depth + 1, /*whole_file=*/false);
  merge_findings(r, t, member);
}

}  // namespace

std::optional<Result> scan_pickle(const Source& src, bool definite, int depth) {
  Result r;
  r.format = "pickle";
  Reader in(src);
  Unpickler u(in, depth);
  uint64_t plain_work = 0;
  u.plain_work = &plain_work;
  u.plain_work_limit = 4 * src.size() + (64u << 20);
  uint64_t complete = 0;  // pickles read through STOP
  bool legacy = false;
  while (!in.at_end()) {
    uint64_t start = in.pos();
    if (complete >= kMaxPicklesInStream) {
      r.error = "more pickles in one stream than the scanner's limit of " + std::to_string(kMaxPicklesInStream);
      break;
    }
    Result one;
    u.saw_import = false;
    try {
      u.run(one);
    } catch (const Malformed& e) {
      if (u.saw_import) {  // something was imported or called before the stream broke
        merge_findings(r, one, {});
        r.error = "malformed pickle: " + e.why + " at offset " + std::to_string(e.offset);
        break;
      }
      // Every unpickler stops here before importing anything, so nothing of this pickle runs.
      if (complete == 0) {
        if (!definite) return std::nullopt;
        add_finding(r, "not a loadable pickle (" + e.why + " at offset " + std::to_string(e.offset) +
                       "): every unpickler fails there before importing anything", "low", e.offset);
        r.verdict = Verdict::unknown;
        return r;
      }
      if (legacy && complete < 5) {
        add_finding(r, "legacy torch file with " + std::to_string(complete) +
                       " of its 5 pickles: torch.load fails at offset " + std::to_string(e.offset) +
                       " before rebuilding anything", "low", e.offset);
        merge_findings(r, one, {});
        r.verdict = has_serious(r) ? Verdict::unsafe : Verdict::unknown;
        return r;
      }
      scan_after_pickles(r, src, start, depth, legacy && complete >= 5);
      break;
    } catch (const LimitReached& e) {
      merge_findings(r, one, {});
      r.error = e.why + " at offset " + std::to_string(e.offset);
      break;
    }
    merge_findings(r, one, {});
    if (u.saw_import) u.stream_imported = true;
    if (complete == 0 && u.torch_magic) {
      legacy = true;
      r.format = "pytorch-legacy";
    }
    ++complete;
  }
  r.verdict = (has_serious(r) || !r.error.empty()) ? Verdict::unsafe : Verdict::safe;
  return r;
}

}  // namespace modelseal::scan::detail

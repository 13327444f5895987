// RFC 7512 PKCS#11 URIs: parsing, display without the PIN, and finding the module.
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "modelseal/encoding.hpp"
#include "modelseal/error.hpp"
#include "modelseal/fileio.hpp"
#include "modelseal/pkcs11.hpp"
#include "modelseal/files.hpp"

#ifndef MODELSEAL_MULTIARCH
#define MODELSEAL_MULTIARCH "x86_64-linux-gnu"
#endif

namespace modelseal {

namespace {

constexpr std::string_view kScheme = "pkcs11:";
constexpr size_t kMaxUri = 8192;
constexpr std::string_view kHint = "see modelseal-keys(5) for the syntax";

Error bad(const std::string& why) { return usage_error("bad PKCS#11 URI: " + why, std::string(kHint)); }

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Characters RFC 7512 allows unencoded in a value: pk11-res-avail, plus "&" in the path and
// "/", "?", "|" in the query.
bool allowed(char c, bool query) {
  if (unreserved(c) || std::strchr(":[]@!$'()*+,=", c)) return c != '\0';
  return query ? (c == '/' || c == '?' || c == '|') : c == '&';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `value` into `out` (size value.size() at least); returns the decoded length.
// Messages name the attribute only: a value may be the PIN.
size_t decode_into(std::string_view name, std::string_view value, bool query, char* out) {
  size_t n = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '%') {
      int hi = i + 2 < value.size() ? hex_digit(value[i + 1]) : -1;
      int lo = i + 2 < value.size() ? hex_digit(value[i + 2]) : -1;
      if (hi < 0 || lo < 0) throw bad("bad percent-encoding in " + std::string(name));
      out[n++] = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (allowed(c, query)) {
      out[n++] = c;
    } else {
      throw bad("character not allowed in " + std::string(name) + " (percent-encode it)");
    }
  }
  return n;
}

std::string decode(std::string_view name, std::string_view value, bool query) {
  std::string out(value.size(), '\0');
  out.resize(decode_into(name, value, query, out.data()));
  return out;
}

// A text attribute (label, path): decoded, not empty, no NUL.
std::string text_value(std::string_view name, std::string_view value, bool query) {
  std::string v = decode(name, value, query);
  if (v.find('\0') != std::string::npos) throw bad(std::string(name) + " contains a NUL byte");
  return v;
}

template <typename T>
void set_once(std::optional<T>& slot, std::string_view name, T value) {
  if (slot) throw bad(std::string(name) + " given twice");
  slot = std::move(value);
}

void set_once(std::string& slot, std::string_view name, std::string value) {
  if (!slot.empty()) throw bad(std::string(name) + " given twice");
  slot = std::move(value);
}

void path_attribute(Pkcs11Uri& u, std::string_view name, std::string_view value) {
  if (name == "token") return set_once(u.token, name, text_value(name, value, false));
  if (name == "manufacturer") return set_once(u.manufacturer, name, text_value(name, value, false));
  if (name == "serial") return set_once(u.serial, name, text_value(name, value, false));
  if (name == "model") return set_once(u.model, name, text_value(name, value, false));
  if (name == "object") return set_once(u.object, name, text_value(name, value, false));
  if (name == "id") return set_once(u.id, name, decode(name, value, false));
  if (name == "slot-id") {
    unsigned long id = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), id);
    if (ec != std::errc() || end != value.data() + value.size())
      throw bad("slot-id is not a decimal number");
    return set_once(u.slot_id, name, id);
  }
  if (name == "type") {
    if (text_value(name, value, false) != "private")
      throw bad("type must be \"private\" (a signing key)");
    return;
  }
  throw bad("unknown or unsupported attribute \"" + printable(name) + "\"");
}

void query_attribute(Pkcs11Uri& u, std::string_view name, std::string_view value) {
  if (name == "pin-value") {
    if (u.pin_value) throw bad("pin-value given twice");
    SecretBytes pin(value.size());
    pin.resize_down(decode_into(name, value, true, reinterpret_cast<char*>(pin.data())));
    u.pin_value = std::move(pin);
    return;
  }
  if (name == "pin-source") {
    std::string src = text_value(name, value, true);
    if (src.starts_with("|")) throw bad("pin-source commands are not supported; name a file");
    if (src.starts_with("file://")) {
      src.erase(0, 7);
      if (!src.starts_with("/")) throw bad("pin-source file URI names a host; use file:/absolute/path");
    } else if (src.starts_with("file:")) {
      src.erase(0, 5);
    }
    if (!src.starts_with("/")) throw bad("pin-source must be an absolute file path");
    return set_once(u.pin_source, name, std::move(src));
  }
  if (name == "module-path") {
    std::string p = text_value(name, value, true);
    if (!p.starts_with("/")) throw bad("module-path must be an absolute path");
    return set_once(u.module_path, name, std::move(p));
  }
  if (name == "module-name") {
    std::string n = text_value(name, value, true);
    if (n.find('/') != std::string::npos || n == "." || n == "..")
      throw bad("module-name is a name, not a path (use module-path for a path)");
    return set_once(u.module_name, name, std::move(n));
  }
  throw bad("unknown or unsupported attribute \"" + printable(name) + "\"");
}

// Splits `part` on `sep` and hands each name=value to `f`.
template <typename F>
void attributes(std::string_view part, char sep, F f) {
  if (part.empty()) return;
  for (;;) {
    size_t end = part.find(sep);
    std::string_view attr = part.substr(0, end);
    size_t eq = attr.find('=');
    if (attr.empty()) throw bad("empty attribute");
    if (eq == std::string_view::npos || eq == 0)
      throw bad("attribute without a name=value form: \"" + printable(attr.substr(0, 40)) + "\"");
    if (eq + 1 == attr.size()) throw bad("empty value for " + printable(attr.substr(0, eq)));
    f(attr.substr(0, eq), attr.substr(eq + 1));
    if (end == std::string_view::npos) return;
    part.remove_prefix(end + 1);
  }
}

std::string encode(std::string_view v, bool query) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (unreserved(static_cast<char>(c)) || (query && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> regular_file(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(p, ec)) return p.string();
  return std::nullopt;
}

// The "module:" line of a p11-kit module config; relative paths are in p11-kit's module folder.
std::optional<std::string> p11kit_module(const std::filesystem::path& config) {
  if (!regular_file(config)) return std::nullopt;
  std::string text;
  try {
    text = read_file_limited(config, 64 * 1024, "p11-kit module config");
  } catch (const Error&) {
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.starts_with("module:")) continue;
    line.remove_prefix(7);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    std::filesystem::path m(line);
    if (m.is_relative()) m = std::filesystem::path("/usr/lib/" MODELSEAL_MULTIARCH "/pkcs11") / m;
    return regular_file(m);
  }
  return std::nullopt;
}

}  // namespace

Pkcs11Uri Pkcs11Uri::parse(std::string_view uri) {
  if (!uri.starts_with(kScheme)) throw bad("does not start with \"pkcs11:\"");
  if (uri.size() > kMaxUri) throw bad("longer than 8192 bytes");
  if (uri.find('#') != std::string_view::npos) throw bad("a fragment (#) is not allowed");
  uri.remove_prefix(kScheme.size());
  size_t q = uri.find('?');
  Pkcs11Uri u;
  attributes(uri.substr(0, q), ';', [&](std::string_view n, std::string_view v) { path_attribute(u, n, v); });
  if (q != std::string_view::npos)
    attributes(uri.substr(q + 1), '&', [&](std::string_view n, std::string_view v) { query_attribute(u, n, v); });
  if (u.pin_value && !u.pin_source.empty()) throw bad("pin-value and pin-source are both given; use one");
  if (!u.module_path.empty() && !u.module_name.empty())
    throw bad("module-path and module-name are both given; use one");
  return u;
}

std::string Pkcs11Uri::display() const {
  std::string path;
  auto add = [&](std::string_view name, const std::optional<std::string>& v) {
    if (!v) return;
    if (!path.empty()) path += ';';
    path += std::string(name) + "=" + encode(*v, false);
  };
  add("token", token);
  add("manufacturer", manufacturer);
  add("serial", serial);
  add("model", model);
  if (slot_id) add("slot-id", std::to_string(*slot_id));
  add("object", object);
  add("id", id);
  std::string query;
  auto addq = [&](std::string_view name, const std::string& v) {
    if (v.empty()) return;
    query += (query.empty() ? "?" : "&") + std::string(name) + "=" + encode(v, true);
  };
  addq("module-path", module_path);
  addq("module-name", module_name);
  addq("pin-source", pin_source);
  return "pkcs11:" + path + query;
}

std::optional<std::string> find_pkcs11_module(std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") return std::nullopt;
  const std::string n(name);
  for (const char* dir : {"/etc/pkcs11/modules/", "/usr/share/p11-kit/modules/"})
    if (auto m = p11kit_module(std::string(dir) + n + ".module")) return m;
  for (const char* dir : {"/usr/lib/" MODELSEAL_MULTIARCH "/pkcs11/", "/usr/lib/" MODELSEAL_MULTIARCH "/softhsm/",
                          "/usr/lib/" MODELSEAL_MULTIARCH "/"}) {
    const std::vector<std::string> files =
        n.ends_with(".so") ? std::vector<std::string>{n} : std::vector<std::string>{n + ".so", "lib" + n + ".so"};
    for (const std::string& file : files)
      if (auto m = regular_file(std::string(dir) + file)) return m;
  }
  return std::nullopt;
}

std::string Pkcs11Uri::module() const {
  if (!module_path.empty()) return module_path;
  if (module_name.empty())
    throw usage_error("PKCS#11 URI names no module: " + display(),
                      "add ?module-name=NAME (e.g. softhsm2, opensc-pkcs11) or ?module-path=/absolute/path.so");
  if (auto m = find_pkcs11_module(module_name)) return *m;
  throw usage_error("PKCS#11 module not found: " + module_name,
                    "searched p11-kit's module configs and /usr/lib/" MODELSEAL_MULTIARCH
                    "/{pkcs11,softhsm,}/; use module-path=/absolute/path.so");
}

}  // namespace modelseal

#include <algorithm>
#include "modelseal/json.hpp"

#include <unordered_set>
#include <vector>

#include "modelseal/error.hpp"

namespace modelseal {

namespace {

// "[json.exception.parse_error.101] parse error at ..." -> "parse error at ...", at most 160 chars.
std::string describe(const std::exception& e) {
  std::string msg = e.what();
  if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
  if (msg.size() > 160) msg = msg.substr(0, 157) + "...";
  return msg;
}

// A first pass over the text that only checks: nesting depth and repeated keys (which two
// parsers could resolve differently). Linear; nothing is built.
class StrictChecker : public nlohmann::json_sax<json> {
 public:
  explicit StrictChecker(size_t max_values) : left_(max_values) {}
  std::string problem;

  bool null() override { return counted(); }
  bool boolean(bool) override { return counted(); }
  bool number_integer(number_integer_t) override { return counted(); }
  bool number_unsigned(number_unsigned_t) override { return counted(); }
  bool number_float(number_float_t, const string_t&) override { return counted(); }
  bool string(string_t&) override { return counted(); }
  bool binary(binary_t&) override { return counted(); }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return counted() && deeper();
  }
  bool key(string_t& k) override {
    if (!counted()) return false;
    if (keys_.back().insert(k).second) return true;
    problem = "repeated key \"" + k.substr(0, 120) + "\"";
    return false;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return counted() && deeper(); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    problem = "invalid json: " + describe(e);
    return false;
  }

 private:
  bool counted() {
    if (left_ > 0) {
      --left_;
      return true;
    }
    problem = "too many JSON values";
    return false;
  }
  bool deeper() {
    if (++depth_ <= kMaxJsonDepth) return true;
    problem = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  size_t left_;
  int depth_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;
};

}  // namespace

json parse_json_strict(std::string_view text, const std::string& what, size_t max_values, Status status) {
  StrictChecker check(max_values);
  try {
    if (!json::sax_parse(text.begin(), text.end(), &check))
      throw Error(status, what + ": " + (check.problem.empty() ? "invalid json" : check.problem));
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // out_of_range for numbers too large, and the like
    throw Error(status, what + ": invalid json: " + describe(e));
  }
}

const json& require(const json& obj, const char* key, json::value_t type, const std::string& what,
                    Status status) {
  if (!obj.is_object()) throw Error(status, what + ": expected a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) throw Error(status, what + ": missing \"" + key + "\"");
  bool ok = it->type() == type ||
            (type == json::value_t::number_unsigned && it->type() == json::value_t::number_integer &&
             it->get<int64_t>() >= 0);
  if (!ok) throw Error(status, what + ": \"" + key + "\" has the wrong type");
  return *it;
}

std::string require_string(const json& obj, const char* key, const std::string& what, Status status) {
  return require(obj, key, json::value_t::string, what, status).get<std::string>();
}

void only_fields(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& what,
                 Status status) {
  for (const auto& item : obj.items())
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end())
      throw Error(status, what + ": unknown field \"" + item.key() + "\"");
}

}  // namespace modelseal

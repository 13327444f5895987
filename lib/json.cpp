#include "modelseal/json.hpp"

#include <set>
#include <vector>

#include "modelseal/error.hpp"

namespace modelseal {

json parse_json_strict(std::string_view text, const std::string& what) {
  // The parser itself is iterative; the callback bounds depth and rejects repeated keys, which
  // two parsers could resolve differently.
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    if (!problem.empty()) return false;
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) {
          problem = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
          throw untrusted(what + ": " + problem);
        }
        if (ev == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          problem = "repeated key \"" + parsed.get<std::string>() + "\"";
          throw untrusted(what + ": " + problem);
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers too large
    std::string msg = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    if (msg.size() > 160) msg = msg.substr(0, 157) + "...";
    throw untrusted(what + ": invalid json: " + msg);
  }
}

const json& require(const json& obj, const char* key, json::value_t type, const std::string& what) {
  if (!obj.is_object()) throw untrusted(what + ": expected a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) throw untrusted(what + ": missing \"" + key + "\"");
  bool ok = it->type() == type ||
            (type == json::value_t::number_unsigned && it->type() == json::value_t::number_integer &&
             it->get<int64_t>() >= 0);
  if (!ok) throw untrusted(what + ": \"" + key + "\" has the wrong type");
  return *it;
}

std::string require_string(const json& obj, const char* key, const std::string& what) {
  return require(obj, key, json::value_t::string, what).get<std::string>();
}

}  // namespace modelseal

// Parsing JSON from untrusted bytes: bounded size and depth, no duplicate keys.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace modelseal {

using nlohmann::json;

inline constexpr int kMaxJsonDepth = 64;

// Parses `text`; throws Error(not_trusted) naming `what` on malformed JSON, nesting deeper than
// kMaxJsonDepth, an object with a repeated key, or more than `max_values` values and keys (so
// that bytes nobody has authenticated yet cost memory in proportion to their size, not a
// multiple of it: the check pass builds nothing and stops at the bound).
json parse_json_strict(std::string_view text, const std::string& what, size_t max_values = SIZE_MAX);

// Typed field access that throws Error(not_trusted) "<what>: missing or invalid <key>".
const json& require(const json& obj, const char* key, json::value_t type, const std::string& what);
std::string require_string(const json& obj, const char* key, const std::string& what);

}  // namespace modelseal

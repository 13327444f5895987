// Parsing JSON from untrusted bytes: bounded size and depth, no duplicate keys.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <string_view>

#include "modelseal/error.hpp"

namespace modelseal {

using nlohmann::json;

inline constexpr int kMaxJsonDepth = 64;

// Parses `text`; throws Error(status) naming `what` on malformed JSON, nesting deeper than
// kMaxJsonDepth, an object with a repeated key, or more than `max_values` values and keys (so
// that bytes nobody has authenticated yet cost memory in proportion to their size, not a
// multiple of it: the check pass builds nothing and stops at the bound). `status` is whose
// problem bad JSON is: not_trusted for what arrives with a model, usage for the operator's files.
json parse_json_strict(std::string_view text, const std::string& what, size_t max_values = SIZE_MAX,
                       Status status = Status::not_trusted);

// Typed field access that throws Error(status) "<what>: missing or invalid <key>".
const json& require(const json& obj, const char* key, json::value_t type, const std::string& what,
                    Status status = Status::not_trusted);
std::string require_string(const json& obj, const char* key, const std::string& what,
                           Status status = Status::not_trusted);
// Error(status) "<what>: unknown field \"K\"" for a key of `obj` not in `allowed`: a misspelt
// field ("treshold", "not_afer") must never be silently ignored in trust material.
void only_fields(const json& obj, std::initializer_list<std::string_view> allowed, const std::string& what,
                 Status status);

}  // namespace modelseal

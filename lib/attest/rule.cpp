// Attribute rules on statement fields: ==, !=, <, <=, >, >=, in.
#include "modelseal/error.hpp"
#include "modelseal/layout.hpp"
#include "modelseal/json.hpp"

namespace modelseal {

namespace {

const char* op_name(Rule::Op op) {
  switch (op) {
    case Rule::Op::eq: return "==";
    case Rule::Op::ne: return "!=";
    case Rule::Op::lt: return "<";
    case Rule::Op::le: return "<=";
    case Rule::Op::gt: return ">";
    case Rule::Op::ge: return ">=";
    case Rule::Op::in: return "in";
  }
  return "?";
}

// The field at a dot-separated path, or nullptr.
const json* lookup(const json& root, const std::string& path) {
  const json* cur = &root;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string seg = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur->is_object()) {
      auto it = cur->find(seg);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && !seg.empty() && seg.size() <= 9 &&
               seg.find_first_not_of("0123456789") == std::string::npos) {
      size_t i = std::stoul(seg);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

}  // namespace

std::string Rule::describe() const { return path + " " + op_name(op) + " " + value.dump(); }

std::optional<std::string> Rule::violation(const json& statement) const {
  const json* field = lookup(statement, path);
  if (!field) return path + " is missing; the layout requires " + describe();
  const std::string is = path + " is " + (field->dump().size() > 80 ? field->dump().substr(0, 77) + "..." : field->dump());
  bool ok = false;
  switch (op) {
    case Op::eq: ok = *field == value; break;
    case Op::ne: ok = *field != value; break;
    case Op::in:
      for (const json& v : value) ok |= *field == v;
      break;
    default: {
      if (!field->is_number()) return is + ", not a number; the layout requires " + describe();
      double a = field->get<double>(), b = value.get<double>();
      ok = op == Op::lt ? a < b : op == Op::le ? a <= b : op == Op::gt ? a > b : a >= b;
    }
  }
  if (ok) return std::nullopt;
  return is + "; the layout requires " + describe();
}

}  // namespace modelseal

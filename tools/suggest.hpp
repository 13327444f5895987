// "Did you mean": the candidate nearest a mistyped name, by edit distance.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace modelseal::tool {

// Levenshtein distance.
inline size_t edit_distance(std::string_view x, std::string_view y) {
  std::vector<size_t> row(y.size() + 1);
  for (size_t j = 0; j <= y.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= x.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= y.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (x[i - 1] == y[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[y.size()];
}

// The candidate at most two edits from `name` (the nearest; the first of equals), or empty.
template <typename Range>
std::string nearest(std::string_view name, const Range& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const auto& c : candidates)
    if (size_t d = edit_distance(name, c); d < best_d) best_d = d, best = std::string(c);
  return best;
}

}  // namespace modelseal::tool

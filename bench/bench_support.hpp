#pragma once
// What the benchmark programs share: a bank command and a percentile.

#include <annals/command.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace annals::bench {

inline Command cmd(const std::string& id, const char* type, json::object data) {
  Command c;
  c.aggregate = "account";
  c.id = id;
  c.command = type;
  c.data = std::move(data);
  return c;
}

/// The p-quantile (0..1) of `v` (sorted in place); 0 for none.
inline double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

} // namespace annals::bench

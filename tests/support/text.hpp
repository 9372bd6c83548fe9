#pragma once
// Small text helpers shared by the tests: substring checks and whole files.

#include <fstream>
#include <iterator>
#include <string>

namespace annals::test {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The whole file as bytes ("" if it cannot be opened).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace annals::test

#include "tests/support/source_tree.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace keyflow::test {

std::string source_path(const std::string& relative) {
  return std::string(KEYFLOW_SOURCE_DIR) + "/" + relative;
}

std::string read_source_file(const std::string& relative) {
  std::ifstream in(source_path(relative), std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + source_path(relative));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace keyflow::test

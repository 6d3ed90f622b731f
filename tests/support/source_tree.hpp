#pragma once

#include <string>

namespace keyflow::test {

// A file of the source tree by its path from the root ("compose.yaml"), for tests that read
// the repository's own files.
std::string source_path(const std::string& relative);
// The whole file; throws when it cannot be read.
std::string read_source_file(const std::string& relative);

}  // namespace keyflow::test

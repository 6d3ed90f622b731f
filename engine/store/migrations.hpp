#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace keyflow {

struct Migration {
  std::string_view name;  // file name in schemas/sql/, e.g. "001_initial.sql"
  std::string_view sql;
};

// schemas/sql/*.sql in name order, compiled into the binary so that keyflowd migrates
// without its source tree.
const std::vector<Migration>& embedded_migrations();

// Applies each migration not yet recorded in schema_migrations, in order, each in its own
// transaction. An advisory lock makes concurrent runs wait for one another. Returns the names
// applied.
std::vector<std::string> apply_migrations(const std::string& database_url);

}  // namespace keyflow

#pragma once

#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "engine/core/encoding.hpp"

namespace keyflow {

// SQL for keyflow_keyring (schemas/sql/014_keyring.sql) and for the sealed columns `rekey`
// walks; inside the caller's transaction.
class KeyringStore {
 public:
  struct StoredPepper {
    int version = 0;
    Bytes sealed;
  };
  static std::optional<StoredPepper> pepper(pqxx::work& txn);
  // Unless another process stored one first.
  static void insert_pepper(pqxx::work& txn, int version, const Bytes& sealed);
  static void update_pepper(pqxx::work& txn, const Bytes& sealed);
  // Whether any key hash is stored (API keys, event write keys): then the pepper they were made
  // with is the one to keep.
  static bool has_key_hashes(pqxx::work& txn);

  // A column holding sealed values, and the SecretBox context they were sealed under.
  struct SealedColumn {
    const char* table;
    const char* id_type;  // of the table's id column, for the lookups by id
    const char* column;
    const char* context;
  };
  static const std::vector<SealedColumn>& sealed_columns();
  struct SealedValue {
    std::string id;
    Bytes sealed;
  };
  // Up to limit values of the column that do not start with header (not sealed by the current
  // master key), in id order after the id `after` (empty: from the first), locked (SKIP
  // LOCKED: two rekeys share the work).
  static std::vector<SealedValue> not_sealed_with(pqxx::work& txn, const SealedColumn& column,
                                                  const Bytes& header, const std::string& after,
                                                  int limit);
  static void update_sealed(pqxx::work& txn, const SealedColumn& column,
                            const std::vector<SealedValue>& values);
};

}  // namespace keyflow

#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "engine/crypto/keyring.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// The SecretBox context of the stored pepper.
inline constexpr const char* kHashPepperContext = "hash_pepper";

// master_keys with the installation's hash pepper, read from keyflow_keyring; the first
// process on a database stores it (the first master key itself when key hashes exist already,
// from before the keyring; else one derived from it). Throws std::runtime_error when none of
// the master keys opens the stored pepper: the wrong KEYFLOW_MASTER_KEY, which must not start.
Keyring load_keyring(ConnectionPool& pool, const Keyring& master_keys);

struct RekeyReport {
  std::map<std::string, std::size_t> resealed;  // by "table.column"
  std::vector<std::string> unopened;            // "table.column id": no master key opens it
  std::size_t total() const;
};

// keyflowd rekey: re-seals every sealed value that the current master key did not seal, with
// it, in batches of `batch` rows a transaction, while every process keeps running (they hold
// both the new and the previous master keys, so they open values of either). A value none of
// the keys opens is left as it is and reported. Run it again at will: what is done is skipped.
RekeyReport rekey(ConnectionPool& pool, const Keyring& keys, int batch = 500);

}  // namespace keyflow

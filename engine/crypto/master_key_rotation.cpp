#include "engine/crypto/master_key_rotation.hpp"

#include <sodium.h>

#include "engine/crypto/keyring_store.hpp"
#include "engine/crypto/secret_box.hpp"

namespace keyflow {

Keyring load_keyring(ConnectionPool& pool, const Keyring& master_keys) {
  const SecretBox box(master_keys);
  const auto stored = pool.transact([&](pqxx::work& txn) {
    if (auto pepper = KeyringStore::pepper(txn)) return *pepper;
    // Hashes made before the keyring used the master key itself: keep it as their pepper.
    // Both choices are deterministic, so processes starting together store the same one.
    const bool legacy = KeyringStore::has_key_hashes(txn);
    const auto pepper = legacy ? master_keys.current() : derived_pepper(master_keys.current());
    const std::string bytes(reinterpret_cast<const char*>(pepper.data()), MasterKey::kSize);
    auto sealed = box.seal(bytes, kHashPepperContext);
    KeyringStore::insert_pepper(txn, legacy ? 0 : 1, sealed);
    return *KeyringStore::pepper(txn);
  });
  auto opened = box.open(stored.sealed, kHashPepperContext);
  if (!opened) {
    throw std::runtime_error(
        "KEYFLOW_MASTER_KEY does not open this database's secrets: it is not the master key "
        "(nor one of KEYFLOW_PREVIOUS_MASTER_KEYS) they were sealed with");
  }
  auto pepper = MasterKey::from_bytes(
      std::span(reinterpret_cast<const std::uint8_t*>(opened->data()), opened->size()));
  sodium_memzero(opened->data(), opened->size());
  if (!pepper) throw std::runtime_error("the stored hash pepper is not 32 bytes");
  return master_keys.with_pepper(*pepper);
}

std::size_t RekeyReport::total() const {
  std::size_t n = 0;
  for (const auto& [column, count] : resealed)
    n += count;
  return n;
}

RekeyReport rekey(ConnectionPool& pool, const Keyring& keys, int batch) {
  const SecretBox box(keys);
  const auto header = box.current_header();
  RekeyReport report;
  for (const auto& column : KeyringStore::sealed_columns()) {
    const std::string name = std::string(column.table) + "." + column.column;
    auto& resealed = report.resealed[name];
    std::string after;
    for (;;) {
      struct Batch {
        std::size_t read = 0, resealed = 0;
        std::string last;
        std::vector<std::string> unopened;
      };
      // Counted once committed: a transaction tried again counts once.
      const auto done = pool.transact([&](pqxx::work& txn) {
        Batch b;
        const auto values = KeyringStore::not_sealed_with(txn, column, header, after, batch);
        std::vector<KeyringStore::SealedValue> updated;
        for (const auto& value : values) {
          auto plain = box.open(value.sealed, column.context);
          if (!plain) {
            b.unopened.push_back(name + " " + value.id);
            continue;
          }
          updated.push_back({value.id, box.seal(*plain, column.context)});
          sodium_memzero(plain->data(), plain->size());
        }
        KeyringStore::update_sealed(txn, column, updated);
        b.read = values.size();
        b.resealed = updated.size();
        if (!values.empty()) b.last = values.back().id;
        return b;
      });
      resealed += done.resealed;
      report.unopened.insert(report.unopened.end(), done.unopened.begin(), done.unopened.end());
      if (done.read < static_cast<std::size_t>(batch)) break;
      after = done.last;
    }
  }
  return report;
}

}  // namespace keyflow

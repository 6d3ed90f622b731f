#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/crypto/master_key.hpp"

namespace keyflow {

// The master keys a process holds and the pepper of key hashes.
//
// Secrets at rest are sealed under a key derived from the current master key, and each sealed
// value names the master key that sealed it (master_key_id): a process also holding previous
// master keys (KEYFLOW_PREVIOUS_MASTER_KEYS) opens what they sealed, which is what lets
// `keyflowd rekey` re-seal everything under a new master key while every process keeps
// working.
//
// The pepper is separate, and never changes, because every stored key hash depends on it: an
// installation draws it once (derived from its first master key with a context of its own),
// stores it sealed in keyflow_keyring, and `rekey` re-seals it with the rest. Installations
// from before the keyring keep their first master key itself as pepper (version 0), so that
// their hashes keep verifying.
class Keyring {
 public:
  // One master key that is also the pepper: a keyring for tests and for code that never
  // stores a hash (the pepper comes from the database otherwise, keyring_store.hpp).
  Keyring(const MasterKey& current);  // NOLINT(google-explicit-constructor): see above
  Keyring(MasterKey current, std::vector<MasterKey> previous, MasterKey pepper);

  const MasterKey& current() const { return current_; }
  const std::vector<MasterKey>& previous() const { return previous_; }
  const MasterKey& pepper() const { return pepper_; }
  Keyring with_pepper(MasterKey pepper) const { return {current_, previous_, std::move(pepper)}; }

 private:
  MasterKey current_;
  std::vector<MasterKey> previous_;
  MasterKey pepper_;
};

using MasterKeyId = std::array<std::uint8_t, 8>;

// Names a master key in what it sealed; derived one way, so it tells nothing of the key.
MasterKeyId master_key_id(const MasterKey& key);
std::string to_hex(const MasterKeyId& id);
// The XChaCha20-Poly1305 key a master key seals with.
MasterKey sealing_key(const MasterKey& key);
// The pepper an installation draws from its first master key (pepper version 1).
MasterKey derived_pepper(const MasterKey& key);

}  // namespace keyflow

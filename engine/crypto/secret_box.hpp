#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/encoding.hpp"
#include "engine/crypto/keyring.hpp"

namespace keyflow {

// Secrets that must be read back (webhook signing secrets, event write keys, ...) are stored as
// XChaCha20-Poly1305 ciphertext: "kf1" || the sealing master key's id (8 bytes) || nonce (24)
// || ciphertext || tag, under the key derived from that master key for sealing. The header
// and the context (e.g. "webhook_secret") are authenticated, so a ciphertext cannot be moved
// to a column of another kind or passed off as another key's.
//
// Values sealed before the keyring (nonce || ciphertext || tag under the raw master key) still
// open; the next `keyflowd rekey` turns them into the form above.
class SecretBox {
 public:
  explicit SecretBox(const Keyring& keys);
  SecretBox(const MasterKey& key) : SecretBox(Keyring(key)) {}  // NOLINT: as Keyring's

  // Under the current master key.
  Bytes seal(std::string_view plaintext, std::string_view context) const;
  // With whichever of the keyring's master keys sealed it; nullopt when none did (or it was
  // changed).
  std::optional<std::string> open(std::span<const std::uint8_t> sealed,
                                  std::string_view context) const;
  // Whether the current master key sealed it, in the form above (rekey skips it then).
  bool sealed_by_current(std::span<const std::uint8_t> sealed) const;
  // The header every value sealed by the current master key starts with ("kf1" and its id).
  Bytes current_header() const;

 private:
  struct Key {
    MasterKeyId id;
    MasterKey sealing;  // derived, for the "kf1" form
    MasterKey raw;      // the master key itself, for values from before
  };
  std::vector<Key> keys_;  // the current first
};

}  // namespace keyflow

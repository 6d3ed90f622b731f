#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keyflow {

// KEYFLOW_MASTER_KEY: 32 bytes, base64, from which the keys that seal secrets at rest are
// derived (engine/crypto/keyring.hpp); also the type of other 32-byte key material (the hash
// pepper). Held only in memory, wiped when destroyed.
class MasterKey {
 public:
  static constexpr std::size_t kSize = 32;

  static std::optional<MasterKey> from_base64(std::string_view text);
  static MasterKey generate();
  // Key material of another origin (a derived subkey, a stored pepper): 32 bytes.
  static std::optional<MasterKey> from_bytes(std::span<const std::uint8_t> bytes);

  MasterKey(const MasterKey&) = default;
  MasterKey& operator=(const MasterKey&) = default;
  ~MasterKey();

  const std::uint8_t* data() const { return bytes_.data(); }
  std::string to_base64() const;

 private:
  MasterKey() = default;
  std::array<std::uint8_t, kSize> bytes_{};
};

}  // namespace keyflow

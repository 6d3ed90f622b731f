#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace keyflow {

// KEYFLOW_MASTER_KEY: 32 bytes, base64. The pepper of key hashes and the key of secrets
// encrypted at rest. Held only in memory, wiped when destroyed.
class MasterKey {
 public:
  static constexpr std::size_t kSize = 32;

  static std::optional<MasterKey> from_base64(std::string_view text);
  static MasterKey generate();

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

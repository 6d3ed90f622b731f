#include "consumers/webhook_signature.hpp"

#include <array>
#include <optional>
#include <stdexcept>
#include <string>

#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kVersionPrefix = "v1,";

std::optional<Bytes> secret_key(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  return base64_decode(secret);
}

std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> hmac(const Bytes& key,
                                                            std::string_view msg_id,
                                                            std::int64_t timestamp,
                                                            std::string_view body) {
  // The generic init takes a key of any length; crypto_auth_hmacsha256() wants exactly 32 bytes.
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.data(), key.size());
  const std::string ts = std::to_string(timestamp);
  const auto update = [&](std::string_view part) {
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()),
                                  part.size());
  };
  update(msg_id);
  update(".");
  update(ts);
  update(".");
  update(body);
  std::array<std::uint8_t, crypto_auth_hmacsha256_BYTES> mac{};
  crypto_auth_hmacsha256_final(&state, mac.data());
  sodium_memzero(&state, sizeof state);
  return mac;
}

}  // namespace

std::string sign(std::string_view whsec_secret, std::string_view msg_id, std::int64_t timestamp,
                 std::string_view body) {
  auto key = secret_key(whsec_secret);
  if (!key) throw std::invalid_argument("webhook secret is not base64");
  const auto mac = hmac(*key, msg_id, timestamp, body);
  sodium_memzero(key->data(), key->size());
  return std::string(kVersionPrefix) + base64_encode(mac);
}

std::string sign_ed25519(std::string_view secret_key, std::string_view msg_id,
                         std::int64_t timestamp, std::string_view body) {
  if (secret_key.size() != crypto_sign_SECRETKEYBYTES) {
    throw std::invalid_argument("an Ed25519 secret key is 64 bytes");
  }
  const std::string content =
      std::string(msg_id) + "." + std::to_string(timestamp) + "." + std::string(body);
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr,
                       reinterpret_cast<const unsigned char*>(content.data()), content.size(),
                       reinterpret_cast<const unsigned char*>(secret_key.data()));
  return "v1a," + base64_encode(signature);
}

bool verify(std::string_view whsec_secret, std::string_view msg_id, std::int64_t timestamp,
            std::string_view body, std::string_view header_value) {
  auto key = secret_key(whsec_secret);
  if (!key) return false;
  const auto expected = hmac(*key, msg_id, timestamp, body);
  sodium_memzero(key->data(), key->size());
  bool found = false;
  while (!header_value.empty()) {
    const auto space = header_value.find(' ');
    const auto candidate = header_value.substr(0, space);
    header_value =
        space == std::string_view::npos ? std::string_view{} : header_value.substr(space + 1);
    // Other versions (v1a, Ed25519) are not ours to check here; skip them.
    if (!candidate.starts_with(kVersionPrefix)) continue;
    const auto mac = base64_decode(candidate.substr(kVersionPrefix.size()));
    if (mac && mac->size() == expected.size() &&
        sodium_memcmp(mac->data(), expected.data(), expected.size()) == 0) {
      found = true;
    }
  }
  return found;
}

}  // namespace keyflow

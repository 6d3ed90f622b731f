#include "consumers/webhook_signature.hpp"

#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "engine/core/encoding.hpp"

namespace keyflow {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kVersionPrefix = "v1,";
constexpr std::size_t kHmacBytes = 32;

std::optional<Bytes> secret_key(std::string_view secret) {
  if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
  return base64_decode(secret);
}

// HMAC-SHA256 by OpenSSL, whose SHA-256 uses the CPU's SHA extensions: several times faster
// than libsodium's portable one over a webhook body, and a delivery signs one per attempt. One
// context per thread, its digest set once; each call keys it afresh.
std::array<std::uint8_t, kHmacBytes> hmac(const Bytes& key, std::string_view msg_id,
                                          std::int64_t timestamp, std::string_view body) {
  using Context = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;
  thread_local const Context context = [] {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    Context ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr, &EVP_MAC_CTX_free);
    EVP_MAC_free(mac);  // the context keeps its own reference
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_CTX_set_params(ctx.get(), params) != 1) ctx.reset();
    return ctx;
  }();
  if (!context || EVP_MAC_init(context.get(), key.data(), key.size(), nullptr) != 1) {
    throw std::runtime_error("HMAC-SHA256 is not available from OpenSSL");
  }
  const std::string ts = std::to_string(timestamp);
  for (const std::string_view part :
       {msg_id, std::string_view("."), std::string_view(ts), std::string_view("."), body}) {
    EVP_MAC_update(context.get(), reinterpret_cast<const unsigned char*>(part.data()), part.size());
  }
  std::array<std::uint8_t, kHmacBytes> mac{};
  std::size_t length = 0;
  if (EVP_MAC_final(context.get(), mac.data(), &length, mac.size()) != 1 || length != mac.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
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

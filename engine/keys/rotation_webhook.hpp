#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "engine/core/clock.hpp"
#include "engine/core/encoding.hpp"
#include "engine/core/model.hpp"

namespace keyflow {

// The POST that hands a rotated key's replacement to its owner's rotation_webhook_url.

// SecretBox contexts: the signing secret on the key, the new plaintext until delivered.
inline constexpr const char* kRotationSecretContext = "rotation_webhook_secret";
inline constexpr const char* kRotationKeyContext = "rotation_key";

// A rotation_public_key as the API takes it (base64 of 32 bytes); nullopt when it is not one.
std::optional<Bytes> parse_rotation_public_key(std::string_view base64);

// crypto_box_seal of the plaintext to the X25519 public key, base64: only the holder of the
// matching secret key can open it.
std::string seal_to_public_key(std::string_view plaintext, const Bytes& public_key);

// The body without the key itself: {"id","event":"api_key.rotated","resource":"api_key",
// "resourceId":<old key id>,"timestamp","apiVersion","data":{"old_key_id","new_key_id",
// "key_prefix","scopes","expires_at","grace_expires_at","next_rotation_at"}}.
boost::json::object rotation_envelope(std::string_view delivery_id, const ApiKey& old_key,
                                      const ApiKey& new_key, TimePoint at);

// The exact body POSTed: the envelope with data.key (the plaintext) or data.sealed_key.
std::string rotation_body(boost::json::object envelope, std::string_view field,
                          std::string_view value);

}  // namespace keyflow

#include "engine/keys/rotation_webhook.hpp"

#include <boost/json/serialize.hpp>
#include <sodium.h>

#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "engine/webhooks/webhook_message.hpp"

namespace keyflow {

std::optional<Bytes> parse_rotation_public_key(std::string_view base64) {
  auto bytes = base64_decode(base64);
  if (!bytes || bytes->size() != crypto_box_PUBLICKEYBYTES) return std::nullopt;
  return bytes;
}

std::string seal_to_public_key(std::string_view plaintext, const Bytes& public_key) {
  Bytes sealed(crypto_box_SEALBYTES + plaintext.size());
  crypto_box_seal(sealed.data(), reinterpret_cast<const unsigned char*>(plaintext.data()),
                  plaintext.size(), public_key.data());
  return base64_encode(sealed);
}

boost::json::object rotation_envelope(std::string_view delivery_id, const ApiKey& old_key,
                                      const ApiKey& new_key, TimePoint at) {
  const auto fresh = to_json(new_key);
  boost::json::object data;
  data["old_key_id"] = old_key.id;
  data["new_key_id"] = new_key.id;
  data["key_prefix"] = new_key.key_prefix;
  data["scopes"] = fresh.at("scopes");
  data["expires_at"] = fresh.at("expires_at");
  data["grace_expires_at"] = json_or_null(old_key.grace_expires_at);
  data["next_rotation_at"] = fresh.at("next_rotation_at");
  // boost::json::object keeps insertion order: the body reads in the documented order.
  boost::json::object body;
  body["id"] = delivery_id;
  body["event"] = "api_key.rotated";
  body["resource"] = "api_key";
  body["resourceId"] = old_key.id;
  body["timestamp"] = format_timestamp(at);
  body["apiVersion"] = kWebhookApiVersion;
  body["data"] = std::move(data);
  return body;
}

std::string rotation_body(boost::json::object envelope, std::string_view field,
                          std::string_view value) {
  auto& data = envelope.at("data").as_object();
  // The key right after the ids, where a reader looks for it.
  boost::json::object ordered;
  for (auto& [name, v] : data) {
    ordered[name] = std::move(v);
    if (name == "new_key_id") ordered[field] = value;
  }
  envelope["data"] = std::move(ordered);
  return boost::json::serialize(envelope);
}

}  // namespace keyflow

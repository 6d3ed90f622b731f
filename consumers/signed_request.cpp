#include "consumers/signed_request.hpp"

#include <stdexcept>

#include <sodium.h>

#include "consumers/webhook_signature.hpp"

namespace keyflow {

std::optional<WebhookRequest> signed_request(DueDelivery& due, TimePoint now,
                                             std::string_view user_agent) {
  const auto timestamp =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const auto& id = due.claim.delivery_id;
  std::string signature;
  try {
    signature = sign(due.secret, id, timestamp, due.body);
    // Standard Webhooks: several space-separated signatures, any of which may verify.
    if (!due.previous_secret.empty()) {
      signature += " " + sign(due.previous_secret, id, timestamp, due.body);
    }
    if (!due.signing_key.empty()) {
      signature += " " + sign_ed25519(due.signing_key, id, timestamp, due.body);
    }
  } catch (const std::exception&) {
    // A secret that is not base64 (or, never seen, a crypto library without HMAC).
    signature.clear();
  }
  sodium_memzero(due.secret.data(), due.secret.size());
  sodium_memzero(due.previous_secret.data(), due.previous_secret.size());
  sodium_memzero(due.signing_key.data(), due.signing_key.size());
  if (signature.empty()) return std::nullopt;

  WebhookRequest request;
  request.url = std::move(due.url);
  request.headers = {
      {"webhook-id", id},
      {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-signature", std::move(signature)},
      {"content-type", "application/json"},
      {"user-agent", std::string(user_agent)},
  };
  // W3C trace context: the receiver's spans join the trace of the request that made the event.
  if (!due.traceparent.empty()) request.headers.emplace_back("traceparent", due.traceparent);
  request.body = std::move(due.body);
  return request;
}

}  // namespace keyflow

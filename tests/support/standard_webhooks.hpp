#pragma once

#include <string>

#include "tests/support/webhook_receiver.hpp"

namespace keyflow::test {

// Standard Webhooks verification written against OpenSSL, independently of keyflow's signer:
// true when one of the request's webhook-signature entries is
// v1,base64(HMAC-SHA256(base64decode(secret without whsec_), "id.timestamp.body")).
bool standard_webhooks_accepts(const std::string& secret, const ReceivedRequest& request);

}  // namespace keyflow::test

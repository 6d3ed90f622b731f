#include "tests/support/standard_webhooks.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/core/encoding.hpp"

namespace keyflow::test {

bool standard_webhooks_accepts(const std::string& secret, const ReceivedRequest& request) {
  const auto key = base64_decode(std::string_view(secret).substr(6));
  if (!key) return false;
  const std::string content =
      request.header("webhook-id") + "." + request.header("webhook-timestamp") + "." + request.body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  const std::string expected = "v1," + base64_encode({mac, mac_len});
  const std::string header = request.header("webhook-signature");
  std::size_t start = 0;
  while (start < header.size()) {
    auto end = header.find(' ', start);
    if (end == std::string::npos) end = header.size();
    if (header.substr(start, end - start) == expected) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace keyflow::test

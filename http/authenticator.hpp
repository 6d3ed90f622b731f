#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/encoding.hpp"
#include "engine/core/log_limiter.hpp"
#include "engine/core/model.hpp"

namespace keyflow::http {

// Who is calling, from the Authorization header: the admin token, or a keyflow key (looked
// up through key_lookup, which answers only for VALID keys allowed from the remote address).
// The admin token is compared in constant time (both sides hashed to equal length first);
// no credential is ever logged.
class Authenticator {
 public:
  using KeyLookup =
      std::function<std::optional<ApiKey>(std::string_view key, std::string_view remote_ip)>;

  explicit Authenticator(std::string_view admin_token, KeyLookup key_lookup = {});

  std::optional<Actor> authenticate(std::string_view authorization_header,
                                    std::string_view remote_ip = {}) const;

 private:
  Bytes admin_digest_;
  KeyLookup key_lookup_;
  // Rejections are logged at most once a second: guessing must not flood the log.
  mutable LogLimiter rejections_;
};

}  // namespace keyflow::http

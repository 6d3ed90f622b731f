#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/encoding.hpp"
#include "engine/model.hpp"

namespace keyflow::http {

// Who is calling, from the Authorization header. The admin token is compared in constant
// time (both sides hashed to equal length first), and never logged.
class Authenticator {
 public:
  explicit Authenticator(std::string_view admin_token);

  std::optional<Actor> authenticate(std::string_view authorization_header) const;

 private:
  Bytes admin_digest_;
};

}  // namespace keyflow::http

#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

namespace keyflow {

// What can go wrong in the engine, independent of any transport. http/error_mapping.hpp maps
// each to a status code and a JSON error code.
enum class errc {
  ok = 0,
  malformed_request,  // the body is not JSON, or not the JSON object expected
  invalid_argument,   // a field is missing, of the wrong type or out of range
  not_found,          // no such resource, or not visible to the caller
  conflict,           // the resource's state forbids the operation
  key_revoked,        // the operation needs a key that is not revoked
  key_expired,        // ... not expired (nor past the grace of a rotation)
  key_disabled,       // ... not disabled
  key_rotated,        // ... not already replaced by a rotation
  limit_exceeded,     // a count limit (keys per connection) would be exceeded
  unauthenticated,    // no or an unknown credential
  forbidden,          // a known credential without the scope for the operation
  exceeds_scopes,     // the target key would hold a scope the calling key does not
  exceeds_expiry,     // the target key would outlive the calling key
  exceeds_networks,   // the target key would be usable outside the calling key's networks
  payload_too_large,  // a body over the limit
  unavailable,        // a dependency (database, broker) cannot be reached
  internal,
};

const std::error_category& engine_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), engine_category()};
}

// Thrown by the synchronous engine, caught at the component boundary. field names the
// offending request field, when there is one.
class Error : public std::system_error {
 public:
  Error(errc code, const std::string& message, std::string field = {})
      : std::system_error(make_error_code(code), message), field_(std::move(field)) {}
  errc kind() const noexcept { return static_cast<errc>(code().value()); }
  const std::string& field() const noexcept { return field_; }
  // The message without the category suffix std::system_error appends.
  std::string message() const;

 private:
  std::string field_;
};

}  // namespace keyflow

template <>
struct std::is_error_code_enum<keyflow::errc> : std::true_type {};

#pragma once

#include <string_view>

#include <boost/beast/http/status.hpp>

#include "engine/core/errc.hpp"

namespace keyflow::http {

struct ErrorMapping {
  boost::beast::http::status status;
  std::string_view code;  // the JSON error code clients match on
};

// The one place an engine error becomes an HTTP status and a JSON code.
constexpr ErrorMapping map_error(errc e) {
  using boost::beast::http::status;
  switch (e) {
    case errc::ok:
      return {status::ok, "ok"};
    case errc::malformed_request:
      return {status::bad_request, "invalid_json"};
    case errc::invalid_argument:
      return {status::unprocessable_entity, "invalid_request"};
    case errc::not_found:
      return {status::not_found, "not_found"};
    case errc::conflict:
      return {status::conflict, "conflict"};
    case errc::key_revoked:
      return {status::conflict, "key_revoked"};
    case errc::key_expired:
      return {status::conflict, "key_expired"};
    case errc::key_disabled:
      return {status::conflict, "key_disabled"};
    case errc::key_rotated:
      return {status::conflict, "key_rotated"};
    case errc::exceeds_scopes:
      return {status::forbidden, "exceeds_caller_scopes"};
    case errc::exceeds_expiry:
      return {status::forbidden, "exceeds_caller_expiry"};
    case errc::exceeds_networks:
      return {status::forbidden, "exceeds_caller_networks"};
    case errc::limit_exceeded:
      return {status::unprocessable_entity, "limit_exceeded"};
    case errc::unauthenticated:
      return {status::unauthorized, "unauthorized"};
    case errc::forbidden:
      return {status::forbidden, "forbidden"};
    case errc::payload_too_large:
      return {status::payload_too_large, "payload_too_large"};
    case errc::unavailable:
      return {status::service_unavailable, "unavailable"};
    case errc::internal:
      return {status::internal_server_error, "internal_error"};
  }
  return {status::internal_server_error, "internal_error"};
}

}  // namespace keyflow::http

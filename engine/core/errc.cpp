#include "engine/core/errc.hpp"

namespace keyflow {
namespace {

class EngineCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "keyflow"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::ok:
        return "ok";
      case errc::malformed_request:
        return "malformed request";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::not_found:
        return "not found";
      case errc::conflict:
        return "conflict";
      case errc::key_revoked:
        return "key revoked";
      case errc::key_expired:
        return "key expired";
      case errc::key_disabled:
        return "key disabled";
      case errc::key_rotated:
        return "key already rotated";
      case errc::exceeds_scopes:
        return "exceeds the caller's scopes";
      case errc::exceeds_expiry:
        return "exceeds the caller's expiry";
      case errc::exceeds_networks:
        return "exceeds the caller's networks";
      case errc::limit_exceeded:
        return "limit exceeded";
      case errc::unauthenticated:
        return "unauthenticated";
      case errc::forbidden:
        return "forbidden";
      case errc::payload_too_large:
        return "payload too large";
      case errc::unavailable:
        return "unavailable";
      case errc::internal:
        return "internal error";
    }
    return "unknown";
  }
};

}  // namespace

const std::error_category& engine_category() noexcept {
  static const EngineCategory category;
  return category;
}

std::string Error::message() const {
  // std::system_error's what() is "<message>: <category message>"; keep only ours.
  std::string text = what();
  const std::string suffix = ": " + code().message();
  if (text.size() >= suffix.size() && text.ends_with(suffix))
    text.resize(text.size() - suffix.size());
  return text;
}

}  // namespace keyflow

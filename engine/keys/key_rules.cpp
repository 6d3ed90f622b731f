#include "engine/keys/key_rules.hpp"

#include <algorithm>

#include <boost/json/parse.hpp>

#include "engine/core/encoding.hpp"
#include "engine/core/errc.hpp"
#include "engine/keys/cidr.hpp"
#include "engine/keys/lifecycle.hpp"
#include "engine/keys/rotation_webhook.hpp"

namespace keyflow {
namespace {

constexpr int kMaxRotationIntervalDays = 3650;
constexpr std::size_t kMaxScopes = 64;
constexpr std::size_t kMaxMetaBytes = 4096;
constexpr std::size_t kMaxCidrs = 100;
constexpr int kMaxGraceSeconds = 90 * 24 * 3600;

}  // namespace

void validate_scopes(const std::vector<std::string>& scopes) {
  if (scopes.size() > kMaxScopes)
    throw Error(errc::invalid_argument, "at most 64 scopes", "scopes");
  for (const auto& s : scopes) {
    if (!is_valid_scope(s)) {
      throw Error(
          errc::invalid_argument,
          "unknown scope '" + s + "': use READ, CREATE, UPDATE, DELETE, MANAGE or resource:action",
          "scopes");
    }
  }
}

void validate_interval(std::optional<int> days) {
  if (days && (*days < 1 || *days > kMaxRotationIntervalDays)) {
    throw Error(errc::invalid_argument, "rotation_interval_days must be between 1 and 3650",
                "rotation_interval_days");
  }
}

void validate_expiry(std::optional<TimePoint> at, TimePoint now) {
  if (at && *at <= now) {
    throw Error(errc::invalid_argument, "expires_at must be in the future", "expires_at");
  }
}

void validate_grace(std::optional<int> seconds) {
  if (seconds && (*seconds < 0 || *seconds > kMaxGraceSeconds)) {
    throw Error(errc::invalid_argument, "rotation_grace_seconds must be between 0 and 7776000",
                "rotation_grace_seconds");
  }
}

// The canonical base64 of a rotation_public_key; 422 unless it is 32 bytes.
std::optional<std::string> canonical_public_key(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const auto bytes = parse_rotation_public_key(*text);
  if (!bytes) {
    throw Error(errc::invalid_argument,
                "rotation_public_key must be base64 of a 32-byte X25519 public key",
                "rotation_public_key");
  }
  return base64_encode(*bytes);
}

// A schedule needs somewhere to deliver the new key, or rotation would lock its owner out.
void require_delivery_target(const ApiKey& key) {
  if ((key.rotation_interval_days || key.next_rotation_at) && !key.rotation_webhook_url) {
    throw Error(errc::invalid_argument,
                "a rotation schedule needs rotation_webhook_url, where each new key is sent",
                "rotation_webhook_url");
  }
}

void validate_meta(const std::optional<std::string>& meta) {
  if (!meta) return;
  if (meta->size() > kMaxMetaBytes) {
    throw Error(errc::invalid_argument, "meta must be at most 4096 bytes of JSON", "meta");
  }
  boost::system::error_code ec;
  const auto value = boost::json::parse(*meta, ec);
  if (ec || !value.is_object()) {
    throw Error(errc::invalid_argument, "meta must be a JSON object", "meta");
  }
}

std::vector<std::string> canonical_cidrs(const std::vector<std::string>& cidrs) {
  if (cidrs.size() > kMaxCidrs) {
    throw Error(errc::invalid_argument, "at most 100 allowed_cidrs", "allowed_cidrs");
  }
  std::vector<std::string> out;
  for (const auto& c : cidrs) {
    auto canonical = canonical_cidr(c);
    if (!canonical) {
      throw Error(errc::invalid_argument, "'" + c + "' is not an IP network such as 10.0.0.0/8",
                  "allowed_cidrs");
    }
    out.push_back(*canonical);
  }
  return out;
}

Tenant tenant_of(const ApiKey& k) {
  return {k.organization_id, k.project_id};
}

bool scope_granted(const std::vector<std::string>& held, const std::string& wanted) {
  for (const auto& s : held) {
    if (s == wanted) return true;
    // resource:* grants every action on the resource.
    if (s.ends_with(":*") && wanted.starts_with(s.substr(0, s.size() - 1))) return true;
  }
  return false;
}

}  // namespace keyflow

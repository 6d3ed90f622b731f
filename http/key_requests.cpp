#include "http/key_requests.hpp"

#include "engine/core/errc.hpp"
#include "http/json_input.hpp"
#include "http/query_params.hpp"

namespace keyflow::http {
namespace {

constexpr std::int64_t kMaxGraceSeconds = 90L * 24 * 3600;

// Seed 001 writes key_name and key_scope where seed 002 writes name and scopes, so a client
// written from either works. The name the body uses for the field; both at once is refused.
std::string_view field_or_alias(const JsonInput& in, std::string_view field,
                                std::string_view alias) {
  if (in.has(field) && in.has(alias)) {
    throw Error(errc::invalid_argument,
                "give " + std::string(field) + " or " + std::string(alias) + ", not both",
                std::string(alias));
  }
  return in.has(alias) ? alias : field;
}

// Scopes as seed 002 writes them (an array), or as seed 001's key_scope: an array, or the
// comma-separated string of its example ("READ,CREATE").
std::optional<std::vector<std::string>> read_scopes(const JsonInput& in) {
  const auto field = field_or_alias(in, "scopes", "key_scope");
  return field == "key_scope" ? in.optional_string_list(field) : in.optional_strings(field);
}

}  // namespace

NewKey read_new_key(std::string_view body) {
  const JsonInput in(body, {"project_id", "organization_id", "environment_id", "name", "key_name",
                            "scopes", "key_scope", "expires_at", "rotation_interval_days",
                            "next_rotation_at", "rotation_webhook_url", "rotation_public_key",
                            "rotation_grace_seconds", "enabled", "meta", "allowed_cidrs"});
  NewKey key;
  key.project_id = in.optional_id("project_id");
  key.organization_id = in.optional_id("organization_id");
  key.environment_id = in.optional_id("environment_id");
  key.name = in.required_string(field_or_alias(in, "name", "key_name"));
  key.scopes = read_scopes(in).value_or(std::vector<std::string>{});
  key.expires_at = in.optional_time("expires_at");
  if (auto days = in.optional_int("rotation_interval_days", 1, 3650)) {
    key.rotation_interval_days = static_cast<int>(*days);
  }
  key.next_rotation_at = in.optional_time("next_rotation_at");
  key.rotation_webhook_url = in.optional_string("rotation_webhook_url");
  key.rotation_public_key = in.optional_string("rotation_public_key");
  if (auto grace = in.optional_int("rotation_grace_seconds", 0, kMaxGraceSeconds)) {
    key.rotation_grace_seconds = static_cast<int>(*grace);
  }
  key.enabled = in.optional_bool("enabled").value_or(true);
  key.meta = in.optional_object("meta");
  key.allowed_cidrs = in.optional_strings("allowed_cidrs").value_or(std::vector<std::string>{});
  return key;
}

KeyPatch read_key_patch(std::string_view body) {
  const JsonInput in(
      body, {"name", "key_name", "scopes", "key_scope", "expires_at", "rotation_interval_days",
             "rotation_webhook_url", "rotation_public_key", "rotation_grace_seconds",
             "environment_id", "enabled", "meta", "allowed_cidrs"});
  auto not_null = [&](std::string_view field) {
    if (in.is_null(field)) {
      throw Error(errc::invalid_argument, std::string(field) + " cannot be null",
                  std::string(field));
    }
  };
  KeyPatch p;
  const auto name = field_or_alias(in, "name", "key_name");
  if (in.has(name)) {
    not_null(name);
    p.name = in.required_string(name);
  }
  const auto scopes = field_or_alias(in, "scopes", "key_scope");
  if (in.has(scopes)) {
    not_null(scopes);
    p.scopes = read_scopes(in);
  }
  if (in.has("expires_at")) p.expires_at = in.optional_time("expires_at");
  if (in.has("rotation_interval_days")) {
    const auto days = in.optional_int("rotation_interval_days", 1, 3650);
    p.rotation_interval_days = days ? std::optional<int>(static_cast<int>(*days)) : std::nullopt;
  }
  if (in.has("rotation_webhook_url")) {
    p.rotation_webhook_url = in.optional_string("rotation_webhook_url");
  }
  if (in.has("rotation_public_key")) {
    p.rotation_public_key = in.optional_string("rotation_public_key");
  }
  if (in.has("rotation_grace_seconds")) {
    const auto grace = in.optional_int("rotation_grace_seconds", 0, kMaxGraceSeconds);
    p.rotation_grace_seconds = grace ? std::optional<int>(static_cast<int>(*grace)) : std::nullopt;
  }
  if (in.has("environment_id")) p.environment_id = in.optional_id("environment_id");
  if (in.has("enabled")) {
    not_null("enabled");
    p.enabled = in.optional_bool("enabled");
  }
  if (in.has("meta")) p.meta = in.optional_object("meta");
  if (in.has("allowed_cidrs")) {
    not_null("allowed_cidrs");
    p.allowed_cidrs = in.optional_strings("allowed_cidrs");
  }
  return p;
}

RotateOptions read_rotate_options(std::string_view body) {
  const JsonInput in(body, {"grace_period_seconds", "expires_at"});
  RotateOptions options;
  options.grace_period = std::chrono::seconds(
      in.optional_int("grace_period_seconds", 0, kMaxGraceSeconds).value_or(0));
  options.expires_at = in.optional_time("expires_at");
  return options;
}

VerifyRequest read_verify_request(std::string_view body) {
  const JsonInput in(body, {"key", "ip", "scopes"});
  VerifyRequest request;
  request.key = in.required_string("key");
  request.ip = in.optional_string("ip");
  request.scopes = in.optional_strings("scopes").value_or(std::vector<std::string>{});
  return request;
}

KeyListRequest read_key_list_request(const Request& req) {
  KeyListRequest r;
  r.project_id = req.query_param("project_id");
  r.organization_id = req.query_param("organization_id");
  r.environment_id = req.query_param("environment_id");
  r.state = req.query_param("state");
  r.cursor = req.query_param("cursor");
  r.limit = read_int_param(req, "limit", 1, 1000, 100);
  return r;
}

}  // namespace keyflow::http

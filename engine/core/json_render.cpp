#include "engine/core/json_render.hpp"

#include <boost/json/parse.hpp>

#include "engine/core/time_format.hpp"

namespace keyflow {

boost::json::value json_or_null(const std::optional<std::string>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

boost::json::value json_or_null(const std::optional<TimePoint>& v) {
  return v ? boost::json::value(format_timestamp(*v)) : boost::json::value(nullptr);
}

boost::json::value json_or_null(const std::optional<int>& v) {
  return v ? boost::json::value(*v) : boost::json::value(nullptr);
}

boost::json::value json_or_null(const std::optional<std::vector<int>>& v) {
  if (!v) return nullptr;
  boost::json::array out;
  for (const int n : *v)
    out.emplace_back(n);
  return out;
}

boost::json::array to_array(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const auto& s : items)
    out.emplace_back(s);
  return out;
}

boost::json::object to_json(const Organization& org) {
  return {{"id", org.id}, {"name", org.name}, {"created_at", format_timestamp(org.created_at)}};
}

boost::json::object to_json(const Project& p) {
  return {{"id", p.id},
          {"organization_id", p.organization_id},
          {"name", p.name},
          {"key_prefix", p.key_prefix},
          {"created_at", format_timestamp(p.created_at)}};
}

boost::json::object to_json(const Environment& e) {
  return {{"id", e.id},
          {"project_id", e.project_id},
          {"name", e.name},
          {"created_at", format_timestamp(e.created_at)}};
}

boost::json::object to_json(const ApiKey& k) {
  return {
      {"id", k.id},
      {"organization_id", k.organization_id},
      {"project_id", json_or_null(k.project_id)},
      {"name", k.name},
      {"key_prefix", k.key_prefix},
      {"scopes", to_array(k.scopes)},
      {"enabled", k.enabled},
      {"expires_at", json_or_null(k.expires_at)},
      {"last_used_at", json_or_null(k.last_used_at)},
      {"created_at", format_timestamp(k.created_at)},
      {"revoked_at", json_or_null(k.revoked_at)},
      {"replaced_by_key_id", json_or_null(k.replaced_by_key_id)},
      {"grace_expires_at", json_or_null(k.grace_expires_at)},
      {"environment_id", json_or_null(k.environment_id)},
      {"rotation_interval_days", k.rotation_interval_days
                                     ? boost::json::value(*k.rotation_interval_days)
                                     : boost::json::value(nullptr)},
      {"next_rotation_at", json_or_null(k.next_rotation_at)},
      {"rotation_webhook_url", json_or_null(k.rotation_webhook_url)},
      {"meta", k.meta ? boost::json::parse(*k.meta) : boost::json::value(nullptr)},
      {"allowed_cidrs", to_array(k.allowed_cidrs)},
      {"rotation_public_key", json_or_null(k.rotation_public_key)},
      {"rotated_from", json_or_null(k.rotated_from)},
      {"rotation_grace_seconds", k.rotation_grace_seconds
                                     ? boost::json::value(*k.rotation_grace_seconds)
                                     : boost::json::value(nullptr)},
  };
}

boost::json::object to_json(const WebhookSubscription& s) {
  return {{"id", s.id},
          {"organization_id", json_or_null(s.organization_id)},
          {"project_id", json_or_null(s.project_id)},
          {"url", s.url},
          {"event_types", to_array(s.event_types)},
          {"description", json_or_null(s.description)},
          {"status", s.status},
          {"disabled_reason", json_or_null(s.disabled_reason)},
          {"public_key", json_or_null(s.public_key)},
          {"retry_schedule", json_or_null(s.retry_schedule)},
          {"rate_limit", json_or_null(s.rate_limit)},
          {"created_at", format_timestamp(s.created_at)},
          {"updated_at", format_timestamp(s.updated_at)}};
}

boost::json::object to_json(const Actor& a) {
  switch (a.kind) {
    case Actor::Kind::admin:
      return {{"type", "admin"}, {"id", nullptr}};
    case Actor::Kind::key:
      return {{"type", "api_key"}, {"id", a.id}};
    case Actor::Kind::system:
      return {{"type", "system"}, {"id", a.id}};
  }
  return {};
}

}  // namespace keyflow

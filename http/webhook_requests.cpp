#include "http/webhook_requests.hpp"

#include "engine/core/errc.hpp"
#include "http/json_input.hpp"
#include "http/query_params.hpp"

namespace keyflow::http {
namespace {

std::optional<std::vector<int>> retry_schedule_of(const JsonInput& in) {
  const auto delays = in.optional_ints("retry_schedule", 0, 86400);
  if (!delays) return std::nullopt;
  return std::vector<int>(delays->begin(), delays->end());
}

std::optional<int> rate_limit_of(const JsonInput& in) {
  const auto limit = in.optional_int("rate_limit", 1, 10000);
  if (!limit) return std::nullopt;
  return static_cast<int>(*limit);
}

}  // namespace

NewSubscription read_new_subscription(std::string_view body) {
  const JsonInput in(body, {"url", "event_types", "project_id", "organization_id", "description",
                            "ed25519", "retry_schedule", "rate_limit"});
  NewSubscription request;
  request.url = in.required_string("url");
  request.event_types = in.optional_strings("event_types").value_or(std::vector<std::string>{});
  request.project_id = in.optional_id("project_id");
  request.organization_id = in.optional_id("organization_id");
  request.description = in.optional_string("description");
  request.ed25519 = in.optional_bool("ed25519").value_or(false);
  request.retry_schedule = retry_schedule_of(in);
  request.rate_limit = rate_limit_of(in);
  return request;
}

SubscriptionPatch read_subscription_patch(std::string_view body) {
  const JsonInput in(body, {"url", "event_types", "description", "enabled", "status",
                            "retry_schedule", "rate_limit"});
  SubscriptionPatch patch;
  patch.url = in.optional_string("url");
  patch.event_types = in.optional_strings("event_types");
  // null: an engaged patch with no description.
  if (in.has("description")) patch.description = in.optional_string("description");
  patch.enabled = in.optional_bool("enabled");
  patch.status = in.optional_string("status");
  if (in.has("retry_schedule")) patch.retry_schedule = retry_schedule_of(in);
  if (in.has("rate_limit")) patch.rate_limit = rate_limit_of(in);
  return patch;
}

DeliveryListRequest read_delivery_list_request(const Request& req) {
  DeliveryListRequest r;
  r.subscription_id = req.query_param("subscription_id");
  r.status = req.query_param("status");
  r.event_type = req.query_param("event_type");
  r.cursor = req.query_param("cursor");
  r.limit = read_int_param(req, "limit", 1, 1000, 100);
  return r;
}

TimePoint read_recover_since(std::string_view body) {
  const JsonInput in(body, {"since"});
  const auto since = in.optional_time("since");
  if (!since) throw Error(errc::invalid_argument, "since is required", "since");
  return *since;
}

std::chrono::seconds read_secret_overlap(std::string_view body) {
  const JsonInput in(body, {"overlap_seconds"});
  return std::chrono::seconds(
      in.optional_int("overlap_seconds", 0, 7 * 24 * 3600).value_or(24 * 3600));
}

SubscriptionListRequest read_subscription_list_request(const Request& req) {
  SubscriptionListRequest r;
  r.project_id = req.query_param("project_id");
  r.organization_id = req.query_param("organization_id");
  r.cursor = req.query_param("cursor");
  r.limit = read_int_param(req, "limit", 1, 1000, 100);
  return r;
}

}  // namespace keyflow::http

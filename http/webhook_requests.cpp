#include "http/webhook_requests.hpp"

#include "http/json_input.hpp"

namespace keyflow::http {

NewSubscription read_new_subscription(std::string_view body) {
  const JsonInput in(body, {"url", "event_types", "project_id", "organization_id"});
  NewSubscription request;
  request.url = in.required_string("url");
  request.event_types = in.optional_strings("event_types").value_or(std::vector<std::string>{});
  request.project_id = in.optional_id("project_id");
  request.organization_id = in.optional_id("organization_id");
  return request;
}

}  // namespace keyflow::http

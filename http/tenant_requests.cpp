#include "http/tenant_requests.hpp"

#include "http/json_input.hpp"

namespace keyflow::http {

std::string read_name_request(std::string_view body) {
  const JsonInput in(body, {"name"});
  return in.required_string("name");
}

NewProjectRequest read_new_project(std::string_view body) {
  const JsonInput in(body, {"organization_id", "name", "key_prefix"});
  NewProjectRequest r;
  r.organization_id = in.required_id("organization_id");
  r.name = in.required_string("name");
  r.key_prefix = in.optional_string("key_prefix").value_or("kf");
  return r;
}

}  // namespace keyflow::http

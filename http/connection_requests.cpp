#include "http/connection_requests.hpp"

#include "http/json_input.hpp"

namespace keyflow::http {

NewConnection read_new_connection(std::string_view body) {
  const JsonInput in(body, {"project_id", "type", "name"});
  NewConnection request;
  request.project_id = in.required_id("project_id");
  request.type = in.required_string("type");
  request.name = in.required_string("name");
  return request;
}

std::string read_write_key_verify(std::string_view body) {
  const JsonInput in(body, {"key"});
  return in.required_string("key");
}

}  // namespace keyflow::http

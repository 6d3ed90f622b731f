#pragma once

#include <string>
#include <string_view>

namespace keyflow::http {

// The organization, project and environment routes' requests, read strictly
// (http/json_input.hpp); every failure throws Error naming the field.
struct NewProjectRequest {
  std::string organization_id;
  std::string name;
  std::string key_prefix = "kf";
};

// {"name"}: the body of creating an organization or an environment.
std::string read_name_request(std::string_view body);
NewProjectRequest read_new_project(std::string_view body);

}  // namespace keyflow::http

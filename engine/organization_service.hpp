#pragma once

#include <string>

#include "engine/clock.hpp"
#include "engine/database.hpp"
#include "engine/model.hpp"

namespace keyflow {

// Tenants: organizations and their projects.
class OrganizationService {
 public:
  OrganizationService(ConnectionPool& db, const Clock& clock) : db_(db), clock_(clock) {}

  Organization create_organization(const std::string& name);
  Organization get_organization(const std::string& id);
  // key_prefix: the visible start of the project's keys, [a-z0-9]{1,16}; "kf" by default.
  Project create_project(const std::string& organization_id, const std::string& name,
                         const std::string& key_prefix = "kf");
  Project get_project(const std::string& id);

 private:
  ConnectionPool& db_;
  const Clock& clock_;
};

}  // namespace keyflow

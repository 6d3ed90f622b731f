#pragma once

#include <string>
#include <vector>

#include "engine/core/clock.hpp"
#include "engine/core/model.hpp"
#include "engine/store/database.hpp"

namespace keyflow {

// Tenants: organizations, their projects, and the projects' environments.
class OrganizationService {
 public:
  OrganizationService(ConnectionPool& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Only the admin creates organizations; keys live inside one.
  Organization create_organization(const Actor& actor, const std::string& name);
  Organization get_organization(const Actor& actor, const std::string& id);
  // key_prefix: the visible start of the project's keys, [a-z0-9]{1,16}; "kf" by default.
  Project create_project(const Actor& actor, const std::string& organization_id,
                         const std::string& name, const std::string& key_prefix = "kf");
  Project get_project(const Actor& actor, const std::string& id);
  // name: [a-z0-9]{1,16}, unique in the project; it becomes part of its keys' prefix.
  Environment create_environment(const Actor& actor, const std::string& project_id,
                                 const std::string& name);
  std::vector<Environment> list_environments(const Actor& actor, const std::string& project_id);

 private:
  Project load_project(pqxx::work& txn, const std::string& id);

  ConnectionPool& db_;
  const Clock& clock_;
};

}  // namespace keyflow

#include "engine/tenancy/access.hpp"

#include <algorithm>

#include "engine/core/errc.hpp"

namespace keyflow {
namespace {

const char* scope_for(Permission p) {
  switch (p) {
    case Permission::read:
      return "READ";
    case Permission::create:
      return "CREATE";
    case Permission::update:
      return "UPDATE";
    case Permission::remove:
      return "DELETE";
    case Permission::manage:
      return "MANAGE";
  }
  return "MANAGE";
}

}  // namespace

bool can_reach(const Actor& actor, const Tenant& resource) {
  if (actor.kind != Actor::Kind::key) return true;
  if (actor.organization_id != resource.organization_id) return false;
  return !actor.project_id || actor.project_id == resource.project_id;
}

bool has_permission(const Actor& actor, Permission permission) {
  if (actor.kind != Actor::Kind::key) return true;
  const auto has = [&](const char* scope) {
    return std::find(actor.scopes.begin(), actor.scopes.end(), scope) != actor.scopes.end();
  };
  return has("MANAGE") || (permission != Permission::manage && has(scope_for(permission)));
}

void require_access(const Actor& actor, Permission permission, const Tenant& resource,
                    const char* what) {
  if (!can_reach(actor, resource)) {
    throw Error(errc::not_found, std::string(what) + " does not exist");
  }
  if (!has_permission(actor, permission)) {
    throw Error(errc::forbidden,
                std::string("this key lacks the ") + scope_for(permission) + " scope");
  }
}

}  // namespace keyflow

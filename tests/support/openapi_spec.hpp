#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace keyflow::test {

// schemas/openapi.yaml, read for tests: its operations and its local references.
class OpenApiSpec {
 public:
  using Route = std::pair<std::string, std::string>;  // lower-case method, path pattern

  OpenApiSpec();  // reads the document from the source tree

  const YAML::Node& root() const { return root_; }
  // Every operation: (method, path) → operation node.
  std::map<Route, YAML::Node> operations() const;
  // The node a local reference ("#/components/schemas/ApiKey") points to; undefined if none.
  YAML::Node resolve(const std::string& ref) const;
  // A node as written or, when it is a $ref, what it points to.
  YAML::Node dereference(const YAML::Node& node) const;
  // The parameters of an operation (the path's and its own) that are `in` query or path.
  std::vector<std::string> parameters(const Route& route, const std::string& in) const;
  // The property names of an operation's JSON request body; empty when it has none.
  std::vector<std::string> body_properties(const Route& route) const;

 private:
  YAML::Node root_;
};

}  // namespace keyflow::test

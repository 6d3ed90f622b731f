#include "tests/support/event_schema_compat.hpp"

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <variant>

namespace keyflow::test {
namespace {

namespace json = boost::json;

constexpr std::string_view kDefinitions = "#/definitions/";
constexpr int kMaxReferenceDepth = 32;

// Members whose insides are free-form: the client's own JSON, and the old values of only the
// fields that changed. Their members come and go by design.
const std::set<std::string, std::less<>> kFreeForm = {"meta", "previous"};

json::value inline_at(const json::value& node, const json::object& definitions, int depth) {
  if (depth > kMaxReferenceDepth) throw std::runtime_error("references nest too deep (a cycle?)");
  if (node.is_array()) {
    json::array out;
    for (const auto& item : node.as_array())
      out.push_back(inline_at(item, definitions, depth));
    return out;
  }
  if (!node.is_object()) return node;
  const auto& object = node.as_object();
  if (const auto* ref = object.if_contains("$ref")) {
    // In draft 7 a $ref replaces its whole schema object; siblings are comments at most.
    const std::string_view target = ref->as_string();
    if (!target.starts_with(kDefinitions)) {
      throw std::runtime_error("reference " + std::string(target) + " is not to #/definitions/");
    }
    const auto* definition = definitions.if_contains(target.substr(kDefinitions.size()));
    if (definition == nullptr) throw std::runtime_error("no definition " + std::string(target));
    return inline_at(*definition, definitions, depth + 1);
  }
  json::object out;
  for (const auto& [name, value] : object) {
    if (name == "definitions") continue;
    // Keywords whose values are data, not schemas.
    if (name == "const" || name == "enum" || name == "required" || name == "examples") {
      out[name] = value;
    } else {
      out[name] = inline_at(value, definitions, depth);
    }
  }
  return out;
}

// Member names an object schema declares, its own and those of its allOf branches.
void declared_names(const json::object& schema, std::set<std::string>& names) {
  if (const auto* properties = schema.if_contains("properties");
      properties && properties->is_object()) {
    for (const auto& [name, value] : properties->as_object())
      names.insert(std::string(name));
  }
  if (const auto* all_of = schema.if_contains("allOf"); all_of && all_of->is_array()) {
    for (const auto& branch : all_of->as_array()) {
      if (branch.is_object()) declared_names(branch.as_object(), names);
    }
  }
}

// An allOf branch describes part of its parent's object, so only the parent knows every name
// and is closed; not, if, then and else are left as they are, where closing would change what
// they mean.
json::value close(const json::value& node, bool branch) {
  if (!node.is_object()) return node;
  json::object out = node.as_object();
  if (auto* properties = out.if_contains("properties"); properties && properties->is_object()) {
    for (auto& [name, value] : properties->as_object())
      value = close(value, false);
  }
  if (auto* items = out.if_contains("items")) {
    if (items->is_array()) {
      for (auto& item : items->as_array())
        item = close(item, false);
    } else {
      *items = close(*items, false);
    }
  }
  if (auto* additional = out.if_contains("additionalProperties");
      additional && additional->is_object()) {
    *additional = close(*additional, false);
  }
  for (const char* keyword : {"allOf", "anyOf", "oneOf"}) {
    if (auto* list = out.if_contains(keyword); list && list->is_array()) {
      for (auto& item : list->as_array())
        item = close(item, std::string_view(keyword) == "allOf");
    }
  }
  if (branch || out.contains("additionalProperties") || out.contains("patternProperties")) {
    return out;
  }
  std::set<std::string> names;
  declared_names(out, names);
  if (names.empty()) return out;
  auto& properties = out["properties"];
  if (!properties.is_object()) properties = json::object();
  for (const auto& name : names) {
    if (!properties.as_object().contains(name)) properties.as_object()[name] = json::object();
  }
  out["additionalProperties"] = false;
  return out;
}

// valijson 1.0 builds a std::regex for every date-time it checks, which makes thousands of
// mutants slow; they are checked against a copy of the schema where "format": "date-time" is
// the same regular expression as a "pattern", which a validator compiles once. (The copy does
// not check day ranges, which no mutant depends on.)
constexpr const char* kDateTimePattern =
    "^([0-9]+)-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):"
    "([0-5][0-9]|60)(\\.[0-9]+)?(([Zz])|([\\+|\\-]([01][0-9]|2[0-3]):[0-5][0-9]))$";

json::value date_times_as_patterns(const json::value& node) {
  if (node.is_array()) {
    json::array out;
    for (const auto& item : node.as_array())
      out.push_back(date_times_as_patterns(item));
    return out;
  }
  if (!node.is_object()) return node;
  json::object out;
  for (const auto& [name, value] : node.as_object()) {
    if (name == "const" || name == "enum" || name == "examples") {
      out[name] = value;
    } else {
      out[name] = date_times_as_patterns(value);
    }
  }
  if (const auto* format = out.if_contains("format");
      format && *format == "date-time" && !out.contains("pattern")) {
    out.erase("format");
    out["pattern"] = kDateTimePattern;
  }
  return out;
}

// A place in an event: member names and array indices.
using Step = std::variant<std::string, std::size_t>;
using Path = std::vector<Step>;

std::string pointer(const Path& path, bool any_index = false) {
  std::string out;
  for (const auto& step : path) {
    if (const auto* name = std::get_if<std::string>(&step)) {
      out += '/' + *name;
    } else {
      out += any_index ? std::string("/*") : '/' + std::to_string(std::get<std::size_t>(step));
    }
  }
  return out.empty() ? "/" : out;
}

json::value* find(json::value& root, const Path& path) {
  json::value* at = &root;
  for (const auto& step : path) {
    if (const auto* name = std::get_if<std::string>(&step)) {
      at = at->as_object().if_contains(*name);
    } else {
      at = &at->as_array().at(std::get<std::size_t>(step));
    }
    if (at == nullptr) return nullptr;
  }
  return at;
}

std::string_view kind_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "null";
}

// A value of another JSON type than v's.
json::value other_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return 1;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "1";
    case json::kind::bool_:
      return "true";
    case json::kind::array:
      return json::object();
    case json::kind::object:
      return json::array();
    case json::kind::null:
      break;
  }
  return "1";
}

std::optional<std::string_view> format_of(const json::value& v) {
  static const std::regex uuid(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  static const std::regex id("^[1-9][0-9]{0,15}$");
  static const std::regex date_time(
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-"
      "9]{2})$");
  if (!v.is_string()) return std::nullopt;
  const std::string text(v.as_string());
  if (std::regex_match(text, uuid)) return "a UUID";
  if (std::regex_match(text, id)) return "an id";
  if (std::regex_match(text, date_time)) return "a date-time";
  return std::nullopt;
}

// Calls visit(path, value) for every member and array item below root, parents first, not
// entering free-form members.
void walk(const json::value& node, Path& path,
          const std::function<void(const Path&, const json::value&)>& visit) {
  if (node.is_object()) {
    for (const auto& [name, value] : node.as_object()) {
      path.emplace_back(std::string(name));
      visit(path, value);
      if (!kFreeForm.contains(std::string_view(name))) walk(value, path, visit);
      path.pop_back();
    }
  } else if (node.is_array()) {
    const auto& items = node.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      path.emplace_back(i);
      visit(path, items[i]);
      walk(items[i], path, visit);
      path.pop_back();
    }
  }
}

}  // namespace

json::value inline_references(const json::value& schema) {
  static const json::object none;
  const auto* definitions =
      schema.is_object() ? schema.as_object().if_contains("definitions") : nullptr;
  return inline_at(schema,
                   definitions && definitions->is_object() ? definitions->as_object() : none, 0);
}

json::value closed_schema(const json::value& schema) {
  return close(inline_references(schema), false);
}

std::vector<std::string> compatibility_problems(const json::value& schema,
                                                const std::vector<EventExample>& recorded) {
  const CompiledSchema current(schema);
  const CompiledSchema closed(closed_schema(schema));
  const CompiledSchema for_mutants(date_times_as_patterns(schema));

  // What consumers have seen at each place (array items as *): its JSON types.
  std::map<std::string, std::set<std::string_view>> seen;
  for (const auto& r : recorded) {
    Path path;
    walk(r.event, path,
         [&](const Path& p, const json::value& v) { seen[pointer(p, true)].insert(kind_of(v)); });
  }

  // Members some recorded events have and others, with the same parent, lack (members added
  // later): consumers have seen them missing, so a schema may leave them optional.
  std::map<std::string, std::set<std::string>> names_at;  // object place -> names seen there
  std::vector<std::pair<std::string, std::set<std::string>>> objects;
  const auto note_object = [&](const Path& p, const json::value& v) {
    if (!v.is_object()) return;
    std::set<std::string> names;
    for (const auto& member : v.as_object())
      names.emplace(member.key());
    const auto place = p.empty() ? std::string() : pointer(p, true);
    names_at[place].insert(names.begin(), names.end());
    objects.emplace_back(place, std::move(names));
  };
  for (const auto& r : recorded) {
    Path path;
    note_object(path, r.event);
    walk(r.event, path, note_object);
  }
  std::set<std::string> seen_missing;
  for (const auto& [place, names] : objects) {
    for (const auto& name : names_at[place]) {
      if (!names.contains(name)) seen_missing.insert(place + "/" + name);
    }
  }

  std::vector<std::string> problems;
  std::set<std::string> reported;  // one line per place and kind of problem
  const auto report = [&](const EventExample& r, const std::string& place,
                          const std::string& what) {
    if (reported.insert(place + " " + what).second) {
      problems.push_back(r.name + ": " + place + " " + what);
    }
  };

  for (const auto& r : recorded) {
    if (const auto found = current.validate(r.event); !found.empty()) {
      problems.push_back(r.name + ": the schema rejects this recorded event (" + found.front() +
                         ")");
      continue;  // mutants of an event the schema rejects say nothing
    }
    for (const auto& problem : closed.validate(r.event)) {
      // valijson's "Object contains a property that could not be validated ...: 'name'".
      if (problem.find("could not be validated") == std::string::npos) continue;
      problems.push_back(r.name +
                         ": the schema no longer declares a member this recorded event "
                         "has (removed or renamed?): " +
                         problem);
    }

    const auto rejects = [&](const Path& path, const std::function<void(json::value&)>& mutate) {
      json::value mutant = r.event;
      mutate(*find(mutant, path));
      return !for_mutants.accepts(mutant);
    };
    Path path;
    walk(r.event, path, [&](const Path& p, const json::value& v) {
      const auto place = pointer(p);
      const auto& kinds = seen[pointer(p, true)];
      if (const auto* name = std::get_if<std::string>(&p.back())) {
        Path parent(p.begin(), p.end() - 1);
        json::value mutant = r.event;
        auto* object = parent.empty() ? &mutant : find(mutant, parent);
        object->as_object().erase(*name);
        if (!seen_missing.contains(pointer(p, true)) && for_mutants.accepts(mutant)) {
          report(r, place, "may now be missing");
        }
      }
      if (!v.is_null() && !kinds.contains("null") &&
          !rejects(p, [](json::value& at) { at = nullptr; })) {
        report(r, place, "may now be null");
      }
      if (!v.is_null()) {
        const auto other = other_kind(v);
        if (!kinds.contains(kind_of(other)) && !rejects(p, [&](json::value& at) { at = other; })) {
          report(r, place,
                 "may now be " + std::string(kind_of(other)) + ", not only " +
                     std::string(kind_of(v)));
        }
      }
      if (const auto format = format_of(v);
          format && !rejects(p, [](json::value& at) { at = "x"; })) {
        report(r, place, "may now be any string, not only " + std::string(*format));
      }
    });
  }
  return problems;
}

}  // namespace keyflow::test

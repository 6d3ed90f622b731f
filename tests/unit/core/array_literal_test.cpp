#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "engine/store/sql_values.hpp"

namespace keyflow {
namespace {

TEST(ArrayLiteral, QuotesAndEscapesEveryElementAndWritesNullBare) {
  ArrayLiteral array;
  array.add(R"({"a":"b\c"})");
  array.add("");
  array.add_null();
  array.add_optional(std::optional<std::string>());
  array.add_optional(std::optional<std::string>("NULL"));
  array.add_optional(std::optional<int>(204));
  array.add_optional(std::optional<int>());
  EXPECT_EQ(array.str(), R"({"{\"a\":\"b\\c\"}","",NULL,NULL,"NULL",204,NULL})");
}

TEST(ArrayLiteral, EmptyIsAnEmptyArray) {
  EXPECT_EQ(ArrayLiteral().str(), "{}");
  EXPECT_EQ(text_array_literal({}), "{}");
  EXPECT_EQ(text_array_literal({"x", "y\"z"}), R"({"x","y\"z"})");
}

}  // namespace
}  // namespace keyflow

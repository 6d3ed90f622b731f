// BinaryTextArray's bytes are what PostgreSQL's array_recv reads back as the same text[]:
// every element byte for byte, NULLs as NULL, and the empty array.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/store/database.hpp"
#include "engine/store/sql_values.hpp"
#include "tests/support/test_database.hpp"

namespace keyflow {
namespace {

class BinaryTextArrayTest : public ::testing::Test {
 protected:
  // The array's elements as PostgreSQL reads them, each as text or null, in order.
  std::vector<std::optional<std::string>> round_trip(BinaryTextArray& array) {
    return pool_.transact([&](pqxx::work& txn) {
      const auto rows = txn.exec_params(
          "SELECT e FROM unnest($1::text[]) WITH ORDINALITY AS u(e, n) ORDER BY n", array.param());
      std::vector<std::optional<std::string>> out;
      for (const auto& row : rows)
        out.push_back(optional_text(row[0]));
      return out;
    });
  }

  test::TestDatabase db_;
  ConnectionPool pool_{db_.url(), 1};
};

TEST_F(BinaryTextArrayTest, EveryElementComesBackAsItWasWritten) {
  const std::string body = R"({"a":"b\"c\\d","e":[1,2],"f":"{x,y}"})";
  const std::string long_text(100000, 'z');
  BinaryTextArray array;
  array.add(body);
  array.add("");
  array.add_null();
  array.add("NULL");
  array.add_optional(std::optional<std::string>());
  array.add_optional(std::optional<std::string>("é ✓ \t\n"));
  array.add(long_text);
  const std::vector<std::optional<std::string>> expected{
      body, "", std::nullopt, "NULL", std::nullopt, "é ✓ \t\n", long_text};
  EXPECT_EQ(round_trip(array), expected);
}

TEST_F(BinaryTextArrayTest, WithoutNullsAndEmpty) {
  BinaryTextArray array;
  array.add("one");
  array.add("two");
  EXPECT_EQ(round_trip(array), (std::vector<std::optional<std::string>>{"one", "two"}));

  BinaryTextArray empty;
  EXPECT_TRUE(round_trip(empty).empty());
  const auto cardinality = pool_.transact([&](pqxx::work& txn) {
    return txn.exec_params1("SELECT cardinality($1::text[])", empty.param())[0].as<int>();
  });
  EXPECT_EQ(cardinality, 0);
}

}  // namespace
}  // namespace keyflow

#include "engine/core/logging.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

namespace keyflow {
namespace {

std::string format(const JsonLogFormatter& formatter, std::string_view logger,
                   std::string_view payload) {
  spdlog::details::log_msg msg(spdlog::string_view_t(logger.data(), logger.size()),
                               spdlog::level::warn,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  const_cast<JsonLogFormatter&>(formatter).format(msg, out);
  return {out.data(), out.size()};
}

// Whatever a message holds (quotes, newlines, control bytes), its line is one JSON object.
TEST(JsonLogFormatter, EveryLineIsOneJsonObject) {
  const JsonLogFormatter formatter;
  const auto line = format(formatter, "keyflowd", "a \"quoted\"\nline\twith \\ and \x01 and é");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto value = boost::json::parse(line).as_object();
  EXPECT_EQ(value.at("level"), "warning");
  EXPECT_EQ(value.at("logger"), "keyflowd");
  EXPECT_EQ(value.at("message"), "a \"quoted\"\nline\twith \\ and \x01 and é");
  const std::string time(value.at("time").as_string());
  EXPECT_EQ(time.size(), 24u) << time;  // 2026-12-04T04:20:03.202Z
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_FALSE(value.contains("request_id"));
}

// A text entry is one line too: libpq's errors come with line breaks and a trailing newline.
TEST(TextLogFormatter, FoldsAMessageThatSpansLinesIntoOne) {
  const auto formatter = make_text_log_formatter("[%n] [%l] %*");
  const std::string payload =
      "database: server closed the connection unexpectedly\n\tThis probably means the server "
      "terminated abnormally\n\tbefore or while processing the request.\n";
  spdlog::details::log_msg msg("keyflowd", spdlog::level::warn,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  EXPECT_EQ(std::string(out.data(), out.size()),
            "[keyflowd] [warning] database: server closed the connection unexpectedly / This "
            "probably means the server terminated abnormally / before or while processing the "
            "request.\n");
}

TEST(JsonLogFormatter, CarriesTheRequestIdWhileARequestIsHandled) {
  const JsonLogFormatter formatter;
  {
    const RequestIdScope scope("req-1");
    EXPECT_EQ(boost::json::parse(format(formatter, "keyflowd", "m")).at("request_id"), "req-1");
  }
  EXPECT_EQ(RequestIdScope::current(), "");
}

// The access log's messages are fields of the line, not a message.
TEST(JsonLogFormatter, SplicesFieldsForTheAccessLog) {
  const JsonLogFormatter formatter(true);
  const auto value =
      boost::json::parse(format(formatter, "access", R"("method":"GET","status":200)"));
  EXPECT_EQ(value.at("method"), "GET");
  EXPECT_EQ(value.at("status"), 200);
  EXPECT_FALSE(value.as_object().contains("message"));
}

}  // namespace
}  // namespace keyflow
